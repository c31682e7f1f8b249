#!/bin/bash
# Health checker at scale: our checker (`keepalived -C`) and the real keepalived 2.2.7 on
# the same configuration, one after the other, inside the IPVS test VM
# (tests/ipvs_vm/run.sh): VS virtual servers x RS real servers with TCP_CHECK at
# `delay_loop 1` (default 5 x 1,000 = 5,000). Real server addresses are
# 198.51.100.1-250 and 203.0.113.1-250 on `lo`, two ports each per virtual server: one
# with a listener (examples/accept_sink.rs, accept and close), one refusing - half of
# the real servers are down, as in a degraded farm. For each daemon:
#   - start -> settled: until `ipvsadm -Ln` shows exactly the listening half;
#   - CPU over a steady window (STEADY s, default 30) after WARM s (default 10):
#     utime+stime of the parent and its children (/proc/PID/stat), as % of one core;
#   - checks/s actually made in the window (the VM's TCP ActiveOpens, one per check) and
#     CPU time per 1,000 checks: under software emulation (TCG; no KVM here) a daemon
#     may saturate its core, and then CPU % alone hides how much work it got done;
#   - RSS: sum of VmRSS of the parent and the checker child at the end of the window.
# Prints a markdown table on stdout; progress on stderr.
#
# Usage (root, host): cargo build --release --bin keepalived --example accept_sink &&
#                     benches/checker_scale.sh > /tmp/checker.md
# Environment: OURS (default target/release/keepalived), REAL (/usr/sbin/keepalived),
# VS (5), RS (1000, at most 1000), STEADY (30), WARM (10), WHO ("ours real"),
# SMP (VM vCPUs, 2), MEM (VM MB, 1024).
set -euo pipefail

cd "$(dirname "$0")/.."
OURS=${OURS:-target/release/keepalived}
SINK=${SINK:-target/release/examples/accept_sink}
REAL=${REAL:-/usr/sbin/keepalived}
VS=${VS:-5}
RS=${RS:-1000}
STEADY=${STEADY:-30}
WARM=${WARM:-10}
WHO=${WHO:-"ours real"}
SETTLE=${SETTLE:-180}

log() { echo "[$(date +%T)] $*" >&2; }

if [ "${1:-}" != --in-vm ]; then
    # ---------------------------------------------------------------- host side
    [ "$(id -u)" = 0 ] || { echo "needs root (the VM uses KVM)" >&2; exit 1; }
    [ -x "$OURS" ] || { echo "no $OURS: cargo build --release --bin keepalived" >&2; exit 1; }
    [ -x "$SINK" ] || { echo "no $SINK: cargo build --release --example accept_sink" >&2; exit 1; }
    [ -x "$REAL" ] || { echo "no $REAL (keepalived 2.2.7)" >&2; exit 1; }
    [ "$RS" -le 1000 ] || { echo "RS is at most 1000 (500 addresses x 2 ports)" >&2; exit 1; }
    sh tests/ipvs_vm/setup.sh >&2
    # the real keepalived is copied into the VM as a host tool (run.sh copies it and its
    # shared libraries to the same path), so it must be found by name in PATH
    [ "$(command -v "$(basename "$REAL")")" = "$REAL" ] ||
        { echo "$REAL must be the $(basename "$REAL") found in PATH" >&2; exit 1; }
    export IPVS_VM_HOST_TOOLS="bash dash ip $(basename "$REAL")"
    exec bash tests/ipvs_vm/run.sh --share "$PWD" --timeout 900 \
        --smp "${SMP:-2}" --mem "${MEM:-1024}" \
        --lib-for "$OURS" --lib-for "$SINK" \
        -e "OURS=$OURS" -e "SINK=$SINK" -e "REAL=$(readlink -f "$REAL")" \
        -e "VS=$VS" -e "RS=$RS" -e "STEADY=$STEADY" -e "WARM=$WARM" -e "WHO=$WHO" \
        -e "SETTLE=$SETTLE" \
        -- bash benches/checker_scale.sh --in-vm
fi

# -------------------------------------------------------------------- in the VM
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
W=/tmp/checker_scale
rm -rf "$W"; mkdir -p "$W"
ulimit -n 65536

ADDRS=()
for i in $(seq 1 250); do ADDRS+=("198.51.100.$i" "203.0.113.$i"); done
for a in "${ADDRS[@]}"; do echo "addr add $a/32 dev lo"; done | ip -batch -
ip link set lo up

# the configuration: VS i on 192.0.2.(i+1):80, its real servers on ports 8000+i (listening)
# and 9000+i (refused)
conf=$W/keepalived.conf
{
    echo "global_defs {"
    echo "    router_id bench"
    echo "}"
    for ((v = 0; v < VS; v++)); do
        echo "virtual_server 192.0.2.$((v + 1)) 80 {"
        echo "    delay_loop 1"
        echo "    lb_algo rr"
        echo "    lb_kind NAT"
        echo "    protocol TCP"
        for ((r = 0; r < RS; r++)); do
            port=$((r % 2 ? 9000 + v : 8000 + v))
            echo "    real_server ${ADDRS[$((r / 2))]} $port {"
            echo "        TCP_CHECK {"
            echo "            connect_timeout 2"
            echo "        }"
            echo "    }"
        done
        echo "}"
    done
} >"$conf"

ports=()
for ((v = 0; v < VS; v++)); do ports+=($((8000 + v))); done
"$SINK" "${ports[@]}" &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null || true' EXIT

# the CPU ticks (utime+stime) of PID and of its children; sets TICKS and RSS_KB, PIDS
sample() {
    local parent=$1 p f rest
    PIDS=("$parent")
    for f in /proc/[0-9]*/stat; do
        read -r rest <"$f" 2>/dev/null || continue
        rest=${rest##*) }
        set -- $rest
        [ "$2" = "$parent" ] && PIDS+=("${f//[^0-9]/}")
    done
    TICKS=0; RSS_KB=0
    for p in "${PIDS[@]}"; do
        read -r rest <"/proc/$p/stat" 2>/dev/null || continue
        rest=${rest##*) }
        set -- $rest
        TICKS=$((TICKS + ${12} + ${13}))
        RSS_KB=$((RSS_KB + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
}

# TCP connection attempts of the whole VM so far (TcpExt ActiveOpens: one per check)
opens() { awk '$1 == "Tcp:" && $6 ~ /^[0-9]+$/ {print $6}' /proc/net/snmp; }

# seconds since boot, from /proc/uptime (busybox date may lack %N)
now() { local u _; read -r u _ </proc/uptime; echo "$u"; }

echo "| daemon | real servers | up in IPVS | settle (s) | CPU % of a core (${STEADY} s) | checks/s (target $((VS * RS))) | CPU ms per 1,000 checks | RSS total (MB) | processes |"
echo "|---|---|---|---|---|---|---|---|---|"
for who in $WHO; do
    ipvsadm -C
    d=$W/$who; mkdir -p "$d"
    case $who in
        ours) bin=$OURS ;;
        real) bin=$REAL ;;
        *) echo "unknown daemon $who" >&2; exit 2 ;;
    esac
    log "$who: starting ($bin, $((VS * RS)) real servers)"
    t0=$(date +%s)
    "$bin" -n -l -G -C -f "$conf" -p "$d/pid" -c "$d/chk.pid" -r "$d/vrrp.pid" >"$d/log" 2>&1 &
    pid=$!
    # settled: every listening real server in IPVS and no refusing one
    while :; do
        n=$(ipvsadm -Ln | grep -c -- '->' || true)
        up=$((n - 1))
        [ "$up" = $((VS * ((RS + 1) / 2))) ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$who exited:" >&2; tail -20 "$d/log" >&2; exit 1
        fi
        if [ $(($(date +%s) - t0)) -gt "$SETTLE" ]; then
            echo "$who: not settled after $SETTLE s ($up up)" >&2; tail -5 "$d/log" >&2; break
        fi
        sleep 3
    done
    settle=$(($(date +%s) - t0))
    log "$who: settled in $settle s with $up real servers up; warm-up $WARM s"
    sleep "$WARM"
    sample "$pid"; t1=$TICKS; s1=$(now); o1=$(opens)
    sleep "$STEADY"
    sample "$pid"; t2=$TICKS; s2=$(now); o2=$(opens)
    up=$(($(ipvsadm -Ln | grep -c -- '->' || true) - 1))
    cpu=$(awk -v t=$((t2 - t1)) -v hz="$HZ" -v a="$s1" -v b="$s2" 'BEGIN {printf "%.1f", 100 * t / hz / (b - a)}')
    cps=$(awk -v o=$((o2 - o1)) -v a="$s1" -v b="$s2" 'BEGIN {printf "%.0f", o / (b - a)}')
    per=$(awk -v t=$((t2 - t1)) -v hz="$HZ" -v o=$((o2 - o1)) 'BEGIN {printf "%.0f", o ? 1e6 * t / hz / o : 0}')
    rss=$(awk -v k="$RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
    log "$who: cpu ${cpu}% ${cps} checks/s rss ${rss} MB processes ${PIDS[*]}"
    echo "| $who | $((VS * RS)) | $up | $settle | $cpu | $cps | $per | $rss | ${#PIDS[@]} |"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ipvsadm -C
done
