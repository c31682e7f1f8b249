//! VMAC interfaces beyond the basics of tests/vrrp_wire.rs: a VMAC deleted by
//! hand, `use_vmac_addr` / per-address `use_vmac`, and `use_ipvlan` (in the test VM, whose
//! kernel has ipvlan). Each scenario runs against ours and the real keepalived 2.2.7 with
//! the same expectations, except where 2.2.7 misbehaves (said at the assertion). Every
//! wait is bounded; daemons, captures, namespaces and the VM go away on drop / failure.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;
use support::wire;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use node_daemon::*;
use wire::*;

const VIP: &str = "192.0.2.100";
const VMAC4: &str = "00:00:5e:00:01:33"; // VRID 51
const VMAC6: &str = "00:00:5e:00:02:33";

fn on_vmac(lan: &netns::Lan, n: usize) -> bool {
    has_addr_on(lan, n, "vrrp.51", VIP)
}

/// Lines of `log` from the first one containing `from`.
fn after<'a>(log: &'a str, from: &str) -> &'a str {
    log.find(from).map_or("", |i| &log[i..])
}

/// Whether `pats` appear in `log` in this order.
fn in_order(log: &str, pats: &[&str]) -> bool {
    let mut rest = log;
    for p in pats {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// The master's VMAC is deleted by hand: the instance faults, the VMAC is created again
/// with its MAC and sysctls, the instance goes BACKUP and (highest priority) MASTER again
/// with the VIP on the new VMAC; a client resolves the VIP to the virtual MAC.
fn deleted_vmac(real: bool) {
    let test = "vmac_deleted_by_hand_comes_back";
    let Some(lan) = lan_or_skip(test, 3) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, real, &conf(150, "  use_vmac\n", &[&vip]));
    let b = Daemon::start(&lan, 1, real, &conf(100, "  use_vmac\n", &[&vip]));
    let ds = [&a, &b];
    assert!(
        wait_until(10, || on_vmac(&lan, 0) && !on_vmac(&lan, 1)),
        "{}",
        logs(&ds)
    );
    lan.must(0, &["ip", "link", "del", "vrrp.51"]);
    // Gone, then back: recreated, and master again once its advert timer expires.
    assert!(
        wait_until(10, || link_details(&lan, 0, "vrrp.51").is_some()
            && on_vmac(&lan, 0)
            && !on_vmac(&lan, 1)),
        "{}",
        logs(&ds)
    );
    assert_eq!(
        link_details(&lan, 0, "vrrp.51"),
        Some((VMAC4.to_owned(), "private".to_owned())),
        "{}",
        logs(&ds)
    );
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/vrrp.51/arp_ignore"), "1");
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/vrrp.51/accept_local"), "1");
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/vrrp.51/rp_filter"), "0");
    assert_eq!(sysctl(&lan, 0, "net/ipv6/conf/vrrp.51/disable_ipv6"), "1");
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/eth0/arp_ignore"), "1");
    let log = a.log();
    let tail = after(&log, "Netlink reports vrrp.51 down");
    assert!(
        in_order(
            tail,
            &[
                "(VI_1) Entering FAULT STATE",
                "(VI_1) sent 0 priority",
                "Interface vrrp.51 deleted",
                "(VI_1): Success creating VMAC interface vrrp.51",
                "Netlink reports vrrp.51 up",
                "(VI_1) Entering BACKUP STATE",
                "(VI_1) Entering MASTER STATE",
            ]
        ),
        "{log}"
    );
    // The down of the deleted link is reported once (its deletion is not a second one).
    assert_eq!(
        log.matches("Netlink reports vrrp.51 down").count(),
        1,
        "{log}"
    );
    assert_eq!(arp_answers(&lan, 2, VIP), [VMAC4], "{}", logs(&ds));
    // The IGMP rule's map follows the new VMAC (nft shows an index that no longer exists
    // as a number instead of a name).
    let rules = lan.must(0, &["nft", "list", "table", "ip", "keepalived"]);
    assert!(rules.contains("\"vrrp.51\" : \"eth0\""), "{rules}");
}

#[test]
fn vmac_deleted_by_hand_comes_back() {
    deleted_vmac(false);
}

#[test]
fn vmac_deleted_by_hand_comes_back_real() {
    if real_or_skip("vmac_deleted_by_hand_comes_back_real") {
        deleted_vmac(true);
    }
}

/// The same for an IPv6 (VRRPv3) pair: ours recreates the VMAC (IPv6 MAC, addrgenmode none,
/// the base's link-local) and the master comes back; keepalived 2.2.7 recreates it too but
/// cannot bind its socket again (`bind for multicast failed 19`) and stays in FAULT, so the
/// peer takes over (README: differences).
fn deleted_vmac6(real: bool) {
    let Some(lan) = lan_or_skip("vmac_deleted_by_hand_ipv6", 2) else {
        return;
    };
    let vip6 = "2001:db8::100";
    let extra = "  version 3\n  use_vmac\n";
    let a = Daemon::start(&lan, 0, real, &conf(150, extra, &[&format!("{vip6}/128")]));
    let b = Daemon::start(&lan, 1, real, &conf(100, extra, &[&format!("{vip6}/128")]));
    let ds = [&a, &b];
    let on = |n: usize| has_addr_on(&lan, n, "vrrp.51", vip6);
    assert!(wait_until(12, || on(0) && !on(1)), "{}", logs(&ds));
    lan.must(0, &["ip", "link", "del", "vrrp.51"]);
    let master = if real { 1 } else { 0 };
    let other = 1 - master;
    assert!(
        wait_until(10, || link_details(&lan, 0, "vrrp.51").is_some()
            && on(master)
            && !on(other)),
        "{}",
        logs(&ds)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(on(master) && !on(other), "{}", logs(&ds));
    assert_eq!(
        link_details(&lan, 0, "vrrp.51").map(|l| l.0).as_deref(),
        Some(VMAC6)
    );
    let j = lan.ip_json(0, &["-d", "link", "show", "dev", "vrrp.51"]);
    assert_eq!(j[0]["inet6_addr_gen_mode"], "none", "{j}");
    let log = a.log();
    let tail = after(&log, "Netlink reports vrrp.51 down");
    assert!(
        in_order(
            tail,
            &[
                "(VI_1) Entering FAULT STATE",
                "Interface vrrp.51 deleted",
                "(VI_1): Success creating VMAC interface vrrp.51",
                "Netlink reports vrrp.51 up",
            ]
        ),
        "{log}"
    );
    if real {
        assert!(tail.contains("bind for multicast failed 19"), "{log}");
        assert!(!tail.contains("Entering BACKUP STATE"), "{log}");
    }
}

#[test]
fn vmac_deleted_by_hand_ipv6() {
    deleted_vmac6(false);
}

#[test]
fn vmac_deleted_by_hand_ipv6_real() {
    if real_or_skip("vmac_deleted_by_hand_ipv6_real") {
        deleted_vmac6(true);
    }
}

/// `use_vmac_addr` (with `use_vmac`) and a per-address `use_vmac`: the instance's VMAC
/// `vrrp.51` on eth0 carries 192.0.2.100; the VIP on eth1 gets `vrrp1.51` (IPv4 MAC) on
/// eth1, the IPv6 eVIP `vrrp6.51` (IPv6 MAC, the base's link-local) on eth0; with
/// `vmac_addr_prefix` the address VMACs take that prefix. A client on eth1 resolves the
/// VIP there to the virtual MAC. All go at stop.
fn vmac_addr(real: bool) {
    let test = "use_vmac_addr_vmacs";
    let Some(lan) = lan_or_skip(test, 3) else {
        return;
    };
    // eth1: node 0 ↔ node 2 (the client), 198.51.100.0/24.
    let (n0, n2) = (&lan.nodes[0].ns, &lan.nodes[2].ns);
    netns::must(&[
        "ip", "-n", n0, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", n2,
    ]);
    for (ns, a) in [(n0, "198.51.100.1/24"), (n2, "198.51.100.3/24")] {
        netns::must(&["ip", "-n", ns, "link", "set", "eth1", "up"]);
        netns::must(&["ip", "-n", ns, "addr", "add", a, "dev", "eth1"]);
    }
    let text = |extra: &str, global: &str, evip: &str| {
        format!(
            "global_defs {{\n  router_id test\n{global}}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority 150\n  advert_int 1\n{extra}  virtual_ipaddress {{\n    {VIP}/32\n    \
             198.51.100.100/32 dev eth1\n  }}\n  virtual_ipaddress_excluded {{\n    \
             2001:db8::100/128\n{evip}  }}\n}}\n"
        )
    };
    let mut d = Daemon::start(
        &lan,
        0,
        real,
        &text("  use_vmac\n  use_vmac_addr\n", "", ""),
    );
    let want = [
        ("vrrp.51", "eth0", VMAC4, VIP),
        ("vrrp1.51", "eth1", VMAC4, "198.51.100.100"),
        ("vrrp6.51", "eth0", VMAC6, "2001:db8::100"),
    ];
    let placed = || want.iter().all(|w| has_addr_on(&lan, 0, w.0, w.3));
    assert!(wait_until(10, placed), "{}", d.log());
    for (name, base, mac, _) in want {
        assert_eq!(
            link_details(&lan, 0, name),
            Some((mac.to_owned(), "private".to_owned())),
            "{name}\n{}",
            d.log()
        );
        let j = lan.ip_json(0, &["-d", "link", "show", "dev", name]);
        assert_eq!(j[0]["link"], base, "{name}: {j}");
    }
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/vrrp1.51/arp_ignore"), "1");
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/eth1/arp_ignore"), "1");
    let ll = |dev: &str| {
        let j = lan.ip_json(0, &["-6", "addr", "show", "dev", dev]);
        j[0]["addr_info"].as_array().and_then(|ai| {
            ai.iter()
                .find(|a| a["scope"] == "link")
                .and_then(|a| a["local"].as_str().map(str::to_owned))
        })
    };
    assert_eq!(ll("vrrp6.51"), ll("eth0"), "{}", d.log());
    assert!(ll("eth0").is_some());
    assert_eq!(
        arp_answers_on(&lan, 2, "eth1", "198.51.100.100"),
        [VMAC4],
        "{}",
        d.log()
    );
    let log = d.log();
    assert!(
        in_order(
            &log,
            &[
                "(VI_1): Success creating VMAC interface vrrp.51",
                "(VI_1): Success creating VMAC interface vrrp1.51",
                "(VI_1): Success creating VMAC interface vrrp6.51",
                "(VI_1) Sending/queueing gratuitous ARPs on vrrp1.51 for 198.51.100.100",
            ]
        ),
        "{log}"
    );
    // The VMAC for eth1 deleted by hand: the instance faults (its address VMACs count as
    // its interface); ours makes the VMAC again, and the instance comes back with the VIP
    // on it; keepalived 2.2.7 leaves it gone and the instance in FAULT (README).
    lan.must(0, &["ip", "link", "del", "vrrp1.51"]);
    let faulted = || {
        in_order(
            &d.log(),
            &[
                "Netlink reports vrrp1.51 down",
                "(VI_1) Entering FAULT STATE",
                "Interface vrrp1.51 deleted",
            ],
        )
    };
    assert!(wait_until(5, faulted), "{}", d.log());
    if real {
        std::thread::sleep(Duration::from_secs(2));
        assert!(link_details(&lan, 0, "vrrp1.51").is_none(), "{}", d.log());
    } else {
        let back = || has_addr_on(&lan, 0, "vrrp1.51", "198.51.100.100");
        assert!(wait_until(8, back), "{}", d.log());
        assert_eq!(
            link_details(&lan, 0, "vrrp1.51").map(|l| l.0).as_deref(),
            Some(VMAC4)
        );
        assert!(has_addr_on(&lan, 0, "vrrp.51", VIP), "{}", d.log());
        assert_eq!(
            arp_answers_on(&lan, 2, "eth1", "198.51.100.100"),
            [VMAC4],
            "{}",
            d.log()
        );
        let log = d.log();
        assert!(
            in_order(
                after(&log, "Interface vrrp1.51 deleted"),
                &[
                    "(VI_1): Success creating VMAC interface vrrp1.51",
                    "Netlink reports vrrp1.51 up",
                    "(VI_1) Entering BACKUP STATE",
                    "(VI_1) Entering MASTER STATE",
                    "(VI_1) Sending/queueing gratuitous ARPs on vrrp1.51 for 198.51.100.100",
                ]
            ),
            "{log}"
        );
    }
    d.stop();
    for (name, ..) in want {
        assert!(link_details(&lan, 0, name).is_none(), "{name}\n{}", d.log());
    }
    // Restored at stop; keepalived 2.2.7 restores only the instance VMAC's base and leaves
    // eth1 answering no ARP for its own addresses (README: differences).
    let left = if real { "1" } else { "0" };
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/eth1/arp_ignore"), left);

    // Without use_vmac: the VIP stays on eth0, a per-address use_vmac gets its own VMAC,
    // named with vmac_addr_prefix. (With use_vmac too, keepalived 2.2.7 tries a second VMAC
    // with the instance's MAC on eth0 for it, fails with EADDRINUSE and stays in FAULT.)
    let mut d = Daemon::start(
        &lan,
        0,
        real,
        &text(
            "  use_vmac_addr\n",
            "  vmac_addr_prefix vx\n",
            "    192.0.2.101/32 dev eth0 use_vmac\n",
        ),
    );
    let want = [
        ("eth0", VIP),
        ("vx.51", "198.51.100.100"),
        ("vx6.51", "2001:db8::100"),
        ("vx1.51", "192.0.2.101"),
    ];
    let placed = || want.iter().all(|w| has_addr_on(&lan, 0, w.0, w.1));
    assert!(wait_until(10, placed), "{}", d.log());
    assert_eq!(
        link_details(&lan, 0, "vx1.51").map(|l| l.0).as_deref(),
        Some(VMAC4)
    );
    assert!(!has_addr_on(&lan, 0, "vx1.51", VIP), "{}", d.log());
    d.stop();
    assert!(link_details(&lan, 0, "vx.51").is_none(), "{}", d.log());
}

#[test]
fn use_vmac_addr_vmacs() {
    vmac_addr(false);
}

#[test]
fn use_vmac_addr_vmacs_real() {
    if real_or_skip("use_vmac_addr_vmacs_real") {
        vmac_addr(true);
    }
}

/// `R key value` lines of one run of tests/vmac_vm/ipvlan.sh, and its `L node line` logs.
struct VmRun {
    results: Vec<(String, String)>,
    logs: String,
}

impl VmRun {
    fn parse(out: &str, tag: &str) -> VmRun {
        let mut results = Vec::new();
        let mut logs = String::new();
        let mut mine = false;
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("BEGIN ") {
                mine = rest == tag;
                continue;
            }
            if !mine {
                continue;
            }
            if let Some(rest) = line.strip_prefix("R ") {
                let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                results.push((k.to_owned(), v.to_owned()));
            } else if let Some(rest) = line.strip_prefix("L ") {
                logs.push_str(rest);
                logs.push('\n');
            }
        }
        VmRun { results, logs }
    }

    fn get(&self, key: &str) -> &str {
        self.results
            .iter()
            .find(|r| r.0 == key)
            .map_or("", |r| r.1.as_str())
    }

    fn json(&self, key: &str) -> serde_json::Value {
        serde_json::from_str(self.get(key)).unwrap_or(serde_json::Value::Null)
    }
}

/// `use_ipvlan vip0 192.0.2.11/24 private` on two nodes, ours and then the real one, in one
/// boot of the test VM: an L2 ipvlan (private flag, the base's MAC, IPv6 off) with its
/// address is the advert interface; the pair elects; the VIP goes on the base interface
/// (as 2.2.7 does) and a client reaches it at the base's MAC; deleted by hand the ipvlan
/// is created again; at stop it is removed and the peer takes over. With
/// `dynamic_interfaces`, an ipvlan whose base does not exist yet is made when it appears.
#[test]
fn ipvlan_pair_in_vm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vm = root.join("tests/ipvs_vm");
    let setup = Command::new("sh").arg(vm.join("setup.sh")).status();
    let qemu = Command::new("sh")
        .args(["-c", "command -v qemu-system-x86_64 >/dev/null"])
        .status()
        .is_ok_and(|s| s.success());
    if !setup.is_ok_and(|s| s.success()) || !qemu {
        support::skip_or_fail("ipvlan_pair_in_vm", "qemu for the test VM is unavailable");
        return;
    }
    let ours = support::ours();
    let real = support::real_keepalived();
    let script = root.join("tests/vmac_vm/ipvlan.sh");
    let mut inner = format!(
        "echo BEGIN ours; bash {} {} ours; ",
        script.display(),
        ours.display()
    );
    if let Some(r) = &real {
        inner.push_str(&format!(
            "echo BEGIN real; bash {} {} real",
            script.display(),
            r.display()
        ));
    }
    let out = support::run_limited(
        Command::new("bash")
            .arg(vm.join("run.sh"))
            .arg("--share")
            .arg(root)
            // ipvlan, veth and bridge are among the modules the VM always loads.
            .args(["--timeout", "240"])
            .arg("--lib-for")
            .arg(&ours)
            .args(["--", "bash", "-c", &inner])
            .env(
                "IPVS_VM_HOST_TOOLS",
                "bash dash ip keepalived ping cat sleep mktemp grep seq sed rm",
            )
            .current_dir(root),
        Duration::from_secs(300),
    );
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert!(
        !matches!(out.code, Some(124) | Some(125) | None),
        "test VM failed to boot or timed out ({:?})\n{all}",
        out.code
    );
    let mut runs = vec![("ours", VmRun::parse(&out.stdout, "ours"))];
    if real.is_some() {
        runs.push(("real", VmRun::parse(&out.stdout, "real")));
    } else {
        support::skip_or_fail("ipvlan_pair_in_vm (real)", "/usr/sbin/keepalived missing");
    }
    for (who, r) in &runs {
        let ctx = format!("{who}:\n{}\n{all}", r.logs);
        assert_eq!(r.get("master_first"), "n1", "{ctx}");
        let link = r.json("link");
        let l = &link[0];
        assert_eq!(l["linkinfo"]["info_kind"], "ipvlan", "{ctx}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "l2", "{ctx}");
        assert_eq!(l["linkinfo"]["info_data"]["private"], true, "{ctx}");
        assert_eq!(l["link"], "eth0", "{ctx}");
        let base_mac = r.json("base_mac")[0]["address"].clone();
        assert_eq!(l["address"], base_mac, "{ctx}");
        let addrs = r.json("addrs");
        let a = &addrs[0]["addr_info"];
        assert_eq!(a[0]["local"], "192.0.2.11", "{ctx}");
        assert_eq!(a[0]["prefixlen"], 24, "{ctx}");
        assert_eq!(r.get("disable_ipv6"), "1", "{ctx}");
        // No ARP sysctls for an ipvlan (it shares the base's MAC).
        assert_eq!(r.get("arp_ignore"), "0", "{ctx}");
        assert_eq!(r.get("ping"), "0", "{ctx}");
        assert_eq!(r.json("neigh")[0]["lladdr"], base_mac, "{ctx}");
        assert_eq!(
            r.json("recreated")[0]["linkinfo"]["info_data"]["private"],
            true,
            "{ctx}"
        );
        // keepalived 2.2.7 recreates the ipvlan but its instance stays in FAULT (its data
        // dump says so), so the peer takes over; ours comes back (README: differences).
        let expect = if *who == "ours" { "n1" } else { "n2" };
        assert_eq!(r.get("master_after_delete"), expect, "{ctx}");
        assert_eq!(r.get("master_after_stop"), "n2", "{ctx}");
        assert_eq!(r.get("vip0_after_stop"), "1", "vip0 left behind\n{ctx}");
        // dynamic_interfaces: the ipvlan appears with its base, the VIP on the base
        assert_eq!(r.get("dyn_vip"), "1", "dynamic_interfaces\n{ctx}");
        let dl = r.json("dyn_link");
        assert_eq!(dl[0]["linkinfo"]["info_kind"], "ipvlan", "{ctx}");
        assert_eq!(dl[0]["link"], "eth1", "{ctx}");
        let n1: String = r
            .logs
            .lines()
            .filter_map(|l| l.strip_prefix("n1 "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            in_order(
                &n1,
                &[
                    "(VI_1): Success creating ipvlan interface vip0",
                    "(VI_1) Entering MASTER STATE",
                    "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.100",
                    "Netlink reports vip0 down",
                    "(VI_1) Entering FAULT STATE",
                    "Interface vip0 deleted",
                    "(VI_1): Success creating ipvlan interface vip0",
                    "(VI_1) Success removing VMAC interface vip0",
                ]
            ),
            "{ctx}"
        );
    }
}

/// `use_ipvlan` on this machine's kernel: without ipvlan support (CONFIG_IPVLAN unset, as
/// here) the ipvlan cannot be made and the instance stays in FAULT, so the peer is master;
/// with it, the instance runs on its ipvlan. Ours and 2.2.7 alike.
fn ipvlan_host(real: bool) {
    let Some(lan) = lan_or_skip("ipvlan_on_this_kernel", 2) else {
        return;
    };
    let probe = lan.exec(
        1,
        &[
            "ip", "link", "add", "kvprobe", "link", "eth0", "type", "ipvlan",
        ],
    );
    let supported = probe.status.success();
    let _ = lan.exec(1, &["ip", "link", "del", "kvprobe"]);
    let a = Daemon::start(
        &lan,
        0,
        real,
        &conf(150, "  use_ipvlan 192.0.2.11/24\n", &[&format!("{VIP}/32")]),
    );
    let b = Daemon::start(&lan, 1, real, &conf(100, "", &[&format!("{VIP}/32")]));
    let ds = [&a, &b];
    let master = if supported { 0 } else { 1 };
    expect_master(&lan, master, &[0, 1], VIP, 10, &ds);
    std::thread::sleep(Duration::from_secs(2));
    expect_master(&lan, master, &[0, 1], VIP, 1, &ds);
    let log = a.log();
    if supported {
        let j = lan.ip_json(0, &["-d", "link", "show", "dev", "vrrp.51"]);
        assert_eq!(j[0]["linkinfo"]["info_kind"], "ipvlan", "{j}\n{log}");
    } else {
        assert!(
            log.contains("(VI_1): Unable to create ipvlan interface vrrp.51"),
            "{log}"
        );
        assert!(link_details(&lan, 0, "vrrp.51").is_none(), "{log}");
    }
}

#[test]
fn ipvlan_on_this_kernel() {
    ipvlan_host(false);
}

#[test]
fn ipvlan_on_this_kernel_real() {
    if real_or_skip("ipvlan_on_this_kernel_real") {
        ipvlan_host(true);
    }
}

/// A private macvlan with the VMAC's MAC already on eth0, under another name: 2.2.7 adopts
/// it (`Found matching interface blocker`), puts the VIP on it and deletes it at stop.
fn adopted(real: bool) {
    let Some(lan) = lan_or_skip("vmac_adopted_by_mac", 1) else {
        return;
    };
    lan.must(
        0,
        &[
            "ip", "link", "add", "blocker", "link", "eth0", "address", VMAC4, "type", "macvlan",
            "mode", "private",
        ],
    );
    lan.must(0, &["ip", "link", "set", "blocker", "up"]);
    let mut d = Daemon::start(
        &lan,
        0,
        real,
        &conf(150, "  use_vmac\n", &[&format!("{VIP}/32")]),
    );
    assert!(
        wait_until(10, || has_addr_on(&lan, 0, "blocker", VIP)),
        "{}",
        d.log()
    );
    assert!(link_details(&lan, 0, "vrrp.51").is_none(), "{}", d.log());
    d.stop();
    assert!(link_details(&lan, 0, "blocker").is_none(), "{}", d.log());
    let log = d.log();
    assert!(
        in_order(
            &log,
            &[
                "(VI_1) Found matching interface blocker",
                "(VI_1) Entering MASTER STATE",
                "(VI_1) Success removing VMAC interface blocker",
            ]
        ),
        "{log}"
    );
}

#[test]
fn vmac_adopted_by_mac() {
    adopted(false);
}

#[test]
fn vmac_adopted_by_mac_real() {
    if real_or_skip("vmac_adopted_by_mac_real") {
        adopted(true);
    }
}
