//! The pure parts of the checker service: kernel services of a configuration, the reload
//! plan, and the table of what we installed over a fake kernel.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::check::probe::CheckResult;
use crate::config::{load_str, LoadOptions};
use crate::ipvs::{Fwd, ServiceKey};

fn check(text: &str) -> CheckConfig {
    load_str(text, Path::new("/t.conf"), &LoadOptions::default())
        .config
        .check
}

/// Records calls; `fail` makes the next call of that name fail with an errno.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    fail: Option<(&'static str, i32)>,
}

impl Fake {
    fn call(
        &mut self,
        what: &'static str,
        s: &IpvsService,
        d: Option<&Dest>,
    ) -> Result<(), IpvsError> {
        let key = match s.key {
            ServiceKey::Addr { addr, port, .. } => format!("{addr}:{port}"),
            ServiceKey::Fwmark(m) => format!("fwm{m}"),
        };
        let line = match d {
            Some(d) => format!("{what} {key} {}:{} w{}", d.addr, d.port, d.weight),
            None => format!("{what} {key} {}", s.sched_name),
        };
        self.calls.push(line);
        match self.fail.take() {
            Some((w, errno)) if w == what => Err(IpvsError::Cmd {
                name: "X",
                code: 0,
                errno,
                msg: "fake".into(),
            }),
            f => {
                self.fail = f;
                Ok(())
            }
        }
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.calls)
    }
}

impl Kernel for Fake {
    fn add_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.call("add", s, None)
    }
    fn edit_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.call("edit", s, None)
    }
    fn del_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.call("del", s, None)
    }
    fn add_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        self.call("add_dest", s, Some(d))
    }
    fn edit_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        self.call("edit_dest", s, Some(d))
    }
    fn del_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        self.call("del_dest", s, Some(d))
    }
}

const GROUP: &str = r#"
virtual_server_group G {
    192.0.2.10-12 80
    192.0.2.20 8080
    fwmark 7
}
virtual_server group G {
    lb_algo rr
    protocol TCP
    persistence_timeout 30
    real_server 198.51.100.1 80 { TCP_CHECK { } }
}
virtual_server 192.0.2.1 443 {
    protocol UDP
    ops
    real_server 198.51.100.2 443 { weight 3 }
}
"#;

fn want(c: &CheckConfig) -> Vec<(IpvsService, String, Option<model::Protocol>)> {
    c.virtual_servers
        .iter()
        .flat_map(|v| {
            services_of(v, c)
                .into_iter()
                .map(|s| (s, v.display().to_string(), v.protocol))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn nftables_ipvs_group_becomes_one_fwmark_service_per_family() {
    let c = check(GROUP);
    let vs = &c.virtual_servers[0];
    let svcs = services_with(vs, &c, Some(1000));
    let keys: Vec<String> = svcs
        .iter()
        .map(|s| match s.key {
            ServiceKey::Addr { addr, port, .. } => format!("{addr}:{port}"),
            ServiceKey::Fwmark(m) => format!("fwm{m} {:?}", s.af),
        })
        .collect();
    // the address lines share fwmark 1000; the group's own fwmark stays a service
    assert_eq!(keys, ["fwm1000 Inet", "fwm7 Inet"]);
    assert!(svcs
        .iter()
        .all(|s| s.sched_name == "rr" && s.flags & IP_VS_SVC_F_PERSISTENT != 0 && s.timeout == 30));
}

#[test]
fn group_entries_become_one_service_each() {
    let c = check(GROUP);
    let vs = &c.virtual_servers[0];
    let svcs = services_of(vs, &c);
    let keys: Vec<String> = svcs
        .iter()
        .map(|s| match s.key {
            ServiceKey::Addr { addr, port, .. } => format!("{addr}:{port}"),
            ServiceKey::Fwmark(m) => format!("fwm{m}"),
        })
        .collect();
    assert_eq!(
        keys,
        [
            "192.0.2.10:80",
            "192.0.2.11:80",
            "192.0.2.12:80",
            "192.0.2.20:8080",
            "fwm7"
        ]
    );
    assert!(svcs
        .iter()
        .all(|s| s.sched_name == "rr" && s.flags & IP_VS_SVC_F_PERSISTENT != 0 && s.timeout == 30));
    let udp = services_of(&c.virtual_servers[1], &c);
    assert_eq!(udp.len(), 1);
    assert_eq!(udp[0].flags, IP_VS_SVC_F_ONEPACKET);
    assert!(matches!(
        udp[0].key,
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            port: 443,
            ..
        }
    ));
    assert_eq!(udp[0].sched_name, "wlc");
}

#[test]
fn huge_ranges_are_bounded() {
    let v = range(
        "10.0.0.0".parse().unwrap(),
        "10.255.255.255".parse().unwrap(),
    );
    assert_eq!(v.len() as u128, MAX_RANGE);
    let v = range(
        "2001:db8::1".parse().unwrap(),
        "2001:db8::3".parse().unwrap(),
    );
    assert_eq!(v.len(), 3);
    let v = range("10.0.0.5".parse().unwrap(), "10.0.0.1".parse().unwrap());
    assert_eq!(v.len(), 1);
}

#[test]
fn table_adds_edits_and_releases_only_its_own() {
    let c = check(GROUP);
    let mut k = Fake::default();
    let mut t = Table::default();
    let mut log = Vec::new();
    t.sync_services(&mut k, &want(&c), &mut log);
    assert_eq!(k.take().len(), 6);
    // the same services again: nothing happens
    t.sync_services(&mut k, &want(&c), &mut log);
    assert!(k.take().is_empty());
    let s = services_of(&c.virtual_servers[1], &c).remove(0);
    let d = Dest::new("198.51.100.2".parse().unwrap(), 443, Fwd::Masq, 3);
    t.put_dest(&mut k, &s, &d, &mut log);
    t.put_dest(&mut k, &s, &d, &mut log);
    assert_eq!(k.take(), ["add_dest 192.0.2.1:443 198.51.100.2:443 w3"]);
    let d0 = Dest {
        weight: 0,
        ..d.clone()
    };
    t.put_dest(&mut k, &s, &d0, &mut log);
    assert_eq!(k.take(), ["edit_dest 192.0.2.1:443 198.51.100.2:443 w0"]);
    // EEXIST on add is adopted (edited), ENOENT on edit falls back to add
    let d2 = Dest::new("198.51.100.9".parse().unwrap(), 443, Fwd::Masq, 1);
    k.fail = Some(("add_dest", libc::EEXIST));
    t.put_dest(&mut k, &s, &d2, &mut log);
    assert_eq!(
        k.take(),
        [
            "add_dest 192.0.2.1:443 198.51.100.9:443 w1",
            "edit_dest 192.0.2.1:443 198.51.100.9:443 w1"
        ]
    );
    k.fail = Some(("edit_dest", libc::ENOENT));
    t.put_dest(
        &mut k,
        &s,
        &Dest {
            weight: 2,
            ..d2.clone()
        },
        &mut log,
    );
    assert_eq!(
        k.take(),
        [
            "edit_dest 192.0.2.1:443 198.51.100.9:443 w2",
            "add_dest 192.0.2.1:443 198.51.100.9:443 w2"
        ]
    );
    t.prune_dests(&mut k, &s, &[(d.addr, d.port)], &mut log);
    assert_eq!(k.take(), ["del_dest 192.0.2.1:443 198.51.100.9:443 w2"]);
    // the `no longer exist` line is Manager::reload_removals'
    assert!(log.is_empty(), "{log:?}");
    // a destination we never added is not deleted
    t.del_dest(&mut k, &s, &d2, &mut log);
    assert!(k.take().is_empty());
    log.clear();
    t.release(&mut k, false, &mut log);
    let calls = k.take();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert!(calls.contains(&"del_dest 192.0.2.1:443 198.51.100.2:443 w0".to_owned()));
    // the `Shutting down service` lines are Manager::stop's
    assert!(log.is_empty(), "{log:?}");
    assert_eq!(t.entries().count(), 0);
}

#[test]
fn sync_removes_and_edits_changed_services() {
    let c = check(GROUP);
    let mut k = Fake::default();
    let mut t = Table::default();
    let mut log = Vec::new();
    t.sync_services(&mut k, &want(&c), &mut log);
    k.take();
    let c2 = check(
        &GROUP
            .replace("192.0.2.10-12 80", "192.0.2.10-11 80")
            .replace("lb_algo rr", "lb_algo wrr"),
    );
    t.sync_services(&mut k, &want(&c2), &mut log);
    let calls = k.take();
    assert_eq!(calls[0], "del 192.0.2.12:80 rr");
    assert_eq!(calls.iter().filter(|c| c.starts_with("edit ")).count(), 4);
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert_eq!(log, ["Removing Virtual Server [G]:0"]);
}

const RELOAD: &str = r#"
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 5
    real_server 198.51.100.1 80 { weight 2
        TCP_CHECK { connect_timeout 1 }
    }
    real_server 198.51.100.2 80 {
        TCP_CHECK { connect_timeout 1 }
    }
}
virtual_server 192.0.2.2 80 {
    protocol TCP
    real_server 198.51.100.3 80 { TCP_CHECK { } }
}
"#;

#[test]
fn reload_plan_keeps_what_did_not_change() {
    let old = check(RELOAD);
    let new = check(
        &RELOAD
            .replace("virtual_server 192.0.2.2 80", "virtual_server 192.0.2.3 80")
            .replace("weight 2", "weight 5")
            .replace(
                "real_server 198.51.100.2 80 {\n        TCP_CHECK { connect_timeout 1 }",
                "real_server 198.51.100.2 80 {\n        TCP_CHECK { connect_timeout 2 }",
            ),
    );
    let p = plan_reload(&old, &new);
    assert_eq!(p.vs, [(0, 0)]);
    // the weight change keeps the state; the checker change does not
    assert_eq!(p.rs, [((0, 0), (0, 0))]);
    assert_eq!(plan_reload(&old, &old).rs.len(), 3);
}

fn ops(m: &mut Manager) -> Vec<String> {
    std::iter::from_fn(|| m.poll_output())
        .filter_map(|o| match o {
            Output::Ipvs(IpvsOp::AddDest { vs, dest }) => {
                Some(format!("add {vs} {} w{}", dest.addr, dest.weight))
            }
            Output::Ipvs(IpvsOp::SetDest { vs, dest }) => {
                Some(format!("set {vs} {} w{}", dest.addr, dest.weight))
            }
            Output::Ipvs(IpvsOp::DelDest { vs, dest }) => Some(format!("del {vs} {}", dest.addr)),
            Output::Log(l) => Some(l),
            _ => None,
        })
        .collect()
}

#[test]
fn adopted_real_servers_keep_their_state() {
    let old_cfg = check(RELOAD);
    let t0 = Instant(Duration::ZERO);
    let mut old = Manager::new(Rc::new(old_cfg.clone()), Globals::default(), 1);
    old.start(t0);
    ops(&mut old);
    let id = CheckerId {
        vs: 0,
        rs: 1,
        checker: 0,
    };
    for _ in 0..5 {
        old.handle_result(t0, id, &CheckResult::down("timeout"));
    }
    assert!(!old.is_alive(0, 1));
    ops(&mut old);
    let new_cfg = check(&RELOAD.replace("weight 2", "weight 5"));
    let mut m = Manager::new(Rc::new(new_cfg.clone()), Globals::default(), 1);
    let plan = plan_reload(&old_cfg, &new_cfg);
    for &(v, o) in &plan.vs {
        m.adopt_vs(&old, v, o);
    }
    for &(n, o) in &plan.rs {
        m.adopt(&old, n, o);
    }
    m.start(Instant(Duration::from_secs(1)));
    assert!(!m.is_alive(0, 1), "a failed server stays failed");
    assert_eq!(m.effective_weight(0, 0), 5);
    let out = ops(&mut m);
    // the table skips unchanged destinations; the new weight becomes an edit
    assert!(out.contains(&"add 0 198.51.100.1 w5".to_owned()), "{out:?}");
    assert!(!out.iter().any(|l| l.contains("198.51.100.2")), "{out:?}");
    assert!(!out
        .iter()
        .any(|l| l.starts_with("Removing") || l.starts_with("Adding")));
    // a checker in flight at the reload is scheduled again
    assert!(m.poll_timeout().is_some());
}

#[test]
fn nftables_ipvs_tunnelled_mixed_group_has_a_service_in_each_family() {
    // keepalived 2.2.7 (observed): `FWM 1001` and `FWM 1001 IPv6`, both with the real server
    let c = check(
        "
virtual_server_group G2 {
    2001:db8::10-12 53
    192.0.2.30/31 53
}
virtual_server group G2 {
    lb_kind TUN
    protocol UDP
    real_server 2001:db8:1::2 53 {
    }
}
",
    );
    let svcs = services_with(&c.virtual_servers[0], &c, Some(1001));
    let got: Vec<String> = svcs
        .iter()
        .map(|s| format!("{:?} {:?}", s.key, s.af))
        .collect();
    assert_eq!(got, ["Fwmark(1001) Inet", "Fwmark(1001) Inet6"]);
}

/// keepalived 2.2.7's checker at start and reload (observed in the IPVS VM): a MISC_CHECK
/// without script security gives both lines; with it (and a script_user) none; no script,
/// no line.
#[test]
fn script_security_lines_as_keepalived() {
    let vs = |glob: &str, rs: &str| {
        format!(
            "global_defs {{\n{glob}\n}}\nvirtual_server 192.0.2.1 80 {{\n  protocol TCP\n  real_server 198.51.100.1 80 {{\n{rs}\n  }}\n}}\n"
        )
    };
    let misc = "MISC_CHECK {\n misc_path /bin/true\n}";
    let load = |t: &str| load_str(t, Path::new("/t.conf"), &LoadOptions::default()).config;
    assert_eq!(
        script_security_lines(&load(&vs("", misc)), true),
        [
            (false, "Script user 'keepalived_script' does not exist".to_owned()),
            (
                true,
                "SECURITY VIOLATION - check scripts are being executed but script_security not enabled."
                    .to_owned()
            ),
        ]
    );
    let secure = "enable_script_security\nscript_user root";
    assert!(script_security_lines(&load(&vs(secure, misc)), false).is_empty());
    assert!(script_security_lines(&load(&vs("", "TCP_CHECK {\n}")), true).is_empty());
    // a notify script counts too
    assert_eq!(
        script_security_lines(&load(&vs("", "notify_up /bin/up")), false).len(),
        1
    );
}

/// keepalived 2.2.7 names a MISC_CHECK by its program's real path (observed:
/// `/bin/../bin/true` logs as `/usr/bin/true` where /bin links to usr/bin).
#[test]
fn misc_programs_are_shown_by_their_real_path() {
    use crate::config::model::check::checker::CheckerKind;
    let mut c = check(
        "virtual_server 192.0.2.1 80 {\n  protocol TCP\n  real_server 198.51.100.1 80 {\n    MISC_CHECK {\n      misc_path \"/bin/../bin/true x\"\n    }\n  }\n  real_server 198.51.100.2 80 {\n    MISC_CHECK {\n      misc_path /nonexistent/x\n    }\n  }\n}\n",
    );
    resolve_misc(&mut c, &GlobalDefs::default());
    let shown: Vec<Option<String>> = c.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| match &r.checkers[0].kind {
            CheckerKind::Misc(m) => m.shown.clone(),
            _ => None,
        })
        .collect();
    let real = std::fs::canonicalize("/bin/true").expect("/bin/true");
    assert_eq!(shown, [Some(real.display().to_string()), None]);
}

/// The IPVS service and destination messages of a configuration carry each keyword that
/// shapes them, as keepalived's ipvs_set_srule / ipvs_set_drule fill them (the
/// configuration passes keepalived 2.2.7's `-t`).
#[test]
fn ipvs_messages_carry_the_service_and_destination_keywords() {
    let c = check(
        r#"
virtual_server fwmark 5 {
    ip_family inet6
    lvs_sched mh
    lvs_method TUN
    mh-port
    mh-fallback
    persistence_granularity 64
    persistence_engine sip
    real_server 198.51.100.1 0 {
        lvs_method TUN
        uthreshold 100
        lthreshold 10
    }
}
virtual_server 192.0.2.1 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    flag-1
    flag-2
    flag-3
    persistence_timeout 30
    persistence_granularity 255.255.255.0
    real_server 198.51.100.2 80 {
        lvs_method DR
    }
    real_server 198.51.100.3 80 {
    }
}
virtual_server 192.0.2.2 80 {
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    persistence_engine sip
    real_server 198.51.100.4 80 {
    }
}
virtual_server 192.0.2.3 80 {
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    alpha
    sorry_server 198.51.100.9 80
    sorry_server_lvs_method DR
    real_server 198.51.100.5 80 {
        TCP_CHECK {
        }
    }
}
"#,
    );
    let svc = |i: usize| services_of(&c.virtual_servers[i], &c).remove(0);
    // ip_family: an IPv6 fwmark service although its only real server is IPv4 (tunnelled)
    let fwm = svc(0);
    assert_eq!((fwm.af, fwm.key), (Family::Inet6, ServiceKey::Fwmark(5)));
    assert_eq!(fwm.sched_name, "mh");
    assert_eq!(
        fwm.flags,
        IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2
    );
    // the granularity implies keepalived's default persistence of 360 s
    assert_eq!((fwm.timeout, fwm.netmask), (360, 64));
    assert_eq!(fwm.pe_name.as_deref(), Some("sip"));
    let vs = svc(1);
    assert_eq!(vs.sched_name, "rr");
    assert_eq!(
        vs.flags,
        IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3
    );
    assert_eq!((vs.timeout, vs.netmask), (30, 0xffff_ff00));
    // an engine without persistence is not sent (ipvs_set_srule)
    assert_eq!((svc(2).flags, svc(2).pe_name), (0, None));
    let mut m = Manager::new(Rc::new(c.clone()), Globals::default(), 1);
    m.start(Instant(Duration::ZERO));
    let dests: Vec<(usize, Dest)> = std::iter::from_fn(|| m.poll_output())
        .filter_map(|o| match o {
            Output::Ipvs(IpvsOp::AddDest { vs, dest }) => Some((vs, dest)),
            _ => None,
        })
        .collect();
    let tun = Fwd::Tunnel {
        tun_type: crate::ipvs::TunnelType::Ipip,
        port: 0,
        flags: 0,
    };
    let d = |vs: usize, ip: &str, port: u16, fwd: Fwd, u: u32, l: u32| {
        let mut d = Dest::new(ip.parse().unwrap(), port, fwd, 1);
        (d.u_thresh, d.l_thresh) = (u, l);
        (vs, d)
    };
    assert_eq!(
        dests,
        [
            d(0, "198.51.100.1", 0, tun, 100, 10),
            // the real server's method overrides the virtual server's
            d(1, "198.51.100.2", 80, Fwd::Route, 0, 0),
            d(1, "198.51.100.3", 80, Fwd::Masq, 0, 0),
            d(2, "198.51.100.4", 80, Fwd::Masq, 0, 0),
            // alpha: no real server yet, so the sorry server, by its own method
            d(3, "198.51.100.9", 80, Fwd::Route, 0, 0),
        ]
    );
}

/// `smtp_alert_checker` decides the checker's mails over `smtp_alert` (keepalived's
/// check_data.c: a real or virtual server without its own `smtp_alert` takes it first).
#[test]
fn smtp_alert_checker_decides_the_checker_mails() {
    let mails = |glob: &str| -> Vec<String> {
        let text = format!(
            "global_defs {{\n{glob}\n}}\nvirtual_server 192.0.2.1 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 198.51.100.1 80 {{\n    TCP_CHECK {{\n      retry 0\n    }}\n  }}\n}}\n"
        );
        let c = load_str(&text, Path::new("/t.conf"), &LoadOptions::default()).config;
        let mut m = Manager::new(Rc::new(c.check), globals_of(&c.global), 1);
        m.start(Instant(Duration::ZERO));
        let id = CheckerId {
            vs: 0,
            rs: 0,
            checker: 0,
        };
        m.handle_result(Instant(Duration::ZERO), id, &CheckResult::down("failed"));
        std::iter::from_fn(|| m.poll_output())
            .filter_map(|o| match o {
                Output::Mail { body, .. } => Some(body),
                _ => None,
            })
            .collect()
    };
    assert!(mails("smtp_alert off").is_empty());
    assert!(mails("smtp_alert\nsmtp_alert_checker off").is_empty());
    // the real server's mail, and the virtual server's at start and for its lost quorum
    let on = mails("smtp_alert off\nsmtp_alert_checker");
    assert!(
        on.contains(&"=> TCP CHECK failed on service <=".to_owned()),
        "{on:?}"
    );
    assert_eq!(on.len(), 3, "{on:?}");
}

/// `nftables_ipvs_start_fwmark`: the first mark of the `nftables_ipvs` fwmark services,
/// then one more per group and protocol.
#[test]
fn nftables_ipvs_start_fwmark_numbers_the_group_services() {
    let text = format!(
        "global_defs {{\n  nftables_ipvs\n  nftables_ipvs_start_fwmark 2000\n}}\n{GROUP}\nvirtual_server group G {{\n  lb_algo rr\n  protocol UDP\n  real_server 198.51.100.1 80 {{\n  }}\n}}\n"
    );
    let c = load_str(&text, Path::new("/t.conf"), &LoadOptions::default()).config;
    let (_, start) = nft_cfg_of(&c.global).expect("nftables_ipvs");
    let mut marks = AutoMarks::default();
    marks.assign(&c.check, true, start);
    let keys: Vec<ServiceKey> = c
        .check
        .virtual_servers
        .iter()
        .flat_map(|v| services_with(v, &c.check, marks.of(v)))
        .map(|s| s.key)
        .collect();
    assert_eq!(
        keys[..2],
        [ServiceKey::Fwmark(2000), ServiceKey::Fwmark(7)],
        "{keys:?}"
    );
    assert!(keys.contains(&ServiceKey::Fwmark(2001)), "{keys:?}");
}
