//! The command line of the built `keepalived` binary, against keepalived 2.2.7's behaviour
//! (keepalived-spec.md §1, §3.7, §9).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{ours, run_limited, Run};

fn ka(args: &[&str]) -> Run {
    ka_in(args, Path::new("/"))
}

fn ka_in(args: &[&str], cwd: &Path) -> Run {
    let r = run_limited(
        Command::new(ours()).args(args).current_dir(cwd),
        Duration::from_secs(30),
    );
    assert!(!r.timed_out, "keepalived {args:?} timed out");
    r
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

const VALID: &str = "global_defs {\n    router_id test\n}\n";

#[test]
fn unknown_options() {
    let r = ka(&["--foo"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Unknown option --foo\n");
    let r = ka(&["-z"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Unknown option -z\n");
    // every bad option is reported before exiting
    let r = ka(&["-z", "--bar"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Unknown option -z\nUnknown option --bar\n");
    // options keepalived 2.2.7 (Debian) was not built with
    assert_eq!(ka(&["--perf"]).code, Some(1));
    assert_eq!(ka(&["-L"]).code, Some(1));
    // ambiguous abbreviation
    let r = ka(&["--dont"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "Unknown option --dont\n")
    );
}

#[test]
fn missing_parameters() {
    let r = ka(&["-f"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Missing parameter for option -f\n");
    let r = ka(&["-t", "-S"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "Missing parameter for option -S\n")
    );
    let r = ka(&["--use-file="]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "Missing parameter for option --use-file\n")
    );
    for opt in [
        "-p",
        "-r",
        "-c",
        "-b",
        "-i",
        "-s",
        "-u",
        "-A",
        "--signum",
        "--config-fd",
    ] {
        let r = ka(&[opt]);
        assert_eq!(r.code, Some(1), "{opt}");
        assert!(
            r.stderr.starts_with("Missing parameter for option "),
            "{opt}: {}",
            r.stderr
        );
    }
}

#[test]
fn signum_values() {
    let cases = [
        ("STOP", 15),
        ("RELOAD", 1),
        ("DATA", 10),
        ("STATS", 12),
        ("STATS_CLEAR", libc::SIGRTMAX() - 1),
        ("JSON", libc::SIGRTMIN() + 2),
    ];
    for (name, num) in cases {
        let r = ka(&[&format!("--signum={name}")]);
        assert_eq!(r.code, Some(0), "{name}");
        assert_eq!(r.stdout, format!("{num}\n"), "{name}");
        // abbreviated long option, detached argument
        let r = ka(&["--sig", name]);
        assert_eq!(r.stdout, format!("{num}\n"), "{name}");
    }
    let r = ka(&["--signum=FOO"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Unknown sigfunc FOO\n");
    assert!(r.stdout.is_empty());
    // acts on the spot: later bad options are never seen
    let r = ka(&["--signum=STOP", "--foo"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(0), "15\n"));
}

#[test]
fn version_banner() {
    for opt in ["-v", "--version", "--ver"] {
        let r = ka(&[opt]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.is_empty());
        let lines: Vec<&str> = r.stderr.lines().collect();
        let first = lines.first().copied().unwrap_or_default();
        assert!(first.starts_with("Keepalived v2.2.7 ("), "{first}");
        assert!(first.contains("keepalived-rs"), "{first}");
        assert!(r
            .stderr
            .contains("\nCopyright(C) 2001-2022 Alexandre Cassen"));
        assert!(r.stderr.contains("\nRunning on Linux "));
        assert!(r.stderr.contains("\nDistro: "));
        assert!(r.stderr.contains("\nConfig options:  "));
    }
    // -v then -h: the first one wins
    assert!(ka(&["-vh"]).stderr.starts_with("Keepalived v2.2.7"));
}

#[test]
fn help_lists_every_option() {
    for opt in ["-h", "--help"] {
        let r = ka(&[opt]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.is_empty());
        assert!(r.stderr.starts_with("Usage: keepalived [OPTION...]\n"));
        for spec in keepalived::cli::option_specs() {
            if let Some(l) = spec.long {
                if l == "config-fd" {
                    assert!(!r.stderr.contains("--config-fd"), "hidden option shown");
                    continue;
                }
                assert!(
                    r.stderr.contains(&format!("--{l}")),
                    "--{l} missing from help"
                );
            }
            if let Some(c) = spec.short {
                assert!(
                    r.stderr.contains(&format!("-{c}, ")),
                    "-{c} missing from help"
                );
            }
        }
    }
}

#[test]
fn unexpected_arguments_are_ignored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = write(dir.path(), "k.conf", VALID);
    let fs = f.to_string_lossy();
    let r = ka(&["-t", "-f", &fs, "x", "y"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "Unexpected argument(s): x y \n");
    // a detached word after an optional-argument option is not its argument
    let r = ka(&["-f", &fs, "-t", "log"]);
    assert_eq!(r.stdout, "Unexpected argument(s): log \n");
    assert!(!dir.path().join("log").exists());
}

#[test]
fn config_test_valid_and_missing_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "k.conf", VALID);
    // relative -f is resolved against the cwd at start
    let r = ka_in(&["-t", "-f", "k.conf"], dir.path());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = ka_in(&["--config-test", "--use-file=k.conf"], dir.path());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // a missing file: keepalived exits 0 silently; we say so and fail on purpose
    let r = ka_in(&["-t", "-f", "missing.conf"], dir.path());
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("missing.conf"), "{}", r.stderr);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn config_test_log_file_and_dump() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "k.conf", VALID);
    // -tFILE appends diagnostics to FILE
    let r = ka_in(&["-tlog.txt", "-f", "missing.conf"], dir.path());
    assert_ne!(r.code, Some(0));
    let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap_or_default();
    assert!(log.contains("missing.conf"), "log: {log:?}");
    // -d with -t prints the model as JSON on stdout
    let r = ka_in(&["-d", "-t", "-f", "k.conf"], dir.path());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON: {e}: {}", r.stdout));
    assert!(v.get("global").is_some(), "{v}");
}

#[test]
fn config_test_invalid_file() {
    // `priority` without its value: keepalived -t exits 2 (spec §3.7). Needs the config
    // parser and model (written in parallel): fails until they are merged.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = "vrrp_instance VI_1 {\n    virtual_router_id 51\n    priority\n}\n";
    let f = write(dir.path(), "bad.conf", text);
    let r = ka(&["-t", "-f", &f.to_string_lossy()]);
    assert_eq!(r.code, Some(2), "stderr: {}", r.stderr);
    let loc = format!("{}:3:", f.display());
    assert!(r.stderr.contains(&loc), "no `{loc}` in: {}", r.stderr);
    assert!(r.stderr.contains("error:"), "{}", r.stderr);
}

#[test]
fn genhash_mode() {
    let r = ka(&["-T", "-h"]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .stderr
        .starts_with("Usage: keepalived --genhash COMMAND [OPTIONS]"));
    let r = ka(&["-n", "-T", "-h"]);
    assert!(r
        .stderr
        .starts_with("Warning -- `-T` not used as first option, previous options ignored\n"));
    let r = ka(&["--genhash", "-s", "192.0.2.1", "-p", "80", "-u", "/"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("genhash is not yet available"),
        "{}",
        r.stderr
    );
    let r = ka(&["-T", "-s", "x", "-p", "80", "-u", "/"]);
    assert!(r.stderr.starts_with("server should be an IP, not x\n"));

    // the genhash binary, and keepalived called by the name genhash
    let gh = std::path::PathBuf::from(env!("CARGO_BIN_EXE_genhash"));
    let r = run_limited(Command::new(&gh).arg("-h"), Duration::from_secs(30));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with("Usage: genhash COMMAND [OPTIONS]"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let link = dir.path().join("genhash");
    std::os::unix::fs::symlink(ours(), &link).unwrap_or_else(|e| panic!("{e}"));
    let r = run_limited(
        Command::new(&link).args(["-s", "192.0.2.1", "-p", "80", "-u", "/index.html"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("genhash is not yet available"),
        "{}",
        r.stderr
    );
}
