//! End to end, in network namespaces: interface and link keywords (`dynamic_interfaces`,
//! `default_interface`, `log_unknown_vrids`, receive buffers, extra GARPs). Each scenario
//! runs against ours and the real keepalived 2.2.7, so the expectations are keepalived's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;
use support::sockets;
use support::wire;

use netns::Lan;
use node_daemon::*;
use wire::{has_addr_on, Capture};

/// Runs `f` against ours, then (when installed) the real keepalived 2.2.7.
fn both(test: &str, mut f: impl FnMut(bool)) {
    f(false);
    if real_or_skip(test) {
        f(true);
    }
}

/// Starts a daemon with every pid file given explicitly (the BFD one too, for the real one).
fn start(lan: &Lan, node: usize, real: bool, conf: &str) -> Daemon {
    let d = tempfile::tempdir().expect("tempdir");
    let bfd = d.path().join("bfd.pid");
    let bfd = bfd.to_string_lossy().into_owned();
    let dm = Daemon::start_with(lan, node, real, conf, &["-b", &bfd]);
    // The BFD pid file lives in its own directory, kept as long as the daemon.
    std::mem::forget(d);
    dm
}

/// Position of the first log line containing `needle`.
fn line_of(log: &str, needle: &str) -> Option<usize> {
    log.lines().position(|l| l.contains(needle))
}

/// Creates eth1 (a veth whose peer stays in the node) with 198.51.100.1/24, both ends up.
fn create_eth1(lan: &Lan) {
    lan.must(
        0,
        &[
            "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ],
    );
    lan.must(0, &["ip", "addr", "add", "198.51.100.1/24", "dev", "eth1"]);
    lan.must(0, &["ip", "link", "set", "eth1p", "up"]);
    lan.must(0, &["ip", "link", "set", "eth1", "up"]);
}

/// `dynamic_interfaces`: an instance on an interface that does not exist yet waits in FAULT
/// and starts once it is created; deleted and made again, it follows the new one.
#[test]
fn dynamic_interfaces_waits_for_the_interface() {
    let Some(lan) = lan_or_skip("dynamic_interfaces_waits_for_the_interface", 1) else {
        return;
    };
    let conf = "global_defs {\n  router_id test\n  dynamic_interfaces\n}\n\
        vrrp_instance VI_1 {\n  state BACKUP\n  interface eth1\n  virtual_router_id 51\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    203.0.113.10/32\n  }\n}\n";
    both("dynamic_interfaces_waits_for_the_interface", |real| {
        let d = start(&lan, 0, real, conf);
        // `-t` accepts the missing interface (exit 0), as keepalived does.
        let t = lan.exec(
            0,
            &[
                &d.bin().to_string_lossy(),
                "-t",
                "-f",
                &d.path("keepalived.conf").to_string_lossy(),
            ],
        );
        assert_eq!(t.status.code(), Some(0), "-t (real: {real}): {t:?}");
        let waiting = "Configuration specifies interface eth1 which doesn't currently exist - will use if created";
        assert!(
            wait_until(20, || d.log().contains(waiting)
                && d.log().contains("(VI_1) entering FAULT state")),
            "no FAULT while eth1 is missing\n{}",
            logs(&[&d])
        );
        for round in 0..2 {
            create_eth1(&lan);
            assert!(
                wait_until(20, || has_addr_on(&lan, 0, "eth1", "203.0.113.10")),
                "round {round}: no MASTER on eth1 once created\n{}",
                logs(&[&d])
            );
            let log = d.log();
            let fault = line_of(&log, "(VI_1) entering FAULT state");
            let backup = line_of(&log, "(VI_1) Entering BACKUP STATE");
            let master = line_of(&log, "(VI_1) Entering MASTER STATE");
            assert!(
                fault < backup && backup < master,
                "FAULT, BACKUP, MASTER in order\n{log}"
            );
            lan.must(0, &["ip", "link", "del", "eth1"]);
            assert!(
                wait_until(20, || d
                    .log()
                    .matches("(VI_1) Entering FAULT STATE")
                    .count()
                    > round),
                "round {round}: no FAULT once eth1 is deleted\n{}",
                logs(&[&d])
            );
        }
        drop(d);
    });
}

/// `dynamic_interfaces` with `use_vmac`: the VMAC is made once its base interface is
/// created, the instance runs on it; the base deleted and made again, the same once more.
#[test]
fn dynamic_interfaces_makes_the_vmac_when_its_base_appears() {
    let test = "dynamic_interfaces_makes_the_vmac_when_its_base_appears";
    let (keyword, vip_on) = ("use_vmac", "vrrp.51");
    let link_has = ["vrrp.51@eth1", "00:00:5e:00:01:33", "macvlan mode private"];
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let conf = format!(
        "global_defs {{\n  router_id test\n  dynamic_interfaces\n}}\n\
        vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth1\n  {keyword}\n  \
        virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    \
        203.0.113.10/32\n  }}\n}}\n"
    );
    let stacked = vip_on;
    both(test, |real| {
        let who = if real { "keepalived 2.2.7" } else { "ours" };
        let d = start(&lan, 0, real, &conf);
        assert!(
            wait_until(20, || d.log().contains("(VI_1) entering FAULT state")),
            "{who}: no FAULT while eth1 is missing\n{}",
            logs(&[&d])
        );
        for round in 0..2 {
            create_eth1(&lan);
            assert!(
                wait_until(20, || has_addr_on(&lan, 0, vip_on, "203.0.113.10")),
                "{who} round {round}: no MASTER on {stacked} once eth1 is created\n{}",
                logs(&[&d])
            );
            let link = lan.exec(0, &["ip", "-d", "link", "show", stacked]);
            let link = String::from_utf8_lossy(&link.stdout).into_owned();
            assert!(
                link_has.iter().all(|w| link.contains(w)),
                "{who} round {round}: {link}\n{}\n{}",
                logs(&[&d]),
                String::from_utf8_lossy(&lan.exec(0, &["ip", "-d", "link"]).stdout)
            );
            lan.must(0, &["ip", "link", "del", "eth1"]);
            assert!(
                wait_until(20, || d
                    .log()
                    .matches("(VI_1) Entering FAULT STATE")
                    .count()
                    > round),
                "{who} round {round}: no FAULT once eth1 is deleted\n{}",
                logs(&[&d])
            );
        }
        drop(d);
    });
}

/// `default_interface`: a static address without `dev` goes there; when it does not exist,
/// `-t` refuses the configuration (exit 4).
#[test]
fn default_interface_takes_static_addresses() {
    let Some(lan) = lan_or_skip("default_interface_takes_static_addresses", 1) else {
        return;
    };
    lan.must(
        0,
        &[
            "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ],
    );
    lan.must(0, &["ip", "link", "set", "eth1p", "up"]);
    lan.must(0, &["ip", "link", "set", "eth1", "up"]);
    let conf = |dev: &str| {
        format!(
            "global_defs {{\n  router_id test\n  default_interface {dev}\n}}\n\
             static_ipaddress {{\n  203.0.113.5/32\n}}\n"
        )
    };
    both("default_interface_takes_static_addresses", |real| {
        let d = start(&lan, 0, real, &conf("eth1"));
        assert!(
            wait_until(20, || has_addr_on(&lan, 0, "eth1", "203.0.113.5")),
            "static address not on default_interface eth1\n{}",
            logs(&[&d])
        );
        assert!(!has_addr_on(&lan, 0, "eth0", "203.0.113.5"));
        drop(d);
        lan.exec(0, &["ip", "addr", "del", "203.0.113.5/32", "dev", "eth1"]);
        let bad = tempfile::tempdir().expect("tempdir");
        let path = bad.path().join("keepalived.conf");
        std::fs::write(&path, conf("eth5")).expect("write conf");
        let bin = if real {
            support::real_keepalived().expect("real keepalived")
        } else {
            support::ours()
        };
        let t = lan.exec(
            0,
            &[&bin.to_string_lossy(), "-t", "-f", &path.to_string_lossy()],
        );
        assert_eq!(t.status.code(), Some(4), "-t (real: {real}): {t:?}");
    });
}

/// `log_unknown_vrids`: an advert for a VRID no local instance has is logged, with
/// keepalived's wording.
#[test]
fn log_unknown_vrids_logs_foreign_adverts() {
    let Some(lan) = lan_or_skip("log_unknown_vrids_logs_foreign_adverts", 2) else {
        return;
    };
    let listener = "global_defs {\n  router_id test\n  log_unknown_vrids\n}\n\
        vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    203.0.113.20/32\n  }\n}\n";
    let silent = listener.replace("  log_unknown_vrids\n", "");
    let talker = conf(200, "", &["203.0.113.10/32"]);
    let line = "Unknown VRID(51) received on interface(eth0). ignoring...";
    both("log_unknown_vrids_logs_foreign_adverts", |real| {
        let t = start(&lan, 1, real, &talker);
        let quiet = start(&lan, 0, real, &silent);
        assert!(
            wait_until(20, || has_addr(&lan, 1, "203.0.113.10")
                && quiet.log().contains("Entering MASTER STATE")),
            "both instances should be MASTER\n{}",
            logs(&[&t, &quiet])
        );
        let quiet_log = quiet.log();
        drop(quiet);
        // Without the keyword, the same traffic is not logged.
        assert!(!quiet_log.contains("Unknown VRID"), "{quiet_log}");
        let l = start(&lan, 0, real, listener);
        assert!(
            wait_until(20, || l.log().contains(line)),
            "no unknown VRID line\n{}",
            logs(&[&t, &l])
        );
        drop(l);
        drop(t);
    });
}

/// `kernel_rx_buf_size`, `vrrp_rx_bufs_policy` / `vrrp_rx_bufs_multiplier` size the VRRP
/// receive socket (summed over its instances), `vrrp_netlink_cmd_rcv_bufs` and
/// `vrrp_netlink_monitor_rcv_bufs[_force]` the netlink sockets: the kernel reports the
/// same doubled sizes for ours and keepalived's.
#[test]
fn receive_buffers_follow_the_keywords() {
    let Some(lan) = lan_or_skip("receive_buffers_follow_the_keywords", 1) else {
        return;
    };
    let conf = "global_defs {\n  router_id test\n  vrrp_rx_bufs_policy ADVERT\n  \
        vrrp_rx_bufs_multiplier 40\n  vrrp_netlink_cmd_rcv_bufs 300000\n  vrrp_netlink_cmd_rcv_bufs_force\n  \
        vrrp_netlink_monitor_rcv_bufs 500000\n  vrrp_netlink_monitor_rcv_bufs_force\n}\n\
        vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    203.0.113.10/32\n    \
        203.0.113.11/32\n  }\n}\n\
        vrrp_instance VI_2 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
        priority 100\n  advert_int 1\n  kernel_rx_buf_size 70000\n  virtual_ipaddress {\n    \
        203.0.113.12/32\n  }\n}\n";
    both("receive_buffers_follow_the_keywords", |real| {
        let d = start(&lan, 0, real, conf);
        assert!(
            wait_until(20, || d.log().contains("(VI_2) Entering BACKUP STATE")),
            "no BACKUP\n{}",
            logs(&[&d])
        );
        let pid = d.vrrp_pid().expect("vrrp pid");
        let socks = sockets::socket_rcvbufs(pid);
        // VI_1: 40 x 44-byte adverts (IPv4 header, VRRPv2 header and auth, 2 addresses);
        // VI_2: 70000; the kernel doubles what SO_RCVBUF is given.
        assert!(
            socks.contains(&(libc::AF_INET, 112, 2 * (40 * 44 + 70000))),
            "real: {real}: {socks:?}"
        );
        assert!(
            socks.contains(&(libc::AF_NETLINK, 0, 2 * 300000)),
            "real: {real}: {socks:?}"
        );
        assert!(
            socks.contains(&(libc::AF_NETLINK, 0, 2 * 500000)),
            "real: {real}: {socks:?}"
        );
        drop(d);
    });
}

/// A veth `eth1` (peer `eth1p`, both up) in node `i`, with 198.51.100.1/24.
fn add_eth1(lan: &Lan, i: usize) {
    lan.must(
        i,
        &[
            "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ],
    );
    lan.must(i, &["ip", "addr", "add", "198.51.100.1/24", "dev", "eth1"]);
    lan.must(i, &["ip", "link", "set", "eth1p", "up"]);
    lan.must(i, &["ip", "link", "set", "eth1", "up"]);
}

/// `garp_extra_if [all] SECS`: while MASTER, one GARP for the first VIP of each other
/// interface every period (with `all`; without it only VMACs count), none for the
/// instance's own interface; the MASTER burst covers every VIP on every interface. The
/// instance keyword, the global `vrrp_garp_extra_if` and the old `vmac_garp_intvl` alike.
#[test]
fn garp_extra_if_repeats_on_other_interfaces() {
    let test = "garp_extra_if_repeats_on_other_interfaces";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    if !wire::tcpdump_available() {
        support::skip_or_fail(test, "tcpdump is not installed");
        return;
    }
    add_eth1(&lan, 0);
    let conf = |global: &str, extra: &str| {
        format!(
            "global_defs {{\n  router_id test\n{global}}}\n\
             vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
             priority 100\n  advert_int 1\n  garp_master_delay 0\n  garp_master_repeat 1\n  \
             {extra}\n  virtual_ipaddress {{\n    203.0.113.10/32\n    \
             198.51.100.10/32 dev eth1\n    198.51.100.11/32 dev eth1\n  }}\n}}\n"
        )
    };
    let garps = |c: &Capture, ip: &str| {
        c.matching(&[&format!("who-has {ip} "), &format!("tell {ip},")])
            .len()
    };
    both(test, |real| {
        // The instance keyword, the global one, the deprecated spellings.
        let cases = [
            (true, "", "garp_extra_if all 1"),
            (true, "  vrrp_garp_extra_if all 1\n", ""),
            (false, "", "vmac_garp_intvl 1"),
            (false, "  vrrp_vmac_garp_intvl 1\n", ""),
        ];
        for (all, global, extra) in cases {
            let eth1 = Capture::start_on(&lan, 0, "eth1p", "arp");
            let eth0 = Capture::start_on(&lan, 0, "eth0", "arp or proto 112");
            let d = start(&lan, 0, real, &conf(global, extra));
            let ok = if all {
                wait_until(30, || garps(&eth1, "198.51.100.10") >= 4)
            } else {
                // Six adverts later, still only the MASTER burst on eth1.
                wait_until(30, || eth0.matching(&["VRRPv2"]).len() >= 6)
            };
            assert!(
                ok,
                "real: {real}, all: {all}\neth1:\n{}\neth0:\n{}\n{}",
                eth1.text(),
                eth0.text(),
                logs(&[&d])
            );
            let (first, second, own) = (
                garps(&eth1, "198.51.100.10"),
                garps(&eth1, "198.51.100.11"),
                garps(&eth0, "203.0.113.10"),
            );
            assert_eq!(
                (second, own),
                (1, 1),
                "real: {real}, all: {all}: only the first VIP of an extra interface repeats\n{}",
                eth1.text()
            );
            if !all {
                assert_eq!(
                    first,
                    1,
                    "real: {real}: no extra GARP without `all`\n{}",
                    eth1.text()
                );
            }
            drop(d);
            for a in [
                "203.0.113.10/32 dev eth0",
                "198.51.100.10/32 dev eth1",
                "198.51.100.11/32 dev eth1",
            ] {
                let mut args = vec!["ip", "addr", "del"];
                args.extend(a.split(' '));
                let _ = lan.exec(0, &args);
            }
        }
    });
}

/// Index of the `n`th (from 0) log line containing `needle`.
fn nth_line(log: &str, needle: &str, n: usize) -> Option<usize> {
    log.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n)
        .map(|(i, _)| i)
}

/// `interface_up_down_delays`: a carrier flap shorter than the down delay is never
/// reported (no FAULT); a lasting loss is, after the delay, and so is the return, after the
/// up delay; keepalived's lines, in the same order.
#[test]
fn up_down_delays_damp_link_flaps() {
    let test = "up_down_delays_damp_link_flaps";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    add_eth1(&lan, 0);
    let conf = "global_defs {\n  router_id test\n}\n\
        interface_up_down_delays {\n  eth1 1.5 1\n}\n\
        vrrp_instance VI_1 {\n  state MASTER\n  interface eth1\n  virtual_router_id 51\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    198.51.100.10/32\n  }\n}\n";
    let held_down = "eth1: Adding flags change from 0x11043 to 0x1003 delay by 1500000";
    let held_up = "eth1: Adding flags change from 0x1003 to 0x11043 delay by 1000000";
    both(test, |real| {
        let d = start(&lan, 0, real, conf);
        assert!(
            wait_until(20, || has_addr_on(&lan, 0, "eth1", "198.51.100.10")),
            "no MASTER\n{}",
            logs(&[&d])
        );
        // A flap: carrier lost and back at once.
        lan.must(0, &["ip", "link", "set", "eth1p", "down"]);
        lan.must(0, &["ip", "link", "set", "eth1p", "up"]);
        assert!(
            wait_until(20, || d.log().contains(held_down)),
            "flap not held\n{}",
            logs(&[&d])
        );
        // A lasting loss.
        lan.must(0, &["ip", "link", "set", "eth1p", "down"]);
        assert!(
            wait_until(20, || d.log().contains("(VI_1) Entering FAULT STATE")),
            "no FAULT\n{}",
            logs(&[&d])
        );
        lan.must(0, &["ip", "link", "set", "eth1p", "up"]);
        assert!(
            wait_until(20, || d.log().contains("(VI_1) Entering BACKUP STATE")
                && nth_line(&d.log(), "Netlink reports eth1 up", 0).is_some()),
            "no recovery\n{}",
            logs(&[&d])
        );
        let log = d.log();
        let second_hold = nth_line(&log, held_down, 1);
        let reported_down = nth_line(&log, "Netlink reports eth1 down", 0);
        let fault = nth_line(&log, "(VI_1) Entering FAULT STATE", 0);
        let up_hold = nth_line(&log, held_up, 0);
        let reported_up = nth_line(&log, "Netlink reports eth1 up", 0);
        assert!(
            second_hold.is_some()
                && second_hold < reported_down
                && reported_down < fault
                && fault < up_hold
                && up_hold < reported_up,
            "real: {real}: the flap must stay unreported, the loss reported after its delay\n{log}"
        );
        assert_eq!(
            log.matches("Netlink reports eth1 down").count(),
            1,
            "real: {real}\n{log}"
        );
        drop(d);
        let _ = lan.exec(0, &["ip", "addr", "del", "198.51.100.10/32", "dev", "eth1"]);
    });
}

/// `disable_local_igmp`: net.ipv4.igmp_link_local_mcast_reports is 0 while the daemon
/// runs and 1 again after it stops.
#[test]
fn disable_local_igmp_clears_the_sysctl_while_running() {
    let test = "disable_local_igmp_clears_the_sysctl_while_running";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let conf = conf(100, "", &["203.0.113.10/32"]).replace(
        "  router_id test\n",
        "  router_id test\n  disable_local_igmp\n",
    );
    let value = || wire::sysctl(&lan, 0, "net/ipv4/igmp_link_local_mcast_reports");
    both(test, |real| {
        assert_eq!(value(), "1");
        let mut d = start(&lan, 0, real, &conf);
        assert!(
            wait_until(20, || d.log().contains("(VI_1) Entering BACKUP STATE")),
            "no BACKUP\n{}",
            logs(&[&d])
        );
        assert_eq!(value(), "0", "real: {real}");
        d.stop();
        assert_eq!(value(), "1", "real: {real}");
    });
}

/// `linkbeat_use_polling` (root or instance) and `linkbeat_interfaces`: the interface's
/// state is polled, not taken from netlink: a carrier loss is reported as `Linkbeat
/// reports`, never `Netlink reports`, and faults the instance as usual.
#[test]
fn linkbeat_polls_the_interface() {
    let test = "linkbeat_polls_the_interface";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    add_eth1(&lan, 0);
    let conf = |root: &str, inst: &str| {
        format!(
            "global_defs {{\n  router_id test\n}}\n{root}\
             vrrp_instance VI_1 {{\n  state MASTER\n  interface eth1\n  virtual_router_id 51\n  \
             priority 100\n  advert_int 1\n{inst}  virtual_ipaddress {{\n    198.51.100.10/32\n  }}\n}}\n"
        )
    };
    let variants = [
        conf("linkbeat_use_polling\n", ""),
        conf("", "  linkbeat_use_polling\n"),
        conf("linkbeat_interfaces {\n  eth1\n}\n", ""),
    ];
    both(test, |real| {
        for c in &variants {
            let d = start(&lan, 0, real, c);
            assert!(
                wait_until(20, || has_addr_on(&lan, 0, "eth1", "198.51.100.10")),
                "no MASTER\n{}",
                logs(&[&d])
            );
            lan.must(0, &["ip", "link", "set", "eth1p", "down"]);
            assert!(
                wait_until(20, || d.log().contains("Linkbeat reports eth1 down")
                    && d.log().contains("(VI_1) Entering FAULT STATE")),
                "no linkbeat FAULT\n{c}\n{}",
                logs(&[&d])
            );
            lan.must(0, &["ip", "link", "set", "eth1p", "up"]);
            assert!(
                wait_until(20, || d.log().contains("Linkbeat reports eth1 up")
                    && d.log().contains("(VI_1) Entering BACKUP STATE")),
                "no linkbeat recovery\n{c}\n{}",
                logs(&[&d])
            );
            let log = d.log();
            assert!(
                log.contains("Using MII-BMSR/ETHTOOL NIC polling thread(s)..."),
                "real: {real}\n{log}"
            );
            assert!(!log.contains("Netlink reports eth1"), "real: {real}\n{log}");
            drop(d);
            let _ = lan.exec(0, &["ip", "addr", "del", "198.51.100.10/32", "dev", "eth1"]);
        }
    });
}

/// `unicast_fault_no_peer` with a unicast keyword and no peer: the instance stays in FAULT
/// for good (no advert, no VIP), while its neighbour instance runs normally.
#[test]
fn unicast_fault_no_peer_keeps_the_instance_in_fault() {
    let test = "unicast_fault_no_peer_keeps_the_instance_in_fault";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    if !wire::tcpdump_available() {
        support::skip_or_fail(test, "tcpdump is not installed");
        return;
    }
    let conf = "global_defs {\n  router_id test\n}\n\
        vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
        priority 100\n  advert_int 1\n  unicast_fault_no_peer\n  unicast_src_ip 192.0.2.1\n  \
        virtual_ipaddress {\n    203.0.113.10/32\n  }\n}\n\
        vrrp_instance VI_2 {\n  state MASTER\n  interface eth0\n  virtual_router_id 52\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    203.0.113.20/32\n  }\n}\n";
    both(test, |real| {
        let cap = Capture::start(&lan, 0, "proto 112");
        let d = start(&lan, 0, real, conf);
        assert!(
            wait_until(30, || cap.matching(&["vrid 52"]).len() >= 5),
            "VI_2 should advertise\n{}\n{}",
            cap.text(),
            logs(&[&d])
        );
        assert!(
            cap.matching(&["vrid 51"]).is_empty(),
            "real: {real}\n{}",
            cap.text()
        );
        assert!(!has_addr(&lan, 0, "203.0.113.10"), "real: {real}");
        assert!(
            d.log()
                .contains("(VI_1) Cannot use unicast without any peers - going to fault state"),
            "real: {real}\n{}",
            d.log()
        );
        drop(d);
        let _ = lan.exec(0, &["ip", "addr", "del", "203.0.113.20/32", "dev", "eth0"]);
    });
}

/// `vrrp_min_garp` lowers only the GARP settings not given before it; one given after it
/// (`vrrp_garp_master_repeat 3`) stands: 3 GARPs at MASTER, no delayed burst.
#[test]
fn vrrp_min_garp_keeps_later_settings() {
    let test = "vrrp_min_garp_keeps_later_settings";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    if !wire::tcpdump_available() {
        support::skip_or_fail(test, "tcpdump is not installed");
        return;
    }
    let conf = conf(100, "", &["203.0.113.10/32"])
        .replace(
            "  router_id test\n",
            "  router_id test\n  vrrp_min_garp\n  vrrp_garp_master_repeat 3\n",
        )
        .replace("state BACKUP", "state MASTER");
    both(test, |real| {
        let cap = Capture::start(&lan, 0, "arp or proto 112");
        let d = start(&lan, 0, real, &conf);
        // Past where keepalived's default 5 s delayed burst would be.
        assert!(
            wait_until(30, || cap.matching(&["vrid 51"]).len() >= 8),
            "no adverts\n{}\n{}",
            cap.text(),
            logs(&[&d])
        );
        let garps = cap.matching(&["who-has 203.0.113.10 ", "tell 203.0.113.10,"]);
        assert_eq!(garps.len(), 3, "real: {real}\n{}", cap.text());
        drop(d);
        let _ = lan.exec(0, &["ip", "addr", "del", "203.0.113.10/32", "dev", "eth0"]);
    });
}

/// Runs `BIN -t -f CONF` in node `i`: (exit code, stdout + stderr).
fn check(lan: &Lan, i: usize, real: bool, conf: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, conf).expect("write conf");
    let bin = if real {
        support::real_keepalived().expect("real keepalived")
    } else {
        support::ours()
    };
    let out = lan.exec(
        i,
        &[&bin.to_string_lossy(), "-t", "-f", &path.to_string_lossy()],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// `vrf` never applies in keepalived 2.2.7 (an instance needs `interface`, which clears
/// it); `-t` reports a missing VRF device or the clearing, with keepalived's verdict.
#[test]
fn vrf_is_reported_as_keepalived_does() {
    let test = "vrf_is_reported_as_keepalived_does";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let conf = |vrf: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  state MASTER\n  vrf {vrf}\n  interface eth0\n  \
             virtual_router_id 51\n  priority 100\n  unicast_src_ip 192.0.2.1\n  \
             unicast_peer {{\n    192.0.2.2\n  }}\n  virtual_ipaddress {{\n    203.0.113.10/32\n  }}\n}}\n"
        )
    };
    both(test, |real| {
        let (rc, out) = check(&lan, 0, real, &conf("vrf9"));
        assert_eq!(rc, Some(5), "real: {real}: {out}");
        assert!(
            out.contains("(VI_1) WARNING - VRF interface vrf9 doesn't exist"),
            "{out}"
        );
        let (rc, out) = check(&lan, 0, real, &conf("eth0"));
        assert_eq!(rc, Some(5), "real: {real}: {out}");
        assert!(
            out.contains("(VI_1) vrf can only be specified without interface - clearing"),
            "real: {real}: {out}"
        );
    });
}

/// `interface_up_down_delays` and `linkbeat_interfaces` naming a missing interface are
/// refused by `-t` (exit 4), unless `dynamic_interfaces`.
#[test]
fn link_blocks_on_missing_interfaces_are_refused() {
    let test = "link_blocks_on_missing_interfaces_are_refused";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let delays = "interface_up_down_delays {\n  eth7 1\n}\n";
    let linkbeat = "linkbeat_interfaces {\n  eth8\n}\n";
    both(test, |real| {
        let (rc, out) = check(&lan, 0, real, delays);
        assert_eq!(rc, Some(4), "real: {real}: {out}");
        assert!(
            out.contains("unknown interface eth7 specified for up/down delay"),
            "{out}"
        );
        let (rc, out) = check(&lan, 0, real, linkbeat);
        assert_eq!(rc, Some(4), "real: {real}: {out}");
        assert!(
            out.contains("unknown interface eth8 specified for linkbeat interface"),
            "{out}"
        );
        let dynamic = format!("global_defs {{\n  dynamic_interfaces\n}}\n{delays}{linkbeat}");
        let (rc, out) = check(&lan, 0, real, &dynamic);
        assert_eq!(rc, Some(0), "real: {real}: {out}");
    });
}
