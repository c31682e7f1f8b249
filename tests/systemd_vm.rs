//! Our daemon under a real systemd, side by side with Debian's keepalived 2.2.7 package:
//! tests/systemd_vm/run.sh boots a Debian 12 image (systemd as PID 1, built once by
//! mmdebstrap and cached) in QEMU, where tests/systemd_vm/guest.sh runs the same steps
//! for 2.2.7 and then for ours installed over it: `systemctl start` (Type=notify), reload,
//! restart, kill -9 of the VRRP child and of the parent, stop, and the journal's records.
//! Every observation of ours must equal 2.2.7's; the key ones are also checked against
//! what the unit promises, so the test cannot pass with both broken alike.
//! See tests/systemd_vm/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{is_root, ours, programs_or_skip, skip_or_fail};

/// A cold run builds the image first (mmdebstrap downloads ~150 packages).
const LIMIT: Duration = Duration::from_secs(40 * 60);

type Observations = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Default)]
struct Outcome {
    obs: Observations,
    /// journald records of each implementation (the daemon's own, not systemd's)
    journal: BTreeMap<String, Vec<Record>>,
    ended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    identifier: String,
    priority: String,
    facility: String,
    message: String,
}

fn field(v: &serde_json::Value, name: &str) -> String {
    v.get(name)
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_string()
}

fn parse(out: &str) -> Outcome {
    let mut o = Outcome::default();
    for line in out.lines() {
        if line == "END" {
            o.ended = true;
        } else if let Some(rest) = line.strip_prefix("R ") {
            let mut it = rest.splitn(3, ' ');
            let (Some(imp), Some(key)) = (it.next(), it.next()) else {
                continue;
            };
            let value = it.next().unwrap_or_default().to_string();
            o.obs
                .entry(imp.to_string())
                .or_default()
                .insert(key.to_string(), value);
        } else if let Some(rest) = line.strip_prefix("J ") {
            let Some((imp, json)) = rest.split_once(' ') else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
                continue;
            };
            // systemd's own lines about the unit ("Started ...") come from PID 1
            if field(&v, "_PID") == "1" {
                continue;
            }
            o.journal.entry(imp.to_string()).or_default().push(Record {
                identifier: field(&v, "SYSLOG_IDENTIFIER"),
                priority: field(&v, "PRIORITY"),
                facility: field(&v, "SYSLOG_FACILITY"),
                message: field(&v, "MESSAGE"),
            });
        }
    }
    o
}

/// What the unit promises, whichever implementation runs.
const EXPECTED: &[(&str, &str)] = &[
    ("start.rc", "0"),
    ("start.type", "notify"),
    ("start.state", "active/running"),
    ("start.procs_at_ready", "3"),
    ("start.vip", "present"),
    ("start.status_procs", "3"),
    ("start.mainpid_is_pidfile", "yes"),
    ("reload.rc", "0"),
    ("reload.state", "active/running"),
    ("reload.vrrp_logged", "yes"),
    ("reload.complete_logged", "yes"),
    ("reload.vip_deleted", "0"),
    ("reload.vip", "present"),
    ("reload.same_mainpid", "yes"),
    ("restart.rc", "0"),
    ("restart.state", "active/running"),
    ("restart.new_mainpid", "yes"),
    ("restart.vip", "present"),
    ("child.found", "yes"),
    ("child.respawned", "yes"),
    ("child.vip", "present"),
    ("child.state", "active/running"),
    ("child.nrestarts", "0"),
    ("child.same_mainpid", "yes"),
    ("restart_on_failure.start_rc", "0"),
    ("restart_on_failure.nrestarts_delta", "1"),
    ("restart_on_failure.state", "active/running"),
    ("restart_on_failure.new_mainpid", "yes"),
    ("restart_on_failure.vip", "present"),
    ("stop.rc", "0"),
    ("stop.state", "inactive/dead"),
    ("stop.result", "success"),
    ("stop.vip", "absent"),
    ("stop.procs", "0"),
];

#[test]
fn systemd_vm_ours_as_debian_keepalived() {
    let test = "systemd_vm_ours_as_debian_keepalived";
    if !is_root() {
        skip_or_fail(test, "needs root (mmdebstrap builds the image as root)");
        return;
    }
    if !programs_or_skip(test, &["qemu-system-x86_64", "mmdebstrap", "mkfs.ext4"]) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systemd_vm");
    let log = std::env::temp_dir().join(format!("systemd-vm-console-{}.log", std::process::id()));
    // output() drains both pipes while the VM runs (its results exceed a pipe's buffer);
    // coreutils' timeout bounds it
    let run = Command::new("timeout")
        .args(["-k", "10", &LIMIT.as_secs().to_string(), "bash"])
        .arg(dir.join("run.sh"))
        .arg(ours())
        .env("SYSTEMD_VM_LOG", &log)
        .stdin(Stdio::null())
        .output()
        .expect("run tests/systemd_vm/run.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{}", String::from_utf8_lossy(&run.stderr));
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let o = parse(&stdout);
    assert!(
        run.status.success() && o.ended,
        "the VM run did not finish ({}; 124: timed out); console:\n{console}\nresults:\n{stdout}",
        run.status
    );
    // the guest's step log (systemctl status, journal) helps whenever something differs
    eprintln!("--- VM console\n{console}");
    let bad = differences(&o);
    assert!(
        bad.is_empty(),
        "ours differs from keepalived 2.2.7 under systemd:\n  {}",
        bad.join("\n  ")
    );
}

/// Every way ours differs from 2.2.7, or either from what the unit promises.
fn differences(o: &Outcome) -> Vec<String> {
    let empty = BTreeMap::new();
    let deb = o.obs.get("debian").unwrap_or(&empty);
    let our = o.obs.get("ours").unwrap_or(&empty);
    let mut bad = Vec::new();
    // same observations as keepalived 2.2.7's package
    let keys: BTreeSet<&String> = deb.keys().chain(our.keys()).collect();
    for k in keys {
        if k == "version" {
            continue;
        }
        let (d, u) = (deb.get(k), our.get(k));
        if d != u {
            bad.push(format!("{k}: keepalived 2.2.7 {d:?}, ours {u:?}"));
        }
    }
    for (k, want) in EXPECTED {
        for (name, m) in [("2.2.7", deb), ("ours", our)] {
            let got = m.get(*k).map(String::as_str);
            if got != Some(*want) {
                bad.push(format!("{name} {k}: {got:?}, expected {want:?}"));
            }
        }
    }

    // journald: the same identifiers, and a line both log carries the same priority
    let none = Vec::new();
    let dj = o.journal.get("debian").unwrap_or(&none);
    let uj = o.journal.get("ours").unwrap_or(&none);
    let idents = |j: &[Record]| -> BTreeSet<String> {
        j.iter()
            .map(|r| r.identifier.clone())
            .collect::<BTreeSet<_>>()
    };
    let (di, ui) = (idents(dj), idents(uj));
    for want in ["Keepalived", "Keepalived_vrrp", "Keepalived_healthcheckers"] {
        if !di.contains(want) {
            bad.push(format!("2.2.7's journal has no SYSLOG_IDENTIFIER={want}"));
        }
    }
    if di != ui {
        bad.push(format!(
            "SYSLOG_IDENTIFIER values: keepalived 2.2.7 {di:?}, ours {ui:?}"
        ));
    }
    let by_message = |j: &[Record]| -> BTreeMap<String, BTreeSet<(String, String, String)>> {
        let mut m: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
        for r in j {
            m.entry(r.message.clone()).or_default().insert((
                r.identifier.clone(),
                r.priority.clone(),
                r.facility.clone(),
            ));
        }
        m
    };
    let (dm, um) = (by_message(dj), by_message(uj));
    let mut common = 0;
    for (msg, d) in &dm {
        if let Some(u) = um.get(msg) {
            common += 1;
            if d != u {
                bad.push(format!(
                    "journal line {msg:?}: (identifier, priority, facility) 2.2.7 {d:?}, ours {u:?}"
                ));
            }
        }
    }
    if common < 3 {
        bad.push(format!(
            "only {common} journal lines common to both; 2.2.7: {:?}; ours: {:?}",
            dm.keys().collect::<Vec<_>>(),
            um.keys().collect::<Vec<_>>()
        ));
    }
    bad
}

/// The comparison itself, on made-up results: equal runs pass, each kind of difference is
/// reported (so the VM test cannot pass by comparing nothing).
#[test]
fn comparison_reports_differences() {
    let rec = |imp: &str, id: &str, pri: &str, msg: &str| {
        format!(
            "J {imp} {{\"SYSLOG_IDENTIFIER\":\"{id}\",\"PRIORITY\":\"{pri}\",\"SYSLOG_FACILITY\":\"3\",\"_PID\":\"7\",\"MESSAGE\":\"{msg}\"}}"
        )
    };
    let run = |ours_vip: &str, ours_pri: &str| {
        let mut out = String::new();
        for imp in ["debian", "ours"] {
            for (k, v) in EXPECTED {
                let v = if imp == "ours" && *k == "stop.vip" {
                    ours_vip
                } else {
                    v
                };
                out.push_str(&format!("R {imp} {k} {v}\n"));
            }
            let pri = if imp == "ours" { ours_pri } else { "6" };
            for (id, msg) in [
                ("Keepalived", "Startup complete"),
                ("Keepalived_vrrp", "(VI_1) Entering MASTER STATE"),
                ("Keepalived_healthcheckers", "Initializing ipvs"),
            ] {
                out.push_str(&rec(imp, id, pri, msg));
                out.push('\n');
            }
            // systemd's own lines are not the daemon's
            out.push_str(&format!(
                "J {imp} {{\"SYSLOG_IDENTIFIER\":\"systemd\",\"_PID\":\"1\",\"MESSAGE\":\"{imp}\"}}\n"
            ));
        }
        out.push_str("END\n");
        differences(&parse(&out))
    };
    assert_eq!(run("absent", "6"), Vec::<String>::new());
    let d = run("present", "6");
    assert!(d.iter().any(|l| l.starts_with("stop.vip:")), "{d:?}");
    assert!(d.iter().any(|l| l.starts_with("ours stop.vip:")), "{d:?}");
    let d = run("absent", "5");
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(d.iter().all(|l| l.starts_with("journal line")), "{d:?}");
}
