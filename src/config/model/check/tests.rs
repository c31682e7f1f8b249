//! Unit tests with a tiny test-only tree builder (the real parser is built elsewhere).

use std::net::IpAddr;
use std::time::Duration;

use super::checker::{CheckerKind, HttpProtocol};
use super::*;
use crate::config::diagnostic::{Diagnostics, FileId, KaClass, Severity, Span};
use crate::config::model::build;
use crate::config::tree::{Block, Node, Token};

/// Words split on whitespace (`"..."` kept together), `{`/`}` separate; one statement
/// per line; a `{` opens a block for the statement before it.
fn tree(text: &str) -> Vec<Node> {
    let mut toks: Vec<(String, u32)> = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let mut cur = String::new();
        let mut quoted = false;
        for ch in line.chars() {
            match ch {
                '"' => quoted = !quoted,
                '{' | '}' if !quoted => {
                    if !cur.is_empty() {
                        toks.push((std::mem::take(&mut cur), ln as u32 + 1));
                    }
                    toks.push((ch.to_string(), ln as u32 + 1));
                }
                c if c.is_whitespace() && !quoted => {
                    if !cur.is_empty() {
                        toks.push((std::mem::take(&mut cur), ln as u32 + 1));
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            toks.push((cur, ln as u32 + 1));
        }
        toks.push(("\n".into(), ln as u32 + 1));
    }
    let mut i = 0;
    nodes(&toks, &mut i)
}

fn tok(t: &(String, u32)) -> Token {
    Token {
        text: t.0.clone(),
        span: Span::new(FileId(0), t.1, 1, t.0.len() as u32),
        quoted: false,
    }
}

fn nodes(toks: &[(String, u32)], i: &mut usize) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let mut cur: Option<Node> = None;
    while let Some(t) = toks.get(*i) {
        *i += 1;
        match t.0.as_str() {
            "\n" => out.extend(cur.take()),
            "{" => {
                let open = tok(t).span;
                let children = nodes(toks, i);
                let target = match cur.as_mut() {
                    Some(n) => n,
                    None => out.last_mut().expect("test text: block without keyword"),
                };
                target.block = Some(Block { open, children });
            }
            "}" => {
                out.extend(cur.take());
                return out;
            }
            _ => match cur.as_mut() {
                None => {
                    cur = Some(Node {
                        keyword: tok(t),
                        args: Vec::new(),
                        raw_args: String::new(),
                        block: None,
                    })
                }
                Some(n) => {
                    n.raw_args = format!("{} {}", n.raw_args, t.0).trim().to_string();
                    n.args.push(tok(t));
                }
            },
        }
    }
    out.extend(cur);
    out
}

fn load(text: &str) -> (CheckConfig, Diagnostics) {
    let mut d = Diagnostics::new();
    let cfg = build(&tree(text), crate::config::env::fixed(), &mut d);
    (cfg.check, d)
}

fn msgs(d: &Diagnostics) -> Vec<String> {
    d.items.iter().map(|x| x.message.clone()).collect()
}

fn has(d: &Diagnostics, s: &str) -> bool {
    d.items.iter().any(|x| x.message.contains(s))
}

fn vs(body: &str, rs: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\nprotocol TCP\nlb_algo rr\nlb_kind NAT\n{body}\nreal_server 192.0.2.10 80 {{\n{rs}\n}}\n}}\n"
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

#[test]
fn minimal_service_is_clean_with_defaults() {
    let (c, d) = load(&vs("", "TCP_CHECK {\n}"));
    assert!(d.items.is_empty(), "{:?}", msgs(&d));
    let v = &c.virtual_servers[0];
    assert_eq!(v.delay_loop, Duration::from_secs(60));
    assert_eq!(v.display().to_string(), "[192.0.2.1]:tcp:80");
    let rs = &v.real_servers[0];
    assert_eq!(rs.weight, Some(1));
    let t = &rs.checkers[0].timing;
    assert_eq!(t.retry, Some(1));
    assert_eq!(t.delay_before_retry, Some(Duration::from_secs(1)));
    assert_eq!(t.warmup, Some(Duration::from_secs(60)));
    assert_eq!(t.connect_timeout, Some(Duration::from_secs(5)));
}

#[test]
fn missing_protocol_scheduler_method() {
    let (c, d) = load("virtual_server 192.0.2.1 80 {\nreal_server 192.0.2.10 80 {\n}\n}\n");
    assert_eq!(
        msgs(&d),
        [
            "Virtual server [192.0.2.1]:none:80: no protocol set - defaulting to UDP",
            "Virtual server [192.0.2.1]:udp:80: no scheduler set, setting default 'wlc'",
            "Virtual server [192.0.2.1]:udp:80: no forwarding method set, setting default NAT",
        ]
    );
    assert_eq!(d.config_test_exit_code(), 5);
    let v = &c.virtual_servers[0];
    assert_eq!(v.scheduler, Some(Scheduler::Wlc));
    assert_eq!(v.method, Some(Forwarding::Nat));
    assert_eq!(v.protocol, Some(Protocol::Udp));
}

#[test]
fn rs_ports_per_method() {
    let text = "virtual_server 192.0.2.1 80 {\nprotocol TCP\nlb_algo rr\nlb_kind DR\nreal_server 192.0.2.10 8080 {\n}\nreal_server 192.0.2.11 {\n}\n}\n\
virtual_server fwmark 5 {\nlb_algo rr\nlb_kind DR\nreal_server 192.0.2.10 8080 {\n}\n}\n";
    let (c, d) = load(text);
    assert!(has(&d, "WARNING - virtual server [192.0.2.1]:tcp:80 and real server [192.0.2.10]:tcp:8080 ports don't match - resetting"));
    assert!(has(&d, "WARNING - fwmark virtual server FWM 5, real server [192.0.2.10]:none:8080 has port specified - clearing"));
    assert_eq!(c.virtual_servers[0].real_servers[0].port, 80);
    assert_eq!(c.virtual_servers[0].real_servers[1].port, 80);
    assert_eq!(c.virtual_servers[1].real_servers[0].port, 0);
    assert_eq!(c.virtual_servers[1].protocol, None);
    assert_eq!(c.virtual_servers[1].family, Some(Family::Inet));
}

#[test]
fn zero_port_forces_persistence_and_duplicates_dropped() {
    let text = "virtual_server 192.0.2.9 {\nprotocol TCP\nlb_algo rr\nlb_kind NAT\nreal_server 192.0.2.10 80 {\n}\nreal_server 192.0.2.10 80 {\n}\n}\n";
    let (c, d) = load(text);
    assert!(has(
        &d,
        "Virtual server [192.0.2.9]:tcp:0: zero port only valid for persistent services - setting"
    ));
    assert!(has(
        &d,
        "VS [192.0.2.9]:tcp:0: real server [192.0.2.10]:tcp:80 is duplicated - removing second rs"
    ));
    assert_eq!(c.virtual_servers[0].persistence_timeout, 360);
    assert_eq!(c.virtual_servers[0].real_servers.len(), 1);
}

#[test]
fn vs_without_real_servers_dropped() {
    let (c, d) = load("virtual_server 192.0.2.8 80 {\nprotocol TCP\nlb_algo rr\nlb_kind DR\n}\n");
    assert!(c.virtual_servers.is_empty());
    assert_eq!(
        msgs(&d),
        ["Virtual server [192.0.2.8]:tcp:80 has no real servers - ignoring"]
    );
}

#[test]
fn quorum_and_hysteresis_capped() {
    let (c, d) = load(&vs("quorum 2", ""));
    assert!(has(&d, "Warning - quorum 2 for [192.0.2.1]:tcp:80 exceeds total weight of real servers 1, reducing quorum to 1"));
    assert_eq!(c.virtual_servers[0].quorum, 1);
    let (c, d) = load(&vs("hysteresis 1", ""));
    assert!(has(&d, "hysteresis 1 >= quorum 1; setting hysteresis to 0"));
    assert_eq!(c.virtual_servers[0].hysteresis, 0);
    // weight 0: quorum 0 and keepalived's unsigned wrap of hysteresis (observed)
    let (c, _) = load(&vs("", "weight 0"));
    assert_eq!(c.virtual_servers[0].quorum, 0);
    assert_eq!(c.virtual_servers[0].hysteresis, u32::MAX);
}

/// No diagnostic but the warnings of keywords accepted without effect (SNMP, BFD, ...).
fn only_not_implemented(d: &Diagnostics) {
    assert!(
        d.items
            .iter()
            .all(|x| x.class.is_none() && x.message.contains("accepted but not implemented")),
        "{:?}",
        msgs(d)
    );
}

#[test]
fn vs_keywords() {
    let body = "lvs_sched sh\nsh-port\nsh-fallback\nhashed\nflag-3\npersistence_timeout\npersistence_granularity 255.255.255.0\npersistence_engine sip\ndelay_loop 2.5\nconnect_timeout 3\nretry 4\ndelay_before_retry 2\nwarmup 0\ninhibit_on_failure\nalpha\nomega\nquorum 1\nquorum_up \"/bin/up x\"\nquorum_down /bin/down\nsorry_server 192.0.2.99 8080\nsorry_server_inhibit\nsorry_server_lvs_method TUN type gue port 6080 csum\nweight 3\nha_suspend\nsmtp_alert no\nvirtualhost h\nip_family inet\nsnmp_name s";
    let (c, d) = load(&vs(body, "MISC_CHECK {\nmisc_path /bin/true\n}"));
    only_not_implemented(&d);
    let v = &c.virtual_servers[0];
    assert_eq!(v.scheduler, Some(Scheduler::Sh));
    assert!(v.flags.sched1 && v.flags.sched2 && v.flags.sched3 && v.flags.hashed);
    assert_eq!(v.persistence_timeout, 360);
    assert_eq!(v.delay_loop, Duration::from_millis(2500));
    assert_eq!(v.weight, 3);
    assert_eq!(v.smtp_alert, Some(false));
    assert_eq!(v.quorum_up.as_ref().map(|s| s.argv.len()), Some(2));
    let s = v.sorry_server.as_ref().map(|s| (s.inhibit, s.method));
    assert_eq!(
        s,
        Some((
            true,
            Some(Forwarding::Tun {
                tunnel: TunnelType::Gue { port: 6080 },
                csum: Some(TunnelCsum::Csum)
            })
        ))
    );
    let rs = &v.real_servers[0];
    assert_eq!(rs.weight, Some(3));
    let t = &rs.checkers[0].timing;
    // VS values are inherited by checkers; MISC timeout = delay_loop
    assert_eq!(t.retry, Some(4));
    assert_eq!(t.warmup, Some(Duration::ZERO));
    assert_eq!(t.connect_timeout, Some(Duration::from_secs(3)));
    match &rs.checkers[0].kind {
        CheckerKind::Misc(m) => assert_eq!(m.timeout, Some(Duration::from_millis(2500))),
        k => panic!("{k:?}"),
    }
}

#[test]
fn vs_value_errors() {
    for (line, want) in [
        ("lb_algo foo", "Invalid lvs_scheduler 'foo' - ignoring"),
        ("lb_kind FOO", "PARSER : unknown [FOO] routing method for virtual server."),
        ("lb_kind TUN type gue", "gue tunnels require port, otherwise cannot have port."),
        ("lb_kind TUN remcsum", "ipip tunnels do not support checksum option."),
        ("protocol foo", "Unknown protocol foo - ignoring"),
        ("persistence_timeout 0", "persistence_timeout invalid"),
        ("persistence_granularity foo", "Invalid IPv4 persistence_granularity specified - foo"),
        ("delay_loop 0", "virtual server delay loop '0' invalid - ignoring"),
        ("connect_timeout 0", "virtual server connect_timeout 0 invalid - ignoring"),
        ("retry 0", "retry value invalid - 0"),
        ("quorum 0", "Quorum 0 must be in [1, 4294967295]. Setting to 1."),
        ("hysteresis -1", "Hysteresis -1 must be in [0, 4294967295] - ignoring"),
        ("weight 0", "Virtual server weight 0 is outside range 1-2147483647"),
        ("sorry_server_inhibit", "Ignoring sorry_server inhibit used before or without sorry_server"),
        ("sorry_server_lvs_method DR", "sorry_server forwarding used without sorry_server"),
        ("smtp_alert foo", "Invalid virtual_server smtp_alert parameter foo"),
        ("ip_family inet6", "Virtual server specified family inet6 conflicts with server family"),
        ("ip_family foo", "unknown address family foo"),
        ("ops", "one packet scheduling requires UDP - resetting"),
        ("sh-port", "sh-port only applies to sh scheduler - ignoring"),
        ("sorry_server 2001:db8::1 80", "Address family of virtual server and sorry server 2001:db8::1 don't match - skipping sorry server."),
    ] {
        let (_, d) = load(&vs(line, ""));
        assert!(has(&d, want), "{line}: {:?}", msgs(&d));
        assert_eq!(d.config_test_exit_code(), 5, "{line}");
    }
    let (_, d) = load(&vs("delay_loop", ""));
    assert_eq!(d.config_test_exit_code(), 2);
}

#[test]
fn rs_keywords_and_errors() {
    let body = "weight 7\nlvs_method DR\ninhibit_on_failure no\nnotify_up /bin/up\nnotify_down /bin/down\nuthreshold 5\nlthreshold 2\nalpha\nretry 2\ndelay_before_retry 4\nwarmup 1\nconnect_timeout 2\ndelay_loop 9\nsmtp_alert\nvirtualhost v\nsnmp_name s\nHTTP_GET {\nurl {\npath /\n}\n}";
    let (c, d) = load(&vs("", body));
    only_not_implemented(&d);
    let rs = &c.virtual_servers[0].real_servers[0];
    assert_eq!((rs.weight, rs.uthreshold, rs.lthreshold), (Some(7), 5, 2));
    assert_eq!(rs.method, Some(Forwarding::Dr));
    assert_eq!(rs.smtp_alert, Some(true));
    let v = &c.virtual_servers[0];
    assert!(!v.smtp_alert_effective(None, None) && v.smtp_alert_effective(None, Some(true)));
    let mut other = rs.clone();
    other.smtp_alert = None;
    assert!(other.smtp_alert_effective(None, None));
    assert!(!other.smtp_alert_effective(Some(false), Some(true)));
    let t = &rs.checkers[0].timing;
    assert_eq!(t.retry, Some(2));
    assert_eq!(t.delay_before_retry, Some(Duration::from_secs(4)));
    assert_eq!(t.delay_loop, Some(Duration::from_secs(9)));
    assert_eq!(t.alpha, Some(true));
    for (line, want) in [
        (
            "weight -1",
            "Real server weight -1 is outside range 0-2147483647",
        ),
        (
            "weight 2147483648",
            "Real server weight 2147483648 is outside range 0-2147483647",
        ),
        (
            "lvs_method FOO",
            "PARSER : unknown [FOO] routing method for real server.",
        ),
        (
            "inhibit_on_failure x",
            "Invalid inhibit_on_failure parameter x",
        ),
        (
            "uthreshold x",
            "Invalid real_server uthreshold 'x' - ignoring",
        ),
        ("retry 0", "retry value invalid - 0"),
        (
            "connect_timeout 0",
            "real server connect_timeout 0 invalid - ignoring",
        ),
        (
            "delay_loop 0",
            "real server delay_loop '0' invalid - ignoring",
        ),
        ("smtp_alert x", "Invalid real_server smtp_alert parameter x"),
        ("wieght 1", "Unknown keyword 'wieght'"),
    ] {
        let (_, d) = load(&vs("", line));
        assert!(has(&d, want), "{line}: {:?}", msgs(&d));
    }
}

#[test]
fn checker_defaults_per_type() {
    let rs = "HTTP_GET {\nurl {\npath /\n}\n}\nMISC_CHECK {\nmisc_path /bin/true\n}\nDNS_CHECK {\n}\nSMTP_CHECK {\n}\nUDP_CHECK {\n}\nPING_CHECK {\n}";
    let (c, d) = load(&vs("delay_loop 7", rs));
    assert!(d.items.is_empty(), "{:?}", msgs(&d));
    let ck = &c.virtual_servers[0].real_servers[0].checkers;
    let got: Vec<_> = ck
        .iter()
        .map(|c| {
            (
                c.timing.retry,
                c.timing.delay_before_retry.map(|d| d.as_secs()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), Some(3)),
            (Some(0), Some(1)),
            (Some(3), Some(7)),
            (Some(1), Some(1)),
            (Some(1), Some(1)),
            (Some(1), Some(1))
        ]
    );
    match &ck[2].kind {
        CheckerKind::Dns(x) => assert_eq!(x.name, "."),
        k => panic!("{k:?}"),
    }
    match &ck[3].kind {
        CheckerKind::Smtp(x) => assert_eq!(x.helo_name, "smtpchecker.keepalived.org"),
        k => panic!("{k:?}"),
    }
}

#[test]
fn checker_keywords() {
    let rs = "TCP_CHECK {\nconnect_ip 192.0.2.11\nconnect_port 81\nbindto 192.0.2.12\nbind_port 1000\nbind_if lo\nconnect_timeout 3\nfwmark 5\nretry 2\ndelay_before_retry 2\nwarmup 1\ndelay_loop 3\nalpha\nlog_all_failures\n}\n\
SSL_GET {\nurl {\npath /x\ndigest 0123456789abcdef0123456789ABCDEF\nstatus_code 200-299 404\nvirtualhost foo\nregex \"a b\"\nregex_no_match\nregex_options caseless\nregex_min_offset 1\nregex_max_offset 100\nregex_stack 10 100\n}\nurl {\npath /y\n}\nhttp_protocol 1.0C\nvirtualhost bar\nfast_recovery\nenable_sni\n}\n\
SMTP_CHECK {\nhelo_name me\nhost {\nconnect_ip 192.0.2.30\nconnect_port 25\n}\n}\n\
DNS_CHECK {\ntype aaaa\nname example.com\n}\nUDP_CHECK {\npayload 0a0b\nrequire_reply 0axF\nmin_reply_length 2\nmax_reply_length 10\n}\n\
MISC_CHECK {\nmisc_path \"/bin/check -x\"\nmisc_timeout 5\nmisc_dynamic\nuser nobody nogroup\n}\nFILE_CHECK {\ntrack_file tf\nweight -3 reverse\n}\nBFD_CHECK {\nname b1\nalpha\n}";
    let (c, d) = load(&vs("", rs));
    let (notes, others): (Vec<_>, Vec<_>) = d
        .items
        .iter()
        .cloned()
        .partition(|x| x.severity == Severity::Note);
    // keepalived 2.2.7 logs this line (no config error) for SMTP_CHECK host blocks
    assert_eq!(
        notes.iter().map(|x| x.message.as_str()).collect::<Vec<_>>(),
        ["The SMTP_CHECK host block is deprecated. Please define additional checkers."]
    );
    only_not_implemented(&Diagnostics { items: others });
    let ck = &c.virtual_servers[0].real_servers[0].checkers;
    assert_eq!(ck.len(), 8);
    let tcp = &ck[0];
    assert_eq!(tcp.conn.connect_ip, Some(ip("192.0.2.11")));
    assert_eq!(
        (tcp.conn.connect_port, tcp.conn.bind_port, tcp.conn.fwmark),
        (Some(81), Some(1000), Some(5))
    );
    assert_eq!(tcp.conn.bind_if.as_deref(), Some("lo"));
    assert!(tcp.timing.log_all_failures);
    match &ck[1].kind {
        CheckerKind::Ssl(h) => {
            assert_eq!(h.urls.len(), 2);
            let u = &h.urls[0];
            assert_eq!(u.digest.map(|d| d[15]), Some(0xef));
            assert!(u.status_ok(404) && u.status_ok(250) && !u.status_ok(300));
            assert!(h.urls[1].status_ok(200) && !h.urls[1].status_ok(404));
            assert_eq!(u.regex.as_deref(), Some("a b"));
            assert_eq!(u.regex_stack, Some((10, 100)));
            assert_eq!(h.protocol, HttpProtocol::Http10C);
            assert!(h.fast_recovery && h.enable_sni);
        }
        k => panic!("{k:?}"),
    }
    match &ck[2].kind {
        CheckerKind::Smtp(s) => assert_eq!(s.hosts[0].connect_port, Some(25)),
        k => panic!("{k:?}"),
    }
    match &ck[4].kind {
        CheckerKind::Udp(u) => {
            assert_eq!(u.payload, [0x0a, 0x0b]);
            assert_eq!(u.require_reply, Some(vec![(0x0a, 0xff), (0x0f, 0x0f)]));
        }
        k => panic!("{k:?}"),
    }
    match &ck[5].kind {
        CheckerKind::Misc(m) => {
            assert_eq!(m.path.argv, ["/bin/check", "-x"]);
            assert_eq!(m.path.user.as_deref(), Some("nobody"));
            assert_eq!(m.timeout, Some(Duration::from_secs(5)));
            assert!(m.dynamic);
        }
        k => panic!("{k:?}"),
    }
    match &ck[6].kind {
        CheckerKind::File(f) => assert_eq!((f.weight, f.reverse), (Some(-3), true)),
        k => panic!("{k:?}"),
    }
    assert_eq!(c.scripts().count(), 1);
}

#[test]
fn checker_errors() {
    for (rs, want, kept) in [
        (
            "HTTP_GET {\n}",
            "HTTP/SSL_GET checker has no urls specified - ignoring",
            0,
        ),
        (
            "HTTP_GET {\nurl {\ndigest 00\n}\n}",
            "HTTP/SSL_GET checker url has no path - ignoring",
            0,
        ),
        (
            "HTTP_GET {\nurl {\npath /\ndigest 0123\n}\n}",
            "digest '0123' character length should be 32 rather than 4",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\ndigest zz0123456789abcdef0123456789abcd\n}\n}",
            "Unable to interpret hex digit in 'zz' at offset 0/1",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\nstatus_code 99\n}\n}",
            "Invalid HTTP_GET status code '99'",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\nstatus_code 200-100\n}\n}",
            "Invalid HTTP_GET status code '200-100'",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\n}\nhttp_protocol 2\n}",
            "Invalid http_protocol version 2",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\n}\nfast_recovery x\n}",
            "Invalid fast_recovery parameter x",
            1,
        ),
        (
            "HTTP_GET {\nurl {\npath /\n}\nnb_get_retry 3\n}",
            "nb_get_retry is deprecated - please use 'retry'",
            1,
        ),
        (
            "MISC_CHECK {\n}",
            "No script path has been specified for MISC_CHECKER - skipping",
            0,
        ),
        (
            "DNS_CHECK {\ntype FOO\n}",
            "Unknown DNS check type FOO - ignoring",
            1,
        ),
        (
            "UDP_CHECK {\npayload zz\n}",
            "Invalid hex string for UDP_CHECK payload",
            1,
        ),
        (
            "UDP_CHECK {\nmin_reply_length 300\n}",
            "UDP_CHECK min_reply length 300 > max_reply_length 255 - will always fail",
            1,
        ),
        (
            "FILE_CHECK {\n}",
            "FILE_CHECK has no track_file specified - ignoring",
            0,
        ),
        (
            "SMTP_CHECK {\nhelo_name\n}",
            "SMTP_CHECK helo name missing",
            1,
        ),
        (
            "BFD_CHECK {\n}",
            "([192.0.2.10]:80) No name has been specified for BFD_CHECKER - skipping",
            0,
        ),
        (
            "TCP_CHECK {\nconnect_port 0\n}",
            "Invalid checker connect_port '0'",
            1,
        ),
        (
            "TCP_CHECK {\nconnect_ip foo\n}",
            "Invalid connect_ip address foo - ignoring",
            1,
        ),
        ("TCP_CHECK {\nalpha x\n}", "Invalid alpha parameter x", 1),
        (
            "TCP_CHECK {\ndelay_loop 0\n}",
            "delay_loop '0' is invalid - ignoring",
            1,
        ),
        (
            "TCP_CHECK {\nconnect_timeout 0\n}",
            "connect_timeout 0 invalid - ignoring",
            1,
        ),
        (
            "MISC_CHECK {\nmisc_path /x\nconnect_ip 192.0.2.1\n}",
            "Unknown keyword 'connect_ip'",
            1,
        ),
    ] {
        let (c, d) = load(&vs("", rs));
        assert!(has(&d, want), "{rs}: {:?}", msgs(&d));
        assert_eq!(d.config_test_exit_code(), 5, "{rs}");
        assert_eq!(
            c.virtual_servers[0].real_servers[0].checkers.len(),
            kept,
            "{rs}"
        );
    }
    let (_, d) = load(&vs("", "HTTP_GET {\nurl {\npath /\n}\nnb_get_retry 3\n}"));
    assert_eq!(d.worst_class(), Some(KaClass::Deprecated));
}

#[test]
fn sched_flags_need_sh_or_mh() {
    for (body, ok) in [
        ("lb_algo sh\nmh-port", true),
        ("lb_algo mh\nsh-port\nhashed", true),
        ("mh-port\nlb_algo mh", false),
        ("lb_algo rr\nhashed", false),
        ("lb_algo rr\nflag-2", true),
    ] {
        let body = body.replacen("lb_algo", "lvs_sched", 1);
        let (c, d) = load(&vs(&body, ""));
        assert_eq!(
            !has(&d, "only applies to sh scheduler - ignoring"),
            ok,
            "{body}"
        );
        assert_eq!(c.virtual_servers[0].flags.sched2, ok, "{body}");
    }
    let (_, d) = load(&vs("", "MISC_CHECK {\nmisc_path /x\nretry 3\ndelay_loop 5\nwarmup 2\nalpha\nlog_all_failures\nmisc_timeout 0\n}"));
    assert!(d.items.is_empty(), "{:?}", msgs(&d));
}

#[test]
fn groups() {
    let text = "virtual_server_group G1 {\n192.0.2.1 80\n192.0.2.2-10 80\n192.0.2.20-192.0.2.30 80\n192.0.2.64/28 443\n2001:db8::1-ff 80\nfwmark 7 inet6\n192.0.2.20-192.0.2.10 80\n192.0.2.40-3 80\nfoo 80\n192.0.2.50 99999\nfwmark x\nfwmark 4 foo\n192.0.2.0/33 80\n192.0.2.1/24 80\n}\n\
virtual_server_group EMPTY {\n}\nvirtual_server_group MIX {\n192.0.2.1\n2001:db8::1\nfwmark 3\n}\n\
virtual_server group G1 {\nprotocol TCP\nlb_algo rr\nlb_kind DR\nreal_server 192.0.2.10 80 {\n}\n}\n";
    let (c, d) = load(text);
    for want in [
        "Address range end is less than address range start - 192.0.2.20-192.0.2.10 - skipping",
        "Address range end is not greater than address range start - 192.0.2.40-3 - skipping",
        "Invalid virtual server group IP address foo /port/80 - skipping",
        "Invalid virtual server group IP address 192.0.2.50 /port/99999 - skipping",
        "virtual server group EMPTY has no entries - removing",
        "virtual server group MIX cannot have IPv4, IPv6 and fwmark without family - removing",
        "(G1): fwmark 'x' must be in [0, 4294967295] - ignoring",
        "(G1): fwmark '4' family foo unknown - ignoring",
        "Invalid netmask - 192.0.2.0/33 - skipping",
        "Address mask bits not empty - 192.0.2.1/24 - skipping",
    ] {
        assert!(has(&d, want), "{want}: {:?}", msgs(&d));
    }
    assert_eq!(c.groups.len(), 1);
    let e = &c.groups[0].entries;
    assert_eq!(e.len(), 6);
    assert_eq!(
        e[1],
        VsgEntry::Addrs {
            first: ip("192.0.2.2"),
            last: ip("192.0.2.10"),
            port: 80
        }
    );
    assert_eq!(
        e[3],
        VsgEntry::Addrs {
            first: ip("192.0.2.64"),
            last: ip("192.0.2.79"),
            port: 443
        }
    );
    assert_eq!(
        e[4],
        VsgEntry::Addrs {
            first: ip("2001:db8::1"),
            last: ip("2001:db8::ff"),
            port: 80
        }
    );
    assert_eq!(
        e[5],
        VsgEntry::Fwmark {
            mark: 7,
            family: Some(Family::Inet6)
        }
    );
    assert_eq!(c.virtual_servers[0].display().to_string(), "[G1]:0");
}

#[test]
fn bad_headers_skip_the_block() {
    let text = "virtual_server 192.0.2.1 99999 {\nreal_server 192.0.2.10 {\n}\n}\nvirtual_server foo 80 {\n}\nvirtual_server fwmark x {\n}\nvirtual_server fwmark 0 {\n}\nvirtual_server group NOPE {\nprotocol TCP\nlb_algo rr\nlb_kind NAT\nreal_server 192.0.2.10 0 {\n}\nreal_server foo 80 {\n}\nsorry_server foo\n}\n";
    let (c, d) = load(text);
    for want in [
        "Invalid virtual server IP address/port 192.0.2.1/99999 - skipping",
        "Invalid virtual server IP address/port foo/80 - skipping",
        "virtual server fwmark 'x' must be in [0, 4294967295] - ignoring",
        "virtual server fwmark 0 is not usable - ignoring",
        "Invalid real server ip address/port foo/80 - skipping",
        "Invalid sorry server IP address foo - skipping",
        "virtual server group NOPE is not defined (or was removed)",
    ] {
        assert!(has(&d, want), "{want}: {:?}", msgs(&d));
    }
    assert_eq!(c.virtual_servers.len(), 1);
    assert_eq!(c.virtual_servers[0].real_servers.len(), 1);
    let lint = d.items.iter().find(|x| x.message.contains("NOPE"));
    assert_eq!(lint.map(|x| x.class), Some(None));
}

#[test]
fn granularity_sets_family() {
    let text = "virtual_server fwmark 3 {\nlb_algo rr\nlb_kind DR\npersistence_granularity 64\nreal_server 192.0.2.10 {\n}\n}\n\
virtual_server 2001:db8::5 80 {\nprotocol TCP\nlb_algo rr\nlb_kind DR\npersistence_granularity 255.255.255.0\nreal_server 2001:db8::10 80 {\n}\n}\n";
    let (c, d) = load(text);
    for want in [
        "Address family of virtual server and real server 192.0.2.10 don't match - skipping real server.",
        "Virtual server FWM 3 has no real servers - ignoring",
        "invalid number '255.255.255.0'",
        "Invalid IPv6 persistence_granularity specified - 255.255.255.0",
    ] {
        assert!(has(&d, want), "{want}: {:?}", msgs(&d));
    }
    assert_eq!(c.virtual_servers.len(), 1);
    assert_eq!(c.virtual_servers[0].persistence_timeout, 0);
    // an IPv4 service takes a bare number as inet_aton does; not solid is only our lint
    let (c, d) = load(&vs("persistence_granularity 64", ""));
    assert_eq!(d.config_test_exit_code(), 0);
    assert_eq!(
        c.virtual_servers[0].persistence_granularity,
        Some(Granularity::Netmask(std::net::Ipv4Addr::new(0, 0, 0, 64)))
    );
    assert_eq!(c.virtual_servers[0].persistence_timeout, 360);
}

#[test]
fn ssl_block() {
    let (_, d) = load("SSL {\n}\nSSL {\n}\n");
    assert_eq!(msgs(&d), ["SSL context already specified - replacing"]);
    let (c, d) = load("SSL {\npassword p\nca /ca\ncertificate /c\nkey /k\n}\n");
    assert!(d.items.is_empty());
    let s = c.ssl.unwrap_or_default();
    assert_eq!(s.key.as_deref(), Some("/k"));
    assert_eq!(s.ca.as_deref(), Some("/ca"));
}
