//! IPVS client against a real kernel: the host test boots one VM
//! (tests/ipvs_vm/run.sh) that runs this same executable's `vm_*` tests, which
//! are `#[ignore]`d so they never run on the host (whose kernel has no IPVS).
//! Inside the VM results are read back through our own dumps and compared
//! with Debian's `ipvsadm -Ln`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::sockets;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use keepalived::ipvs::msg::{
    IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2,
    IP_VS_SVC_F_SCHED3, IP_VS_TUNNEL_ENCAP_FLAG_CSUM, IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
};
use keepalived::ipvs::{
    CmdAttr, DaemonState, Dest, DestEntry, Family, Fwd, Ipvs, IpvsCmd, Protocol, Service,
    ServiceEntry, ServiceKey, SyncDaemon, Timeouts, TunnelType,
};

mod ipvs_daemon;

const IN_VM: &str = "KEEPALIVED_IN_VM";

/// Every test below that runs inside the VM, in order.
const VM_TESTS: &[&str] = &[
    "vm_capture",
    "vm_info",
    "vm_services_every_scheduler",
    "vm_service_flags_and_persistence",
    "vm_dests",
    "vm_edit_and_delete",
    "vm_fwmark",
    "vm_errors",
    "vm_timeouts",
    "vm_sync_daemon",
    "vm_daemon_checks",
    "vm_daemon_reload",
    "vm_daemon_ha_suspend",
    "vm_daemon_more_checkers",
    "vm_vrrp_sync_daemon",
    "vm_vrrp_lvs_sync_daemon_interface_as_keepalived",
    "vm_checker_process_controls",
    "vm_checker_netlink_buffers",
    "vm_daemon_lvs_flush_and_timeouts",
    "vm_daemon_ipvs_settings_as_keepalived",
    "ipvs_daemon::probes::vm_probes_as_keepalived",
    "ipvs_daemon::nft::vm_daemon_nftables_ipvs",
    "ipvs_daemon::nft::vm_daemon_nftables_ipvs_start_fwmark",
    "ipvs_daemon::globals::vm_daemon_checker_globals",
    "ipvs_daemon::keywords::vm_checker_keywords_as_keepalived",
    "vm_bfd_check",
];

fn in_vm() -> bool {
    std::env::var_os(IN_VM).is_some()
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Boots the VM once and runs all `VM_TESTS` in it.
#[test]
fn ipvs_in_vm() {
    if in_vm() {
        return; // the inner run must not boot another VM
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vm = root.join("tests/ipvs_vm");
    let setup = Command::new("sh").arg(vm.join("setup.sh")).status();
    if !setup.is_ok_and(|s| s.success()) || !have("qemu-system-x86_64") {
        support::skip_or_fail(
            "ipvs_in_vm",
            "qemu-system-x86_64 or busybox missing (run tests/ipvs_vm/setup.sh as root)",
        );
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    // IPVS_VM_ONLY=a,b runs only the VM tests whose names contain a or b (while iterating;
    // CI runs them all).
    let only = std::env::var("IPVS_VM_ONLY").unwrap_or_default();
    let tests: Vec<&str> = VM_TESTS
        .iter()
        .copied()
        .filter(|t| only.is_empty() || only.split(',').any(|o| t.contains(o)))
        .collect();
    let mut cmd = Command::new("bash");
    cmd.arg(vm.join("run.sh"))
        .args(["--share"])
        .arg(root)
        .args(["--timeout", "600", "-e", &format!("{IN_VM}=1"), "--lib-for"])
        .arg(&exe)
        .arg("--")
        .arg(&exe)
        .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
        .args(&tests)
        .current_dir(root);
    let start = std::time::Instant::now();
    let out = cmd.output().expect("cannot run tests/ipvs_vm/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("IPVS VM run took {:.1} s", start.elapsed().as_secs_f64());
    let code = out.status.code();
    assert!(
        !matches!(code, Some(124) | Some(125)),
        "IPVS VM failed to boot or timed out (exit {code:?})"
    );
    assert!(
        out.status.success(),
        "tests inside the IPVS VM failed (exit {code:?})"
    );
    let want = format!("test result: ok. {} passed", tests.len());
    assert!(stdout.contains(&want), "expected '{want}' from the VM run");
    assert!(
        !stdout.contains(NOT_IN_VM),
        "inner tests did not see {IN_VM}"
    );
}

// ------------------------------------------------------------ VM helpers

const NOT_IN_VM: &str = "skipped: not in the IPVS VM";

/// A fresh IPVS table, or None on the host (`--include-ignored`): these
/// tests only mean something inside the VM, where `ipvs_in_vm` runs them.
fn fresh() -> Option<Ipvs> {
    if !in_vm() {
        eprintln!("{NOT_IN_VM}");
        return None;
    }
    let mut ipvs = Ipvs::open().expect("Ipvs::open");
    ipvs.flush().expect("flush");
    Some(ipvs)
}

fn ipvsadm(args: &[&str]) -> String {
    let out = Command::new("ipvsadm")
        .args(args)
        .output()
        .expect("run ipvsadm");
    assert!(
        out.status.success(),
        "ipvsadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn v4(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn addr_port(a: &IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// ipvsadm's print_sched_flags().
fn sched_flags(s: &Service) -> String {
    let names = match s.sched_name.as_str() {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    let set: Vec<&str> = [IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3]
        .iter()
        .zip(names)
        .filter(|(f, _)| s.flags & **f != 0)
        .map(|(_, n)| n)
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!(" ({})", set.join(","))
    }
}

/// The service line of `ipvsadm -Ln`, rendered from our dump.
fn service_line(s: &Service) -> String {
    let mut l = match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let p = match protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
                Protocol::Other(_) => "?",
            };
            format!("{p} {} {}", addr_port(&addr, port), s.sched_name)
        }
        ServiceKey::Fwmark(m) if s.af == Family::Inet6 => format!("FWM {m} IPv6 {}", s.sched_name),
        ServiceKey::Fwmark(m) => format!("FWM {m} {}", s.sched_name),
    };
    l += &sched_flags(s);
    if s.flags & IP_VS_SVC_F_PERSISTENT != 0 {
        l += &format!(" persistent {}", s.timeout);
        match s.af {
            Family::Inet if s.netmask != u32::MAX => {
                l += &format!(" mask {}", Ipv4Addr::from(s.netmask))
            }
            Family::Inet6 if s.netmask != 128 => l += &format!(" mask {}", s.netmask),
            _ => {}
        }
        if let Some(pe) = &s.pe_name {
            l += &format!(" pe {pe}");
        }
    }
    if s.flags & IP_VS_SVC_F_ONEPACKET != 0 {
        l += " ops";
    }
    l
}

/// Which `ipvsadm -Ln` listing.
#[derive(Clone, Copy)]
enum View {
    Plain,
    PersistentConn,
    Thresholds,
}

fn dest_line(d: &DestEntry, view: View) -> String {
    let a = addr_port(&d.dest.addr, d.dest.port);
    let (act, inact) = (d.active_conns, d.inact_conns);
    match view {
        View::PersistentConn => {
            let (w, p) = (d.dest.weight, d.persist_conns);
            return format!("-> {a} {w} {p} {act} {inact}");
        }
        View::Thresholds => {
            let (u, l) = (d.dest.u_thresh, d.dest.l_thresh);
            return format!("-> {a} {u} {l} {act} {inact}");
        }
        View::Plain => {}
    }
    let fwd = match d.dest.fwd {
        Fwd::Masq => "Masq",
        Fwd::Local => "Local",
        Fwd::Route => "Route",
        Fwd::Tunnel { .. } => "Tunnel",
        Fwd::Other(_) => "?",
    };
    format!(
        "-> {a} {fwd} {} {} {}",
        d.dest.weight, d.active_conns, d.inact_conns
    )
}

type Table = BTreeSet<(String, Vec<String>)>;

/// Parses `ipvsadm -Ln` (whitespace-normalized) into services with their
/// sorted destination lines.
fn parse_ipvsadm(out: &str) -> Table {
    let mut t = Vec::<(String, Vec<String>)>::new();
    for line in out.lines().skip(3) {
        let norm = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if norm.starts_with("->") {
            t.last_mut()
                .expect("dest line before any service")
                .1
                .push(norm);
        } else if !norm.is_empty() {
            t.push((norm, Vec::new()));
        }
    }
    t.into_iter()
        .map(|(s, mut d)| {
            d.sort();
            (s, d)
        })
        .collect()
}

/// Our own dump rendered like `ipvsadm -Ln`.
fn our_table(ipvs: &mut Ipvs, view: View) -> Table {
    ipvs.services()
        .expect("services")
        .into_iter()
        .map(|e| {
            let mut d: Vec<String> = ipvs
                .dests(&e.service)
                .expect("dests")
                .iter()
                .map(|d| dest_line(d, view))
                .collect();
            d.sort();
            (service_line(&e.service), d)
        })
        .collect()
}

/// Compares our dump with `ipvsadm -Ln` and `ipvsadm -Ln --persistent-conn`.
fn assert_matches_ipvsadm(ipvs: &mut Ipvs) {
    let theirs = ipvsadm(&["-Ln"]);
    let info = ipvs.info().expect("info");
    let first = theirs.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "IP Virtual Server version {} (size={})",
            info.version_string(),
            info.conn_tab_size
        )
    );
    for (view, args) in [
        (View::Plain, &["-Ln"][..]),
        (View::PersistentConn, &["-Ln", "--persistent-conn"][..]),
        (View::Thresholds, &["-Ln", "--thresholds"][..]),
    ] {
        let theirs = ipvsadm(args);
        assert_eq!(
            our_table(ipvs, view),
            parse_ipvsadm(&theirs),
            "ipvsadm {args:?}:\n{theirs}"
        );
    }
}

/// On a host without IPVS, open() fails the way keepalived logs it (after
/// trying `modprobe ip_vs`); with IPVS it succeeds.
#[test]
fn open_reports_keepalived_error_without_ipvs() {
    if in_vm() {
        return;
    }
    let r = Ipvs::open();
    if Path::new("/proc/net/ip_vs").exists() {
        r.expect("IPVS is available here");
    } else {
        let e = r.expect_err("no IPVS in this kernel");
        assert_eq!(
            e.to_string(),
            "IPVS: Can't initialize ipvs: No such file or directory"
        );
    }
}

fn find<'a>(entries: &'a [ServiceEntry], svc: &Service) -> &'a Service {
    &entries
        .iter()
        .find(|e| e.service.key == svc.key && e.service.af == svc.af)
        .unwrap_or_else(|| panic!("service {:?} not in the dump", svc.key))
        .service
}

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

// ------------------------------------------------------------- VM tests

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Prints raw kernel replies as hex: the byte vectors of the unit tests in
/// src/ipvs/tests.rs come from here. Also checks they parse.
#[test]
#[ignore]
fn vm_capture() {
    let Some(mut ipvs) = fresh() else { return };
    ipvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"]);
    ipvsadm(&[
        "-a",
        "-t",
        "192.0.2.10:80",
        "-r",
        "198.51.100.1:8080",
        "-m",
        "-w",
        "2",
    ]);
    ipvsadm(&[
        "-A",
        "-u",
        "[2001:db8::10]:53",
        "-s",
        "sh",
        "-b",
        "sh-port",
        "-p",
        "120",
    ]);
    ipvsadm(&[
        "-a",
        "-u",
        "[2001:db8::10]:53",
        "-r",
        "[2001:db8::20]:53",
        "-i",
        "--tun-type",
        "gue",
        "--tun-port",
        "6080",
        "--tun-csum",
    ]);
    let svc = Service::new(Protocol::Tcp, v4("192.0.2.10"), 80, "rr");
    let svc6 = Service::new(Protocol::Udp, "2001:db8::10".parse().expect("v6"), 53, "sh");
    let captures = [
        (
            "GET_SERVICE",
            ipvs.request_raw(IpvsCmd::GetService, vec![], true),
        ),
        (
            "GET_DEST_V4",
            ipvs.request_raw(
                IpvsCmd::GetDest,
                vec![CmdAttr::Service(svc.key_attrs())],
                true,
            ),
        ),
        (
            "GET_DEST_V6",
            ipvs.request_raw(
                IpvsCmd::GetDest,
                vec![CmdAttr::Service(svc6.key_attrs())],
                true,
            ),
        ),
        (
            "GET_INFO",
            ipvs.request_raw(IpvsCmd::GetInfo, vec![], false),
        ),
        (
            "GET_CONFIG",
            ipvs.request_raw(IpvsCmd::GetConfig, vec![], false),
        ),
    ];
    for (name, replies) in captures {
        let replies = replies.unwrap_or_else(|e| panic!("{name}: errno {e}"));
        assert!(!replies.is_empty(), "{name}: no reply");
        for r in replies {
            keepalived::ipvs::IpvsMessage::from_genl_bytes(&r).expect("parse capture");
            println!("CAPTURE {name} {}", hex(&r));
        }
    }
}

#[test]
#[ignore]
fn vm_info() {
    let Some(mut ipvs) = fresh() else { return };
    let info = ipvs.info().expect("info");
    assert_eq!(info.version, 0x010201);
    assert_eq!(info.version_string(), "1.2.1");
    assert_eq!(info.conn_tab_size, 4096);
    assert!(ipvs.family_id() >= 16, "dynamic genl ids start at 16");
    assert!(ipvs.services().expect("services").is_empty());
}

/// TCP/UDP/SCTP x IPv4/IPv6 x every scheduler.
#[test]
#[ignore]
fn vm_services_every_scheduler() {
    let Some(mut ipvs) = fresh() else { return };
    let mut want = Vec::new();
    for (i, sched) in SCHEDULERS.iter().enumerate() {
        for (j, proto) in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .enumerate()
        {
            let port = 1000 + (i * 10 + j) as u16;
            for addr in [v4("192.0.2.20"), "2001:db8::20".parse().expect("v6")] {
                let s = Service::new(proto, addr, port, sched);
                ipvs.add_service(&s).expect("add_service");
                want.push(s);
            }
        }
    }
    let got = ipvs.services().expect("services");
    assert_eq!(got.len(), want.len());
    for s in &want {
        assert_eq!(find(&got, s), s);
    }
    assert_matches_ipvsadm(&mut ipvs);
}

#[test]
#[ignore]
fn vm_service_flags_and_persistence() {
    let Some(mut ipvs) = fresh() else { return };
    let mut persist = Service::new(Protocol::Tcp, v4("192.0.2.30"), 443, "wlc");
    persist.flags = IP_VS_SVC_F_PERSISTENT;
    persist.timeout = 300;
    persist.netmask = 0xffff_ff00;
    let mut persist6 = Service::new(
        Protocol::Tcp,
        "2001:db8::30".parse().expect("v6"),
        443,
        "lc",
    );
    persist6.flags = IP_VS_SVC_F_PERSISTENT;
    persist6.timeout = 60;
    persist6.netmask = 64;
    let mut sh = Service::new(Protocol::Udp, v4("192.0.2.31"), 53, "sh");
    sh.flags = IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_ONEPACKET;
    let mut mh = Service::new(Protocol::Tcp, v4("192.0.2.32"), 80, "mh");
    mh.flags = IP_VS_SVC_F_SCHED2;
    let mut wrr = Service::new(Protocol::Sctp, v4("192.0.2.33"), 80, "wrr");
    wrr.flags = IP_VS_SVC_F_SCHED3;
    // Persistence engine (ip_vs_pe_sip).
    let mut sip = Service::new(Protocol::Udp, v4("192.0.2.34"), 5060, "rr");
    sip.flags = IP_VS_SVC_F_PERSISTENT;
    sip.timeout = 360;
    sip.pe_name = Some("sip".into());
    let all = [persist, persist6, sh, mh, wrr, sip];
    for s in &all {
        ipvs.add_service(s).expect("add_service");
    }
    let got = ipvs.services().expect("services");
    for s in &all {
        assert_eq!(find(&got, s), s);
    }
    assert_matches_ipvsadm(&mut ipvs);
    let listed = ipvsadm(&["-Ln"]);
    assert!(
        listed.contains("TCP  192.0.2.30:443 wlc persistent 300 mask 255.255.255.0"),
        "{listed}"
    );
    assert!(
        listed.contains("UDP  192.0.2.31:53 sh (sh-fallback,sh-port) ops"),
        "{listed}"
    );
    assert!(
        listed.contains("UDP  192.0.2.34:5060 rr persistent 360 pe sip"),
        "{listed}"
    );
}

#[test]
#[ignore]
fn vm_dests() {
    let Some(mut ipvs) = fresh() else { return };
    let svc = Service::new(Protocol::Tcp, v4("192.0.2.40"), 80, "wrr");
    let svc6 = Service::new(
        Protocol::Tcp,
        "2001:db8::40".parse().expect("v6"),
        80,
        "wlc",
    );
    ipvs.add_service(&svc).expect("add");
    ipvs.add_service(&svc6).expect("add6");
    let mut nat = Dest::new(v4("198.51.100.1"), 8080, Fwd::Masq, 3);
    nat.u_thresh = 100;
    nat.l_thresh = 10;
    let dr = Dest::new(v4("198.51.100.2"), 80, Fwd::Route, 0);
    let tun = |t, port, flags| Fwd::Tunnel {
        tun_type: t,
        port,
        flags,
    };
    let ipip = Dest::new(v4("198.51.100.3"), 80, tun(TunnelType::Ipip, 0, 0), 1);
    let gue = Dest::new(
        v4("198.51.100.4"),
        80,
        tun(TunnelType::Gue, 6080, IP_VS_TUNNEL_ENCAP_FLAG_CSUM),
        5,
    );
    let gre = Dest::new(
        v4("198.51.100.5"),
        80,
        tun(TunnelType::Gre, 0, IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM),
        7,
    );
    // Mixed family: an IPv6 service tunnelled to an IPv4 real server.
    let mixed = Dest::new(v4("198.51.100.6"), 80, tun(TunnelType::Ipip, 0, 0), 2);
    let nat6 = Dest::new("2001:db8::41".parse().expect("v6"), 80, Fwd::Masq, 1);
    let v4_dests = [nat, dr, ipip, gue, gre];
    for d in &v4_dests {
        ipvs.add_dest(&svc, d).expect("add_dest");
    }
    ipvs.add_dest(&svc6, &mixed)
        .expect("mixed-family tunnel dest");
    ipvs.add_dest(&svc6, &nat6).expect("add v6 dest");
    let got: Vec<Dest> = ipvs
        .dests(&svc)
        .expect("dests")
        .into_iter()
        .map(|e| e.dest)
        .collect();
    assert_eq!(got.len(), v4_dests.len());
    for d in &v4_dests {
        assert!(got.contains(d), "{d:?} not in {got:?}");
    }
    let got6: Vec<Dest> = ipvs
        .dests(&svc6)
        .expect("dests6")
        .into_iter()
        .map(|e| e.dest)
        .collect();
    assert!(got6.contains(&mixed) && got6.contains(&nat6), "{got6:?}");
    assert_matches_ipvsadm(&mut ipvs);
    // ipvsadm's own view of tunnel details.
    let tun_info = ipvsadm(&["-Ln", "--tun-info"]);
    assert!(tun_info.contains("198.51.100.4:80"), "{tun_info}");
    let line = tun_info
        .lines()
        .find(|l| l.contains("198.51.100.4:80"))
        .unwrap_or_default();
    assert!(line.contains("gue") && line.contains("6080"), "{line}");
    let line = tun_info
        .lines()
        .find(|l| l.contains("198.51.100.5:80"))
        .unwrap_or_default();
    assert!(line.contains("gre"), "{line}");
}

#[test]
#[ignore]
fn vm_edit_and_delete() {
    let Some(mut ipvs) = fresh() else { return };
    let mut svc = Service::new(Protocol::Tcp, v4("192.0.2.50"), 80, "rr");
    ipvs.add_service(&svc).expect("add");
    // EEXIST on add is not an error.
    ipvs.add_service(&svc).expect("second add");
    svc.sched_name = "wlc".into();
    svc.flags = IP_VS_SVC_F_PERSISTENT;
    svc.timeout = 600;
    ipvs.edit_service(&svc).expect("edit_service");
    let got = ipvs.services().expect("services");
    assert_eq!(find(&got, &svc), &svc);

    let mut d = Dest::new(v4("198.51.100.10"), 80, Fwd::Masq, 1);
    ipvs.add_dest(&svc, &d).expect("add_dest");
    ipvs.add_dest(&svc, &d).expect("EEXIST on add_dest is fine");
    d.weight = 0; // inhibit_on_failure style
    d.u_thresh = 50;
    ipvs.edit_dest(&svc, &d).expect("edit_dest");
    assert_eq!(ipvs.dests(&svc).expect("dests")[0].dest, d);
    // SET_DEST on a missing destination falls back to NEW_DEST.
    let missing = Dest::new(v4("198.51.100.11"), 80, Fwd::Route, 4);
    ipvs.edit_dest(&svc, &missing)
        .expect("edit missing dest adds it");
    assert_eq!(ipvs.dests(&svc).expect("dests").len(), 2);
    assert_matches_ipvsadm(&mut ipvs);

    ipvs.zero(Some(&svc)).expect("zero one service");
    ipvs.zero(None).expect("zero all");
    ipvs.del_dest(&svc, &d).expect("del_dest");
    ipvs.del_dest(&svc, &d).expect("ENOENT on del_dest is fine");
    let left: Vec<Dest> = ipvs
        .dests(&svc)
        .expect("dests")
        .into_iter()
        .map(|e| e.dest)
        .collect();
    assert_eq!(left, vec![missing]);
    ipvs.del_service(&svc).expect("del_service");
    assert!(ipvs.services().expect("services").is_empty());
    assert_matches_ipvsadm(&mut ipvs);
}

#[test]
#[ignore]
fn vm_fwmark() {
    let Some(mut ipvs) = fresh() else { return };
    let fw4 = Service::fwmark(Family::Inet, 7, "wlc");
    let mut fw6 = Service::fwmark(Family::Inet6, 8, "lc");
    fw6.flags = IP_VS_SVC_F_PERSISTENT;
    fw6.timeout = 30;
    fw6.netmask = 96;
    ipvs.add_service(&fw4).expect("fw4");
    ipvs.add_service(&fw6).expect("fw6");
    ipvs.add_dest(&fw4, &Dest::new(v4("198.51.100.20"), 0, Fwd::Route, 1))
        .expect("dest");
    ipvs.add_dest(
        &fw6,
        &Dest::new("2001:db8::21".parse().expect("v6"), 0, Fwd::Masq, 2),
    )
    .expect("dest6");
    let got = ipvs.services().expect("services");
    assert_eq!(find(&got, &fw4), &fw4);
    assert_eq!(find(&got, &fw6), &fw6);
    assert_matches_ipvsadm(&mut ipvs);
    ipvs.del_service(&fw4).expect("del fw4");
    assert_eq!(ipvs.services().expect("services").len(), 1);
}

#[test]
#[ignore]
fn vm_errors() {
    let Some(mut ipvs) = fresh() else { return };
    let svc = Service::new(Protocol::Tcp, v4("192.0.2.60"), 80, "nosuch");
    let e = ipvs.add_service(&svc).expect_err("unknown scheduler");
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert_eq!(
        e.to_string(),
        "IPVS cmd IP_VS_SO_SET_ADD(1154) error: Scheduler or persistence engine not found(2)"
    );
    let svc = Service::new(Protocol::Tcp, v4("192.0.2.60"), 80, "rr");
    let e = ipvs
        .edit_service(&svc)
        .expect_err("edit of a missing service");
    assert_eq!(
        e.to_string(),
        "IPVS cmd IP_VS_SO_SET_EDIT(1155) error: No such service(3)"
    );
    let mut pe = svc.clone();
    pe.pe_name = Some("nosuch".into());
    pe.flags = IP_VS_SVC_F_PERSISTENT;
    let e = ipvs
        .add_service(&pe)
        .expect_err("unknown persistence engine");
    assert_eq!(e.errno(), Some(libc::ENOENT));
    let e = ipvs.del_service(&svc).expect_err("missing service");
    assert_eq!(
        e.to_string(),
        "IPVS cmd IP_VS_SO_SET_DEL(1156) error: No such service(3)"
    );
    let d = Dest::new(v4("198.51.100.30"), 80, Fwd::Masq, 1);
    let e = ipvs
        .add_dest(&svc, &d)
        .expect_err("dest of a missing service");
    assert_eq!(e.errno(), Some(libc::ESRCH));
    // The kernel answers a dump for a missing service with nothing.
    assert!(ipvs
        .dests(&svc)
        .expect("GET_DEST of a missing service")
        .is_empty());
    let e = ipvs
        .stop_daemon(&SyncDaemon::new(DaemonState::Master, "lo", 1))
        .expect_err("no daemon");
    assert_eq!(
        e.to_string(),
        "IPVS cmd IP_VS_SO_SET_STOPDAEMON(1164) error: No daemon is running(3)"
    );
}

#[test]
#[ignore]
fn vm_timeouts() {
    let Some(mut ipvs) = fresh() else { return };
    let orig = ipvs.get_timeouts().expect("get_timeouts");
    assert_eq!(
        orig,
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
    let t = Timeouts {
        tcp: 7200,
        tcp_fin: 60,
        udp: 45,
    };
    ipvs.set_timeouts(&t).expect("set_timeouts");
    assert_eq!(ipvs.get_timeouts().expect("get"), t);
    assert_eq!(
        ipvsadm(&["-L", "--timeout"]).trim(),
        "Timeout (tcp tcpfin udp): 7200 60 45"
    );
    // 0 leaves a value unchanged.
    ipvs.set_timeouts(&Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 99,
    })
    .expect("set udp");
    assert_eq!(ipvs.get_timeouts().expect("get"), Timeouts { udp: 99, ..t });
    ipvs.set_timeouts(&orig).expect("restore");
    assert_eq!(ipvs.get_timeouts().expect("get"), orig);
}

#[test]
#[ignore]
fn vm_sync_daemon() {
    let Some(mut ipvs) = fresh() else { return };
    let ok = Command::new("sh")
        .args([
            "-c",
            "ip link add ka0 type dummy && ip link set ka0 multicast on up",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot create the dummy interface ka0");
    assert!(ipvs.daemons().expect("daemons").is_empty());
    let master = SyncDaemon::new(DaemonState::Master, "ka0", 5);
    let mut backup = SyncDaemon::new(DaemonState::Backup, "ka0", 6);
    backup.sync_maxlen = Some(1400);
    backup.mcast_group = Some(v4("224.0.0.81"));
    backup.mcast_port = Some(8849);
    backup.mcast_ttl = Some(2);
    ipvs.start_daemon(&master).expect("start master");
    ipvs.start_daemon(&backup).expect("start backup");
    let e = ipvs.start_daemon(&master).expect_err("already running");
    assert_eq!(e.errno(), Some(libc::EEXIST));
    let listed = ipvsadm(&["-L", "--daemon"]);
    assert!(
        listed.contains("master sync daemon (mcast=ka0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"),
        "{listed}"
    );
    assert!(
        listed.contains("backup sync daemon (mcast=ka0, syncid=6, maxlen=1400, group=224.0.0.81, port=8849, ttl=2)"),
        "{listed}"
    );
    let got = ipvs.daemons().expect("daemons");
    assert_eq!(got.len(), 2);
    let b = got
        .iter()
        .find(|d| d.state == DaemonState::Backup)
        .expect("backup listed");
    assert_eq!(b, &backup);
    let m = got
        .iter()
        .find(|d| d.state == DaemonState::Master)
        .expect("master listed");
    assert_eq!((m.mcast_ifn.as_str(), m.sync_id), ("ka0", 5));
    ipvs.stop_daemon(&master).expect("stop master");
    ipvs.stop_daemon(&backup).expect("stop backup");
    assert!(ipvs.daemons().expect("daemons").is_empty());
    assert_eq!(ipvsadm(&["-L", "--daemon"]).trim(), "");
}

// ------------------------------------------------------------ our daemon in the VM

const DAEMON_CONF: &str = r#"
global_defs {
    router_id vmtest
    checker_metrics_address 127.0.0.1:9651
    lvs_notify_fifo /tmp/chk-lvs.fifo
}
virtual_server 192.0.2.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.1 8001 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 198.51.100.2 8002 {
        weight 3
        inhibit_on_failure
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
track_file tf1 {
    file /tmp/chk-tf1
    weight 1
}
virtual_server 192.0.2.103 83 {
    delay_loop 1
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.4 8004 {
        MISC_CHECK {
            misc_path "/bin/sh -c 'test -e /tmp/chk-misc-ok'"
            misc_timeout 5
            retry 0
        }
    }
    real_server 198.51.100.5 8005 {
        FILE_CHECK {
            track_file tf1
        }
    }
}
virtual_server 192.0.2.101 81 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    sorry_server 198.51.100.9 9000
    real_server 198.51.100.3 8003 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"#;

const RS_ADDRS: &[&str] = &[
    "198.51.100.1",
    "198.51.100.2",
    "198.51.100.3",
    "198.51.100.4",
];

/// A service created by hand before keepalived starts: it must survive everything.
fn foreign_service() -> [&'static str; 2] {
    ipvsadm(&["-A", "-t", "203.0.113.5:80", "-s", "rr"]);
    ipvsadm(&[
        "-a",
        "-t",
        "203.0.113.5:80",
        "-r",
        "198.51.100.50:80",
        "-m",
        "-w",
        "7",
    ]);
    [
        "TCP 203.0.113.5:80 rr",
        "TCP 203.0.113.5:80 -> 198.51.100.50:80 w7",
    ]
}

/// The MISC_CHECK flag file and the FILE_CHECK track file, both "up".
fn misc_and_file_ok() {
    std::fs::write("/tmp/chk-misc-ok", "").expect("flag");
    std::fs::write("/tmp/chk-tf1", "0\n").expect("track file");
}

const VS3: [&str; 3] = [
    "TCP 192.0.2.103:83 wlc",
    "TCP 192.0.2.103:83 -> 198.51.100.4:8004 w1",
    "TCP 192.0.2.103:83 -> 198.51.100.5:8005 w1",
];

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_checks() {
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    lo_addrs(RS_ADDRS);
    let foreign = foreign_service();
    misc_and_file_ok();
    let mut rs1 = RealServer::new("198.51.100.1:8001", false);
    let mut rs2 = RealServer::new("198.51.100.2:8002", true);
    let mut rs3 = RealServer::new("198.51.100.3:8003", false);
    let mut d = Daemon::start("checks", DAEMON_CONF);
    let full = [
        "TCP 192.0.2.100:80 wrr",
        "TCP 192.0.2.100:80 -> 198.51.100.1:8001 w2",
        "TCP 192.0.2.100:80 -> 198.51.100.2:8002 w3",
        "TCP 192.0.2.101:81 rr",
        "TCP 192.0.2.101:81 -> 198.51.100.3:8003 w2",
        VS3[0],
        VS3[1],
        VS3[2],
    ];
    let with = |lines: &[&str]| {
        let mut s = set(lines);
        s.extend(foreign.iter().map(|x| (*x).to_owned()));
        s
    };
    wait_table("the configured services", &with(&full));
    // MISC_CHECK: the script fails, the server goes; FILE_CHECK: the value adjusts weight
    d.wait_log("Misc check for [[198.51.100.4]:tcp:8004 VS [192.0.2.103]:tcp:83] by [");
    std::fs::remove_file("/tmp/chk-misc-ok").expect("rm flag");
    std::fs::write("/tmp/chk-tf1", "3\n").expect("track file");
    let mut changed: Vec<&str> = full
        .iter()
        .copied()
        .filter(|l| !l.contains("198.51.100.4:"))
        .collect();
    changed.retain(|l| !l.contains("198.51.100.5:"));
    changed.push("TCP 192.0.2.103:83 -> 198.51.100.5:8005 w4");
    wait_table("MISC_CHECK down, FILE_CHECK weight 4", &with(&changed));
    d.wait_log("Changing weight from 1 to 4 for active service [198.51.100.5]:tcp:8005 of VS [192.0.2.103]:tcp:83");
    misc_and_file_ok();
    wait_table("MISC_CHECK up, FILE_CHECK weight 1", &with(&full));
    d.wait_log("TCP connection to [198.51.100.1]:tcp:8001 success.");
    d.wait_log("Remote Web server [198.51.100.2]:tcp:8002 succeed on service.");
    // a TCP real server stops answering: removed within delay_loop x (retry+1)
    rs1.stop();
    let mut no_rs1 = full.to_vec();
    no_rs1.retain(|l| !l.contains("198.51.100.1:"));
    wait_table("rs1 removed", &with(&no_rs1));
    d.wait_log("Removing service [198.51.100.1]:tcp:8001 from VS [192.0.2.100]:tcp:80");
    // the FIFO got the line (keepalived opens it read-write: lines wait for a reader)
    let fifo = read_fifo("/tmp/chk-lvs.fifo");
    assert!(
        fifo.contains("RS [198.51.100.1]:tcp:8001 [192.0.2.100]:tcp:80 DOWN\n"),
        "{fifo:?}"
    );
    // the status file follows (refreshed every second)
    wait_for("the status file to show rs1 down", || {
        d.status()["detail"]["virtual_servers"][0]["real_servers"][0]["alive"] == false
    });
    // SIGUSR1: keepalived_check.data shows the live state
    d.signal("USR1");
    wait_for("the data dump", || {
        std::fs::read_to_string(d.path("keepalived_check.data")).is_ok_and(|t| {
            t.contains("   RS = [198.51.100.1]:tcp:8001\n     Alive = no, Weight = 2")
        })
    });
    rs1.start();
    wait_table("rs1 back", &with(&full));
    d.wait_log("Adding service [198.51.100.1]:tcp:8001 to VS [192.0.2.100]:tcp:80");
    // HTTP with inhibit_on_failure: weight 0, then back
    rs2.stop();
    let inhibited: Vec<&str> = full
        .iter()
        .map(|l| {
            if l.contains("198.51.100.2:") {
                "TCP 192.0.2.100:80 -> 198.51.100.2:8002 w0"
            } else {
                l
            }
        })
        .collect();
    wait_table("rs2 inhibited", &with(&inhibited));
    d.wait_log("Disabling service [198.51.100.2]:tcp:8002 of VS [192.0.2.100]:tcp:80");
    let m = http_get("127.0.0.1:9651", "/metrics");
    assert!(
        m.contains(
            "keepalived_checker_real_server_up{vs=\"[192.0.2.100]:tcp:80\",rs=\"[198.51.100.2]:tcp:8002\"} 0"
        ),
        "{m}"
    );
    // the kernel's counters under gen2brain/keepalived_exporter's names and labels
    for series in [
        "keepalived_lvs_vip_conn{addr=\"192.0.2.100:80\",proto=\"6\"} ",
        "keepalived_lvs_vip_in_bytes{addr=\"192.0.2.100:80\",proto=\"6\"} ",
        "keepalived_lvs_rs_conn{vip=\"192.0.2.100:80\",addr=\"198.51.100.1:8001\",proto=\"6\"} ",
        "keepalived_lvs_rs_out_packets{vip=\"192.0.2.100:80\",addr=\"198.51.100.1:8001\",proto=\"6\"} ",
    ] {
        let v = m
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<u64>().ok());
        assert!(v.is_some(), "{series}\n{m}");
    }
    rs2.start();
    wait_table("rs2 enabled", &with(&full));
    // quorum lost: the sorry server replaces the pool, and leaves when it is back
    rs3.stop();
    let mut sorry = full.to_vec();
    sorry.retain(|l| !l.contains("198.51.100.3:"));
    sorry.push("TCP 192.0.2.101:81 -> 198.51.100.9:9000 w1");
    wait_table("the sorry server", &with(&sorry));
    d.wait_log("Lost quorum 2-0=2 > 0 for VS [192.0.2.101]:tcp:81");
    rs3.start();
    wait_table("quorum back", &with(&full));
    d.wait_log("Gained quorum 2+0=2 <= 2 for VS [192.0.2.101]:tcp:81");
    // SIGTERM removes what we added, and only that
    d.stop();
    assert_eq!(snapshot(), with(&[]));
    let log = d.log();
    assert!(
        log.contains("Shutting down service [198.51.100.1]:tcp:8001 from VS [192.0.2.100]:tcp:80"),
        "{log}"
    );
    ipvsadm(&["-C"]);
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_reload() {
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    lo_addrs(RS_ADDRS);
    let foreign = foreign_service();
    misc_and_file_ok();
    let _rs1 = RealServer::new("198.51.100.1:8001", false);
    let mut rs2 = RealServer::new("198.51.100.2:8002", true);
    let _rs3 = RealServer::new("198.51.100.3:8003", false);
    let _rs4 = RealServer::new("198.51.100.4:8004", false);
    let mut d = Daemon::start("reload", DAEMON_CONF);
    let with = |lines: &[&str]| {
        let mut s = set(lines);
        s.extend(foreign.iter().map(|x| (*x).to_owned()));
        s
    };
    let full = [
        "TCP 192.0.2.100:80 wrr",
        "TCP 192.0.2.100:80 -> 198.51.100.1:8001 w2",
        "TCP 192.0.2.100:80 -> 198.51.100.2:8002 w3",
        "TCP 192.0.2.101:81 rr",
        "TCP 192.0.2.101:81 -> 198.51.100.3:8003 w2",
        VS3[0],
        VS3[1],
        VS3[2],
    ];
    wait_table("the configured services", &with(&full));
    // a failed (inhibited) server stays failed across a reload
    rs2.stop();
    let mut inhibited = full.to_vec();
    inhibited[2] = "TCP 192.0.2.100:80 -> 198.51.100.2:8002 w0";
    wait_table("rs2 inhibited", &with(&inhibited));
    d.wait_log("Disabling service [198.51.100.2]:tcp:8002");
    // SIGHUP with the same configuration: nothing changes, nothing is logged
    let before = d.log().len();
    d.reload();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(snapshot(), with(&inhibited));
    let log = d.log();
    let after = log.get(before..).unwrap_or_default();
    for word in ["Removing", "Adding", "Enabling", "Disabling", "Shutting"] {
        assert!(
            !after.contains(word),
            "'{word}' after a same-config reload:\n{after}"
        );
    }
    let st = d.status();
    assert_eq!(
        st["detail"]["virtual_servers"][0]["real_servers"][1]["alive"], false,
        "{st}"
    );
    // SIGHUP with a changed configuration: only the difference is applied
    let changed = DAEMON_CONF
        .replace(
            "weight 2\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1",
            "weight 4\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1",
        )
        .replace(
            "virtual_server 192.0.2.101 81",
            "virtual_server 192.0.2.102 82",
        )
        .replace(
            "real_server 198.51.100.3 8003",
            "real_server 198.51.100.4 8004",
        );
    d.conf(&changed);
    let before = d.log().len();
    d.reload();
    wait_table(
        "the changed configuration",
        &with(&[
            "TCP 192.0.2.100:80 wrr",
            "TCP 192.0.2.100:80 -> 198.51.100.1:8001 w4",
            "TCP 192.0.2.100:80 -> 198.51.100.2:8002 w0",
            "TCP 192.0.2.102:82 rr",
            "TCP 192.0.2.102:82 -> 198.51.100.4:8004 w2",
            VS3[0],
            VS3[1],
            VS3[2],
        ]),
    );
    let log = d.log();
    let after = log.get(before..).unwrap_or_default();
    // keepalived 2.2.7's wording (observed): the weight change and the removed service
    assert!(
        after.contains("Changing weight from 2 to 4 for active service [198.51.100.1]:tcp:8001 of VS [192.0.2.100]:tcp:80")
            && after.contains("Removing Virtual Server [192.0.2.101]:tcp:81")
            && after.contains("Removing service [198.51.100.3]:tcp:8003 from VS [192.0.2.101]:tcp:81"),
        "{after}"
    );
    assert!(!after.contains("198.51.100.1]:tcp:8001 from"), "{after}");
    d.stop();
    assert_eq!(snapshot(), with(&[]));
    ipvsadm(&["-C"]);
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_ha_suspend() {
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    // nothing listens on the real server: only a running checker can remove it
    let conf = r#"
virtual_server 192.0.2.104 84 {
    delay_loop 1
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server 198.51.100.6 8006 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"#;
    lo_addrs(&["198.51.100.6"]);
    let _ = Command::new("ip")
        .args(["addr", "del", "192.0.2.104/32", "dev", "lo"])
        .status();
    let mut d = Daemon::start("hasusp", conf);
    let up = set(&[
        "TCP 192.0.2.104:84 wlc",
        "TCP 192.0.2.104:84 -> 198.51.100.6:8006 w1",
    ]);
    wait_table("the suspended service", &up);
    // keepalived 2.2.7's register_checkers_thread for a suspended virtual server
    d.wait_log(
        "Deactivating healthchecker for service [198.51.100.6]:tcp:8006 for VS [192.0.2.104]:tcp:84",
    );
    // suspended: several delay_loops pass and the dead server stays
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(snapshot(), up);
    assert!(!d.log().contains("TCP_CHECK on service"), "{}", d.log());
    lo_addrs(&["192.0.2.104"]);
    wait_table("the checker to run", &set(&["TCP 192.0.2.104:84 wlc"]));
    d.wait_log("Removing service [198.51.100.6]:tcp:8006 from VS [192.0.2.104]:tcp:84");
    d.stop();
    assert_eq!(snapshot(), set(&[]));
    let _ = Command::new("ip")
        .args(["addr", "del", "192.0.2.104/32", "dev", "lo"])
        .status();
}

const MORE_CONF: &str = r#"
virtual_server 192.0.2.110 53 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol UDP
    alpha
    real_server 198.51.100.11 9011 {
        UDP_CHECK {
            connect_timeout 1
            retry 0
            payload 70696e67
            require_reply 706f6e67
        }
    }
    real_server 198.51.100.12 9012 {
        DNS_CHECK {
            connect_timeout 1
            retry 0
            type A
            name www.example.org
        }
    }
}
virtual_server 192.0.2.111 25 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    omega
    quorum_down "/bin/sh -c 'echo quorum_down >> /tmp/chk-omega'"
    real_server 198.51.100.13 9013 {
        notify_down "/bin/sh -c 'echo rs13_down >> /tmp/chk-omega'"
        SMTP_CHECK {
            connect_timeout 1
            retry 0
            helo_name vm.test
        }
    }
    real_server 198.51.100.14 9014 {
        SSL_GET {
            url {
                path /health
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
    real_server 198.51.100.15 9015 {
        PING_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"#;

/// UDP_CHECK, DNS_CHECK, SMTP_CHECK, SSL_GET and PING_CHECK against servers that answer,
/// then answer wrong or not at all (all at once, to keep the VM run short), then answer
/// again: each real server leaves IPVS and comes back. `alpha`: servers start down, so
/// the first table proves a real success of every checker; `omega`: the down scripts
/// run at shutdown.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_more_checkers() {
    use ipvs_daemon::servers::*;
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    lo_addrs(&[
        "198.51.100.11",
        "198.51.100.12",
        "198.51.100.13",
        "198.51.100.14",
        "198.51.100.15",
    ]);
    answer_pings(true);
    let servers = [
        udp_pong("198.51.100.11:9011"),
        dns("198.51.100.12:9012"),
        smtp("198.51.100.13:9013"),
        https("198.51.100.14:9014"),
    ];
    let full = [
        "UDP 192.0.2.110:53 rr",
        "UDP 192.0.2.110:53 -> 198.51.100.11:9011 w1",
        "UDP 192.0.2.110:53 -> 198.51.100.12:9012 w1",
        "TCP 192.0.2.111:25 rr",
        "TCP 192.0.2.111:25 -> 198.51.100.13:9013 w1",
        "TCP 192.0.2.111:25 -> 198.51.100.14:9014 w1",
        "TCP 192.0.2.111:25 -> 198.51.100.15:9015 w1",
    ];
    let range = "/proc/sys/net/ipv4/ping_group_range";
    let ping_range = std::fs::read_to_string(range).expect("ping_group_range");
    let mut d = Daemon::start("more", MORE_CONF);
    wait_table("every checker up", &set(&full));
    d.wait_log("ICMP connection to [198.51.100.15]:tcp:9015 success.");
    for s in &servers {
        s.set_good(false);
    }
    answer_pings(false);
    wait_table(
        "every checker down",
        &set(&["UDP 192.0.2.110:53 rr", "TCP 192.0.2.111:25 rr"]),
    );
    for rs in [
        "[198.51.100.11]:udp:9011 from VS [192.0.2.110]:udp:53",
        "[198.51.100.12]:udp:9012 from VS [192.0.2.110]:udp:53",
        "[198.51.100.13]:tcp:9013 from VS [192.0.2.111]:tcp:25",
        "[198.51.100.14]:tcp:9014 from VS [192.0.2.111]:tcp:25",
        "[198.51.100.15]:tcp:9015 from VS [192.0.2.111]:tcp:25",
    ] {
        d.wait_log(&format!("Removing service {rs}"));
    }
    // keepalived's DNS_CHECK and SMTP_CHECK words: the server's answer (and for DNS the
    // retries, 0 here)
    d.wait_log(
        "DNS_CHECK ([198.51.100.12]:udp:9012) read error occurred. (rcode = 2) after 0 retries",
    );
    d.wait_log("SMTP_CHECK Bad greeting banner from server [198.51.100.13]:9013");
    for s in &servers {
        s.set_good(true);
    }
    answer_pings(true);
    wait_table("every checker back", &set(&full));
    d.wait_log("Adding service [198.51.100.14]:tcp:9014 to VS [192.0.2.111]:tcp:25");
    // omega: stopping runs the real servers' notify_down and the quorum_down scripts
    let _ = std::fs::remove_file("/tmp/chk-omega");
    d.stop();
    assert_eq!(snapshot(), set(&[]));
    wait_for("the omega scripts", || {
        let t = std::fs::read_to_string("/tmp/chk-omega").unwrap_or_default();
        t.contains("rs13_down\n") && t.contains("quorum_down\n")
    });
    // the ping group range widened for PING_CHECK is put back
    assert_eq!(std::fs::read_to_string(range).ok(), Some(ping_range));
}

const LVS_GLOBALS_CONF: &str = r#"
global_defs {
    lvs_flush
    lvs_timeouts tcp 901 tcpfin 31 udp 301
    lvs_flush_onstop
}
virtual_server 192.0.2.120 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.20 80 {
    }
}
"#;

/// One run of [`LVS_GLOBALS_CONF`] by the daemon `start` starts (it returns the stopper):
/// a service made by hand before the start, one made while it runs; the timeouts while it
/// runs, then the table and the timeouts once it has stopped.
fn lvs_globals_run<S: FnOnce()>(start: impl FnOnce() -> S) -> (String, BTreeSet<String>, String) {
    ipvsadm(&["-C"]);
    ipvsadm(&["--set", "900", "120", "300"]);
    ipvsadm(&["-A", "-t", "203.0.113.5:80", "-s", "rr"]);
    let stop = start();
    // lvs_flush: the service made before the start is gone
    ipvs_daemon::wait_table(
        "the configured service alone",
        &ipvs_daemon::set(&[
            "TCP 192.0.2.120:80 rr",
            "TCP 192.0.2.120:80 -> 198.51.100.20:80 w1",
        ]),
    );
    let running = ipvsadm(&["-L", "--timeout"]).trim().to_owned();
    ipvsadm(&["-A", "-t", "203.0.113.6:80", "-s", "rr"]);
    stop();
    let after = ipvs_daemon::snapshot();
    let timeouts = ipvsadm(&["-L", "--timeout"]).trim().to_owned();
    ipvsadm(&["-C"]);
    (running, after, timeouts)
}

/// `lvs_flush` empties IPVS at start, `lvs_timeouts` sets the connection timeouts while
/// the checker runs (the old ones come back at stop), `lvs_flush_on_stop` (and its old
/// spelling `lvs_flush_onstop`) empties IPVS at stop, services made by others too;
/// keepalived 2.2.7 does the same when the VM has it.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_lvs_flush_and_timeouts() {
    let Some(_ipvs) = fresh() else { return };
    let want = (
        "Timeout (tcp tcpfin udp): 901 31 301".to_owned(),
        BTreeSet::new(),
        "Timeout (tcp tcpfin udp): 900 120 300".to_owned(),
    );
    let real_there = have("keepalived");
    for spelling in ["lvs_flush_on_stop", "lvs_flush_onstop"] {
        let conf = LVS_GLOBALS_CONF.replace("lvs_flush_onstop", spelling);
        let ours = lvs_globals_run(|| {
            let mut d = ipvs_daemon::Daemon::start("lvsglob", &conf);
            move || d.stop()
        });
        assert_eq!(ours, want, "{spelling}");
        if !real_there {
            eprintln!("note: no keepalived 2.2.7 in the VM; not compared");
            continue;
        }
        let dir = std::env::temp_dir().join(format!("lvsglob-real-{}", std::process::id()));
        let real = lvs_globals_run(|| real_checker(&dir, &conf));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(real, want, "keepalived 2.2.7 with {spelling}");
    }
}

/// The keepalived to run: ours, or the reference 2.2.7 when `real`.
fn keepalived_bin(real: bool) -> &'static str {
    if real {
        "keepalived"
    } else {
        env!("CARGO_BIN_EXE_keepalived")
    }
}

/// `bin` (in network namespace `netns`, if any) on DIR/keepalived.conf with every pid file
/// in `dir` (keepalived 2.2.7's "already running" check reads them all, the default BFD one
/// included), its output in DIR/log and our status file in DIR/status.json. The caller adds
/// the mode (`-n -l -C`, ...) and spawns it.
fn keepalived_command(bin: &str, netns: Option<&str>, dir: &Path) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin]);
            c
        }
        None => Command::new(bin),
    };
    for (opt, file) in [
        ("-f", "keepalived.conf"),
        ("-p", "k.pid"),
        ("-r", "v.pid"),
        ("-c", "c.pid"),
        ("-b", "b.pid"),
    ] {
        cmd.arg(opt).arg(dir.join(file));
    }
    let log = std::fs::File::create(dir.join("log")).expect("log");
    cmd.env("KEEPALIVED_STATUS_FILE", dir.join("status.json"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    cmd
}

/// keepalived 2.2.7's checker child alone on `conf` (files in `dir`); the closure stops it.
fn real_checker(dir: &Path, conf: &str) -> impl FnOnce() {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("keepalived.conf"), conf).expect("conf");
    let mut child = keepalived_command(keepalived_bin(true), None, dir)
        .args(["-n", "-l", "-C"])
        .spawn()
        .expect("spawn keepalived 2.2.7");
    move || {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
}

const IPVS_SETTINGS_CONF: &str = r#"
virtual_server 192.0.2.130 80 {
    lvs_sched sh
    flag-1
    flag-2
    lvs_method DR
    persistence_timeout 60
    persistence_granularity 255.255.255.0
    protocol TCP
    real_server 198.51.100.31 80 {
        weight 2
        uthreshold 100
        lthreshold 10
        lvs_method TUN
    }
    real_server 198.51.100.32 80 {
        weight 3
    }
}
virtual_server 192.0.2.131 80 {
    lvs_sched mh
    mh-port
    mh-fallback
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.33 80 {
        weight 1
    }
}
virtual_server 192.0.2.132 80 {
    delay_loop 1
    lvs_sched rr
    lb_kind NAT
    protocol TCP
    sorry_server 198.51.100.39 80
    sorry_server_lvs_method DR
    real_server 198.51.100.34 9 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
virtual_server 192.0.2.133 53 {
    lvs_sched rr
    flag-3
    ops
    protocol UDP
    real_server 198.51.100.35 53 {
        weight 1
    }
}
virtual_server 192.0.2.134 5060 {
    lvs_sched rr
    persistence_engine sip
    persistence_timeout 30
    protocol UDP
    real_server 198.51.100.36 5060 {
        weight 1
    }
}
virtual_server fwmark 7 {
    ip_family inet6
    lvs_sched rr
    protocol TCP
    real_server 2001:db8::7 80 {
        weight 1
        lvs_method TUN
    }
}
"#;

/// `ipvsadm -Ln` and `ipvsadm -Ln --thresholds` once the sorry server serves 192.0.2.132.
fn ipvs_settings_run<S: FnOnce()>(start: impl FnOnce() -> S) -> (String, String) {
    ipvsadm(&["-C"]);
    let stop = start();
    ipvs_daemon::wait_for("the sorry server", || {
        ipvsadm(&["-Ln"]).contains("198.51.100.39:80")
    });
    let out = (ipvsadm(&["-Ln"]), ipvsadm(&["-Ln", "--thresholds"]));
    stop();
    ipvsadm(&["-C"]);
    out
}

/// The virtual and real server settings as IPVS shows them, ours and keepalived 2.2.7's
/// alike: `lvs_sched` with `flag-1`/`flag-2` and `mh-port`/`mh-fallback`, `lvs_method` of a
/// virtual and of a real server, `persistence_timeout` with `persistence_granularity`,
/// `uthreshold`/`lthreshold`, `sorry_server_lvs_method`; `flag-3` and `ops` of a UDP
/// service, `persistence_engine`, `ip_family` of a fwmark service.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_ipvs_settings_as_keepalived() {
    let Some(_ipvs) = fresh() else { return };
    let ours = ipvs_settings_run(|| {
        let mut d = ipvs_daemon::Daemon::start("ipvsset", IPVS_SETTINGS_CONF);
        move || d.stop()
    });
    let flat = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let table = flat(&ours.0);
    for want in [
        "TCP 192.0.2.130:80 sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0",
        "-> 198.51.100.31:80 Tunnel 2 0 0",
        "-> 198.51.100.32:80 Route 3 0 0",
        "TCP 192.0.2.131:80 mh (mh-fallback,mh-port)",
        "-> 198.51.100.33:80 Masq 1 0 0",
        "-> 198.51.100.39:80 Route 1 0 0",
        "UDP 192.0.2.133:53 rr (flag-3) ops",
        "UDP 192.0.2.134:5060 rr persistent 30 pe sip",
        "FWM 7 IPv6 rr",
    ] {
        assert!(
            table.iter().any(|l| l == want),
            "want {want:?} in:\n{}",
            ours.0
        );
    }
    let thresholds = flat(&ours.1);
    assert!(
        thresholds.iter().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.get(1) == Some(&"198.51.100.31:80") && f.contains(&"100") && f.contains(&"10")
        }),
        "{}",
        ours.1
    );
    if !have("keepalived") {
        eprintln!("note: no keepalived 2.2.7 in the VM; not compared");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ipvsset-real-{}", std::process::id()));
    let real = ipvs_settings_run(|| real_checker(&dir, IPVS_SETTINGS_CONF));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(ours, real, "ours, then keepalived 2.2.7");
}

/// `ip netns exec NS ipvsadm -L --daemon`, one daemon a line.
fn daemons_in(ns: &str) -> BTreeSet<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ipvsadm", "-L", "--daemon"])
        .output()
        .expect("ipvsadm --daemon");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Network namespaces deleted on drop.
struct Netns(&'static [&'static str]);

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn sh(cmd: &str) {
    let ok = Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "failed: {cmd}");
}

fn syncd_conf(router: &str, ifname: &str, prio: u8, global: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n  router_id {router}\n  {global}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface {ifname}\n  virtual_router_id 51\n  \
         priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    192.0.2.100/24\n  }}\n}}\n{extra}"
    )
}

/// `lvs_sync_daemon IF inst VI_1`: two of our daemons in two
/// namespaces joined by a veth pair. A (priority 100) runs the backup sync daemon in
/// BACKUP, the master one once MASTER, the backup one again when B (200) takes over, and
/// none after SIGTERM; the sync id is the VRID, a reload applies a new one, stops the
/// daemon when `lvs_sync_daemon` goes and starts it when it comes back. B's `lvs_sync_daemon vb` names no
/// instance: its checker runs both daemons (sync id 0) until it stops. The expected lines
/// are what keepalived 2.2.7 produced in this VM with the same configurations.
#[test]
#[ignore]
fn vm_vrrp_sync_daemon() {
    use ipvs_daemon::*;
    if fresh().is_none() {
        return;
    }
    let _ns = Netns(&["syncd-a", "syncd-b"]);
    sh("ip netns add syncd-a && ip netns add syncd-b \
        && ip link add va type veth peer name vb \
        && ip link set va netns syncd-a && ip link set vb netns syncd-b \
        && ip -n syncd-a addr add 192.0.2.1/24 dev va && ip -n syncd-a link set va up \
        && ip -n syncd-b addr add 192.0.2.2/24 dev vb && ip -n syncd-b link set vb up \
        && ip -n syncd-a link set lo up && ip -n syncd-b link set lo up");
    let opts = "maxlen=1472, group=224.0.0.81, port=8848, ttl=1)";
    let master_a = format!("master sync daemon (mcast=va, syncid=51, {opts}");
    let backup_a = format!("backup sync daemon (mcast=va, syncid=51, {opts}");
    let conf_a = syncd_conf("syncd-a", "va", 100, "lvs_sync_daemon va inst VI_1", "");
    let mut a = Daemon::start_with("syncd-a", &conf_a, Some("syncd-a"), &["-P"]);
    a.wait_log("(VI_1) Entering BACKUP STATE (init)");
    wait_for("A's backup sync daemon", || {
        daemons_in("syncd-a") == set(&[&backup_a])
    });
    a.wait_log("(VI_1) Entering MASTER STATE");
    wait_for("A's master sync daemon", || {
        daemons_in("syncd-a") == set(&[&master_a])
    });
    assert!(a.log().contains("Initializing ipvs"), "{}", a.log());
    // a reload with another sync id restarts the daemon (keepalived: the same)
    let master_a = master_a.replace("syncid=51", "syncid=9");
    let backup_a = backup_a.replace("syncid=51", "syncid=9");
    a.conf(&conf_a.replace("inst VI_1", "inst VI_1 id 9"));
    a.signal("HUP");
    wait_for("A's master sync daemon with id 9", || {
        daemons_in("syncd-a") == set(&[&master_a])
    });
    // a reload without lvs_sync_daemon stops it (keepalived 2.2.7 leaves it running), one
    // with it starts it again
    a.conf(&conf_a.replace("lvs_sync_daemon va inst VI_1", ""));
    a.signal("HUP");
    wait_for("A without sync daemon", || daemons_in("syncd-a").is_empty());
    a.conf(&conf_a.replace("inst VI_1", "inst VI_1 id 9"));
    a.signal("HUP");
    wait_for("A's master sync daemon back", || {
        daemons_in("syncd-a") == set(&[&master_a])
    });
    let vs =
        "virtual_server 192.0.2.100 80 {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n";
    let conf_b = syncd_conf("syncd-b", "vb", 200, "lvs_sync_daemon vb", vs);
    let mut b = Daemon::start_with("syncd-b", &conf_b, Some("syncd-b"), &[]);
    let both_b = set(&[
        &format!("master sync daemon (mcast=vb, syncid=0, {opts}"),
        &format!("backup sync daemon (mcast=vb, syncid=0, {opts}"),
    ]);
    wait_for("B's two sync daemons", || daemons_in("syncd-b") == both_b);
    wait_for("A back to BACKUP", || {
        a.log().matches("(VI_1) Entering BACKUP STATE").count() >= 2
    });
    wait_for("A's backup sync daemon again", || {
        daemons_in("syncd-a") == set(&[&backup_a])
    });
    b.wait_log("(VI_1) Entering MASTER STATE");
    // B's VRRP child leaves the daemons to its checker
    assert_eq!(daemons_in("syncd-b"), both_b);
    a.stop();
    assert_eq!(daemons_in("syncd-a"), set(&[]));
    assert!(!a.log().contains("IPVS cmd"), "{}", a.log());
    b.stop();
    assert_eq!(daemons_in("syncd-b"), set(&[]));
}

/// What keepalived (ours or 2.2.7, children as `mode` says) in namespace `ns` starts as
/// IPVS sync daemons for `conf`: once its instance (alone, so MASTER) has settled, and
/// after SIGTERM.
fn syncd_run(real: bool, ns: &str, conf: &str, mode: &[&str]) -> Vec<BTreeSet<String>> {
    let dir = std::env::temp_dir().join(format!("syncd-kw-{}-{}", real, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("keepalived.conf"), conf).expect("conf");
    let mut child = keepalived_command(keepalived_bin(real), Some(ns), &dir)
        .args(["-n", "-l"])
        .args(mode)
        .spawn()
        .expect("spawn keepalived");
    let text = || std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    ipvs_daemon::wait_for("MASTER", || text().contains("(VI_1) Entering MASTER STATE"));
    // let a sync daemon change settle
    let mut seen = vec![];
    let mut last = BTreeSet::new();
    let mut same = 0;
    ipvs_daemon::wait_for("settled sync daemons", || {
        let now = daemons_in(ns);
        same = if now == last { same + 1 } else { 0 };
        last = now;
        same >= 10
    });
    seen.push(last);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    seen.push(daemons_in(ns));
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

/// `lvs_sync_daemon_interface IF` in a vrrp_instance (the keepalived 1.x way, deprecated
/// but applied by 2.2.7: the instance's sync daemon on IF, sync id 0), ours and keepalived
/// 2.2.7's alike. In global_defs, where keepalived 2.2.7 rejects it as an unknown keyword
/// (man/keepalived.conf.5 documents that we accept it), it is `lvs_sync_daemon IF`: without
/// an instance, the checker runs both daemons.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_vrrp_lvs_sync_daemon_interface_as_keepalived() {
    if fresh().is_none() {
        return;
    }
    let _ns = Netns(&["syncd-k"]);
    sh(
        "ip netns add syncd-k && ip link add vk type veth peer name vkp \
        && ip link set vk netns syncd-k && ip link set vkp netns syncd-k \
        && ip -n syncd-k addr add 192.0.2.1/24 dev vk && ip -n syncd-k link set vk up \
        && ip -n syncd-k link set vkp up && ip -n syncd-k link set lo up",
    );
    let inst = syncd_conf("syncd-k", "vk", 100, "", "").replace(
        "  advert_int 1\n",
        "  advert_int 1\n  lvs_sync_daemon_interface vk\n",
    );
    // with a virtual server, so that the checker runs
    let vs =
        "virtual_server 192.0.2.100 80 {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n";
    let global = syncd_conf("syncd-k", "vk", 100, "lvs_sync_daemon_interface vk", vs);
    let opts = "maxlen=1472, group=224.0.0.81, port=8848, ttl=1)";
    let ours = syncd_run(false, "syncd-k", &inst, &["-P"]);
    assert_eq!(
        ours,
        [
            set_of(&[&format!("master sync daemon (mcast=vk, syncid=0, {opts}")]),
            BTreeSet::new()
        ]
    );
    assert_eq!(
        syncd_run(false, "syncd-k", &global, &[]),
        [
            set_of(&[
                &format!("master sync daemon (mcast=vk, syncid=0, {opts}"),
                &format!("backup sync daemon (mcast=vk, syncid=0, {opts}"),
            ]),
            BTreeSet::new()
        ],
        "global_defs lvs_sync_daemon_interface"
    );
    if !have("keepalived") {
        eprintln!("note: no keepalived 2.2.7 in the VM; not compared");
        return;
    }
    assert_eq!(
        syncd_run(true, "syncd-k", &inst, &["-P"]),
        ours,
        "keepalived 2.2.7, then ours"
    );
}

fn set_of(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|s| (*s).to_owned()).collect()
}

/// The checker child's nice value, scheduling policy and realtime priority (from
/// `/proc/PID/stat`), locked memory and CPUs (`status`) and realtime CPU limit (`limits`).
fn checker_sched(d: &ipvs_daemon::Daemon) -> Option<(i64, u32, u32, bool, String, String)> {
    let pid = std::fs::read_to_string(d.path("c.pid")).ok()?;
    let proc = format!("/proc/{}", pid.trim());
    let stat = std::fs::read_to_string(format!("{proc}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let status = std::fs::read_to_string(format!("{proc}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let limits = std::fs::read_to_string(format!("{proc}/limits")).ok()?;
    let rttime = limits
        .lines()
        .find(|l| l.starts_with("Max realtime timeout"))
        .map(|l| {
            l.split_whitespace()
                .skip(3)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Some((
        f.get(16)?.parse().ok()?,
        f.get(38)?.parse().ok()?,
        f.get(37)?.parse().ok()?,
        field("VmLck:") != "0 kB",
        field("Cpus_allowed_list:"),
        rttime,
    ))
}

/// `checker_priority`, `checker_no_swap`, `checker_cpu_affinity`, `checker_rt_priority`,
/// `checker_rlimit_rttime` (and its old spelling `checker_rlimit_rtime`) on the checker
/// child, which needs IPVS to run: the same settings as the VRRP child's, compared with
/// keepalived 2.2.7 in tests/daemon_procs.rs.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_checker_process_controls() {
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    let conf = |globals: &str| {
        format!(
            "global_defs {{\n    router_id vmtest\n{globals}}}\n\
             virtual_server 192.0.2.120 80 {{\n    delay_loop 1\n    lb_algo rr\n    \
             lb_kind NAT\n    protocol TCP\n    real_server 198.51.100.20 8020 {{\n        \
             TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n}}\n"
        )
    };
    // Generous realtime limits: under the VM's emulation a busy start can run 10 ms
    // without blocking, and the soft limit's SIGXCPU would end the realtime setting.
    for (globals, want) in [
        (
            "    checker_priority -5\n    checker_no_swap\n    checker_cpu_affinity 0\n",
            // nice, policy (0 = SCHED_OTHER), rt priority, locked, CPUs, RLIMIT_RTTIME
            (-5, 0, 0, true, "0", "unlimited unlimited"),
        ),
        (
            "    checker_rt_priority 15\n    checker_rlimit_rttime 3000000\n",
            (0, 2, 15, false, "", "1500000 3000000"),
        ),
        (
            "    checker_rt_priority 12\n    checker_rlimit_rtime 2000000\n",
            (0, 2, 12, false, "", "1000000 2000000"),
        ),
    ] {
        let mut d = Daemon::start("sched", &conf(globals));
        let mut seen = None;
        wait_for(&format!("the checker's settings for {globals:?}"), || {
            seen = checker_sched(&d);
            seen.as_ref().is_some_and(|s| {
                (s.0, s.1, s.2, s.3, s.5.as_str()) == (want.0, want.1, want.2, want.3, want.5)
                    && (want.4.is_empty() || s.4 == want.4)
            })
        });
        d.stop();
    }
}

/// `lvs_netlink_cmd_rcv_bufs` and `lvs_netlink_monitor_rcv_bufs` (with `_force`) size the
/// checker's netlink sockets, which it opens for `ha_suspend`; the kernel reports double.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_checker_netlink_buffers() {
    use ipvs_daemon::*;
    let Some(_ipvs) = fresh() else { return };
    let conf = "global_defs {\n    router_id vmtest\n    lvs_netlink_cmd_rcv_bufs 300000\n    \
        lvs_netlink_cmd_rcv_bufs_force\n    lvs_netlink_monitor_rcv_bufs 500000\n    \
        lvs_netlink_monitor_rcv_bufs_force\n}\n\
        virtual_server 192.0.2.121 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    \
        protocol TCP\n    ha_suspend\n    real_server 198.51.100.21 8021 {\n        \
        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n}\n";
    let mut d = Daemon::start("nlbufs", conf);
    let mut socks = Vec::new();
    wait_for("the checker's netlink buffers", || {
        let pid = std::fs::read_to_string(d.path("c.pid")).unwrap_or_default();
        socks = pid
            .trim()
            .parse()
            .map(sockets::socket_rcvbufs)
            .unwrap_or_default();
        [300000, 500000]
            .iter()
            .all(|n| socks.contains(&(libc::AF_NETLINK, 0, 2 * n)))
    });
    d.stop();
}

/// BFD_CHECK, ours and keepalived 2.2.7 in turn: the checker child follows a BFD session
/// with keepalived 2.2.7's BFD child in a namespace behind a veth pair. The real server of
/// the plain BFD_CHECK is in IPVS from the start until the BFD child's first report (the
/// session is Down: keepalived's BFD child reports every session when it starts); the one
/// with `alpha` joins when the session is Up; both leave when the peer is killed and come
/// back with it. Both daemons log the same checker lines in the same order.
#[test]
#[ignore]
fn vm_bfd_check() {
    if fresh().is_none() {
        return;
    }
    let ours = bfd_check_run(false);
    let real = bfd_check_run(true);
    assert_eq!(ours, real);
}

/// One run of `vm_bfd_check`; the subject's checker lines about the two servers.
fn bfd_check_run(real: bool) -> Vec<String> {
    use ipvs_daemon::*;
    let _ns = Netns(&["bfdchk"]);
    sh(
        "ip netns add bfdchk && ip link add vbfd0 type veth peer name vbfd1 \
        && ip link set vbfd1 netns bfdchk && ip addr add 192.0.2.1/24 dev vbfd0 \
        && ip link set vbfd0 up && ip -n bfdchk addr add 192.0.2.2/24 dev vbfd1 \
        && ip -n bfdchk link set vbfd1 up && ip -n bfdchk link set lo up",
    );
    let conf = "bfd_instance peer {\n  neighbor_ip 192.0.2.2\n  source_ip 192.0.2.1\n  \
                min_rx 100\n  min_tx 100\n  multiplier 3\n}\n\
                virtual_server 192.0.2.200 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  \
                real_server 192.0.2.2 80 {\n    BFD_CHECK {\n      name peer\n    }\n  }\n  \
                real_server 192.0.2.3 80 {\n    BFD_CHECK {\n      name peer\n      alpha\n    }\n  }\n}\n";
    let mut d = Daemon::start_as(real, "bfdchk", conf, None, &[]);
    let svc = "TCP 192.0.2.200:80 rr";
    let rs2 = "TCP 192.0.2.200:80 -> 192.0.2.2:80 w1";
    let rs3 = "TCP 192.0.2.200:80 -> 192.0.2.3:80 w1";
    d.wait_log("BFD check of [peer] RS([192.0.2.2]:tcp:80) is DOWN");
    wait_table("no server before the session is up", &set(&[svc]));
    let peer_conf = "bfd_instance peer {\n  neighbor_ip 192.0.2.1\n  source_ip 192.0.2.2\n  \
                     min_rx 100\n  min_tx 100\n  multiplier 3\n}\n";
    let start_peer = |n: u32| {
        let dir = std::env::temp_dir().join(format!("bfdchk-peer{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("keepalived.conf"), peer_conf).expect("conf");
        keepalived_command(keepalived_bin(true), Some("bfdchk"), &dir)
            .args(["--dont-fork", "-l", "-G", "-D"])
            .spawn()
            .expect("spawn keepalived 2.2.7")
    };
    let mut peer = start_peer(1);
    wait_table("the session up: both servers", &set(&[svc, rs2, rs3]));
    d.wait_log("BFD check of [peer] RS([192.0.2.3]:tcp:80) is UP");
    // keepalived 2.2.7 dies with its children (kill -9 of the whole namespace's processes).
    let _ = peer.kill();
    let _ = peer.wait();
    sh("ip netns pids bfdchk | xargs -r kill -9");
    wait_table("the session down: no server", &set(&[svc]));
    d.wait_log("BFD check of [peer] RS([192.0.2.2]:tcp:80) is DOWN");
    let mut peer = start_peer(2);
    wait_table("the session up again", &set(&[svc, rs2, rs3]));
    let _ = peer.kill();
    let _ = peer.wait();
    sh("ip netns pids bfdchk | xargs -r kill -9");
    wait_table("the session down again", &set(&[svc]));
    d.stop();
    // The checker's lines about the servers, without prefixes (times, process names).
    d.log()
        .lines()
        .filter_map(|l| {
            ["BFD check of ", "Removing service ", "Adding service "]
                .iter()
                .find_map(|w| l.find(w).map(|at| l[at..].to_owned()))
        })
        .collect()
}
