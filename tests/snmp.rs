//! SNMP (`enable_snmp_vrrp`, `enable_traps`, `snmp_socket`): ours against keepalived 2.2.7,
//! each the AgentX subagent of a real snmpd (its own config, a private unix socket in a
//! temp dir, UDP on the node's loopback) with a real snmptrapd, in network namespaces.
//! The same scenario (start as BACKUP, failover when the peer stops, a manager's Set of a
//! priority and of preemption and refused Sets, reload with a new priority, stop) is walked after each step with `snmpwalk`, object by object, over the
//! tables we serve; the traps snmptrapd received are compared in order. The standard VRRP
//! MIBs (`enable_snmp_rfc*`: RFC 2787, RFC 6527) are compared the same way through a failover,
//! authentication and version errors, a reload and a stop. Then snmpd is
//! killed and restarted: the subagent registers again within seconds and the adverts never
//! pause.
//!
//! Tools: snmpd, snmpwalk (Debian's snmp), snmptrapd, tcpdump; without them the tests fail
//! under CI=true and are skipped otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::netns::Lan;
use support::node_daemon::{lan_or_skip, logs, real_or_skip, wait_until, Daemon};
use support::wire::Capture;

const AGENT_PORT: u16 = 11161;
const TRAP_PORT: u16 = 11162;
/// The KEEPALIVED-MIB subtrees the VRRP child serves: global, sync groups, their members,
/// instances, tracked interfaces and scripts, addresses.
const SUBTREES: [&str; 7] = [
    ".1.3.6.1.4.1.9586.100.5.1",
    ".1.3.6.1.4.1.9586.100.5.2.1",
    ".1.3.6.1.4.1.9586.100.5.2.2",
    ".1.3.6.1.4.1.9586.100.5.2.3",
    ".1.3.6.1.4.1.9586.100.5.2.4",
    ".1.3.6.1.4.1.9586.100.5.2.5",
    ".1.3.6.1.4.1.9586.100.5.2.6",
];

fn tools_or_skip(test: &str) -> bool {
    support::programs_or_skip(
        test,
        &["snmpd", "snmpwalk", "snmpset", "snmptrapd", "tcpdump"],
    )
}

/// snmpd as AgentX master and snmptrapd, in node `node`'s namespace, killed on drop.
struct Snmp {
    dir: tempfile::TempDir,
    ns: String,
    snmpd: Option<Child>,
    trapd: Option<Child>,
}

impl Snmp {
    fn start(lan: &Lan, node: usize) -> Snmp {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "master agentx\nagentXSocket unix:{d}/master\nagentXPerms 0700 0700\n\
             agentaddress udp:127.0.0.1:{AGENT_PORT}\nrocommunity public 127.0.0.1\n\
             rwcommunity private 127.0.0.1\n\
             trap2sink udp:127.0.0.1:{TRAP_PORT} public\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("snmpd.conf"), conf).unwrap();
        std::fs::write(
            dir.path().join("snmptrapd.conf"),
            "disableAuthorization yes\n",
        )
        .unwrap();
        let mut s = Snmp {
            dir,
            ns: lan.nodes[node].ns.clone(),
            snmpd: None,
            trapd: None,
        };
        s.trapd = Some(s.spawn(&[
            "snmptrapd",
            "-f",
            "-C",
            "-c",
            &s.file("snmptrapd.conf"),
            "-On",
            "-Lf",
            &s.file("trapd.log"),
            "-F",
            "TRAP %v\n",
            &format!("udp:127.0.0.1:{TRAP_PORT}"),
        ]));
        // Traps sent before snmptrapd listens are lost: wait for its socket.
        let listening = wait_until(10, || {
            let out = Command::new("ip")
                .args(["netns", "exec", &s.ns, "ss", "-Hun", "-l"])
                .arg(format!("sport = :{TRAP_PORT}"))
                .output()
                .expect("ss");
            !String::from_utf8_lossy(&out.stdout).trim().is_empty()
        });
        assert!(listening, "snmptrapd did not start");
        s.start_snmpd();
        s
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            // snmpd saves its state as snmpd.conf there at exit: not over ours.
            .env("SNMP_PERSISTENT_DIR", self.dir.path().join("persist"))
            .env("MIBS", "")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn snmp tool")
    }

    fn start_snmpd(&mut self) {
        let child = self.spawn(&[
            "snmpd",
            "-f",
            "-C",
            "-c",
            &self.file("snmpd.conf"),
            "-Lf",
            &self.file("snmpd.log"),
        ]);
        self.snmpd = Some(child);
        let sock = self.dir.path().join("master");
        assert!(
            wait_until(10, || sock.exists()),
            "snmpd did not start: {}",
            std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
        );
    }

    fn kill_snmpd(&mut self) {
        if let Some(mut c) = self.snmpd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.dir.path().join("master"));
    }

    fn socket(&self) -> String {
        format!("unix:{}/master", self.dir.path().display())
    }

    /// `snmpwalk -On` of a subtree, one `OID = TYPE: value` line each.
    fn walk(&self, subtree: &str) -> Vec<String> {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "snmpwalk", "-m", "", "-On", "-v2c",
            ])
            .args(["-c", "public", "-t", "2", "-r", "1"])
            .arg(format!("127.0.0.1:{AGENT_PORT}"))
            .arg(subtree)
            .env("MIBS", "")
            .output()
            .expect("snmpwalk");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(subtree))
            .map(str::to_owned)
            .collect()
    }

    /// `snmpset` of one object (`type` as snmpset spells it); what it printed.
    fn set(&self, name: &str, ty: &str, value: &str) -> String {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "snmpset", "-m", "", "-On", "-v2c",
            ])
            .args(["-c", "private", "-t", "2", "-r", "1"])
            .arg(format!("127.0.0.1:{AGENT_PORT}"))
            .args([name, ty, value])
            .env("MIBS", "")
            .output()
            .expect("snmpset");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn all(&self) -> Vec<String> {
        SUBTREES.iter().flat_map(|s| self.walk(s)).collect()
    }

    /// The traps received from the subagent (not snmpd's own coldStart, whose arrival
    /// races snmptrapd's start), without the sysUpTime varbind.
    fn traps(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("trapd.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("TRAP "))
            .map(|l| {
                l.split('\t')
                    .filter(|v| !v.starts_with(".1.3.6.1.2.1.1.3.0"))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .filter(|t| !t.contains("= OID: .1.3.6.1.6.3.1.1.5."))
            .collect()
    }
}

impl Drop for Snmp {
    fn drop(&mut self) {
        self.kill_snmpd();
        if let Some(mut c) = self.trapd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `priority2`: VI_2's priority; VI_1 (a sync group member) gets `priority2 + 10` (the
/// reload changes both).
fn node_conf(socket: &str, priority2: u8) -> String {
    let priority1 = priority2 + 10;
    format!(
        "global_defs {{\n  router_id snmp-test\n  enable_snmp_vrrp\n  enable_traps\n  \
         snmp_socket {socket}\n}}\n\
         static_ipaddress {{\n  198.51.100.1/32 dev lo scope host\n}}\n\
         vrrp_script chk {{\n  script \"/bin/true\"\n  interval 1\n  weight 5\n}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_1\n  }}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority1}\n  advert_int 1\n  virtual_ipaddress {{\n    192.0.2.100/24\n    \
         192.0.2.110/24 brd 192.0.2.255 label eth0:vip\n  }}\n  \
         virtual_ipaddress_excluded {{\n    2001:db8::10/64\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state MASTER\n  interface eth0\n  version 3\n  \
         virtual_router_id 52\n  priority {priority2}\n  advert_int 0.5\n  nopreempt\n  \
         track_interface {{\n    eth0 weight -20\n    lo weight 10 reverse\n  }}\n  \
         track_script {{\n    chk weight 0\n  }}\n  \
         virtual_ipaddress {{\n    192.0.2.101/24\n  }}\n}}\n"
    )
}

fn peer_conf() -> String {
    "global_defs {\n  router_id peer\n}\n\
     vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
     priority 200\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.100/24\n    192.0.2.110/24\n  }\n}\n"
        .to_owned()
}

/// What one run showed: the walks after each step, snmpset's answers, then the traps.
#[derive(Debug, PartialEq)]
struct Record {
    walks: Vec<(String, Vec<String>)>,
    sets: Vec<String>,
    traps: Vec<String>,
    /// The `-D` lines `... Sending SNMP notification`, sorted.
    notes: Vec<String>,
}

/// The lines of `a` that `b` lacks.
fn only(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|l| !b.contains(l)).cloned().collect()
}

fn instance_state(walk: &[String], index: u32) -> Option<String> {
    let key = format!(".1.3.6.1.4.1.9586.100.5.2.3.1.4.{index} = ");
    walk.iter()
        .find_map(|l| l.strip_prefix(&key).map(str::to_owned))
}

fn scenario(lan: &Lan, real: bool) -> Record {
    let snmp = Snmp::start(lan, 0);
    let mut peer = Daemon::start(lan, 1, false, &peer_conf());
    let mut node = Daemon::start(lan, 0, real, &node_conf(&snmp.socket(), 90));
    let mut walks = Vec::new();
    let settled = |want1: &str, want2: &str| {
        let mut last = Vec::new();
        let ok = wait_until(15, || {
            last = snmp.all();
            let group = format!(".1.3.6.1.4.1.9586.100.5.2.1.1.3.1 = {want1}");
            instance_state(&last, 1).as_deref() == Some(want1)
                && instance_state(&last, 2).as_deref() == Some(want2)
                && last.contains(&group)
        });
        assert!(
            ok,
            "states {want1}/{want2} not reached\n{last:#?}\n{}",
            logs(&[&node])
        );
        last
    };
    // Start: VI_1 BACKUP under the peer, VI_2 MASTER alone.
    walks.push(("start".into(), settled("INTEGER: 1", "INTEGER: 2")));
    // Failover: the peer goes, VI_1 takes over.
    peer.stop();
    walks.push(("failover".into(), settled("INTEGER: 2", "INTEGER: 2")));
    // A manager sets VI_2's base priority and turns VI_1's preemption off; then values and
    // objects keepalived refuses.
    let col = |c: u32, i: u32| format!(".1.3.6.1.4.1.9586.100.5.2.3.1.{c}.{i}");
    let sets = vec![
        snmp.set(&col(7, 2), "i", "95"),
        snmp.set(&col(13, 1), "i", "2"),
        snmp.set(&col(7, 2), "i", "0"),
        snmp.set(&col(13, 1), "i", "3"),
        snmp.set(&col(7, 1), "s", "x"),
        snmp.set(&col(3, 1), "u", "9"),
    ];
    let ok = wait_until(10, || {
        let w = snmp.walk(&col(7, 2));
        w.first().is_some_and(|l| l.ends_with("INTEGER: 95"))
    });
    assert!(ok, "set not seen\n{sets:#?}\n{}", logs(&[&node]));
    walks.push(("set".into(), snmp.all()));
    // Reload with a new base priority.
    node.write_conf(&node_conf(&snmp.socket(), 110));
    node.reload();
    let ok = wait_until(10, || {
        let w = snmp.walk(".1.3.6.1.4.1.9586.100.5.2.3.1");
        let has = |k: &str, v: &str| {
            w.iter()
                .any(|l| l.starts_with(k) && l.ends_with(&format!("INTEGER: {v}")))
        };
        has(".1.3.6.1.4.1.9586.100.5.2.3.1.7.2 ", "110")
            && has(".1.3.6.1.4.1.9586.100.5.2.3.1.7.2 ", "110")
    });
    assert!(ok, "reload not seen\n{}", logs(&[&node]));
    walks.push(("reload".into(), snmp.all()));
    node.stop();
    // Traps reach snmptrapd asynchronously.
    std::thread::sleep(Duration::from_secs(1));
    let mut notes: Vec<String> = node
        .log()
        .lines()
        .filter(|l| l.contains("Sending SNMP notification"))
        .filter_map(|l| l.split_once(": ").map(|(_, m)| m.to_owned()))
        .collect();
    notes.sort();
    Record {
        walks,
        sets,
        traps: snmp.traps(),
        notes,
    }
}

#[test]
fn objects_and_traps_as_keepalived() {
    let test = "objects_and_traps_as_keepalived";
    if !tools_or_skip(test) || !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let theirs = scenario(&lan, true);
    let ours = scenario(&lan, false);
    for ((step, t), (_, o)) in theirs.walks.iter().zip(&ours.walks) {
        assert!(!t.is_empty(), "{step}: keepalived served nothing");
        // The static address (owner 0), the label of VI_1's second VIP, VI_2's tracked
        // interface (eth0, its own, is left out) and script are there.
        for key in [
            ".1.3.6.1.4.1.9586.100.5.2.4.1.2.2.1 ",
            ".1.3.6.1.4.1.9586.100.5.2.4.1.3.2.1 ",
            ".1.3.6.1.4.1.9586.100.5.2.5.1.4.2.1 ",
            ".1.3.6.1.4.1.9586.100.5.2.6.1.3.0.1 ",
            ".1.3.6.1.4.1.9586.100.5.2.6.1.9.1.2 ",
        ] {
            assert!(
                t.iter().any(|l| l.starts_with(key)),
                "{step}: no {key}: {t:#?}"
            );
        }
        assert!(
            o == t,
            "{step}: objects differ\nonly ours: {:#?}\nonly keepalived 2.2.7: {:#?}",
            only(o, t),
            only(t, o)
        );
    }
    assert!(
        theirs.traps.len() >= 4,
        "keepalived sent too few traps: {:#?}",
        theirs.traps
    );
    for want in ["= INTEGER: 95", "wrongValue", "wrongType", "notWritable"] {
        assert!(
            theirs.sets.iter().any(|s| s.contains(want)),
            "no {want} from keepalived: {:#?}",
            theirs.sets
        );
    }
    assert_eq!(ours.sets, theirs.sets, "snmpset answers differ (left ours)");
    assert!(!theirs.notes.is_empty());
    assert_eq!(
        ours.notes, theirs.notes,
        "-D notification lines differ (left ours)"
    );
    // At stop our engine notifies the instances outside sync groups before the members
    // (2.2.7: configuration order); the STOP traps are compared as a set.
    let (mut ours, mut theirs) = (ours, theirs);
    for r in [&mut ours, &mut theirs] {
        let stop = |t: &String| t.contains(".3 = INTEGER: 5 |") || t.contains(".4 = INTEGER: 5 |");
        let at = r.traps.iter().position(stop).unwrap_or(r.traps.len());
        r.traps[at..].sort();
    }
    let first = ours
        .traps
        .iter()
        .zip(&theirs.traps)
        .position(|(o, t)| o != t);
    assert_eq!(
        ours.traps,
        theirs.traps,
        "traps differ from #{first:?} (left ours, right keepalived 2.2.7)\nours {:#?}\ntheirs {:#?}",
        &ours.traps[first.unwrap_or(0).min(ours.traps.len())..],
        &theirs.traps[first.unwrap_or(0).min(theirs.traps.len())..]
    );
}

#[test]
fn snmpd_restart_registers_again_and_adverts_go_on() {
    let test = "snmpd_restart_registers_again_and_adverts_go_on";
    if !tools_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let mut snmp = Snmp::start(&lan, 0);
    // The old spelling of enable_snmp_vrrp.
    let conf = node_conf(&snmp.socket(), 90).replace("enable_snmp_vrrp", "enable_snmp_keepalived");
    let node = Daemon::start(&lan, 0, false, &conf);
    let name = ".1.3.6.1.4.1.9586.100.5.2.3.1.2.1";
    assert!(
        wait_until(15, || !snmp.walk(name).is_empty()),
        "not registered\n{}",
        logs(&[&node])
    );
    // VI_2 (advert_int 0.5) is MASTER: count its adverts while snmpd is away.
    let cap = Capture::start(&lan, 1, "ip proto 112");
    let t0 = support::wire::epoch_now();
    snmp.kill_snmpd();
    std::thread::sleep(Duration::from_secs(3));
    snmp.start_snmpd();
    assert!(
        wait_until(10, || !snmp.walk(name).is_empty()),
        "not registered again after snmpd restarted\n{}",
        logs(&[&node])
    );
    std::thread::sleep(Duration::from_secs(1));
    let t1 = support::wire::epoch_now();
    let adverts: Vec<f64> = cap
        .matching(&["vrid 52"])
        .into_iter()
        .map(|(ts, _)| ts)
        .filter(|ts| *ts >= t0 && *ts <= t1)
        .collect();
    // One advert per 0.5 s interval of the window, give or take the edges: none is held
    // back while snmpd is down or being registered with.
    let expected = ((t1 - t0) / 0.5) as usize;
    assert!(
        adverts.len() + 2 >= expected,
        "{} adverts, {expected} expected: {adverts:?}",
        adverts.len()
    );
    let log = node.log();
    assert!(
        log.matches("NET-SNMP version 5.9.3 AgentX subagent connected")
            .count()
            >= 2,
        "{log}"
    );
}

/// The standard VRRP MIBs' roots: RFC 2787's VRRP-MIB and RFC 6527's VRRPV3-MIB.
const RFC_SUBTREES: [&str; 2] = [".1.3.6.1.2.1.68", ".1.3.6.1.2.1.207"];

/// VI_1 (VRRPv2, PASS, in a sync group with VI_7, which has no peer) backs up the peer and
/// both take over when it stops; VI_2 (VRRPv3) is
/// master and hears the peer's VRRPv2 adverts on its VRID (version errors); VI_3 hears the
/// peer with the wrong password (authentication failures) and becomes master alongside it;
/// VI_6 (VRRPv3, IPv6) is master alone.
fn rfc_node_conf(socket: &str, priority1: u8) -> String {
    format!(
        "global_defs {{\n  router_id snmp-rfc\n  enable_snmp_rfc\n  enable_traps\n  \
         snmp_socket {socket}\n}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_1\n    VI_7\n  }}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority1}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    \
         auth_pass secret\n  }}\n  virtual_ipaddress {{\n    192.0.2.100/24\n    \
         192.0.2.90/24\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state MASTER\n  interface eth0\n  version 3\n  \
         virtual_router_id 52\n  priority 100\n  advert_int 0.5\n  nopreempt\n  \
         virtual_ipaddress {{\n    192.0.2.101/24\n  }}\n}}\n\
         vrrp_instance VI_3 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 53\n  \
         priority 100\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    \
         auth_pass right\n  }}\n  virtual_ipaddress {{\n    192.0.2.102/24\n  }}\n}}\n\
         vrrp_instance VI_6 {{\n  state MASTER\n  interface eth0\n  version 3\n  \
         virtual_router_id 54\n  priority 100\n  advert_int 1\n  \
         virtual_ipaddress {{\n    2001:db8::54/64\n  }}\n}}\n\
         vrrp_instance VI_7 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 57\n  \
         priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    192.0.2.107/24\n  }}\n}}\n"
    )
}

fn rfc_peer_conf() -> String {
    "global_defs {\n  router_id peer\n}\n\
     vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
     priority 200\n  advert_int 1\n  authentication {\n    auth_type PASS\n    \
     auth_pass secret\n  }\n  virtual_ipaddress {\n    192.0.2.100/24\n    192.0.2.90/24\n  }\n}\n\
     vrrp_instance VI_2 {\n  state MASTER\n  interface eth0\n  virtual_router_id 52\n  \
     priority 200\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.101/24\n  }\n}\n\
     vrrp_instance VI_3 {\n  state MASTER\n  interface eth0\n  virtual_router_id 53\n  \
     priority 200\n  advert_int 1\n  authentication {\n    auth_type PASS\n    \
     auth_pass wrong\n  }\n  virtual_ipaddress {\n    192.0.2.102/24\n  }\n}\n"
        .to_owned()
}

/// A walk line with what depends on timing made comparable: time ticks as `T`, counters
/// as zero or not.
fn normalised(line: &str) -> String {
    let Some((name, value)) = line.split_once(" = ") else {
        return line.to_owned();
    };
    let value = if value.starts_with("Timeticks:") {
        "Timeticks: T".to_owned()
    } else if let Some((ty, n)) = value
        .split_once(": ")
        .filter(|(t, _)| t.starts_with("Counter"))
    {
        format!("{ty}: {}", if n.trim() == "0" { "0" } else { "N" })
    } else {
        value.to_owned()
    };
    format!("{name} = {value}")
}

/// The first appearance of each distinct trap or line, in order (repeats depend on timing).
fn distinct(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn rfc_scenario(lan: &Lan, real: bool) -> Record {
    let snmp = Snmp::start(lan, 0);
    let mut peer = Daemon::start(lan, 1, false, &rfc_peer_conf());
    let mut node = Daemon::start(lan, 0, real, &rfc_node_conf(&snmp.socket(), 100));
    let all = || -> Vec<String> {
        RFC_SUBTREES
            .iter()
            .flat_map(|s| snmp.walk(s))
            .map(|l| normalised(&l))
            .collect()
    };
    // The instances' RFC 6527 states (backup 2, master 3), by VRID.
    let state = |walk: &[String], vrid: u32| {
        let tail = format!(".{vrid}.1 = ");
        walk.iter()
            .filter(|l| l.starts_with(".1.3.6.1.2.1.207.1.1.1.1.6."))
            .find_map(|l| l.split_once(&tail).map(|(_, v)| v.to_owned()))
    };
    let mut walks = Vec::new();
    let settled = |want: [&str; 3], what: &str| {
        let mut last = Vec::new();
        let ok = wait_until(20, || {
            last = all();
            [51, 52, 53]
                .iter()
                .zip(want)
                .all(|(v, w)| state(&last, *v).as_deref() == Some(w))
                && last.iter().any(|l| {
                    l.starts_with(".1.3.6.1.2.1.207.1.1.1.1.6.") && l.ends_with(".54.2 = INTEGER: 3")
                })
                // VRRP-MIB (walked first) shows VI_1 as VRRPV3-MIB does.
                && last.iter().any(|l| {
                    l.starts_with(".1.3.6.1.2.1.68.1.3.1.3.")
                        && l.ends_with(&format!(".51 = {}", want[0]))
                })
                // The peer's version errors have been counted.
                && last
                    .iter()
                    .any(|l| l.starts_with(".1.3.6.1.2.1.207.1.2.2.0 = Counter64: N"))
        });
        assert!(
            ok,
            "{what}: states {want:?} not reached\n{last:#?}\n{}",
            logs(&[&node])
        );
        last
    };
    walks.push((
        "start".into(),
        settled(["INTEGER: 2", "INTEGER: 3", "INTEGER: 3"], "start"),
    ));
    peer.stop();
    walks.push((
        "failover".into(),
        settled(["INTEGER: 3", "INTEGER: 3", "INTEGER: 3"], "failover"),
    ));
    node.write_conf(&rfc_node_conf(&snmp.socket(), 120));
    node.reload();
    let ok = wait_until(10, || {
        snmp.walk(".1.3.6.1.2.1.68.1.3.1.5")
            .iter()
            .any(|l| l.ends_with(".51 = INTEGER: 120"))
    });
    assert!(ok, "reload not seen\n{}", logs(&[&node]));
    walks.push(("reload".into(), all()));
    node.stop();
    std::thread::sleep(Duration::from_secs(1));
    let notes: Vec<String> = node
        .log()
        .lines()
        .filter(|l| l.contains("Sending SNMP notification"))
        .filter_map(|l| l.split_once(": ").map(|(_, m)| m.to_owned()))
        .collect();
    let mut notes = distinct(&notes);
    notes.sort();
    Record {
        walks,
        sets: Vec::new(),
        traps: snmp.traps(),
        notes,
    }
}

#[test]
fn rfc_mibs_and_traps_as_keepalived() {
    let test = "rfc_mibs_and_traps_as_keepalived";
    if !tools_or_skip(test) || !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let theirs = rfc_scenario(&lan, true);
    let ours = rfc_scenario(&lan, false);
    for ((step, t), (_, o)) in theirs.walks.iter().zip(&ours.walks) {
        for root in RFC_SUBTREES {
            assert!(
                t.iter().any(|l| l.starts_with(root)),
                "{step}: keepalived served nothing under {root}: {t:#?}"
            );
        }
        assert!(
            o == t,
            "{step}: objects differ\nonly ours: {:#?}\nonly keepalived 2.2.7: {:#?}",
            only(o, t),
            only(t, o)
        );
    }
    assert_eq!(
        ours.notes, theirs.notes,
        "-D notification lines differ (left ours)"
    );
    // Errors repeat with every advert the peer sends: each distinct trap is compared at its
    // first arrival; the new-master ones keep their order.
    let (t, o) = (distinct(&theirs.traps), distinct(&ours.traps));
    for kind in [".68.0.1", ".68.0.2", ".207.0.1", ".207.0.2"] {
        assert!(
            t.iter()
                .any(|x| x.contains(&format!("OID: .1.3.6.1.2.1{kind} "))),
            "keepalived sent no {kind}: {t:#?}"
        );
    }
    // Instances become master on their own timers: each one's new-master traps keep their
    // order (VRRP-MIB's, then VRRPV3-MIB's, at each takeover).
    let masters = |v: &[String]| {
        let vrid = |x: &String| {
            (51..=57)
                .find(|n| x.contains(&format!(".2.{n} ")) || x.contains(&format!(".2.{n}.")))
                .unwrap_or(0)
        };
        let mut m = v
            .iter()
            .filter(|x| x.contains(".0.1 |"))
            .cloned()
            .collect::<Vec<_>>();
        m.sort_by_key(vrid);
        m
    };
    assert_eq!(
        masters(&o),
        masters(&t),
        "new-master traps differ (left ours)"
    );
    let (mut so, mut st) = (o.clone(), t.clone());
    so.sort();
    st.sort();
    assert!(
        so == st,
        "traps differ\nonly ours: {:#?}\nonly keepalived 2.2.7: {:#?}",
        only(&so, &st),
        only(&st, &so)
    );
}

#[test]
fn rfc_mibs_each_on_its_own() {
    // enable_snmp_rfcv2 serves VRRP-MIB and its traps alone, enable_snmp_rfcv3 VRRPV3-MIB
    // alone; without enable_traps neither sends any (and vrrpNotificationCntl says so), as
    // 2.2.7.
    let test = "rfc_mibs_each_on_its_own";
    if !tools_or_skip(test) || !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    for (kw, traps) in [
        ("enable_snmp_rfcv2", true),
        ("enable_snmp_rfcv3", true),
        ("enable_snmp_rfc", false),
    ] {
        let v2 = kw != "enable_snmp_rfcv3";
        let v3 = kw != "enable_snmp_rfcv2";
        let mut seen = Vec::new();
        for real in [true, false] {
            let snmp = Snmp::start(&lan, 0);
            let mut conf =
                rfc_node_conf(&snmp.socket(), 100).replace("enable_snmp_rfc\n", &format!("{kw}\n"));
            if !traps {
                conf = conf.replace("  enable_traps\n", "");
            }
            let node = Daemon::start(&lan, 0, real, &conf);
            let lines = |root: &str| {
                snmp.walk(root)
                    .into_iter()
                    // snmpwalk's answer for an unregistered subtree.
                    .filter(|l| !l.contains("= No Such"))
                    .collect::<Vec<_>>()
            };
            // VI_1 takes over (no peer) after its VRRP-MIB and VRRPV3-MIB rows are up.
            let ok = wait_until(15, || {
                let w: Vec<String> = RFC_SUBTREES.iter().flat_map(|r| lines(r)).collect();
                w.iter().any(|l| {
                    (l.starts_with(".1.3.6.1.2.1.68.1.3.1.3.") && l.ends_with(".51 = INTEGER: 3"))
                        || (l.starts_with(".1.3.6.1.2.1.207.1.1.1.1.6.")
                            && l.ends_with(".51.1 = INTEGER: 3"))
                })
            });
            assert!(ok, "{kw}: VI_1 not master\n{}", logs(&[&node]));
            std::thread::sleep(Duration::from_secs(1));
            let names = |root: &str| {
                lines(root)
                    .iter()
                    .filter_map(|l| l.split_once(" = ").map(|(n, _)| n.to_owned()))
                    .collect::<Vec<_>>()
            };
            let mut received = distinct(&snmp.traps());
            received.sort();
            seen.push((
                names(RFC_SUBTREES[0]),
                names(RFC_SUBTREES[1]),
                lines(".1.3.6.1.2.1.68.1.2"),
                received,
            ));
        }
        let (theirs, ours) = (&seen[0], &seen[1]);
        assert_eq!(
            (
                theirs.0.is_empty(),
                theirs.1.is_empty(),
                theirs.3.is_empty()
            ),
            (!v2, !v3, !traps),
            "{kw}: keepalived served {theirs:#?}"
        );
        assert_eq!(ours, theirs, "{kw}: objects or traps differ (left ours)");
    }
}
