//! Our `keepalived -t` against the real keepalived 2.2.7 on real-world configurations:
//! every sample under etc/ and the Debian package's samples, plus deterministic mutants of
//! each. Both run in a fresh network namespace whose veth interfaces carry the names the
//! configuration uses.
//!
//! * samples: the verdict (exit 0 or not) must be the same;
//! * mutants: ours must never reject (non-zero) what the real one accepts (0).
//!
//! Needs root, `ip netns` and the Debian keepalived package: without them the test fails
//! under CI (`CI=true`) and is skipped loudly elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{
    interfaces_named, is_root, ours, real_keepalived, run_limited, skip_or_fail, NetNs, Run,
};

const DEBIAN_SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// Keywords keepalived 2.2.8 added, which we apply (2.2.8 is in Ubuntu 24.04 and RHEL 9)
/// and keepalived 2.2.7 rejects (`Unknown keyword`): a configuration using one is left out
/// of the verdict comparison, and `keywords_of_228_differ_from_227` checks the difference.
const KA_228_KEYWORDS: &[&str] = &[
    "v3_checksum_as_v2",
    "no_virtual_ipaddress",
    "timer_expired_backup",
    "tls_compliant",
    "json_version",
];

/// Whether `text` uses a keyword of [`KA_228_KEYWORDS`] (as the first word of a line).
fn uses_228_keyword(text: &str) -> bool {
    text.lines().any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| KA_228_KEYWORDS.contains(&w))
    })
}
const MUTANTS_PER_SAMPLE: usize = 20;
const LIMIT: Duration = Duration::from_secs(20);

/// Sample configurations: ours, then Debian's (the `keepalived.conf.*` files).
fn samples() -> Result<Vec<PathBuf>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/keepalived");
    let mut out = vec![root.join("keepalived.conf")];
    let mut ours: Vec<PathBuf> = std::fs::read_dir(root.join("samples"))
        .map_err(|e| format!("etc/keepalived/samples: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    ours.sort();
    out.extend(ours);
    let mut deb: Vec<PathBuf> = std::fs::read_dir(DEBIAN_SAMPLES)
        .map_err(|e| format!("{DEBIAN_SAMPLES}: {e} (apt-get install keepalived)"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("keepalived.conf"))
        })
        .collect();
    deb.sort();
    if deb.is_empty() {
        return Err(format!("no samples in {DEBIAN_SAMPLES}"));
    }
    out.extend(deb);
    Ok(out)
}

/// A seeded generator, so mutants are the same on every run.
type Rng = keepalived::rng::SplitMix64;

/// Lines that hold configuration (not blank, not comments).
fn statement_lines(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('!')
        })
        .map(|(i, _)| i)
        .collect()
}

/// One mutant of `text`: which kind, and the new text.
fn mutate(text: &str, kind: usize, rng: &mut Rng) -> Option<(String, String)> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let stmts = statement_lines(&lines);
    if stmts.is_empty() {
        return None;
    }
    let pick = |rng: &mut Rng, cands: &[usize]| cands.get(rng.below(cands.len())).copied();
    let what;
    match kind % 5 {
        0 => {
            // a typo in a keyword: swap two letters, or drop one
            let cands: Vec<usize> = stmts
                .iter()
                .copied()
                .filter(|&i| {
                    lines.get(i).is_some_and(|l| {
                        l.split_whitespace().next().is_some_and(|w| {
                            w.len() > 3 && w.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
                        })
                    })
                })
                .collect();
            let i = pick(rng, &cands)?;
            let line = lines.get(i)?.clone();
            let indent = line.len() - line.trim_start().len();
            let word = line.split_whitespace().next()?.to_owned();
            let mut chars: Vec<char> = word.chars().collect();
            let k = 1 + rng.below(chars.len().saturating_sub(2));
            if rng.below(2) == 0 {
                chars.swap(k, k - 1);
            } else {
                chars.remove(k);
            }
            let typo: String = chars.into_iter().collect();
            if typo == word {
                return None;
            }
            let new = format!(
                "{}{}{}",
                &line[..indent],
                typo,
                &line[indent + word.len()..]
            );
            what = format!("line {}: keyword `{word}` -> `{typo}`", i + 1);
            *lines.get_mut(i)? = new;
        }
        1 => {
            let i = pick(rng, &stmts)?;
            what = format!("line {} dropped: `{}`", i + 1, lines.get(i)?.trim());
            lines.remove(i);
        }
        2 => {
            let cands: Vec<usize> = stmts
                .iter()
                .copied()
                .filter(|&i| {
                    lines
                        .get(i)
                        .is_some_and(|l| l.contains('{') || l.contains('}'))
                })
                .collect();
            let i = pick(rng, &cands)?;
            let line = lines.get(i)?.clone();
            let pos = line.rfind(['{', '}'])?;
            what = format!("line {}: brace `{}` dropped", i + 1, &line[pos..=pos]);
            let mut new = line.clone();
            new.remove(pos);
            *lines.get_mut(i)? = new;
        }
        3 => {
            // an out-of-range number
            let cands: Vec<(usize, usize)> = stmts
                .iter()
                .flat_map(|&i| {
                    let ws: Vec<&str> = lines
                        .get(i)
                        .map(|l| l.split_whitespace().collect())
                        .unwrap_or_default();
                    ws.iter()
                        .enumerate()
                        .skip(1)
                        .filter(|(_, w)| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
                        .map(|(k, _)| (i, k))
                        .collect::<Vec<_>>()
                })
                .collect();
            let (i, k) = *cands.get(rng.below(cands.len()))?;
            let values = ["99999999", "-1", "0", "256", "4294967296"];
            let v = values.get(rng.below(values.len()))?;
            let line = lines.get(i)?.clone();
            let indent = &line[..line.len() - line.trim_start().len()];
            let mut ws: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            what = format!("line {}: `{}` -> `{v}`", i + 1, ws.get(k)?);
            *ws.get_mut(k)? = (*v).to_owned();
            *lines.get_mut(i)? = format!("{indent}{}", ws.join(" "));
        }
        _ => {
            // a bad address
            let cands: Vec<(usize, usize)> = stmts
                .iter()
                .flat_map(|&i| {
                    let ws: Vec<&str> = lines
                        .get(i)
                        .map(|l| l.split_whitespace().collect())
                        .unwrap_or_default();
                    ws.iter()
                        .enumerate()
                        .filter(|(_, w)| {
                            let a = w.split('/').next().unwrap_or_default();
                            a.parse::<std::net::IpAddr>().is_ok()
                        })
                        .map(|(k, _)| (i, k))
                        .collect::<Vec<_>>()
                })
                .collect();
            let (i, k) = *cands.get(rng.below(cands.len()))?;
            let values = [
                "192.0.2.300",
                "192.0.2",
                "2001:db8::zz",
                "not-an-address",
                "192.0.2.1/33",
            ];
            let v = values.get(rng.below(values.len()))?;
            let line = lines.get(i)?.clone();
            let indent = &line[..line.len() - line.trim_start().len()];
            let mut ws: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            what = format!("line {}: `{}` -> `{v}`", i + 1, ws.get(k)?);
            *ws.get_mut(k)? = (*v).to_owned();
            *lines.get_mut(i)? = format!("{indent}{}", ws.join(" "));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Some((what, out))
}

/// Deterministic mutants of a sample (seeded by its name).
fn mutants(name: &str, text: &str) -> Vec<(String, String)> {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng::new(seed);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut tries = 0;
    while out.len() < MUTANTS_PER_SAMPLE && tries < MUTANTS_PER_SAMPLE * 10 {
        let kind = tries;
        tries += 1;
        if let Some(m) = mutate(text, kind, &mut rng) {
            if m.1 != text && !out.iter().any(|o| o.1 == m.1) {
                out.push(m);
            }
        }
    }
    out
}

fn first_diagnostic(r: &Run) -> String {
    r.stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .chars()
        .take(110)
        .collect()
}

fn code(r: &Run) -> String {
    match (r.code, r.timed_out) {
        (_, true) => String::from("timeout"),
        (Some(c), _) => c.to_string(),
        (None, _) => String::from("signal"),
    }
}

struct Mismatch {
    file: String,
    what: String,
    real: String,
    ours: String,
    ours_first: String,
    real_first: String,
}

#[test]
fn verdicts_match_real_keepalived() {
    const NAME: &str = "config_verdicts";
    if !is_root() {
        skip_or_fail(NAME, "needs root (network namespaces)");
        return;
    }
    let Some(real) = real_keepalived() else {
        skip_or_fail(
            NAME,
            "/usr/sbin/keepalived missing (apt-get install keepalived)",
        );
        return;
    };
    let samples = match samples() {
        Ok(s) => s,
        Err(e) => {
            skip_or_fail(NAME, &e);
            return;
        }
    };
    // `ip netns` must work here before anything is judged.
    if let Err(e) = NetNs::new(&[]) {
        skip_or_fail(NAME, &format!("ip netns does not work: {e}"));
        return;
    }
    let ours = ours();
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let (mut n_samples, mut n_mutants, mut n_mutants_real_ok) = (0, 0, 0);

    for sample in &samples {
        let text = std::fs::read_to_string(sample)
            .unwrap_or_else(|e| panic!("read {}: {e}", sample.display()));
        if uses_228_keyword(&text) {
            // keepalived 2.2.7 rejects these keywords; we accept them as 2.2.8 does
            eprintln!(
                "config verdicts: {} left out (keepalived 2.2.8 keyword)",
                sample.display()
            );
            continue;
        }
        let base = sample
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ns = NetNs::new(&interfaces_named(&text))
            .unwrap_or_else(|e| panic!("namespace for {base}: {e}"));
        let judge = |file: &Path| -> (Run, Run) {
            let arg = file.as_os_str();
            let r = run_limited(ns.command(&real).arg("-t").arg("-f").arg(arg), LIMIT);
            let o = run_limited(ns.command(&ours).arg("-t").arg("-f").arg(arg), LIMIT);
            (r, o)
        };

        // the sample itself, from its own place (relative includes keep working)
        let (r, o) = judge(sample);
        n_samples += 1;
        if (r.code == Some(0)) != (o.code == Some(0)) {
            mismatches.push(Mismatch {
                file: base.clone(),
                what: String::from("sample"),
                real: code(&r),
                ours: code(&o),
                ours_first: first_diagnostic(&o),
                real_first: first_diagnostic(&r),
            });
        }

        // its mutants, written next to each other in a private directory
        for (k, (what, mtext)) in mutants(&base, &text).into_iter().enumerate() {
            if uses_228_keyword(&mtext) {
                continue;
            }
            let path = work.path().join(format!("{base}.mut{k:02}"));
            std::fs::write(&path, &mtext)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            let (r, o) = judge(&path);
            n_mutants += 1;
            if r.code == Some(0) {
                n_mutants_real_ok += 1;
                if o.code != Some(0) {
                    mismatches.push(Mismatch {
                        file: format!("{base}.mut{k:02}"),
                        what,
                        real: code(&r),
                        ours: code(&o),
                        ours_first: first_diagnostic(&o),
                        real_first: first_diagnostic(&r),
                    });
                }
            }
        }
    }

    eprintln!(
        "config verdicts: {n_samples} samples, {n_mutants} mutants ({n_mutants_real_ok} accepted by keepalived), {} mismatches",
        mismatches.len()
    );
    if mismatches.is_empty() {
        return;
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<44} {:>4} {:>4}  FIRST DIAGNOSTICS (ours | real)",
        "FILE (change)", "REAL", "OURS"
    );
    for m in &mismatches {
        let _ = writeln!(
            table,
            "{:<44} {:>4} {:>4}  ours: {}",
            m.file, m.real, m.ours, m.ours_first
        );
        let _ = writeln!(
            table,
            "{:<44} {:>4} {:>4}  real: {}",
            format!("  ({})", m.what)
                .chars()
                .take(44)
                .collect::<String>(),
            "",
            "",
            m.real_first
        );
    }
    panic!(
        "{} verdict mismatches with keepalived 2.2.7 -t (samples must agree; mutants must \
         not be rejected when keepalived accepts them):\n{table}",
        mismatches.len()
    );
}

/// The keywords keepalived 2.2.8 added: keepalived 2.2.7 says `Unknown keyword` (exit 5),
/// ours accepts each (exit 0) with a note naming the version.
#[test]
fn keywords_of_228_differ_from_227() {
    const NAME: &str = "keywords_of_228_differ_from_227";
    if !is_root() {
        skip_or_fail(NAME, "needs root (network namespaces)");
        return;
    }
    let Some(real) = real_keepalived() else {
        skip_or_fail(
            NAME,
            "/usr/sbin/keepalived missing (apt-get install keepalived)",
        );
        return;
    };
    let inst = |body: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             version 3\n  priority 100\n{body}}}\n"
        )
    };
    let vip = "  virtual_ipaddress {\n    192.0.2.100/32\n  }\n";
    let ssl = |checker: &str, url: &str| {
        format!(
            "virtual_server 192.0.2.1 443 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 192.0.2.2 443 {{\n    \
             SSL_GET {{\n{checker}      url {{\n        path /\n{url}      }}\n    }}\n  }}\n}}\n"
        )
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "v3_checksum_as_v2",
            inst(&format!("  v3_checksum_as_v2\n{vip}")),
        ),
        (
            "v3_checksum_as_v2",
            format!("global_defs {{\n  v3_checksum_as_v2\n}}\n{}", inst(vip)),
        ),
        ("no_virtual_ipaddress", inst("  no_virtual_ipaddress\n")),
        (
            "timer_expired_backup",
            inst(&format!("  nopreempt\n  timer_expired_backup 200\n{vip}")),
        ),
        ("tls_compliant", ssl("      tls_compliant\n", "")),
        ("tls_compliant", ssl("", "        tls_compliant\n")),
        (
            "json_version",
            format!("global_defs {{\n  json_version 2\n}}\n{}", inst(vip)),
        ),
    ];
    let covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
    assert!(KA_228_KEYWORDS.iter().all(|k| covered.contains(k)));
    let ns = NetNs::new(&["eth0".to_string()]).unwrap_or_else(|e| panic!("namespace: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let ours = ours();
    for (k, (kw, text)) in cases.iter().enumerate() {
        assert!(uses_228_keyword(text));
        let path = dir.path().join(format!("k{k}.conf"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write: {e}"));
        let r = run_limited(ns.command(&real).arg("-t").arg("-f").arg(&path), LIMIT);
        let o = run_limited(ns.command(&ours).arg("-t").arg("-f").arg(&path), LIMIT);
        assert_eq!(r.code, Some(5), "{kw}: keepalived 2.2.7 -t: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("Unknown keyword '{kw}'")),
            "{kw}: {}",
            r.stderr
        );
        assert_eq!(o.code, Some(0), "{kw}: ours -t: {}\n{text}", o.stderr);
        assert!(
            o.stderr.contains(&format!(
                "'{kw}' was added in keepalived 2.2.8; keepalived 2.2.7 rejects it"
            )),
            "{kw}: {}",
            o.stderr
        );
    }
}

#[test]
fn mutants_are_deterministic_and_distinct() {
    let text = "global_defs {\n  router_id x\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\n";
    let a = mutants("t", text);
    let b = mutants("t", text);
    assert_eq!(a.len(), MUTANTS_PER_SAMPLE);
    assert_eq!(a, b);
    assert!(a.iter().all(|(_, m)| m != text));
}

#[test]
fn interface_names_found() {
    let text = "vrrp_instance A {\n interface eth0.1\n track_interface {\n  bond0\n  eth9 weight 5\n }\n virtual_ipaddress {\n  192.0.2.1/24 dev ens3\n }\n}\n";
    let names = interfaces_named(text);
    for n in [
        "eth0", "eth1", "eth2", "eth3", "eth0.1", "bond0", "eth9", "ens3",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }
}

/// One-line `global_defs` cases judged by both: the same exit code, and the message each
/// must print (keepalived's `(Line N) MSG`; ours `file:line:col: error: MSG`).
fn global_cases(name: &str, cases: &[(&str, i32, Option<&str>)]) {
    if !is_root() {
        skip_or_fail(name, "needs root (network namespaces)");
        return;
    }
    let Some(real) = real_keepalived() else {
        skip_or_fail(
            name,
            "/usr/sbin/keepalived missing (apt-get install keepalived)",
        );
        return;
    };
    let ns = NetNs::new(&[]).unwrap_or_else(|e| panic!("ip netns does not work: {e}"));
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut bad = Vec::new();
    for (k, (line, want, msg)) in cases.iter().enumerate() {
        let path = work.path().join(format!("case{k}.conf"));
        std::fs::write(&path, format!("global_defs {{\n  {line}\n}}\n"))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        for (who, bin) in [("real", &real), ("ours", &ours())] {
            let r = run_limited(ns.command(bin).arg("-t").arg("-f").arg(&path), LIMIT);
            let said = msg.map_or(true, |m| r.stderr.contains(m));
            if r.code != Some(*want) || !said {
                bad.push(format!(
                    "{who}: `{line}` exit {} (want {want}), want message {msg:?}:\n{}",
                    code(&r),
                    r.stderr
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn smtp_server_verdicts() {
    global_cases(
        "smtp_server_verdicts",
        &[
            ("smtp_server 192.0.2.1", 0, None),
            ("smtp_server 2001:db8::1 587", 0, None),
            ("smtp_server localhost 587", 0, None),
            (
                "smtp_server 192.0.2.1/33",
                5,
                Some("Invalid smtp server 192.0.2.1/33 25"),
            ),
            (
                "smtp_server 300.1.1.1",
                5,
                Some("Invalid smtp server 300.1.1.1 25"),
            ),
            (
                "smtp_server [192.0.2.1]",
                5,
                Some("Invalid smtp server [192.0.2.1] 25"),
            ),
            (
                "smtp_server 192.0.2.1 0",
                5,
                Some("Invalid smtp server 192.0.2.1 0"),
            ),
        ],
    );
}

#[test]
fn start_stop_script_verdicts() {
    global_cases(
        "start_stop_script_verdicts",
        &[
            // A script that will run without script security.
            (
                "startup_script /bin/true",
                6,
                Some("SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled."),
            ),
            // A missing one is dropped without a word and runs nothing.
            ("shutdown_script /nonexistent/stop.sh", 0, None),
            // Script security set after the script: it runs, and no violation.
            ("startup_script /bin/true\n  enable_script_security", 0, None),
            ("startup_script_timeout 0", 5, None),
        ],
    );
}
