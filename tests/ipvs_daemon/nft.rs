//! `nftables_ipvs` inside the VM: a virtual_server_group becomes one IPVS fwmark service
//! and nftables rules marking its addresses, compared with what
//! keepalived 2.2.7 creates for the same configuration when the VM has it, and used by a
//! client in a network namespace whose connections reach a real server in another one.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

const CONF: &str = "
global_defs {
    nftables_ipvs
}
virtual_server_group NFT_G1 {
    192.0.2.50-52 80
    192.0.2.60 80
}
virtual_server group NFT_G1 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.72 80 {
        weight 1
    }
    real_server 198.51.100.73 80 {
        weight 2
    }
}
";

/// What keepalived 2.2.7 lists for [`CONF`] (captured in this VM with its own run).
const RULESET: &str = "table ip keepalived_ipvs {
\tmap tcp_map {
\t\ttype ipv4_addr . inet_service : mark
\t\tflags interval
\t\telements = { 192.0.2.50-192.0.2.52 . 80 : 0x000003e8,
\t\t\t     192.0.2.60 . 80 : 0x000003e8 }
\t}
\tchain in {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\tmeta mark set ip daddr . tcp dport map @tcp_map return
\t}
}";

const TABLE: [&str; 3] = [
    "FWM 1000 rr",
    "FWM 1000 -> 198.51.100.72:80 w1",
    "FWM 1000 -> 198.51.100.73:80 w2",
];

fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nft list ruleset`, blank lines left out.
fn ruleset() -> String {
    sh("nft list ruleset")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Client namespace nfi-cli (203.0.113.66) and real server namespace nfi-rs
/// (198.51.100.72 and .73), both routed through the VM; the group's VIPs on `lo`.
struct Net;

impl Net {
    fn new() -> Net {
        Net::cleanup();
        sh("set -e
            ip netns add nfi-rs; ip netns add nfi-cli
            ip link add nfi-r0 type veth peer name nfi-r1 netns nfi-rs
            ip link add nfi-c0 type veth peer name nfi-c1 netns nfi-cli
            ip addr add 198.51.100.65/28 dev nfi-r0; ip link set nfi-r0 up
            ip addr add 203.0.113.65/28 dev nfi-c0; ip link set nfi-c0 up
            ip -n nfi-rs link set lo up; ip -n nfi-rs link set nfi-r1 up
            ip -n nfi-rs addr add 198.51.100.72/28 dev nfi-r1
            ip -n nfi-rs addr add 198.51.100.73/28 dev nfi-r1
            ip -n nfi-rs route add default via 198.51.100.65
            ip -n nfi-cli link set lo up; ip -n nfi-cli link set nfi-c1 up
            ip -n nfi-cli addr add 203.0.113.66/28 dev nfi-c1
            ip -n nfi-cli route add default via 203.0.113.65
            echo 1 > /proc/sys/net/ipv4/ip_forward");
        lo_addrs(&["192.0.2.50", "192.0.2.51", "192.0.2.52", "192.0.2.60"]);
        Net
    }

    fn cleanup() {
        let _ = Command::new("sh")
            .args([
                "-c",
                "ip netns del nfi-rs; ip netns del nfi-cli; ip link del nfi-r0; ip link del nfi-c0
                 for a in 50 51 52 60; do ip addr del 192.0.2.$a/32 dev lo; done
                 echo 0 > /proc/sys/net/ipv4/ip_forward
                 nft delete table ip keepalived_ipvs; nft delete table ip6 keepalived_ipvs",
            ])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        Net::cleanup();
    }
}

/// Runs `f` on a thread inside network namespace `ns`; sockets it makes stay there.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("netns thread")
}

/// The real server: answers each connection with the address it was accepted on.
fn serve_local_addr(l: TcpListener) {
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let me = c.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let _ = c.write_all(me.as_bytes());
        }
    });
}

/// From the client namespace: connects to `vip` and returns what the real server said.
fn fetch(vip: &'static str) -> String {
    in_netns("nfi-cli", move || {
        let addr: SocketAddr = vip.parse().expect("addr");
        let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) else {
            return String::new();
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        s
    })
}

/// keepalived 2.2.7's startup line for [`CONF`]: every virtual server starts with its
/// quorum down, so reaching quorum + hysteresis is a gain.
const GAINED: &str = "Gained quorum 1+0=1 <= 3 for VS [NFT_G1]:0";

/// keepalived 2.2.7 itself (checker only), when the VM has it.
fn real_keepalived_ruleset(dir: &std::path::Path) -> Option<String> {
    if !Command::new("sh")
        .args(["-c", "command -v keepalived >/dev/null"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("note: no keepalived 2.2.7 in the VM; compared with the stored ruleset only");
        return None;
    }
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("keepalived.conf"), CONF).expect("conf");
    let mut child: Child = crate::keepalived_command(crate::keepalived_bin(true), None, dir)
        .args(["-n", "-l", "-C"])
        .spawn()
        .expect("spawn keepalived 2.2.7");
    wait_table("keepalived 2.2.7's services", &set(&TABLE));
    wait_for("keepalived 2.2.7's startup quorum line", || {
        std::fs::read_to_string(dir.join("log")).is_ok_and(|l| l.contains(GAINED))
    });
    let got = ruleset();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    wait_for("keepalived 2.2.7's table to go", || {
        !ruleset().contains("keepalived_ipvs")
    });
    Some(got)
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_nftables_ipvs() {
    let Some(_ipvs) = crate::fresh() else { return };
    let _net = Net::new();
    let dir = std::env::temp_dir().join(format!("nfi-real-{}", std::process::id()));
    if let Some(real) = real_keepalived_ruleset(&dir) {
        assert_eq!(real, RULESET, "keepalived 2.2.7's ruleset changed");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // no IPVS: nothing listens on the group's addresses
    let l = in_netns("nfi-rs", || TcpListener::bind("0.0.0.0:80").expect("bind"));
    serve_local_addr(l);
    assert_eq!(fetch("192.0.2.51:80"), "", "reached without IPVS");

    let mut d = Daemon::start("nftipvs", CONF);
    wait_table("one fwmark service for the group", &set(&TABLE));
    // keepalived 2.2.7 logs it at startup (real servers without checkers, group VS)
    d.wait_log(GAINED);
    assert_eq!(ruleset(), RULESET);
    // every group address reaches a real server through the mark
    for vip in ["192.0.2.50:80", "192.0.2.52:80", "192.0.2.60:80"] {
        let got = fetch(vip);
        assert!(
            got == "198.51.100.72:80" || got == "198.51.100.73:80",
            "{vip} answered {got:?}"
        );
    }
    // a port the group does not have is not marked
    assert_eq!(fetch("192.0.2.51:81"), "");

    // reload adding a UDP group: it gets 1001, the TCP group is not touched
    let tcp_map = || sh("nft -a list map ip keepalived_ipvs tcp_map");
    let before = tcp_map();
    let before_log = d.log().len();
    d.conf(&format!(
        "{CONF}
virtual_server_group NFT_G2 {{
    192.0.2.61 53
}}
virtual_server group NFT_G2 {{
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 198.51.100.72 53 {{
    }}
}}
"
    ));
    d.reload();
    let mut both = set(&TABLE);
    both.extend(set(&["FWM 1001 rr", "FWM 1001 -> 198.51.100.72:53 w1"]));
    wait_table("the UDP group's fwmark service", &both);
    assert_eq!(tcp_map(), before, "the unchanged group's map was touched");
    let rs = ruleset();
    assert!(
        rs.contains("elements = { 192.0.2.61 . 53 : 0x000003e9 }")
            && rs.contains("meta mark set ip daddr . udp dport map @udp_map return"),
        "{rs}"
    );
    let log = d.log();
    let after = log.get(before_log..).unwrap_or_default();
    assert!(!after.contains("Removing"), "{after}");

    d.stop();
    // keepalived 2.2.7's wording for a group virtual server
    d.wait_log("Shutting down service [198.51.100.73]:tcp:80 from VS [NFT_G1]:0");
    assert_eq!(snapshot(), set(&[]));
    assert!(
        !sh("nft list tables").contains("keepalived_ipvs"),
        "table left after SIGTERM"
    );
}

/// `nftables_ipvs_start_fwmark`: the group's fwmark service and its nftables mark start
/// there instead of 1000, ours and keepalived 2.2.7's alike.
#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_nftables_ipvs_start_fwmark() {
    let Some(_ipvs) = crate::fresh() else { return };
    let conf = CONF.replace(
        "nftables_ipvs\n",
        "nftables_ipvs\n    nftables_ipvs_start_fwmark 2000\n",
    );
    let table: BTreeSet<String> = TABLE
        .iter()
        .map(|l| l.replace("FWM 1000", "FWM 2000"))
        .collect();
    let run = |start: &dyn Fn() -> Box<dyn FnOnce()>| {
        let stop = start();
        wait_table("the group's service with mark 2000", &table);
        let rules = ruleset();
        stop();
        wait_for("the table to go", || !ruleset().contains("keepalived_ipvs"));
        rules
    };
    let ours = run(&|| {
        let mut d = Daemon::start("nftstart", &conf);
        Box::new(move || d.stop())
    });
    assert!(ours.contains("192.0.2.60 . 80 : 0x000007d0"), "{ours}");
    assert_eq!(ours, RULESET.replace("0x000003e8", "0x000007d0"));
    if !crate::have("keepalived") {
        eprintln!("note: no keepalived 2.2.7 in the VM; not compared");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nftstart-real-{}", std::process::id()));
    let real = run(&|| Box::new(crate::real_checker(&dir, &conf)));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(real, ours, "keepalived 2.2.7, then ours");
}
