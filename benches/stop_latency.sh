#!/bin/bash
# Planned failover speed, side by side: our keepalived and the real keepalived 2.2.7, each
# alone in a network namespace as MASTER of COUNT instances (VRRPv2, advert_int 1, one VIP
# each), stopped with SIGTERM to the parent; tcpdump in the same namespace timestamps the
# priority-0 adverts as they leave (instances split over eth0 and eth1: VRIDs 1-250 each). Per run: signal -> first and -> last priority-0
# advert (ms); median of RUNS runs. Prints a markdown table on stdout; progress on stderr.
#
# Usage (root): cargo build --release && benches/stop_latency.sh > /tmp/stop.md
# Environment: OURS (default target/release/keepalived), REAL (/usr/sbin/keepalived),
# COUNTS (default "1 500"), RUNS (default 5), WHO (default "ours real").
# Traffic stays in the namespaces, on documentation addresses; everything is removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
OURS=${OURS:-target/release/keepalived}
REAL=${REAL:-/usr/sbin/keepalived}
COUNTS=${COUNTS:-"1 500"}
RUNS=${RUNS:-5}
WHO=${WHO:-"ours real"}

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ -x "$OURS" ] || { echo "no $OURS: run cargo build --release first" >&2; exit 1; }
[ -x "$REAL" ] || { echo "no $REAL (keepalived 2.2.7)" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "needs tcpdump" >&2; exit 1; }

NS="kvst$$"
PEER="${NS}p"
WORK=$(mktemp -d /tmp/stop_latency.XXXXXX)
DAEMON=""
DUMP=""

log() { echo "[$(date +%T)] $*" >&2; }
cleanup() {
    [ -n "$DAEMON" ] && kill -KILL -- "-$DAEMON" 2>/dev/null || true
    [ -n "$DUMP" ] && kill "$DUMP" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$PEER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip netns add "$PEER"
ip -n "$NS" link set lo up
for j in 0 1; do
    ip -n "$NS" link add "eth$j" type veth peer name "eth$j" netns "$PEER"
    ip -n "$NS" link set "eth$j" up
    ip -n "$PEER" link set "eth$j" up
    ip -n "$NS" addr add "192.0.2.$((16 * j + 1))/28" dev "eth$j"
    ip -n "$PEER" addr add "192.0.2.$((16 * j + 2))/28" dev "eth$j"
done

# conf COUNT: instances 1..250 on eth0 (VIP 198.51.100.v), 251..500 on eth1 (203.0.113.v).
conf() {
    local v j id net
    printf 'global_defs {\n  router_id stopbench\n}\n'
    for ((v = 1; v <= $1; v++)); do
        j=$(( v > 250 ? 1 : 0 )); id=$(( (v - 1) % 250 + 1 ))
        net=$([ $j = 0 ] && echo 198.51.100 || echo 203.0.113)
        printf 'vrrp_instance I%s {\n  state MASTER\n  interface eth%s\n  virtual_router_id %s\n  priority 200\n  advert_int 1\n  virtual_ipaddress {\n    %s.%s/32\n  }\n}\n' \
            "$v" "$j" "$id" "$net" "$id"
    done
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.2f", (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else printf "-"}'; }

# run WHO COUNT: one start/stop; prints "first last" in ms after the signal.
run() {
    local who=$1 count=$2 dir="$WORK/$1-$2" bin t0 cap
    bin=$([ "$who" = ours ] && echo "$OURS" || echo "$REAL")
    mkdir -p "$dir"
    conf "$count" > "$dir/keepalived.conf"
    setsid ip netns exec "$NS" "$bin" --dont-fork -l -f "$dir/keepalived.conf" \
        -p "$dir/k.pid" -r "$dir/v.pid" -c "$dir/c.pid" -b "$dir/b.pid" \
        </dev/null >/dev/null 2>"$dir/log" &
    DAEMON=$!
    # every VIP on eth0: every instance MASTER
    for _ in $(seq 300); do
        [ "$(ip -n "$NS" -o -4 addr show | grep -cE ' (198\.51\.100|203\.0\.113)\.')" -ge "$count" ] && break
        sleep 0.1
    done
    sleep 1
    cap="$dir/cap"
    ip netns exec "$NS" tcpdump -l -n -tt -i any 'ip proto 112' >"$cap" 2>/dev/null &
    DUMP=$!
    sleep 1
    t0=$(date +%s.%N)
    kill -TERM "$DAEMON"
    for _ in $(seq 200); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.05; done
    kill -KILL -- "-$DAEMON" 2>/dev/null || true
    wait "$DAEMON" 2>/dev/null || true
    DAEMON=""
    sleep 0.5
    kill "$DUMP" 2>/dev/null || true
    wait "$DUMP" 2>/dev/null || true
    DUMP=""
    awk -v t0="$t0" '/prio 0,/ {t=($1 - t0) * 1000; if (n++ == 0) f=t; l=t} END {printf "%.3f %.3f %d\n", f, l, n}' "$cap"
}

echo "| daemon | instances | signal -> first priority-0 advert (ms, median of $RUNS) | signal -> last (ms) |"
echo "|---|---:|---:|---:|"
for count in $COUNTS; do
    for who in $WHO; do
        : > "$WORK/res"
        for r in $(seq "$RUNS"); do
            res=$(run "$who" "$count")
            log "$who $count run $r: first last n = $res"
            echo "$res" >> "$WORK/res"
        done
        first=$(awk '{print $1}' "$WORK/res" | median)
        last=$(awk '{print $2}' "$WORK/res" | median)
        echo "| $who | $count | $first | $last |"
    done
done
