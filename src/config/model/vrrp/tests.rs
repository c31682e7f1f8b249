//! Tests of the VRRP model. Configurations are built with a tiny brace parser (`tree`)
//! so these tests do not depend on the real lexer/tree parser.
use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::config::diagnostic::{Diagnostics, FileId, KaClass, Severity};
use crate::config::model::{build, Config};
use crate::config::tree::{Block, Node, Token};

/// Words split on blanks, `"..."` quoted, `{`/`}` as their own words; one statement per line.
fn tree(text: &str) -> Vec<Node> {
    let mut stack: Vec<Vec<Node>> = vec![Vec::new()];
    for (ln, line) in text.lines().enumerate() {
        let mut words: Vec<Token> = Vec::new();
        let chars: Vec<char> = line.chars().collect();
        let mut k = 0;
        let flush = |words: &mut Vec<Token>, stack: &mut Vec<Vec<Node>>| {
            if !words.is_empty() {
                let kw = words.remove(0);
                let raw_args = words
                    .iter()
                    .map(|t| t.text.clone())
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Some(top) = stack.last_mut() {
                    top.push(Node {
                        keyword: kw,
                        args: std::mem::take(words),
                        raw_args,
                        block: None,
                    });
                }
            }
        };
        while k < chars.len() {
            let c = chars[k];
            let col = k as u32 + 1;
            if c.is_whitespace() {
                k += 1;
            } else if c == '{' {
                flush(&mut words, &mut stack);
                stack.push(Vec::new());
                k += 1;
            } else if c == '}' {
                flush(&mut words, &mut stack);
                let children = stack.pop().unwrap_or_default();
                if let Some(parent) = stack.last_mut().and_then(|t| t.last_mut()) {
                    parent.block = Some(Block {
                        open: Span::new(FileId(0), ln as u32 + 1, col, 1),
                        children,
                    });
                }
                k += 1;
            } else {
                let quoted = c == '"';
                let mut s = String::new();
                if quoted {
                    k += 1;
                    while k < chars.len() && chars[k] != '"' {
                        s.push(chars[k]);
                        k += 1;
                    }
                    k += 1;
                } else {
                    while k < chars.len()
                        && !chars[k].is_whitespace()
                        && chars[k] != '{'
                        && chars[k] != '}'
                    {
                        s.push(chars[k]);
                        k += 1;
                    }
                }
                let len = s.chars().count() as u32;
                words.push(Token {
                    text: s,
                    span: Span::new(FileId(0), ln as u32 + 1, col, len),
                    quoted,
                });
            }
        }
        flush(&mut words, &mut stack);
    }
    stack.pop().unwrap_or_default()
}

fn load(text: &str) -> (Config, Diagnostics) {
    let mut d = Diagnostics::new();
    let cfg = build(&tree(text), crate::config::env::fixed(), &mut d);
    (cfg, d)
}

/// Asserts exactly one diagnostic contains `text`, with the given class; returns its line.
fn has(d: &Diagnostics, text: &str, class: Option<KaClass>) -> u32 {
    let found: Vec<_> = d
        .items
        .iter()
        .filter(|x| x.message.contains(text))
        .collect();
    assert_eq!(found.len(), 1, "want one `{text}` in {:#?}", d.items);
    assert_eq!(found[0].class, class, "class of `{text}`");
    found[0].span.map_or(0, |s| s.line)
}

/// No diagnostic keepalived reports, but the one most test instances earn by having no VIP.
fn clean(d: &Diagnostics) {
    assert!(
        d.items
            .iter()
            .all(|x| x.class.is_none() || x.message.ends_with("at least one is sensible")),
        "unexpected diagnostics {:#?}",
        d.items
    );
}

const GE: Option<KaClass> = Some(KaClass::GeneralError);

fn inst(body: &str) -> String {
    format!("vrrp_instance VI_1 {{\ninterface veth0\nvirtual_router_id 51\n{body}\n}}\n")
}

fn one(body: &str) -> (Instance, Diagnostics) {
    let (cfg, d) = load(&inst(body));
    let i = cfg.vrrp.instances.into_iter().next().expect("instance");
    (i, d)
}

#[test]
fn defaults() {
    let (i, d) = one("");
    clean(&d);
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.interface.as_deref(), Some("veth0"));
    assert_eq!(i.vrid, Some(51));
    assert_eq!(i.state, State::Backup);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.family, Family::V4);
    assert!(i.auth.is_none());
    assert!(!i.nopreempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert!(i.accept);
    assert!(!i.strict);
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.garp_master_repeat, 5);
    assert_eq!(i.garp_master_refresh, Duration::ZERO);
    assert_eq!(i.garp_master_refresh_repeat, 1);
    assert_eq!(i.garp_lower_prio_delay, Duration::from_secs(5));
    assert_eq!(i.garp_lower_prio_repeat, 5);
    assert_eq!(i.down_timer_adverts, 3);
    assert!(!i.lower_prio_no_advert);
    assert!(!i.higher_prio_send_advert);
    assert!(!i.smtp_alert);
    assert_eq!(i.debug, 0);
    assert!(i.sync_group.is_none());
}

#[test]
fn every_keyword_is_stored() {
    let (i, d) = one(r#"state BACKUP
priority 150
advert_int 2
authentication {
auth_type PASS
auth_pass secret
}
virtual_ipaddress {
192.0.2.100/24 dev veth0
}
virtual_ipaddress_excluded {
2001:db8::100
}
dont_track_primary
unicast_src_ip 192.0.2.1
unicast_peer {
192.0.2.2 min_ttl 10 max_ttl 200
192.0.2.3
}
unicast_ttl 64
unicast_fault_no_peer
check_unicast_src
old_unicast_checksum never
track_src_ip
use_vmac vrrp51 02:00:00:00:00:05
vmac_xmit_base
use_vmac_addr
no_accept
skip_check_adv_addr
garp_master_delay 3
garp_master_repeat 2
garp_master_refresh 60
garp_master_refresh_repeat 4
garp_lower_prio_delay 7
garp_lower_prio_repeat 6
garp_extra_if all 30
down_timer_adverts 5
lower_prio_no_advert
higher_prio_send_advert on
notify_master "/bin/m a"
notify_backup /bin/b
notify_fault /bin/f
notify_stop /bin/s
notify /bin/n
notify_deleted
notify_master_rx_lower_pri /bin/lp
notify_priority_changes yes
smtp_alert
kernel_rx_buf_size 65536
debug 2
preempt_delay 10
track_interface {
veth1 weight 10 reverse
}"#);
    // the only keepalived diagnostic: unicast + use_vmac forces xmit_base (already set)
    clean(&d);
    assert_eq!(i.state, State::Backup);
    assert_eq!(i.priority, 150);
    assert_eq!(i.advert_int, Duration::from_secs(2));
    assert_eq!(
        i.auth,
        Some(Auth {
            kind: AuthType::Pass,
            pass: b"secret".to_vec()
        })
    );
    assert_eq!(i.vip_lines.len(), 1);
    assert_eq!(i.evip_lines.len(), 1);
    assert!(i.dont_track_primary);
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(i.unicast_src_ip, Some(src));
    assert_eq!(i.src_ip, Some(src));
    assert_eq!(i.unicast_peers.len(), 2);
    assert_eq!(i.unicast_peers[0].min_ttl, Some(10));
    assert_eq!(i.unicast_peers[0].max_ttl, Some(200));
    assert_eq!(i.unicast_peers[1].min_ttl, None);
    assert!(i.is_unicast());
    assert_eq!(i.unicast_ttl, Some(64));
    assert!(i.unicast_fault_no_peer && !i.permanent_fault);
    assert!(i.check_unicast_src);
    assert_eq!(i.old_unicast_checksum, Some(false));
    assert!(i.track_src_ip);
    let vmac = i.vmac.clone().unwrap();
    assert_eq!(vmac.ifname.as_deref(), Some("vrrp51"));
    assert_eq!(vmac.mac, Some(vec![2, 0, 0, 0, 0, 5]));
    assert!(i.vmac_xmit_base && i.use_vmac_addr);
    assert!(!i.accept);
    assert!(i.skip_check_adv_addr);
    assert_eq!(i.garp_master_delay, Duration::from_secs(3));
    assert_eq!(i.garp_master_repeat, 2);
    assert_eq!(i.garp_master_refresh, Duration::from_secs(60));
    assert_eq!(i.garp_master_refresh_repeat, 4);
    assert_eq!(i.garp_lower_prio_delay, Duration::from_secs(7));
    assert_eq!(i.garp_lower_prio_repeat, 6);
    assert_eq!(
        i.garp_extra_if,
        Some(GarpExtraIf {
            all: true,
            interval: Duration::from_secs(30)
        })
    );
    assert_eq!(i.down_timer_adverts, 5);
    assert!(i.lower_prio_no_advert && i.higher_prio_send_advert);
    assert_eq!(i.notify.master.as_ref().unwrap().argv, vec!["/bin/m", "a"]);
    assert_eq!(i.notify.backup.as_ref().unwrap().argv, vec!["/bin/b"]);
    assert_eq!(i.notify.fault.as_ref().unwrap().argv, vec!["/bin/f"]);
    assert_eq!(i.notify.stop.as_ref().unwrap().argv, vec!["/bin/s"]);
    assert_eq!(i.notify.generic.as_ref().unwrap().argv, vec!["/bin/n"]);
    assert!(i.notify_deleted && i.notify_deleted_script.is_none());
    assert_eq!(
        i.notify_master_rx_lower_pri.as_ref().unwrap().argv,
        vec!["/bin/lp"]
    );
    assert!(i.notify_priority_changes && i.smtp_alert);
    assert_eq!(i.kernel_rx_buf_size, Some(65536));
    assert_eq!(i.debug, 2);
    assert_eq!(i.preempt_delay, Duration::from_secs(10));
    assert_eq!(i.track_interfaces.len(), 1);
    assert_eq!(i.track_interfaces[0].weight, Some(10));
    assert!(i.track_interfaces[0].reverse);
}

#[test]
fn more_keywords() {
    let (i, d) = one(
        "mcast_src_ip 192.0.2.1\nmcast_dst_ip 224.0.0.19\nversion 3\nadvert_int 0.5\nnopreempt\npromote_secondaries\nuse_ipvlan ipv1 192.0.2.9/24 bridge\naccept\nstrict_mode off\nlvs_sync_daemon_interface veth0",
    );
    has(
        &d,
        "lvs_sync_daemon_interface against a vrrp is deprecated",
        GE,
    );
    assert_eq!(i.src_ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(i.unicast_src_ip, None);
    assert_eq!(i.mcast_dst_ip, Some("224.0.0.19".parse().unwrap()));
    assert!(i.nopreempt && i.promote_secondaries && i.accept && !i.strict);
    let ipv = i.ipvlan.clone().unwrap();
    assert_eq!(ipv.ifname.as_deref(), Some("ipv1"));
    assert_eq!(ipv.addr.as_deref(), Some("192.0.2.9/24"));
    assert_eq!(ipv.mode, Some(IpvlanMode::Bridge));
    assert_eq!(i.lvs_sync_daemon_interface.as_deref(), Some("veth0"));
    // version 3 without VIPs is refused (addr.rs parses none here)
    has(&d, "(VI_1) No VIP specified; at least one is required", GE);
}

#[test]
fn priority_and_state_rules() {
    let (i, d) = one("state MASTER");
    clean(&d);
    assert_eq!((i.state, i.priority), (State::Master, 255));
    let (i, _) = one("priority 255");
    assert_eq!(i.state, State::Master);
    let (i, d) = one("priority 0");
    has(
        &d,
        "(VI_1) Priority not valid! must be between 1 & 255. Using default 100",
        GE,
    );
    assert_eq!(i.priority, 100);
    let (i, d) = one("priority abc\nstate MASTER");
    has(&d, "Priority not valid!", GE);
    assert_eq!((i.state, i.priority), (State::Master, 100));
    let (i, d) = one("state FOO");
    has(&d, "(VI_1) unknown state 'FOO', defaulting to BACKUP", GE);
    assert_eq!(i.state, State::Backup);
    let (i, d) = one("state MASTER\nstate BACKUP\npriority 50");
    assert_eq!(
        has(
            &d,
            "(VI_1) state previously set as MASTER - ignoring BACKUP",
            GE
        ),
        5
    );
    assert_eq!(i.state, State::Master);
}

#[test]
fn vrid_and_version_ranges() {
    let (cfg, d) = load("vrrp_instance VI_1 {\ninterface veth0\nvirtual_router_id 256\n}");
    has(
        &d,
        "(VI_1): VRID '256' not valid - must be between 1 & 255",
        GE,
    );
    has(&d, "(VI_1) the virtual router id must be set", GE);
    assert!(cfg.vrrp.fatal.is_some());
    let (cfg, d) = load("vrrp_instance VI_1 {\ninterface veth0\n}");
    has(&d, "(VI_1) the virtual router id must be set", GE);
    assert!(cfg.vrrp.fatal.is_some());
    let (cfg, d) = load("vrrp_instance VI_1 {\nvirtual_router_id 5\n}");
    has(&d, "(VI_1) Unknown interface!", GE);
    assert!(cfg.vrrp.fatal.is_some());
    let (i, d) = one("version 4");
    has(&d, "(VI_1): Version must be either 2 or 3", GE);
    assert_eq!(i.version, Version::V2);
    let (_, d) = one("debug 9");
    has(
        &d,
        "(VI_1) Debug value '9' not valid; must be between 0-4",
        GE,
    );
    let (i, d) = one("down_timer_adverts 200");
    has(&d, "(VI_1): Invalid down_timer_adverts [1:100] '200'", GE);
    assert_eq!(i.down_timer_adverts, 3);
    let (i, d) = one("unicast_peer {\n192.0.2.2\n}\nunicast_ttl 300");
    has(
        &d,
        "(VI_1): TTL '300' not valid - must be between 0 & 255",
        GE,
    );
    assert_eq!(i.unicast_ttl, None);
    let (_, d) = one("kernel_rx_buf_size x");
    has(&d, "(VI_1) invalid kernel_rx_buf_size specified", GE);
}

#[test]
fn advert_int_rules() {
    let (i, d) = one("advert_int 1.5");
    has(
        &d,
        "(VI_1) VRRPv2 advertisement interval 1.500000s must be an integer. rounding",
        GE,
    );
    assert_eq!(i.advert_int, Duration::from_secs(2));
    let (i, d) = one("advert_int 0.2");
    has(&d, "must be an integer. rounding", GE);
    assert_eq!(i.advert_int, Duration::from_secs(1));
    let (i, d) = one("advert_int 0");
    has(
        &d,
        "(VI_1) Advert interval (0) not valid! Must be > 0 - ignoring",
        GE,
    );
    assert_eq!(i.advert_int, Duration::from_secs(1));
    let (_, d) = one("advert_int 300");
    has(
        &d,
        "(VI_1) Advert interval (300) not valid! Must be > 0 - ignoring",
        GE,
    );
    let v3 = Instance::new("X", Span::default());
    let mut v3 = Instance {
        version: Version::V3,
        ..v3
    };
    v3.set.advert_int = Some(Duration::from_secs(50));
    let mut d = Diagnostics::new();
    let got = resolve_advert_int(&v3, &mut Ctx::new(&mut d));
    assert_eq!(got, Duration::from_millis(40_950));
    has(&d, "(X) VRRPv3 advertisement interval 50.00s is out of range. Must be less than 40.96s. Setting to 40.95s", GE);
    v3.set.advert_int = Some(Duration::from_millis(123));
    let mut d = Diagnostics::new();
    let got = resolve_advert_int(&v3, &mut Ctx::new(&mut d));
    assert_eq!(got, Duration::from_millis(120));
    has(
        &d,
        "(X) VRRPv3 advertisement interval 0.123000s must be in units of 10ms - rounding",
        GE,
    );
}

#[test]
fn authentication_rules() {
    let (i, d) = one("authentication {\nauth_type PASS\nauth_pass 123456789\n}");
    assert_eq!(has(&d, "Truncating auth_pass to 8 characters", GE), 6);
    assert_eq!(i.auth.unwrap().pass, b"12345678".to_vec());
    let (i, d) = one("authentication {\nauth_type FOO\nauth_pass 1\n}");
    has(&d, "(VI_1) unknown authentication type 'FOO'", GE);
    assert!(i.auth.is_none());
    let (i, d) = one("authentication {\nauth_type PASS\n}");
    has(
        &d,
        "(VI_1) Authentication specified but no password given. Ignoring",
        GE,
    );
    assert!(i.auth.is_none());
    let (i, d) = one("state MASTER\npriority 100\nauthentication {\nauth_type AH\nauth_pass 1\n}");
    has(
        &d,
        "(VI_1) Initial state master is incompatible with AH authentication - clearing",
        GE,
    );
    assert_eq!(i.state, State::Backup);
    assert_eq!(i.auth.unwrap().kind, AuthType::Ah);
}

#[test]
fn preemption_rules() {
    let (i, d) = one("state MASTER\npriority 100\nnopreempt");
    assert_eq!(
        has(
            &d,
            "(VI_1) Warning - nopreempt will not work with initial state MASTER - clearing",
            GE
        ),
        6
    );
    assert!(!i.nopreempt);
    let (i, d) = one("priority 255\nnopreempt");
    has(
        &d,
        "(VI_1) nopreempt is incompatible with priority 255. resetting nopreempt",
        GE,
    );
    assert!(!i.nopreempt);
    let (i, d) = one("state MASTER\npriority 100\npreempt_delay 5");
    has(
        &d,
        "(VI_1) Warning - preempt delay will not work with initial state MASTER - clearing",
        GE,
    );
    assert_eq!(i.preempt_delay, Duration::ZERO);
    let (i, d) = one("nopreempt\npreempt_delay 5");
    has(
        &d,
        "(VI_1) preempt_delay is incompatible with nopreempt mode - resetting",
        GE,
    );
    assert_eq!(i.preempt_delay, Duration::ZERO);
    let (_, d) = one("preempt_delay 2000");
    has(
        &d,
        "(VI_1) Preempt_delay not valid! must be between 0-1000",
        GE,
    );
    let (i, d) = one("nopreempt\npreempt");
    clean(&d);
    assert!(!i.nopreempt);
}

#[test]
fn strict_mode_consequences() {
    let (cfg, d) = load(&inst("strict_mode"));
    has(&d, "(VI_1) No VIP specified; at least one is required", GE);
    assert!(cfg.vrrp.fatal.is_some());
    // the remaining strict checks run on an instance whose VIP check we bypass
    let g = GlobalVrrpDefaults::default();
    let mut i = Instance::new("S", Span::default());
    i.vrid = Some(1);
    i.interface = Some("veth0".into());
    i.vips.push(crate::config::model::addr::AddressSpec::new(
        "192.0.2.5".parse().unwrap(),
        32,
    ));
    i.set.strict = Some(true);
    i.set.state = Some(State::Master);
    i.set.priority = Some(100);
    i.preempt_delay = Duration::from_secs(3);
    i.set.lower_prio_no_advert = Some(false);
    i.set.higher_prio_send_advert = Some(true);
    i.set.garp_lower_prio_repeat = Some(2);
    i.set.garp_lower_prio_delay = Some(Duration::from_secs(2));
    i.set.down_timer_adverts = Some(5);
    i.set.accept = Some(true);
    i.set.auth_type = Some(AuthType::Pass);
    i.set.auth_pass = Some(b"x".to_vec());
    let mut d = Diagnostics::new();
    complete_instance(&mut i, &g, None, (&[], &[]), &mut Ctx::new(&mut d)).unwrap();
    has(&d, "(S) State MASTER must match being address owner", GE);
    has(
        &d,
        "(S) Strict mode does not support authentication. Ignoring.",
        GE,
    );
    assert!(i.auth.is_none());
    has(
        &d,
        "(S) preempt_delay is incompatible with strict mode - resetting",
        GE,
    );
    has(
        &d,
        "(S) Strict mode requires no lower priority advert. resetting",
        GE,
    );
    has(
        &d,
        "(S) strict mode requires higher_prio_send_advert to be clear. resetting",
        GE,
    );
    has(
        &d,
        "(S) Strict mode requires no repeat garps. resetting",
        GE,
    );
    has(
        &d,
        "(S) Strict mode requires no repeat garp delay. resetting",
        GE,
    );
    has(
        &d,
        "(S) down_timer_adverts is incompatible with strict mode - resetting",
        GE,
    );
    has(
        &d,
        "(S) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
        GE,
    );
    assert_eq!(i.state, State::Backup);
    assert!(!i.accept && i.lower_prio_no_advert && !i.higher_prio_send_advert);
    assert_eq!((i.garp_lower_prio_repeat, i.down_timer_adverts), (0, 3));
    assert_eq!(i.preempt_delay, Duration::ZERO);
    // defaults under strict mode, without explicit settings
    let mut j = Instance::new("T", Span::default());
    j.vrid = Some(1);
    j.interface = Some("veth0".into());
    j.vips = i.vips.clone();
    j.set.strict = Some(true);
    let mut d = Diagnostics::new();
    complete_instance(&mut j, &g, None, (&[], &[]), &mut Ctx::new(&mut d)).unwrap();
    clean(&d);
    assert!(!j.accept && j.lower_prio_no_advert);
    assert_eq!(j.garp_lower_prio_repeat, 0);
    assert_eq!(j.garp_lower_prio_delay, Duration::ZERO);
    // IPv6 instance: v3, and a non-link-local first VIP
    let mut k = Instance::new("V6", Span::default());
    k.vrid = Some(1);
    k.interface = Some("veth0".into());
    k.vips.push(crate::config::model::addr::AddressSpec::new(
        "2001:db8::1".parse().unwrap(),
        128,
    ));
    k.set.version = Some(Version::V2);
    k.set.strict = Some(true);
    let mut d = Diagnostics::new();
    complete_instance(&mut k, &g, None, (&[], &[]), &mut Ctx::new(&mut d)).unwrap();
    has(
        &d,
        "(V6) cannot use IPv6 with VRRP version 2; setting version 3",
        GE,
    );
    has(&d, "(V6) the first IPv6 VIP address must be link local", GE);
    assert_eq!((k.family, k.version), (Family::V6, Version::V3));
}

#[test]
fn unicast_without_peers() {
    let (i, d) = one("unicast_src_ip 192.0.2.1");
    has(&d, "(VI_1) A unicast keyword has been specified without any unicast peers. Defaulting to multicast.", GE);
    assert!(!i.permanent_fault);
    let (i, d) = one("unicast_src_ip 192.0.2.1\nunicast_fault_no_peer");
    has(
        &d,
        "(VI_1) Cannot use unicast without any peers - going to fault state",
        None,
    );
    assert!(i.permanent_fault);
    let (_, d) = one("check_unicast_src");
    has(
        &d,
        "A unicast keyword has been specified without any unicast peers",
        GE,
    );
    // Alone it is a unicast keyword too: FAULT (observed with keepalived 2.2.7).
    let (i, d) = one("unicast_fault_no_peer");
    has(
        &d,
        "(VI_1) Cannot use unicast without any peers - going to fault state",
        None,
    );
    assert!(i.permanent_fault);
    let (i, d) = one("unicast_ttl 10");
    has(
        &d,
        "(VI_1): Cannot use unicast_ttl without unicast peers - resetting",
        GE,
    );
    assert_eq!(i.unicast_ttl, None);
    let (i, d) =
        one("unicast_peer {\n192.0.2.2 min_ttl 20 max_ttl 10\nbad\n2001:db8::2\n192.0.2.3 foo\n}");
    has(
        &d,
        "(VI_1) min_ttl 20 > max_ttl 10 - all packets will be discarded",
        GE,
    );
    has(&d, "malformed unicast peer address[bad]. Skipping...", GE);
    has(
        &d,
        "and unicast peer address[2001:db8::2] MUST be of the same family",
        GE,
    );
    has(&d, "(VI_1) unknown unicast_peer option foo", GE);
    assert_eq!(i.unicast_peers.len(), 2);
    let (_, d) = one("unicast_peer {\n192.0.2.2\n}\nmcast_dst_ip 224.0.0.20");
    has(
        &d,
        "(VI_1) multicast destination specified with unicast - ignoring",
        GE,
    );
    let (_, d) = one("mcast_dst_ip 192.0.2.9");
    has(
        &d,
        "(VI_1) mcast_dst_ip 192.0.2.9 not multicast. Skipping...",
        GE,
    );
    let (_, d) = one("mcast_src_ip 192.0.2.1\nunicast_src_ip 2001:db8::1");
    has(
        &d,
        "and src address[2001:db8::1] MUST be of the same family !!! Skipping...",
        GE,
    );
}

#[test]
fn notify_duplicates_keep_first() {
    let (i, d) = one(
        "notify_master /bin/true\nnotify_master /bin/false\nnotify_deleted /x\nnotify_deleted /y",
    );
    assert_eq!(
        has(
            &d,
            "(VI_1) notify_master script already specified - ignoring /bin/false",
            GE
        ),
        5
    );
    has(
        &d,
        "(VI_1) notify_deleted already specified - ignoring /y",
        GE,
    );
    assert_eq!(i.notify.master.unwrap().argv, vec!["/bin/true"]);
    assert_eq!(i.notify_deleted_script.unwrap().argv, vec!["/x"]);
}

#[test]
fn bad_booleans_and_garp() {
    let (i, d) = one(
        "strict_mode maybe\nsmtp_alert maybe\nnotify_priority_changes x\nskip_check_adv_addr q",
    );
    has(&d, "(VI_1) invalid strict_mode maybe specified", GE);
    has(&d, "Invalid vrrp_instance smtp_alert parameter maybe", GE);
    has(
        &d,
        "(VI_1) Invalid value 'x' for notify_priority_changes specified",
        GE,
    );
    has(&d, "(VI_1) invalid skip_check_adv_addr q specified", GE);
    assert!(!i.strict);
    let (i, d) = one("garp_master_repeat 0\ngarp_master_delay x\ngarp_master_refresh y\ngarp_lower_prio_repeat z\ngarp_extra_if all\ngarp_extra_if 0");
    has(
        &d,
        "(VI_1): garp_master_repeat must be greater than 0, setting to 1",
        GE,
    );
    has(&d, "(VI_1): garp_master_delay 'x' invalid - ignoring", GE);
    has(&d, "(VI_1): Invalid garp_master_refresh 'y' - ignoring", GE);
    has(&d, "(VI_1): Invalid garp_lower_prio_repeat 'z'", GE);
    has(
        &d,
        "(VI_1): garp_extra_if specified without time - ignoring",
        GE,
    );
    has(&d, "(VI_1): garp_extra_if '0' invalid - ignoring", GE);
    assert_eq!(i.garp_master_repeat, 1);
    let (i, d) = one("vmac_garp_intvl 10");
    has(
        &d,
        "Keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"",
        Some(KaClass::Deprecated),
    );
    assert_eq!(i.garp_extra_if.unwrap().interval, Duration::from_secs(10));
    let (i, d) = one("linkbeat_use_polling");
    has(
        &d,
        "(VI_1) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block",
        GE,
    );
    assert!(i.linkbeat_use_polling);
    let (_, d) = one("native_ipv6\nunicast_src_ip 192.0.2.1");
    has(&d, "MUST be of the same family", GE);
    let (_, d) = one("mcast_src_ip 192.0.2.1\nnative_ipv6");
    has(
        &d,
        "(VI_1) Cannot specify native_ipv6 with IPv4 addresses",
        GE,
    );
}

#[test]
fn vmac_rules() {
    let (i, d) = one("vmac_xmit_base");
    has(&d, "(VI_1) vmac_xmit_base is only valid with a vmac", GE);
    assert!(!i.vmac_xmit_base);
    let (i, d) = one("use_vmac\nunicast_peer {\n192.0.2.2\n}");
    has(
        &d,
        "(VI_1) unicast with use_vmac requires vmac_xmit_base - setting",
        GE,
    );
    assert!(i.vmac_xmit_base);
    let (_, d) = one("use_vmac 00:00:5e:00:01:05");
    has(&d, "not allowed to be RFC5798 address", GE);
    let (_, d) = one("use_vmac 00:zz:00:00:00:01");
    has(&d, "VMAC invalid MAC address 00:zz:00:00:00:01", GE);
    let (_, d) = one("use_vmac 01:00:00:00:00:05");
    has(&d, "VMAC MAC address is multicast", GE);
    let (i, d) = one("use_vmac 02:00:00:00:01");
    clean(&d);
    assert_eq!(i.vmac.unwrap().mac, Some(vec![2, 0, 0, 0, 1]));
    let (i, d) = one("use_vmac\npromote_secondaries");
    has(
        &d,
        "(VI_1) promote_secondaries is automatically set for vmacs - ignoring",
        GE,
    );
    assert!(!i.promote_secondaries);
}

#[test]
fn duplicate_names_and_vrids() {
    let (cfg, d) = load(&format!("{}{}", inst(""), inst("")));
    has(&d, "vrrp instance VI_1 already defined", GE);
    assert_eq!(cfg.vrrp.instances.len(), 1);
    let two = format!(
        "{}vrrp_instance VI_2 {{\ninterface veth0\nvirtual_router_id 51\n}}\n",
        inst("")
    );
    let (cfg, d) = load(&two);
    has(
        &d,
        "VI_1 and VI_2 both use VRID 51 with IPv4 on interface veth0",
        GE,
    );
    assert!(cfg.vrrp.fatal.is_some());
    let other_if = format!(
        "{}vrrp_instance VI_2 {{\ninterface veth1\nvirtual_router_id 51\n}}\n",
        inst("")
    );
    let (cfg, d) = load(&other_if);
    clean(&d);
    assert!(cfg.vrrp.fatal.is_none());
    let (_, d) = load("vrrp_instance {\n}\nvrrp_instance A B {\n}");
    assert_eq!(
        d.items
            .iter()
            .filter(|x| x.message == "vrrp_instance must have a name")
            .count(),
        2
    );
}

#[test]
fn vrrp_script_block() {
    let (cfg, d) = load(&format!(
        "vrrp_script chk {{\nscript \"/bin/check a\"\ninterval 2\ntimeout 3\nweight -20 reverse\nrise 2\nfall 3\nuser nobody nogroup\ninit_fail\n}}\n{}",
        inst("track_script {\nchk\n}")
    ));
    clean(&d);
    let s = &cfg.vrrp.scripts[0];
    assert_eq!(s.script.as_ref().unwrap().argv, vec!["/bin/check", "a"]);
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(2), Duration::from_secs(3))
    );
    assert_eq!(
        (s.weight, s.weight_reverse, s.rise, s.fall),
        (-20, true, 2, 3)
    );
    assert_eq!(s.user, Some(("nobody".into(), Some("nogroup".into()))));
    assert!(s.init_fail);
    let (cfg, d) = load(&format!(
        "vrrp_script chk {{\nscript /bin/true\n}}\nvrrp_script chk2 {{\nscript /bin/true\n}}\n{}",
        inst("track_script {\nchk\n}")
    ));
    let s = &cfg.vrrp.scripts[0];
    assert_eq!(
        (s.interval, s.timeout, s.weight, s.rise, s.fall),
        (Duration::from_secs(1), Duration::ZERO, 0, 1, 1)
    );
    // keepalived -t does not report this: ours, class None
    has(&d, "Warning - script chk2 is not used", None);
    assert_eq!(cfg.vrrp.scripts.len(), 1);
}

#[test]
fn vrrp_script_errors() {
    let track = inst("track_script {\nchk\n}");
    let case = |body: &str| load(&format!("vrrp_script chk {{\n{body}\n}}\n{track}"));
    let (cfg, d) = case("interval 2");
    has(&d, "No script set for vrrp_script chk - removing", GE);
    has(&d, "(VI_1) track script chk not found, ignoring...", GE);
    assert!(cfg.vrrp.scripts.is_empty());
    assert!(cfg.vrrp.instances[0].track_scripts.is_empty());
    let (cfg, d) = case("script /x\ninterval 0");
    has(
        &d,
        "(chk): vrrp script interval must be greater than 0, setting to 1",
        GE,
    );
    assert_eq!(cfg.vrrp.scripts[0].interval, Duration::from_secs(1));
    let (_, d) = case("script /x\ninterval 1.5");
    has(
        &d,
        "(chk): vrrp script interval '1.5' must be between 1 and 4294 - ignoring",
        GE,
    );
    let (_, d) = case("script /x\ntimeout 0");
    has(
        &d,
        "(chk): vrrp script timeout must be greater than 0, setting to 1",
        GE,
    );
    let (_, d) = case("script /x\ntimeout x");
    has(&d, "(chk): vrrp script timeout 'x' invalid - ignoring", GE);
    let (_, d) = case("script /x\nweight 300");
    has(&d, "vrrp_script chk weight 300 must be in [-253, 253]", GE);
    let (_, d) = case("script /x\nweight 3 sideways");
    has(&d, "vrrp_script chk unknown weight option sideways", GE);
    let (cfg, d) = case("script /x\nrise 0\nfall x");
    has(
        &d,
        "(chk): vrrp script rise value '0' invalid, defaulting to 1",
        GE,
    );
    has(
        &d,
        "(chk): vrrp script fall value 'x' invalid, defaulting to 1",
        GE,
    );
    assert_eq!((cfg.vrrp.scripts[0].rise, cfg.vrrp.scripts[0].fall), (1, 1));
}

#[test]
fn track_references() {
    let (cfg, d) = load(&format!(
        "vrrp_script s {{\nscript /x\nweight 5\n}}\ntrack_file f {{\nfile /tmp/f\n}}\nvrrp_track_process p {{\nprocess sshd\n}}\nbfd_instance b {{\nneighbor_ip 192.0.2.9\n}}\n{}",
        inst("track_script {\ns weight 7 noreverse\ns\nnos\n}\ntrack_file {\nf weight 300\nnof\n}\ntrack_process {\np weight -3 reverse\nnop\n}\ntrack_bfd {\nb weight\nnob\n}\ntrack_interface {\nveth0\nveth1 weight 254\nveth2 weight 999\nveth3 bogus\nveth4 weight 3 sideways\n}")
    ));
    has(&d, "(VI_1) duplicate track_script s - ignoring", GE);
    has(&d, "(VI_1) track script nos not found, ignoring...", GE);
    has(
        &d,
        "(VI_1) weight for track file f must be in [-254..254] inclusive. Ignoring...",
        GE,
    );
    has(&d, "(VI_1) track file nof not found, ignoring...", GE);
    has(&d, "(VI_1) track process nop not found, ignoring...", GE);
    has(
        &d,
        "(VI_1) weight without value specified for track bfd b - ignoring",
        GE,
    );
    has(&d, "(VI_1) track bfd nob not found, ignoring...", GE);
    has(
        &d,
        "(VI_1) Ignoring track_interface veth0 since own interface",
        GE,
    );
    has(
        &d,
        "(VI_1) weight for veth1 cannot be +/-254. Setting to +/-253",
        GE,
    );
    has(
        &d,
        "(VI_1) weight 999 for veth2 must be between [-253..253] inclusive. Ignoring...",
        GE,
    );
    has(
        &d,
        "(VI_1) unknown track_interface veth3 option bogus - ignoring",
        GE,
    );
    has(
        &d,
        "(VI_1) unknown track_interace veth4 weight option sideways - ignoring",
        GE,
    );
    let i = &cfg.vrrp.instances[0];
    assert_eq!(i.track_scripts.len(), 1);
    assert_eq!(i.track_scripts[0].weight, Some(7));
    assert_eq!(i.track_files[0].weight, None);
    assert_eq!(
        (i.track_processes[0].weight, i.track_processes[0].reverse),
        (Some(-3), true)
    );
    assert_eq!(i.track_bfds.len(), 1);
    let ifs: Vec<_> = i
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        ifs,
        vec![
            ("veth1", Some(253)),
            ("veth2", None),
            ("veth3", None),
            ("veth4", Some(3))
        ]
    );
}

#[test]
fn track_file_process_bfd_blocks() {
    let (cfg, d) = load(
        "track_file f {\nfile /tmp/f\nweight -10 reverse\ninit_file 5 overwrite\n}\nvrrp_track_file g {\nweight 2\n}\nvrrp_track_process p {\nprocess /usr/sbin/x -a\nparam_match partial\nweight 300\nquorum 2\nquorum_max 4\ndelay 0.5\nterminate_delay 1\nfork_delay 2\n}\nbfd_instance b {\nneighbour_ip 192.0.2.9\nsource_ip 192.0.2.1\nmin_rx 20\nmin_tx 30\nidle_tx 2000\nmultiplier 3\npassive\nttl 10\nmax_hops 2\nweight 10 reverse\nvrrp\nchecker\n}\nbfd_instance c {\nmultiplier 0\n}",
    );
    has(
        &d,
        "\"vrrp_track_file\" is deprecated, please use \"track_file\"",
        None,
    );
    has(&d, "No file set for track_file g - ignoring", GE);
    has(
        &d,
        "Weight (300) for vrrp_track_process p must be between [-254..254] inclusive. Ignoring...",
        GE,
    );
    has(&d, "BFD instance c multiplier value 0 not valid", GE);
    has(
        &d,
        "BFD instance c has no neighbor address set, disabling instance",
        GE,
    );
    let f = &cfg.vrrp.track_files[0];
    assert_eq!(
        (f.path.as_deref(), f.weight, f.weight_reverse),
        (Some("/tmp/f"), -10, true)
    );
    assert_eq!(
        f.init,
        Some(TrackFileInit {
            value: 5,
            overwrite: true
        })
    );
    assert_eq!(cfg.vrrp.track_files.len(), 1);
    let p = &cfg.vrrp.track_processes[0];
    assert_eq!(p.process, vec!["/usr/sbin/x", "-a"]);
    assert!(p.full_command);
    assert_eq!(
        (p.param_match, p.weight, p.quorum, p.quorum_max),
        (ParamMatch::Partial, 0, 2, Some(4))
    );
    assert_eq!(
        (p.delay, p.terminate_delay, p.fork_delay),
        (
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(2)
        )
    );
    let b = &cfg.vrrp.bfd_instances[0];
    assert_eq!(cfg.vrrp.bfd_instances.len(), 1);
    assert_eq!(b.neighbor, Some("192.0.2.9".parse().unwrap()));
    assert_eq!(
        (b.min_rx_us, b.min_tx_us, b.idle_tx_us, b.multiplier),
        (20_000, 30_000, 2_000_000, 3)
    );
    assert!(b.passive && b.vrrp && b.checker && b.weight_reverse);
    assert_eq!((b.ttl, b.max_hops, b.weight), (Some(10), Some(2), 10));
    let (cfg, _) = load("track_file f {\nfile /f\n}\nvrrp_track_process p {\nprocess sshd\n}\nbfd_instance b {\nneighbor_ip 192.0.2.1\n}");
    assert_eq!(cfg.vrrp.track_files[0].weight, 1);
    let p = &cfg.vrrp.track_processes[0];
    assert_eq!(
        (p.weight, p.quorum, p.quorum_max, p.full_command),
        (0, 1, None, false)
    );
    let b = &cfg.vrrp.bfd_instances[0];
    assert_eq!(
        (b.min_rx_us, b.min_tx_us, b.idle_tx_us, b.multiplier, b.ttl),
        (10_000, 10_000, 1_000_000, 5, None)
    );
}

fn vi2() -> String {
    "vrrp_instance VI_2 {\ninterface veth0\nvirtual_router_id 52\n}\n".into()
}

#[test]
fn sync_groups() {
    let (cfg, d) = load(&format!(
        "vrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\nnotify_master /m\nnotify /n\nsmtp_alert\nnotify_priority_changes\nsync_group_tracking_weight\ntrack_interface {{\nveth1\n}}\n}}\n{}{}",
        inst(""),
        vi2()
    ));
    clean(&d);
    let g = &cfg.vrrp.sync_groups[0];
    assert_eq!(g.members, vec!["VI_1", "VI_2"]);
    assert!(g.smtp_alert && g.notify_priority_changes == Some(true) && g.tracking_weight);
    // Members without their own setting inherit the group's (keepalived 2.2.7 vrrp.c).
    assert!(cfg.vrrp.instances.iter().all(|i| i.notify_priority_changes));
    let (cfg, d) = load(&format!(
        "global_defs {{\nvrrp_notify_priority_changes\n}}\nvrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\nnotify_priority_changes no\n}}\n{}{}",
        inst("notify_priority_changes"),
        vi2()
    ));
    clean(&d);
    let npc: Vec<bool> = cfg
        .vrrp
        .instances
        .iter()
        .map(|i| i.notify_priority_changes)
        .collect();
    assert_eq!(
        npc,
        [true, false],
        "own setting, else the group's, else the global one"
    );
    assert_eq!(g.notify.master.as_ref().unwrap().argv, vec!["/m"]);
    assert_eq!(g.track_interfaces.len(), 1);
    assert_eq!(cfg.vrrp.instances[1].sync_group.as_deref(), Some("G"));

    let (cfg, d) = load(&format!(
        "vrrp_sync_group G {{\ngroup {{\nVI_1\nVI_X\n}}\n}}\nvrrp_sync_group H {{\ngroup {{\nVI_1\n}}\n}}\nvrrp_sync_group G {{\n}}\nvrrp_sync_group E {{\nnotify /x\n}}\n{}",
        inst("")
    ));
    has(
        &d,
        "Virtual router VI_X specified in sync group G doesn't exist - ignoring",
        GE,
    );
    has(
        &d,
        "Sync group G has only 1 virtual router(s) - this probably isn't what you want",
        GE,
    );
    has(
        &d,
        "Virtual router VI_1 cannot exist in more than one sync group; ignoring H",
        GE,
    );
    has(
        &d,
        "Sync group H, no matching virtual router found in group declaration - removing",
        GE,
    );
    has(&d, "vrrp sync group G already defined", GE);
    has(&d, "Sync group E has no virtual router(s). removing", GE);
    assert_eq!(cfg.vrrp.sync_groups.len(), 1);

    let (_, d) = load(&format!(
        "vrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\nglobal_tracking\nnotify_fault /a\nnotify_fault /b\nsmtp_alert x\n}}\n{}{}",
        inst(""),
        vi2()
    ));
    has(
        &d,
        "(G) global_tracking is deprecated. Use track_interface/script/file on the sync group",
        GE,
    );
    has(
        &d,
        "vrrp group G: notify_fault script already specified - ignoring /b",
        GE,
    );
    has(&d, "Invalid vrrp_group smtp_alert parameter x", GE);
}

#[test]
fn weights_neutralised_in_sync_groups_and_for_owner() {
    let scripts = "vrrp_script chk {\nscript /x\nweight 10\n}\ntrack_file f {\nfile /f\n}\ntrack_file h {\nfile /h\nweight 5\n}\n";
    let tracks =
        "track_script {\nchk\n}\ntrack_file {\nf\nh\n}\ntrack_interface {\nveth1 weight 5\n}";
    let (cfg, d) = load(&format!(
        "{scripts}vrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\n}}\n{}{}",
        inst(tracks),
        vi2()
    ));
    has(
        &d,
        "(VI_1) ignoring tracked script chk with weights due to SYNC group",
        GE,
    );
    has(
        &d,
        "(VI_1) ignoring weight from tracked file f due to SYNC group. specify weight 0",
        GE,
    );
    has(
        &d,
        "(VI_1) ignoring tracked file h with weight 5 due to SYNC group",
        GE,
    );
    has(
        &d,
        "(VI_1) ignoring veth1 tracked interface weight due to SYNC group",
        GE,
    );
    let i = &cfg.vrrp.instances[0];
    assert!(i.track_scripts.is_empty());
    assert_eq!(i.track_files.len(), 1);
    assert_eq!(i.track_files[0].weight, Some(0));
    assert_eq!(i.track_interfaces[0].weight, Some(0));

    let (cfg, d) = load(&format!(
        "{scripts}{}",
        inst(&format!("priority 255\n{tracks}"))
    ));
    has(
        &d,
        "(VI_1) ignoring tracked script chk with weights due to address_owner",
        GE,
    );
    has(
        &d,
        "(VI_1) ignoring veth1 tracked interface due to address owner",
        GE,
    );
    assert!(cfg.vrrp.instances[0].track_interfaces.is_empty());

    let (cfg, d) = load(&format!(
        "{scripts}vrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\ntrack_script {{\nchk\n}}\n}}\n{}vrrp_instance VI_2 {{\ninterface veth0\nvirtual_router_id 52\npriority 255\n}}\n",
        inst("priority 255")
    ));
    has(&d, "(G) Cannot have weighted track script 'chk' with member having priority 255 - clearing weight", GE);
    assert_eq!(cfg.vrrp.sync_groups[0].track_scripts[0].weight, Some(0));
    let (_, d) = load(&format!(
        "vrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\n}}\n{}{}",
        inst("priority 255"),
        vi2()
    ));
    has(&d, "Sync group G has some member(s) as address owner and some not as address owner. This won't work.", None);
}

#[test]
fn diagnostics_are_errors_with_spans() {
    let (_, d) = one("priority 0");
    let x = d
        .items
        .iter()
        .find(|x| x.message.contains("Priority"))
        .unwrap();
    assert_eq!(x.severity, Severity::Error);
    let sp = x.span.unwrap();
    assert_eq!((sp.line, sp.col), (4, 10));
}

#[test]
fn references_must_precede_their_use() {
    let (cfg, d) = load(&format!(
        "{}vrrp_script chk {{\nscript /x\n}}\n",
        inst("track_script {\nchk\n}")
    ));
    has(&d, "(VI_1) track script chk not found, ignoring...", GE);
    assert!(cfg.vrrp.instances[0].track_scripts.is_empty());
    // and the now unused script is reported as keepalived would at run time
    has(&d, "Warning - script chk is not used", None);
}

#[test]
fn unnamed_objects_are_missing_parameters() {
    for kw in [
        "vrrp_script",
        "track_file",
        "vrrp_track_process",
        "bfd_instance",
    ] {
        let (_, d) = load(&format!("{kw} {{\n}}"));
        assert_eq!(d.config_test_exit_code(), 2, "{kw}");
    }
}

#[test]
fn unicast_instances_may_share_a_vrid() {
    let peers = |p: &str| format!("unicast_peer {{\n{p}\n}}");
    let two = format!(
        "{}vrrp_instance VI_2 {{\ninterface veth0\nvirtual_router_id 51\n{}\n}}\n",
        inst(&peers("192.0.2.2")),
        peers("192.0.2.3")
    );
    let (cfg, d) = load(&two);
    clean(&d);
    assert!(cfg.vrrp.fatal.is_none());
    let same = format!(
        "{}vrrp_instance VI_2 {{\ninterface veth0\nvirtual_router_id 51\n{}\n}}\n",
        inst(&peers("192.0.2.2")),
        peers("192.0.2.2")
    );
    let (_, d) = load(&same);
    has(
        &d,
        "VI_1 and VI_2 both use VRID 51 with IPv4 on interface veth0",
        GE,
    );
}

fn with_vips(n: usize, v6: bool) -> Instance {
    let mut i = Instance::new("C", Span::default());
    for k in 0..n {
        let addr: IpAddr = if v6 {
            format!("2001:db8::{:x}", k + 1).parse().unwrap()
        } else {
            format!("198.51.{}.{}", k / 250, k % 250 + 1)
                .parse()
                .unwrap()
        };
        i.vips
            .push(crate::config::model::addr::AddressSpec::new(addr, 32));
    }
    if v6 {
        i.family = Family::V6;
        i.version = Version::V3;
    }
    i
}

#[test]
fn vips_beyond_one_advert_become_evips() {
    assert_eq!(max_vips_per_advert(&with_vips(0, false), 1500), 255);
    assert_eq!(max_vips_per_advert(&with_vips(0, true), 1500), 89);
    assert_eq!(max_vips_per_advert(&with_vips(0, false), 200), 37);
    let mut i = with_vips(100, true);
    let mut d = Diagnostics::new();
    cap_vips(&mut i, 1500, &mut Ctx::new(&mut d));
    has(&d, "(C) Number of VIPs (100) exceeds maximum/space available in packet (max 89 addresses) - excess moved to eVIPs", GE);
    assert_eq!((i.vips.len(), i.evips.len()), (89, 11));
    let mut i = with_vips(255, false);
    let mut d = Diagnostics::new();
    cap_vips(&mut i, 1500, &mut Ctx::new(&mut d));
    clean(&d);
}

#[test]
fn lints_do_not_change_the_verdict() {
    // strict mode without accept, VRID shared across families
    let mut j = with_vips(1, true);
    j.vrid = Some(1);
    j.interface = Some("veth0".into());
    j.set.strict = Some(true);
    j.vips[0].addr = "fe80::1".parse().unwrap();
    let mut d = Diagnostics::new();
    complete_instance(
        &mut j,
        &GlobalVrrpDefaults::default(),
        None,
        (&[], &[]),
        &mut Ctx::new(&mut d),
    )
    .unwrap();
    has(&d, "(C) strict mode without 'accept'", None);
    assert_eq!(d.config_test_exit_code(), 0);
    let mut v = VrrpConfig::default();
    let mut a = with_vips(1, false);
    a.vrid = Some(7);
    a.interface = Some("veth0".into());
    let mut b = j.clone();
    b.name = "D".into();
    b.vrid = Some(7);
    v.instances = vec![a, b];
    let mut d = Diagnostics::new();
    check_duplicate_vrids(&mut v, &mut Ctx::new(&mut d));
    has(&d, "VRID 7 is also used by C on veth0", None);
    assert!(v.fatal.is_none());
}

#[test]
fn same_tracker_on_group_and_member() {
    let (_, d) = load(&format!(
        "vrrp_script chk {{\nscript /x\n}}\nvrrp_sync_group G {{\ngroup {{\nVI_1 VI_2\n}}\ntrack_interface {{\nveth1\n}}\ntrack_script {{\nchk\n}}\n}}\n{}{}",
        inst("track_interface {\nveth1\n}\ntrack_script {\nchk\n}"),
        vi2()
    ));
    has(&d, "(VI_1) track_interface veth1 is configured on VRRP instance and sync group. Remove vrrp instance or sync group config", GE);
    has(&d, "(VI_1) track_script chk is configured on VRRP instance and sync group. Remove vrrp instance config", None);
    let (i, d) = one("vrf blue");
    has(
        &d,
        "(VI_1) Cannot specify VRF interface and interface - ignoring",
        GE,
    );
    assert!(i.vrf.is_none());
    let (cfg, _) = load("vrrp_instance X {\nvrf blue\nvirtual_router_id 1\n}");
    assert_eq!(cfg.vrrp.instances[0].vrf.as_deref(), Some("blue"));
}

/// keepalived 2.2.8's `v3_checksum_as_v2`, `no_virtual_ipaddress`, `timer_expired_backup`:
/// values, defaults from global_defs and keepalived's messages.
#[test]
fn keepalived_228_instance_keywords() {
    let note = |d: &Diagnostics, kw: &str| {
        assert!(
            d.items.iter().any(|x| x.severity == Severity::Note
                && x.class.is_none()
                && x.message
                    == format!(
                        "'{kw}' was added in keepalived 2.2.8; keepalived 2.2.7 rejects it"
                    )),
            "{:#?}",
            d.items
        )
    };
    let (i, d) = one("v3_checksum_as_v2");
    note(&d, "v3_checksum_as_v2");
    assert!(i.v3_checksum_as_v2);
    let (i, _) = one("v3_checksum_as_v2 off");
    assert!(!i.v3_checksum_as_v2);
    let (_, d) = one("v3_checksum_as_v2 maybe");
    has(&d, "(VI_1) invalid v3_checksum_as_v2 maybe specified", GE);
    // global_defs sets the default, an instance may turn it off
    let (cfg, _) = load(&format!(
        "global_defs {{\nv3_checksum_as_v2\n}}\n{}{}",
        inst(""),
        inst("v3_checksum_as_v2 no")
            .replace("VI_1", "VI_2")
            .replace(" 51", " 52")
    ));
    let flags: Vec<bool> = cfg
        .vrrp
        .instances
        .iter()
        .map(|i| i.v3_checksum_as_v2)
        .collect();
    assert_eq!(flags, [true, false]);

    // no VIPs: keepalived 2.2.7 says "sensible" (v2) or "required" (v3); the keyword
    // silences both, except in strict mode
    let (_, d) = one("");
    has(&d, "(VI_1) No VIP specified; at least one is sensible", GE);
    let (i, d) = one("no_virtual_ipaddress");
    clean(&d);
    assert!(!d.items.iter().any(|x| x.message.contains("No VIP")));
    assert!(i.no_virtual_ipaddress);
    let (i, d) = load_one("version 3\nno_virtual_ipaddress");
    assert!(d.items.iter().all(|x| x.class.is_none()), "{:#?}", d.items);
    assert!(i.is_some_and(|i| i.no_virtual_ipaddress));
    let (_, d) = one("strict_mode\nno_virtual_ipaddress");
    has(
        &d,
        "(VI_1) no_virtual_ipaddress and strict mode incompatible, clearing no_virtual_ipaddress",
        Some(KaClass::Warning),
    );
    has(&d, "(VI_1) No VIP specified; at least one is required", GE);

    let (i, d) = one("nopreempt\ntimer_expired_backup");
    note(&d, "timer_expired_backup");
    assert_eq!(i.timer_expired_backup, Some(254));
    let (i, _) = one("nopreempt\ntimer_expired_backup 100");
    assert_eq!(i.timer_expired_backup, Some(100));
    let (i, d) = one("nopreempt\ntimer_expired_backup 255");
    has(
        &d,
        "(VI_1) timer_expired _backup highest_other_priority not valid! must be between 1 & 254",
        GE,
    );
    assert_eq!(i.timer_expired_backup, None);
    let (i, d) = one("timer_expired_backup 100");
    has(
        &d,
        "(VI_1) expired_timer_backup requires nopreempt - resetting",
        GE,
    );
    assert_eq!(i.timer_expired_backup, None);
}

/// The instance if `finish` kept it.
fn load_one(body: &str) -> (Option<Instance>, Diagnostics) {
    let (cfg, d) = load(&inst(body));
    (cfg.vrrp.instances.into_iter().next(), d)
}

#[test]
fn vrrp_min_garp_keeps_values_set_after_it() {
    let mut cfg = Config::default();
    cfg.global.vrrp_min_garp = true;
    cfg.global.vrrp_garp_master_delay = std::time::Duration::ZERO;
    cfg.global.vrrp_garp_master_repeat = 3;
    let d = global_vrrp_defaults(&cfg);
    assert_eq!(d.garp_master_repeat, 3);
    assert_eq!(d.garp_master_delay, std::time::Duration::ZERO);
}

#[test]
fn bfd_intervals_are_milliseconds_with_3_decimals() {
    let (cfg, d) = load(
        "bfd_instance b {\nneighbor_ip 192.0.2.1\nmin_rx 1.5\nmin_tx 2.0005\nidle_tx 999\n}\n",
    );
    let b = &cfg.vrrp.bfd_instances[0];
    // min_tx: a 4th decimal is rounded (and reported); idle_tx below 1000 ms is refused.
    assert_eq!(
        (b.min_rx_us, b.min_tx_us, b.idle_tx_us),
        (1_500, 2_001, 1_000_000)
    );
    let g = Some(KaClass::GeneralError);
    has(&d, "number '2.0005' has too many decimal places", g);
    has(&d, "number '999' outside range [1000.000, 4294967.000]", g);
    has(
        &d,
        "Configuration error: BFD instance b idle_tx value 999 is not valid (must be in range [1000-4294967]), ignoring",
        g,
    );
}

#[test]
fn bfd_multihop_and_duplicate_neighbours() {
    let (cfg, d) = load(
        "bfd_instance a {\nneighbor_ip 192.0.2.1\n}\n\
         bfd_instance b {\nneighbor_ip 192.0.2.1\nmultihop\n}\n\
         bfd_instance c {\nneighbor_ip 192.0.2.1\nsource_ip 192.0.2.9\n}\n\
         bfd_instance d {\nneighbor_ip 192.0.2.2\nsource_ip 192.0.2.9\nmultihop no\n}\n\
         bfd_instance e {\nneighbor_ip 192.0.2.2\nsource_ip 192.0.2.8\nmultihop maybe\n}\n\
         bfd_instance f {\nneighbor_ip 192.0.2.2\nsource_ip 192.0.2.9\n}\n",
    );
    let got: Vec<_> = cfg
        .vrrp
        .bfd_instances
        .iter()
        .map(|b| (b.name.as_str(), b.multihop))
        .collect();
    // b: another port, so no clash with a; e: another source than d's.
    assert_eq!(
        got,
        vec![("a", false), ("b", true), ("d", false), ("e", false)]
    );
    let g = Some(KaClass::GeneralError);
    has(
        &d,
        "Configuration error: BFD instance c has duplicate source/neighbor address 192.0.2.9/192.0.2.1, ignoring instance",
        g,
    );
    has(
        &d,
        "Configuration error: BFD instance f has duplicate source/neighbor address 192.0.2.9/192.0.2.2, ignoring instance",
        g,
    );
    has(
        &d,
        "Configuration error: BFD instance e multihop setting not valid - maybe",
        g,
    );
}
