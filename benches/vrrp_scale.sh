#!/bin/bash
# Side-by-side VRRP scale benchmark: our keepalived and the real keepalived 2.2.7 on the same
# two-node LAN (network namespaces, two links eth0/eth1 joined by bridges) with the same
# configurations. For 10, 100 and 500 instances per node (half on each link, VRIDs from 1,
# node A owner of half the VRIDs, node B of the other half, all `state BACKUP`):
#   - start -> all MASTER: both daemons started together, until every VIP sits on its owner;
#   - CPU of every process of both daemons over a steady window, as % of one core per daemon:
#     utime+stime (/proc/PID/stat, clock ticks) and on-CPU time (/proc/PID/task/*/schedstat);
#   - RSS: sum of VmRSS of every process, per daemon; PSS (pages shared between the
#     daemon's processes, e.g. the binary, counted once) and USS (private pages) from
#     /proc/PID/smaps_rollup;
#   - state transitions logged during the window (0 when settled);
# with 500 instances: reload (SIGHUP to node A until its log says "Reload complete", median of
# 3); and the
# config test (`-t -f`) time on the 500-instance configuration and on 20 virtual servers x
# 1,000 real servers (wall and CPU time of the process from `perf stat`, median of 5).
# Prints markdown tables on stdout; progress on stderr.
#
# Usage (root): cargo build --release && benches/vrrp_scale.sh > /tmp/bench.md
# Environment: OURS (default target/release/keepalived), REAL (/usr/sbin/keepalived),
# STEADY (seconds, default 30), COUNTS (default "10 100 500"), WHO (default "ours real").
# Traffic stays in the namespaces, on documentation addresses only; everything is removed
# on exit (trap), also on failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
OURS=${OURS:-target/release/keepalived}
REAL=${REAL:-/usr/sbin/keepalived}
STEADY=${STEADY:-30}
COUNTS=${COUNTS:-"10 100 500"}
WHO=${WHO:-"ours real"}
START_LIMIT=${START_LIMIT:-60}
HZ=$(getconf CLK_TCK)

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ -x "$OURS" ] || { echo "no $OURS: run cargo build --release first" >&2; exit 1; }
command -v perf >/dev/null || { echo "needs perf (linux-perf) for the config test timings" >&2; exit 1; }
[ -x "$REAL" ] || { echo "no $REAL (keepalived 2.2.7)" >&2; exit 1; }

P="kvsb$$"
BR="${P}br"
NS=("${P}a" "${P}b")
WORK=$(mktemp -d /tmp/vrrp_scale.XXXXXX)
PIDS=()

log() { echo "[$(date +%T)] $*" >&2; }

cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    for n in "${NS[@]}" "$BR"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- the LAN: same shape as tests/support/multi_lan.rs ---------------------------------
ip netns add "$BR"
for j in 0 1; do
    ip -n "$BR" link add "br$j" type bridge forward_delay 0 mcast_snooping 0
    ip -n "$BR" link set "br$j" up
done
for n in 0 1; do
    ip netns add "${NS[$n]}"
    ip -n "${NS[$n]}" link set lo up
    for j in 0 1; do
        ip -n "$BR" link add "p${n}l$j" type veth peer name "eth$j" netns "${NS[$n]}"
        ip -n "$BR" link set "p${n}l$j" master "br$j" up
        ip -n "${NS[$n]}" link set "eth$j" up
        ip -n "${NS[$n]}" addr add "192.0.2.$((16 * j + n + 1))/28" dev "eth$j"
    done
done
sleep 1

# conf NODE COUNT: COUNT instances, COUNT/2 per link; VRID v on ethJ is owned by node
# (v + J) % 2 (priority 200 there, 100 on the other node); VIP 198.51.100.v (eth0) or
# 203.0.113.v (eth1).
conf() {
    local node=$1 count=$2 per=$(($2 / 2)) j v prio net
    printf 'global_defs {\n  router_id bench%s\n}\n\n' "$node"
    for j in 0 1; do
        net=$([ $j = 0 ] && echo 198.51.100 || echo 203.0.113)
        for ((v = 1; v <= per; v++)); do
            prio=$(( (v + j) % 2 == node ? 200 : 100 ))
            printf 'vrrp_instance I%s_%s {\n  state BACKUP\n  interface eth%s\n  virtual_router_id %s\n  priority %s\n  advert_int 1\n  virtual_ipaddress {\n    %s.%s/32\n  }\n}\n' \
                "$j" "$v" "$j" "$v" "$prio" "$net" "$v"
        done
    done
}

# The VIPs node N holds.
vips() { ip -n "${NS[$1]}" -o -4 addr show | grep -cE ' (198\.51\.100|203\.0\.113)\.' || true; }

# All pids of the process group led by $1 (the daemon's parent).
tree() { pgrep -g "$1" | grep -v "^$1\$" || true; echo "$1"; }
ticks() {
    local t=0 p s
    for p in $(tree "$1"); do
        s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${s% *} + ${s#* }))
    done
    echo $t
}
# On-CPU nanoseconds of every thread of every process of $1 (/proc/PID/task/TID/schedstat:
# exact, where utime+stime are sampled at clock ticks).
cpu_ns() {
    local t=0 p f n
    for p in $(tree "$1"); do
        for f in /proc/"$p"/task/*/schedstat; do
            read -r n _ < "$f" 2>/dev/null || continue
            t=$((t + n))
        done
    done
    echo $t
}
rss_kb() {
    local t=0 p r
    for p in $(tree "$1"); do
        r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        t=$((t + ${r:-0}))
    done
    echo $t
}
# Sum over every process of $1 of smaps_rollup's Pss, and of Private_Clean + Private_Dirty
# (USS), in kB: "PSS USS".
pss_uss_kb() {
    local p
    for p in $(tree "$1"); do cat "/proc/$p/smaps_rollup" 2>/dev/null || true; done |
        awk '/^Pss:/ {p += $2} /^Private_(Clean|Dirty):/ {u += $2} END {print p + 0, u + 0}'
}
entering() { grep -c ') Entering ' "$1" || true; }

# start WHO NODE COUNT: spawns the daemon in its own process group; echoes its pid.
start() {
    local who=$1 n=$2 dir="$WORK/$1-$2-$3" bin
    bin=$([ "$who" = ours ] && echo "$OURS" || echo "$REAL")
    mkdir -p "$dir"
    conf "$n" "$3" > "$dir/keepalived.conf"
    setsid ip netns exec "${NS[$n]}" "$bin" --dont-fork -l -f "$dir/keepalived.conf" \
        -p "$dir/k.pid" -r "$dir/v.pid" -c "$dir/c.pid" \
        </dev/null >/dev/null 2>"$dir/log" &
    echo $!
}

stop() {
    local p
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "$@"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}

ms() { date +%s%N | cut -b1-13; }

declare -A START CPU CPUNS RSS PSS USS FLIPS RELOAD CHECK
for count in $COUNTS; do
    for who in $WHO; do
        log "$who: $count instances per node"
        for n in 0 1; do [ "$(vips $n)" = 0 ] || { echo "VIPs left on node $n" >&2; exit 1; }; done
        t0=$(ms)
        a=$(start $who 0 "$count"); b=$(start $who 1 "$count"); PIDS=("$a" "$b")
        half=$((count / 2)); took=""
        while (( $(ms) - t0 < START_LIMIT * 1000 )); do
            if [ "$(vips 0)" = "$half" ] && [ "$(vips 1)" = "$half" ]; then took=$(( $(ms) - t0 )); break; fi
            sleep 0.05
        done
        START[$who,$count]=${took:-">${START_LIMIT}000"}
        # Steady window, after the delayed second GARP burst (vrrp_garp_master_delay 5 s).
        sleep 6
        la="$WORK/$who-0-$count/log"; lb="$WORK/$who-1-$count/log"
        f0=$(( $(entering "$la") + $(entering "$lb") ))
        c0=$(( $(ticks "$a") + $(ticks "$b") )); n0=$(( $(cpu_ns "$a") + $(cpu_ns "$b") )); w0=$(ms)
        sleep "$STEADY"
        c1=$(( $(ticks "$a") + $(ticks "$b") )); n1=$(( $(cpu_ns "$a") + $(cpu_ns "$b") )); w1=$(ms)
        f1=$(( $(entering "$la") + $(entering "$lb") ))
        CPU[$who,$count]=$(awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v hz="$HZ" 'BEGIN {printf "%.2f", 100 * c / hz / (w / 1000) / 2}')
        CPUNS[$who,$count]=$(awk -v c=$((n1 - n0)) -v w=$((w1 - w0)) 'BEGIN {printf "%.3f", 100 * c / 1e6 / w / 2}')
        RSS[$who,$count]=$(( ($(rss_kb "$a") + $(rss_kb "$b")) / 2 ))
        read -r pa ua <<<"$(pss_uss_kb "$a")"; read -r pb ub <<<"$(pss_uss_kb "$b")"
        PSS[$who,$count]=$(( (pa + pb) / 2 )); USS[$who,$count]=$(( (ua + ub) / 2 ))
        FLIPS[$who,$count]=$((f1 - f0))
        log "  start ${START[$who,$count]} ms, cpu ${CPU[$who,$count]} % (ticks) ${CPUNS[$who,$count]} % (schedstat), rss ${RSS[$who,$count]} kB, pss ${PSS[$who,$count]} kB, uss ${USS[$who,$count]} kB, transitions ${FLIPS[$who,$count]}, VIPs $(vips 0)/$(vips 1)"
        if [ "$count" = 500 ]; then
            # Three reloads, 3 s apart; the median.
            reloads=()
            for _ in 1 2 3; do
                before=$(grep -c 'Reload complete' "$la" || true)
                t0=$(ms); kill -HUP "$a"; took=">60000"
                while (( $(ms) - t0 < 60000 )); do
                    if [ "$(grep -c 'Reload complete' "$la" || true)" -gt "$before" ]; then took=$(( $(ms) - t0 )); break; fi
                    sleep 0.01
                done
                reloads+=("$took"); sleep 3
            done
            took=$(printf '%s\n' "${reloads[@]}" | sort -g | sed -n 2p)
            log "  reloads ${reloads[*]} ms"
            RELOAD[$who]=${took:-">60000"}
            log "  reload ${RELOAD[$who]} ms"
        fi
        stop "$a" "$b"
        # The real keepalived removes its VIPs at stop; make sure before the next run.
        for n in 0 1; do ip -n "${NS[$n]}" -4 addr flush to 198.51.100.0/24; ip -n "${NS[$n]}" -4 addr flush to 203.0.113.0/24; done
    done
done

# Config test (-t) on the 500-instance VRRP configuration and on 20 virtual servers x 1,000
# real servers (TCP_CHECK, the shape of benches/config_parse.rs), median of 5, in node A.
lvs_conf() {
    awk 'BEGIN {
        print "global_defs {\n  router_id bench\n}\n"
        for (v = 1; v <= 20; v++) {
            printf "virtual_server 2001:db8::%x 80 {\n  delay_loop 6\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\n", v
            for (r = 1; r <= 1000; r++)
                printf "  real_server 2001:db8:1:%x::%x 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n", v, r
            print "}\n"
        }
    }'
}
conf 0 500 > "$WORK/vrrp500.conf"
lvs_conf > "$WORK/lvs.conf"
# Prints "WALL / CPU" in ms (medians of 5; perf stat duration_time / task-clock of the -t
# process, so the namespace switch of `ip netns exec` is not counted).
cfgtest() {
    local bin=$1 file=$2 walls=() cpus=() rc out
    for _ in 1 2 3 4 5; do
        rc=0
        out=$(ip netns exec "${NS[0]}" perf stat -x, -e task-clock,duration_time "$bin" -t -f "$file" 2>&1 >/dev/null) || rc=$?
        cpus+=($(awk -F, '$3 == "task-clock" {printf "%.1f", $1}' <<<"$out"))
        walls+=($(awk -F, '$3 == "duration_time" {printf "%.1f", $1 / 1e6}' <<<"$out"))
    done
    echo "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n 3p) / $(printf '%s\n' "${cpus[@]}" | sort -g | sed -n 3p)$([ $rc = 0 ] || echo " (exit $rc)")"
}
for who in $WHO; do
    bin=$([ "$who" = ours ] && echo "$OURS" || echo "$REAL")
    CHECK[$who,vrrp]=$(cfgtest "$bin" "$WORK/vrrp500.conf")
    CHECK[$who,lvs]=$(cfgtest "$bin" "$WORK/lvs.conf")
    log "$who: config test ${CHECK[$who,vrrp]} ms (500 VRRP), ${CHECK[$who,lvs]} ms (20 x 1000 real servers)"
done

# Ratio of two numbers, or of "WALL / CPU" pairs (ratio of each).
ratio() {
    awk -v a="$1" -v b="$2" 'function r(x, y) { return (y + 0 > 0 && x !~ />/ && y !~ />/) ? sprintf("%.2f", x / y) : "n/a" }
        BEGIN { na = split(a, x, " / "); split(b, y, " / "); if (na == 2) print r(x[1], y[1]) " / " r(x[2], y[2]); else print r(a, b) }'
}

echo "| instances/node | metric | ours | keepalived 2.2.7 | ours / keepalived |"
echo "|---:|---|---:|---:|---:|"
for count in $COUNTS; do
    echo "| $count | start → all MASTER (ms) | ${START[ours,$count]:-} | ${START[real,$count]:-} | $(ratio "${START[ours,$count]:-}" "${START[real,$count]:-}") |"
    echo "| $count | CPU, % of one core per daemon, schedstat (${STEADY} s) | ${CPUNS[ours,$count]:-} | ${CPUNS[real,$count]:-} | $(ratio "${CPUNS[ours,$count]:-}" "${CPUNS[real,$count]:-}") |"
    echo "| $count | CPU, % of one core per daemon, utime+stime (${STEADY} s) | ${CPU[ours,$count]:-} | ${CPU[real,$count]:-} | $(ratio "${CPU[ours,$count]:-}" "${CPU[real,$count]:-}") |"
    echo "| $count | RSS per daemon, all processes (kB) | ${RSS[ours,$count]:-} | ${RSS[real,$count]:-} | $(ratio "${RSS[ours,$count]:-}" "${RSS[real,$count]:-}") |"
    echo "| $count | PSS per daemon, all processes (kB) | ${PSS[ours,$count]:-} | ${PSS[real,$count]:-} | $(ratio "${PSS[ours,$count]:-}" "${PSS[real,$count]:-}") |"
    echo "| $count | USS per daemon, all processes (kB) | ${USS[ours,$count]:-} | ${USS[real,$count]:-} | $(ratio "${USS[ours,$count]:-}" "${USS[real,$count]:-}") |"
    echo "| $count | state transitions during the window (both nodes) | ${FLIPS[ours,$count]:-} | ${FLIPS[real,$count]:-} | |"
done
if [ -n "${RELOAD[ours]:-}" ]; then
    echo "| 500 | reload (SIGHUP → \`Reload complete\`, ms, median of 3) | ${RELOAD[ours]:-} | ${RELOAD[real]:-} | $(ratio "${RELOAD[ours]:-}" "${RELOAD[real]:-}") |"
fi
echo "| 500 | config test \`-t -f\`, 500 VRRP instances (ms wall / CPU, median of 5) | ${CHECK[ours,vrrp]:-} | ${CHECK[real,vrrp]:-} | $(ratio "${CHECK[ours,vrrp]:-}" "${CHECK[real,vrrp]:-}") |"
echo "| - | config test \`-t -f\`, 20 virtual servers × 1,000 real servers (ms wall / CPU, median of 5) | ${CHECK[ours,lvs]:-} | ${CHECK[real,lvs]:-} | $(ratio "${CHECK[ours,lvs]:-}" "${CHECK[real,lvs]:-}") |"
