#!/bin/sh
# tests/systemd_vm/guest.sh - runs inside the systemd VM (vmtest.service, systemd is PID 1).
# The same steps for Debian's keepalived 2.2.7 package, then for ours installed over it;
# each observation is one line "R <impl> <key> <value>" on the second serial port
# (/dev/ttyS1), journal records "J <impl> <json>"; tests/systemd_vm.rs compares them.
# Every wait is bounded; a step that times out records what it saw and the run goes on.
set -u
exec 3>/dev/ttyS1
HERE=/run/vmtest
VIP=192.0.2.10
IMPL=none

r() { echo "R $IMPL $*" >&3; }
say() { echo "vmtest: $*"; }
prop() { systemctl show -P "$1" keepalived.service; }
state() { echo "$(prop ActiveState)/$(prop SubState)"; }
vip_present() { ip -o -4 addr show dev veth0 | grep -q " $VIP/"; }
# wait_for SECONDS CMD...: poll CMD every 0.2 s; status 0 once it succeeds
wait_for() {
  n=$(( $1 * 5 )); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}
vip_absent() { ! vip_present; }
is_state() { [ "$(state)" = "$1" ]; }
restarted() { [ "$(prop NRestarts)" = "$1" ] && is_state active/running; }
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# the VRRP child the parent started last, as its journal line names it
vrrp_pid() {
  journalctl -u keepalived.service -o cat --after-cursor="$cur" |
    sed -n 's/^Starting VRRP child process, pid=\([0-9]*\)$/\1/p' | tail -n 1
}
new_vrrp() { p=$(vrrp_pid); [ -n "$p" ] && [ "$p" != "$1" ] && pid_alive "$p"; }
# processes in the unit's control group
procs() { { wc -l <"/sys/fs/cgroup/system.slice/keepalived.service/cgroup.procs"; } 2>/dev/null || echo 0; }
nprocs_is() { [ "$(procs)" = "$1" ]; }
# the unit's processes as `systemctl status` shows them in its CGroup tree
status_procs() {
  systemctl status --no-pager -l keepalived.service >/tmp/status 2>&1
  cat /tmp/status >&2
  grep -c -E '[0-9]+ /usr/sbin/keepalived' /tmp/status
}
record_unit() { # PREFIX
  r "$1.state" "$(state)"
  r "$1.result" "$(prop Result)"
  r "$1.nrestarts" "$(prop NRestarts)"
}

setup_net() {
  ip link add veth0 type veth peer name veth1
  ip addr add 192.0.2.1/24 dev veth0
  ip link set veth0 up
  ip link set veth1 up
}

write_config() {
  mkdir -p /etc/keepalived
  cat >/etc/keepalived/keepalived.conf <<EOF
global_defs {
    router_id vmtest
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 255
    advert_int 1
    virtual_ipaddress {
        $VIP/24
    }
}
virtual_server $VIP 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.1 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
EOF
}

run_steps() {
  say "=== $IMPL: $(/usr/sbin/keepalived --version 2>&1 | head -n1)"
  systemctl reset-failed keepalived.service 2>/dev/null
  cur=$(journalctl -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p')

  # start: Type=notify, so `systemctl start` returns once the daemon said READY=1
  systemctl start keepalived.service; r start.rc $?
  r start.type "$(prop Type)"
  # READY=1 comes once both children run: they are there the moment `start` returns
  r start.procs_at_ready "$(procs)"
  r start.state "$(state)"
  wait_for 30 vip_present && r start.vip present || r start.vip absent
  # the parent, VRRP and checker children
  wait_for 20 nprocs_is 3
  r start.status_procs "$(status_procs)"
  main1=$(prop MainPID)
  r start.mainpid_is_pidfile "$([ "$main1" = "$(cat /run/keepalived.pid 2>/dev/null)" ] && echo yes || echo no)"

  # reload: addresses kept throughout (no Deleted event for the VIP)
  ip -o monitor address dev veth0 >/tmp/mon 2>&1 &
  mon=$!
  sleep 0.5
  rcur=$(journalctl -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p')
  systemctl reload keepalived.service; r reload.rc $?
  # the children reload asynchronously: wait for the VRRP child's reload line
  wait_for 30 sh -c "journalctl -u keepalived.service --after-cursor='$rcur' -o short |
    grep -q -E 'Keepalived_vrrp\[[0-9]+\]: Reloading$'" && r reload.vrrp_logged yes || r reload.vrrp_logged no
  # the parent's line once every child has reloaded
  wait_for 30 sh -c "journalctl -u keepalived.service --after-cursor='$rcur' -o short |
    grep -q -E 'Keepalived\[[0-9]+\]: Reload complete$'" && r reload.complete_logged yes || r reload.complete_logged no
  sleep 1
  kill "$mon"; wait "$mon" 2>/dev/null
  r reload.state "$(state)"
  r reload.vip_deleted "$(grep -c "Deleted.* $VIP/" /tmp/mon)"
  vip_present && r reload.vip present || r reload.vip absent
  r reload.same_mainpid "$([ "$(prop MainPID)" = "$main1" ] && echo yes || echo no)"

  # restart: a new main process, ready again, VIP back
  systemctl restart keepalived.service; r restart.rc $?
  r restart.state "$(state)"
  main2=$(prop MainPID)
  r restart.new_mainpid "$([ "$main2" != "$main1" ] && echo yes || echo no)"
  wait_for 30 vip_present && r restart.vip present || r restart.vip absent
  wait_for 20 nprocs_is 3; r restart.procs "$(procs)"

  # kill -9 of the VRRP child: the parent starts a new one; systemd sees nothing
  v1=$(vrrp_pid)
  r child.found "$([ -n "$v1" ] && pid_alive "$v1" && echo yes || echo no)"
  [ -z "$v1" ] || kill -9 "$v1"
  wait_for 30 new_vrrp "$v1" && r child.respawned yes || r child.respawned no
  wait_for 30 vip_present && r child.vip present || r child.vip absent
  wait_for 20 nprocs_is 3; r child.procs "$(procs)"
  r child.state "$(state)"
  r child.nrestarts "$(prop NRestarts)"
  r child.same_mainpid "$([ "$(prop MainPID)" = "$main2" ] && echo yes || echo no)"

  # kill -9 of the parent under the unit as shipped (no Restart=)
  kill -9 "$main2"
  wait_for 30 sh -c '[ "$(systemctl show -P ActiveState keepalived.service)" != active ]'
  wait_for 20 nprocs_is 0
  record_unit kill_parent
  r kill_parent.procs_left "$(procs)"
  wait_for 20 vip_absent && r kill_parent.vip absent || r kill_parent.vip present
  # leftovers (KillMode=process leaves the children) must not block the next start
  systemctl stop keepalived.service 2>/dev/null
  systemctl reset-failed keepalived.service 2>/dev/null

  # kill -9 of the parent with Restart=on-failure: systemd starts it again
  mkdir -p /run/systemd/system/keepalived.service.d
  printf '[Service]\nRestart=on-failure\nRestartSec=1\n' \
    >/run/systemd/system/keepalived.service.d/restart.conf
  systemctl daemon-reload
  systemctl start keepalived.service; r restart_on_failure.start_rc $?
  wait_for 30 vip_present
  main3=$(prop MainPID)
  n0=$(prop NRestarts)
  kill -9 "$main3"
  wait_for 60 restarted $((n0 + 1))
  r restart_on_failure.nrestarts_delta $(( $(prop NRestarts) - n0 ))
  r restart_on_failure.state "$(state)"
  r restart_on_failure.new_mainpid "$([ "$(prop MainPID)" != "$main3" ] && echo yes || echo no)"
  wait_for 30 vip_present && r restart_on_failure.vip present || r restart_on_failure.vip absent
  wait_for 20 nprocs_is 3; r restart_on_failure.procs "$(procs)"
  rm -rf /run/systemd/system/keepalived.service.d
  systemctl daemon-reload

  # stop: addresses released, a clean exit
  systemctl stop keepalived.service; r stop.rc $?
  record_unit stop
  r stop.exec_main_status "$(prop ExecMainStatus)"
  r stop.exec_main_code "$(prop ExecMainCode)"
  vip_present && r stop.vip present || r stop.vip absent
  r stop.procs "$(procs)"

  # what journald recorded of the daemon's own lines (systemd's lines have _PID 1)
  journalctl -u keepalived.service --after-cursor="$cur" -o json \
    --output-fields=SYSLOG_IDENTIFIER,PRIORITY,MESSAGE,_PID,SYSLOG_FACILITY |
    while IFS= read -r line; do echo "J $IMPL $line" >&3; done
  journalctl -u keepalived.service --after-cursor="$cur" --no-pager -o short-monotonic | tail -n 80
}

say "kernel $(uname -r), systemd $(systemctl --version | head -n1)"
say "up $(cut -d' ' -f1 /proc/uptime) s"
r boot.pid1 "$(cat /proc/1/comm)"
setup_net
write_config

IMPL=debian
r version "$(/usr/sbin/keepalived --version 2>&1 | head -n1)"
run_steps

# ours, installed the way a package would: binary over /usr/sbin/keepalived, our unit in
# /lib/systemd/system (the tree stage-ours.sh prepared on the host)
IMPL=ours
tar -C "$HERE/ours" -cf - . | tar -C / -xf - --keep-directory-symlink
systemctl daemon-reload
r version "$(/usr/sbin/keepalived --version 2>&1 | head -n1)"
run_steps

echo "END" >&3
say "done"
