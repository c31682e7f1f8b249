#!/bin/bash
# BFD detection time, side by side: our keepalived's BFD child and keepalived 2.2.7's, each in
# turn the subject on node A, with keepalived 2.2.7 always the peer on node B (two network
# namespaces joined by a veth pair). For each interval in INTERVALS (min_rx = min_tx, ms,
# multiplier MULT) and ROUNDS times: the peer starts, the session comes up, runs a second,
# then every process of the peer is killed with SIGKILL. Measured on the wire (tcpdump on
# node A, decoded by tshark): from the peer's last packet to the subject's first Down packet
# with diagnostic 1 (control detection time expired). RFC 5880 puts that at
# MULT x the negotiated interval; a first Down packet also waits for nothing (it is sent at
# once on expiry), so the ideal is exactly MULT x interval.
# Prints a markdown table on stdout; progress on stderr.
#
# Usage (root): cargo build --release && benches/bfd_detect.sh > /tmp/bfd.md
# Environment: OURS (default target/release/keepalived), REAL (/usr/sbin/keepalived),
# ROUNDS (default 10), INTERVALS (default "100 20"), MULT (default 3), WHO ("ours real").
# Traffic stays in the namespaces, on documentation addresses; everything is removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
OURS=${OURS:-target/release/keepalived}
REAL=${REAL:-/usr/sbin/keepalived}
ROUNDS=${ROUNDS:-10}
INTERVALS=${INTERVALS:-"100 20"}
MULT=${MULT:-3}
WHO=${WHO:-"ours real"}

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ -x "$OURS" ] || { echo "no $OURS: run cargo build --release first" >&2; exit 1; }
[ -x "$REAL" ] || { echo "no $REAL (keepalived 2.2.7)" >&2; exit 1; }
for t in tcpdump tshark; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done

P="kbfd$$"
A="${P}a"
B="${P}b"
WORK=$(mktemp -d /tmp/bfd_detect.XXXXXX)

log() { echo "[$(date +%T)] $*" >&2; }

cleanup() {
    for n in "$A" "$B"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$n" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add "${P}x" type veth peer name "${P}y"
ip link set "${P}x" netns "$A" name eth0
ip link set "${P}y" netns "$B" name eth0
ip -n "$A" addr add 192.0.2.1/24 dev eth0
ip -n "$B" addr add 192.0.2.2/24 dev eth0
for n in "$A" "$B"; do ip -n "$n" link set lo up; ip -n "$n" link set eth0 up; done

conf() { # NEIGHBOUR SOURCE MS
    printf 'bfd_instance b {\n  neighbor_ip %s\n  source_ip %s\n  min_rx %s\n  min_tx %s\n  multiplier %s\n}\n' \
        "$1" "$2" "$3" "$3" "$MULT"
}

start() { # NS BIN DIR CONF -> pid on stdout
    local ns=$1 bin=$2 dir=$3
    mkdir -p "$dir"
    printf '%s' "$4" > "$dir/keepalived.conf"
    ip netns exec "$ns" "$bin" --dont-fork -l -D -f "$dir/keepalived.conf" \
        -p "$dir/k.pid" -r "$dir/v.pid" -c "$dir/c.pid" -b "$dir/b.pid" \
        >>"$dir/log" 2>&1 </dev/null &
    echo $!
}

ups() { grep -c "(b) Entering Up state" "$1/log" 2>/dev/null || true; }

wait_ups() { # DIR N
    for _ in $(seq 200); do
        [ "$(ups "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    log "session never came up: $1/log"; return 1
}

# Median, min and max (ms) of the numbers on stdin (seconds).
stats() {
    sort -g | awk '{v[NR]=$1*1000} END {
        if (NR == 0) { print "- | - | - | 0"; exit }
        m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
        printf "%.1f | %.1f | %.1f | %d\n", m, v[1], v[NR], NR }'
}

echo "| subject | interval (ms) | ideal (ms) | median (ms) | min (ms) | max (ms) | rounds |"
echo "|---|---|---|---|---|---|---|"
for ms in $INTERVALS; do
    for who in $WHO; do
        bin=$OURS
        [ "$who" = real ] && bin=$REAL
        dir="$WORK/$who-$ms"
        pcap="$dir.pcap"
        ip netns exec "$A" tcpdump -i eth0 -U -n -s 128 -w "$pcap" udp port 3784 2>/dev/null &
        cap=$!
        sleep 1
        subj=$(start "$A" "$bin" "$dir/subject" "$(conf 192.0.2.2 192.0.2.1 "$ms")")
        for r in $(seq "$ROUNDS"); do
            peer=$(start "$B" "$REAL" "$dir/peer$r" "$(conf 192.0.2.1 192.0.2.2 "$ms")")
            wait_ups "$dir/subject" "$r"
            sleep 1
            ip netns pids "$B" | xargs -r kill -KILL
            wait "$peer" 2>/dev/null || true
            sleep 1.5
            log "$who $ms ms: round $r"
        done
        kill -TERM "$subj"; wait "$subj" 2>/dev/null || true
        kill -TERM "$cap"; wait "$cap" 2>/dev/null || true
        # For each Up -> Down (diagnostic 1) of the subject, the gap since the peer's last
        # packet.
        tshark -n -r "$pcap" -Y bfd -T fields -E separator=' ' \
            -e frame.time_epoch -e ip.src -e bfd.sta -e bfd.diag 2>/dev/null |
            awk '{ sub(/^0x0*/, "", $3); sub(/^0x0*/, "", $4); $3 += 0; $4 += 0 }
                 $2 == "192.0.2.2" { last = $1 }
                 $2 == "192.0.2.1" {
                     if (prev == 3 && $3 == 1 && $4 == 1) print $1 - last
                     prev = $3 }' >"$dir.gaps"
        echo "| $who | $ms | $((ms * MULT)) | $(stats <"$dir.gaps") |"
    done
done
