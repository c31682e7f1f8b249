#!/usr/bin/env bash
# demo.sh - two keepalived-rs nodes on a private LAN of network namespaces; watch the
# virtual IP move when the master stops. Needs root and iproute2; touches nothing outside
# the namespaces it creates (documentation addresses 192.0.2.0/24), and removes them on exit.
#
#   sudo contrib/demo.sh                 # builds target/release/keepalived if needed
#   sudo BIN=target/debug/keepalived contrib/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/keepalived}
if [ ! -x "$BIN" ]; then
    echo "== building $BIN"
    cargo build --release --bin keepalived
fi
BIN=$(realpath "$BIN")
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }

tag="kdemo$$"
br="${tag}br" a="${tag}a" b="${tag}b"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for ns in "$a" "$b" "$br"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== a LAN: bridge namespace $br, nodes $a (192.0.2.1) and $b (192.0.2.2)"
ip netns add "$br"
ip -n "$br" link add br0 type bridge
ip -n "$br" link set br0 up
n=0
for ns in "$a" "$b"; do
    n=$((n + 1))
    ip netns add "$ns"
    ip link add "v$tag$n" type veth peer name eth0 netns "$ns"
    ip link set "v$tag$n" netns "$br"
    ip -n "$br" link set "v$tag$n" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "192.0.2.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
done

conf() { # name priority
    cat > "$work/$1.conf" <<CONF
global_defs {
    router_id $1
}
vrrp_instance VI_DEMO {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $2
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass demo1234
    }
    virtual_ipaddress {
        192.0.2.100/32
    }
}
CONF
}
start() { # ns name priority
    conf "$2" "$3"
    mkdir -p "$work/$2"
    TMPDIR="$work/$2" KEEPALIVED_STATUS_FILE="$work/$2/status.json" \
        ip netns exec "$1" "$BIN" --dont-fork --log-console -P -f "$work/$2.conf" \
        -p "$work/$2/keepalived.pid" -r "$work/$2/vrrp.pid" -c "$work/$2/checkers.pid" \
        > "$work/$2.log" 2>&1 &
    pids+=($!)
}
has_vip() { ip -n "$1" -4 addr show dev eth0 | grep -q '192.0.2.100/32'; }
wait_vip() { # ns seconds
    for _ in $(seq $(( $2 * 10 ))); do has_vip "$1" && return 0; sleep 0.1; done
    return 1
}

echo "== starting node A (priority 150) and node B (priority 100)"
start "$a" nodeA 150
start "$b" nodeB 100
if ! wait_vip "$a" 15; then
    echo "FAILED: node A never became master"; cat "$work/nodeA.log"; exit 1
fi
echo "== node A is MASTER and holds the VIP:"
ip -n "$a" -4 -br addr show dev eth0
grep -h "Entering" "$work/nodeA.log" "$work/nodeB.log" | sed 's/^/   /'

echo "== stopping node A (SIGTERM): it sends priority 0 and drops the VIP"
kill -TERM "${pids[0]}"
start_ts=$(date +%s.%N)
if ! wait_vip "$b" 10; then
    echo "FAILED: the VIP did not move to node B"; cat "$work/nodeB.log"; exit 1
fi
took=$(echo "$(date +%s.%N) - $start_ts" | bc 2>/dev/null || echo "?")
echo "== node B took over in ${took}s and holds the VIP:"
ip -n "$b" -4 -br addr show dev eth0
has_vip "$a" && { echo "FAILED: node A still holds the VIP"; exit 1; }
grep -h "Entering" "$work/nodeB.log" | sed 's/^/   /'
echo "== demo complete: the VIP moved from node A to node B"
