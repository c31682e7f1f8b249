#!/bin/bash
# tests/vmac_vm/ipvlan.sh BIN TAG - runs inside the test VM (tests/ipvs_vm/run.sh), whose
# kernel has ipvlan (this machine's has not). A LAN of namespaces TAG-n1, TAG-n2 (keepalived
# BIN, priorities 150/100, `use_ipvlan vip0 ADDR private`) and TAG-c (a client) on a bridge.
# Then TAG-d: `dynamic_interfaces`, the ipvlan made once its base interface is created.
# Prints "R key value" lines for tests/vrrp_vmac.rs; every wait is bounded.
BIN=$1; T=$2
W=$(mktemp -d)
ns() { echo "$T-$1"; }
ip netns add "$(ns br)"
ip -n "$(ns br)" link add br0 type bridge forward_delay 0 mcast_snooping 0
ip -n "$(ns br)" link set br0 up
i=0
for n in n1 n2 c; do
  i=$((i + 1))
  ip netns add "$(ns $n)"
  ip -n "$(ns br)" link add "p$i" type veth peer name eth0 netns "$(ns $n)"
  ip -n "$(ns br)" link set "p$i" master br0 up
  ip -n "$(ns $n)" link set lo up
  ip -n "$(ns $n)" link set eth0 up
  ip -n "$(ns $n)" addr add "192.0.2.$i/24" dev eth0
done
conf() { # PRIO IPVLAN_ADDR
  cat <<EOC
global_defs {
  router_id $T
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $1
  advert_int 1
  use_ipvlan vip0 $2 private
  virtual_ipaddress {
    192.0.2.100/32
  }
}
EOC
}
start() { # NODE PRIO ADDR
  conf "$2" "$3" > "$W/$1.conf"
  ip netns exec "$(ns $1)" "$BIN" --dont-fork -l -G -P -D -f "$W/$1.conf" -p "$W/$1.pid" \
    -r "$W/$1.vpid" -c "$W/$1.cpid" > "$W/$1.log" 2>&1 &
  echo $! > "$W/$1.ppid"
}
has_vip() { ip -n "$(ns $1)" addr show dev eth0 | grep -q ' 192.0.2.100/32 '; }
master() { # the node holding the VIP alone, else "none"
  if has_vip n1 && ! has_vip n2; then echo n1
  elif has_vip n2 && ! has_vip n1; then echo n2
  else echo none; fi
}
wait_master() { # WHO SECS
  for _ in $(seq $(($2 * 10))); do [ "$(master)" = "$1" ] && return 0; sleep 0.1; done
  return 1
}
start n1 150 192.0.2.11/24
start n2 100 192.0.2.12/24
wait_master n1 10
echo "R master_first $(master)"
echo "R link $(ip -n "$(ns n1)" -d -j link show dev vip0)"
echo "R addrs $(ip -n "$(ns n1)" -j addr show dev vip0)"
echo "R base_mac $(ip -n "$(ns n1)" -j link show dev eth0)"
ip netns exec "$(ns c)" ping -c 1 -W 2 192.0.2.100 > /dev/null 2>&1
echo "R ping $?"
echo "R neigh $(ip -n "$(ns c)" -j neigh show 192.0.2.100 dev eth0)"
echo "R disable_ipv6 $(ip netns exec "$(ns n1)" cat /proc/sys/net/ipv6/conf/vip0/disable_ipv6)"
echo "R arp_ignore $(ip netns exec "$(ns n1)" cat /proc/sys/net/ipv4/conf/eth0/arp_ignore)"
# Deleted by hand on the master: recreated; does the instance come back?
ip -n "$(ns n1)" link del vip0
for _ in $(seq 50); do ip -n "$(ns n1)" link show dev vip0 > /dev/null 2>&1 && break; sleep 0.1; done
echo "R recreated $(ip -n "$(ns n1)" -d -j link show dev vip0)"
sleep 6
echo "R master_after_delete $(master)"
kill "$(cat "$W/n1.ppid")"
for _ in $(seq 50); do kill -0 "$(cat "$W/n1.ppid")" 2> /dev/null || break; sleep 0.1; done
wait_master n2 6
echo "R master_after_stop $(master)"
ip -n "$(ns n1)" link show dev vip0 > /dev/null 2>&1
echo "R vip0_after_stop $?"
kill "$(cat "$W/n2.ppid")"
for _ in $(seq 50); do kill -0 "$(cat "$W/n2.ppid")" 2> /dev/null || break; sleep 0.1; done
# dynamic_interfaces: the ipvlan is made once its base interface appears.
ip netns add "$(ns d)"
ip -n "$(ns d)" link set lo up
cat > "$W/d.conf" <<EOC
global_defs {
  router_id $T
  dynamic_interfaces
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth1
  virtual_router_id 52
  priority 100
  advert_int 1
  use_ipvlan vip1 198.51.100.51/24
  virtual_ipaddress {
    203.0.113.10/32
  }
}
EOC
ip netns exec "$(ns d)" "$BIN" --dont-fork -l -G -P -D -f "$W/d.conf" -p "$W/d.pid" \
  -r "$W/d.vpid" -c "$W/d.cpid" -b "$W/d.bpid" > "$W/d.log" 2>&1 &
echo $! > "$W/d.ppid"
for _ in $(seq 50); do grep -q 'entering FAULT state' "$W/d.log" && break; sleep 0.1; done
ip -n "$(ns d)" link add eth1 type veth peer name eth1p
ip -n "$(ns d)" addr add 198.51.100.1/24 dev eth1
ip -n "$(ns d)" link set eth1p up
ip -n "$(ns d)" link set eth1 up
for _ in $(seq 100); do
  ip -n "$(ns d)" addr show dev eth1 | grep -q ' 203.0.113.10/32 ' && break; sleep 0.1
done
echo "R dyn_vip $(ip -n "$(ns d)" addr show dev eth1 | grep -c ' 203.0.113.10/32 ')"
echo "R dyn_link $(ip -n "$(ns d)" -d -j link show dev vip1)"
kill "$(cat "$W/d.ppid")"
for _ in $(seq 50); do kill -0 "$(cat "$W/d.ppid")" 2> /dev/null || break; sleep 0.1; done
for n in n1 n2 d; do
  sed "s/^/L $n /" "$W/$n.log"
done
for n in n1 n2 c br d; do ip netns del "$(ns $n)"; done
rm -rf "$W"
