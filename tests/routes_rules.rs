//! End to end, in a network namespace: every option of address, route and rule lines
//! (`static_ipaddress`, `virtual_ipaddress[_excluded]`, `static_routes`, `virtual_routes`,
//! `static_rules`, `virtual_rules`) as the kernel shows it once the instance is MASTER,
//! compared line for line with what keepalived 2.2.7 installs from the same file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;

use node_daemon::*;

/// One node, `eth0` (192.0.2.1/24, 2001:db8::1/64) plus a macvlan `mv1` on it
/// (203.0.113.1/24, 2001:db8:5::1/64) for the second next hop and `oif`.
fn node(test: &str) -> Option<netns::Lan> {
    let lan = lan_or_skip(test, 1)?;
    for args in [
        &[
            "ip", "link", "add", "link", "eth0", "name", "mv1", "type", "macvlan", "mode", "bridge",
        ][..],
        &["ip", "link", "set", "mv1", "up"],
        &["ip", "addr", "add", "203.0.113.1/24", "dev", "mv1"],
        &[
            "ip",
            "addr",
            "add",
            "2001:db8:5::1/64",
            "dev",
            "mv1",
            "nodad",
        ],
    ] {
        lan.must(0, args);
    }
    Some(lan)
}

// `inet`/`inet6` take the next word with them in keepalived 2.2.7 (and so in ours): hence
// `inet6 inet6 PREFIX`. `gw` is reported as deprecated by both, and still applied.
const CONF: &str = r#"
global_defs {
  router_id routes_rules
}
static_ipaddress {
  192.0.2.50/24 brd + dev eth0 scope link label eth0:st
  192.0.2.51/24 broadcast - dev eth0
  203.0.113.52 dev mv1 peer 203.0.113.53 scope host
  2001:db8::50/64 dev eth0 home mngtmpaddr noprefixroute preferred_lft 0
  2001:db8::51/64 dev eth0 -nodad
  2001:db8::52 dev eth0
  192.0.2.53 dev eth0 preferred_lft 0
  239.1.2.3/32 dev eth0 autojoin
  192.0.2.54/24 dev eth0 no_track
}
static_routes {
  198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 advmss 1300 rtt 300ms rttvar lock 250ms reordering 3 window 100 cwnd 10 ssthresh lock 5 rto_min 300ms initcwnd 10 initrwnd 11 features ecn quickack 1 hoplimit 64 congctl lock reno fastopen_no_cookie 1 realms 1/2
  198.51.100.1 dev eth0 metric 9 rtt 10 advmss lock 1000 cwnd lock 4 reordering lock 5 rto_min lock 1s
  198.51.100.2 via 192.0.2.254 dev eth0 src 192.0.2.1 preference 7 tos 0x10 table 1000 protocol static no_track
  local 198.51.100.3 dev eth0 table 1000
  broadcast 198.51.100.4 dev eth0 table 1000
  throw 198.51.100.5 table 1000 no_track
  unreachable 198.51.100.6 table 1000 no_track
  prohibit 198.51.100.7 table 1000 no_track
  blackhole 198.51.100.8 table 1000 no_track
  2001:db8:3::/48 dev eth0 from 2001:db8:4::/64 priority 5
  inet6 inet6 2001:db8:7::/48 dev eth0
  inet inet 198.51.100.20 dev eth0
  198.51.100.19 gw 192.0.2.254 dev eth0 dsfield 0x08
}
static_rules {
  from 192.0.2.0/24 table 100 priority 100 sport 1000-2000 dport 80-80 uidrange 100-200 realms 3/4
  l3mdev priority 101
  from 192.0.2.7 to 198.51.100.0/24 lookup main order 102 ipproto tcp
  not from 192.0.2.8 table 1000 preference 103 tunnel-id 5
  from 192.0.2.9 table 100 priority 104 protocol 4 no_track
  from 2001:db8::/64 table 100 priority 105 dport 443-443 ipproto udp
  inet6 inet6 from 2001:db8:9::/64 table 100 priority 108
  inet inet from 192.0.2.11 table 100 priority 109
  from 192.0.2.10 table 100 priority 106 dsfield 0x08 sup_pl 16 sup_group 2
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 200
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/24
    192.0.2.101/24 dev mv1 label mv1:vip brd 192.0.2.255 scope site
  }
  virtual_ipaddress_excluded {
    2001:db8::100/64
    2001:db8::101
    203.0.113.100/24 dev mv1 preferred_lft 0
    2001:db8:5::100/64 dev mv1 preferred_lft forever
  }
  virtual_routes {
    198.51.100.10 dev eth0 nexthop via 192.0.2.250 dev eth0 weight 2 nexthop via 203.0.113.251 dev mv1 onlink realms 5
    198.51.100.11 via 192.0.2.254 or 192.0.2.253 dev eth0
    anycast 198.51.100.12 dev eth0 no_track
    multicast 239.1.1.1 dev eth0 no_track
    nat 198.51.100.13 dev eth0 no_track
    xresolve 198.51.100.14 dev eth0 no_track
    unicast 198.51.100.15 dev eth0 table 4000 add
    198.51.100.16 oif eth0 prepend
    198.51.100.17 dev eth0 scope link append
    198.51.100.18 via 203.0.113.254 dev eth0 onlink
    2001:db8:1::/48 via 2001:db8::fe dev eth0 expires 1000 pref high
    2001:db8:2::/48 via 2001:db8::fe dev eth0 ttl-propagate enabled pref low hoplimit 9
    2001:db8:6::/48 dev eth0 nexthop via 2001:db8::fa dev eth0 nexthop via 2001:db8:5::fb dev mv1 weight 3
  }
  virtual_rules {
    from 192.0.2.5 table 100 priority 200 fwmark 0x10/0xff iif eth0 oif mv1 tos 0x10 suppress_prefixlength 8 suppress_ifgroup 1
    from 192.0.2.6 goto 300 priority 201
    to 198.51.100.0/24 blackhole priority 202 no_track
    to 198.51.100.1 unreachable priority 203
    to 198.51.100.2 prohibit priority 204
    to 198.51.100.3 nop priority 205
    from all fwmark 7 table 5000 priority 206 dev eth0
    to 2001:db8:1::/48 table 100 priority 207 sport 53-53
  }
}
"#;

/// What the kernel shows, with what must differ between runs blanked (lifetime countdowns).
fn snapshot(lan: &netns::Lan) -> String {
    let mut out = String::new();
    for args in [
        &["ip", "-4", "-d", "route", "show", "table", "all"][..],
        &["ip", "-6", "-d", "route", "show", "table", "all"],
        &["ip", "-4", "-d", "rule", "show"],
        &["ip", "-6", "-d", "rule", "show"],
        &["ip", "addr", "show"],
    ] {
        out.push_str(&format!("## {}\n", args.join(" ")));
        for line in lan.must(0, args).lines() {
            out.push_str(&normalize(line));
            out.push('\n');
        }
    }
    out
}

/// Replaces the number of `expires Nsec`, `valid_lft Nsec`, `preferred_lft Nsec`.
fn normalize(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let after_timer = i > 0
            && matches!(words[i - 1], "expires" | "valid_lft" | "preferred_lft")
            && w.ends_with("sec")
            && w.trim_end_matches("sec")
                .bytes()
                .all(|b| b.is_ascii_digit());
        out.push(if after_timer { "Nsec" } else { w });
    }
    out.join(" ")
}

/// Starts a daemon, waits for MASTER and a settled kernel state, snapshots it, stops it.
fn run(lan: &netns::Lan, real: bool) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bpid = dir.path().join("bfd.pid");
    let bpid = bpid.to_string_lossy().into_owned();
    let mut d = Daemon::start_with(lan, 0, real, CONF, &["-b", &bpid]);
    let master = wait_until(30, || has_addr(lan, 0, "192.0.2.100"));
    assert!(master, "never became MASTER:\n{}", d.log());
    // Routes and rules follow the VIPs in the same step; wait until nothing changes.
    let mut last = snapshot(lan);
    let settled = wait_until(20, || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = snapshot(lan);
        let same = now == last;
        last = now;
        same
    });
    assert!(settled, "kernel state never settled:\n{}", d.log());
    d.stop();
    let log = d.log();
    (last, log)
}

/// Lines of `after` that `before` does not have.
fn added_lines<'a>(before: &str, after: &'a str) -> Vec<&'a str> {
    let b: Vec<&str> = before.lines().collect();
    after.lines().filter(|l| !b.contains(l)).collect()
}

#[test]
fn routes_rules_and_addresses_as_keepalived() {
    let test = "routes_rules_and_addresses_as_keepalived";
    if !real_or_skip(test) {
        return;
    }
    let Some(lan) = node(test) else { return };
    let before = snapshot(&lan);
    let (theirs, their_log) = run(&lan, true);
    // What keepalived 2.2.7 leaves behind at stop (observed): the static address with a
    // peer (its delete does not name the peer, so the kernel finds no such address), and
    // the kernel keeps the `broadcast 192.0.2.0` route of `broadcast -` while 192.0.2.1/24
    // is on eth0. Both are removed here so that ours starts from the same state.
    let after = snapshot(&lan);
    let left = added_lines(&before, &after);
    assert_eq!(
        left,
        [
            "unicast 203.0.113.53 dev mv1 table main proto kernel scope link src 203.0.113.52 ",
            "broadcast 192.0.2.0 dev eth0 table local proto kernel scope link src 192.0.2.1 ",
            "local 203.0.113.52 dev mv1 table local proto kernel scope host src 203.0.113.52 ",
            "    inet 203.0.113.52 peer 203.0.113.53/32 scope host mv1",
        ],
        "keepalived 2.2.7 left other state behind:\n{their_log}"
    );
    lan.must(
        0,
        &[
            "ip",
            "addr",
            "del",
            "203.0.113.52",
            "peer",
            "203.0.113.53",
            "dev",
            "mv1",
        ],
    );
    lan.must(
        0,
        &[
            "ip",
            "route",
            "del",
            "broadcast",
            "192.0.2.0",
            "dev",
            "eth0",
            "table",
            "local",
        ],
    );
    assert_eq!(snapshot(&lan), before);
    let (ours, our_log) = run(&lan, false);
    // Ours removes the peer address too; the kernel's broadcast route stays as above.
    let after = snapshot(&lan);
    assert_eq!(
        added_lines(&before, &after),
        ["broadcast 192.0.2.0 dev eth0 table local proto kernel scope link src 192.0.2.1 "],
        "ours left other state behind:\n{our_log}"
    );
    let (t, o): (Vec<&str>, Vec<&str>) = (theirs.lines().collect(), ours.lines().collect());
    let diff: Vec<String> = t
        .iter()
        .filter(|l| !o.contains(l))
        .map(|l| format!("- {l}"))
        .chain(
            o.iter()
                .filter(|l| !t.contains(l))
                .map(|l| format!("+ {l}")),
        )
        .collect();
    assert!(
        diff.is_empty() && t == o,
        "kernel state differs (- keepalived 2.2.7, + ours):\n{}\n\n2.2.7:\n{theirs}\nours:\n{ours}\n\nour log:\n{our_log}",
        diff.join("\n")
    );
    // Sanity: the options are really there (so an empty state on both sides fails).
    for want in [
        "mtu lock 1400",
        "congctl lock reno",
        "nexthop via 203.0.113.251 realm 5 dev mv1 weight 1 onlink",
        "sport 1000-2000 dport 80",
        "uidrange 100-200",
        "lookup [l3mdev-table]",
        "expires Nsec pref high",
        "ipproto tcp",
        "tun_id 5",
    ] {
        assert!(ours.contains(want), "{want} missing:\n{ours}");
    }
}

const TRACK_GROUP_CONF: &str = r#"
global_defs {
  router_id routes_rules
}
track_group G {
  group {
    VI_1
  }
}
static_routes {
  198.51.100.40 dev mv1 track_group G
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 200
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/24
  }
}
"#;

/// `track_group` on a static route: the group's instance faults while the route's
/// interface is down and comes back with it (keepalived's vrrp_static_track.c).
fn track_group_faults(lan: &netns::Lan, real: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bpid = dir.path().join("bfd.pid").to_string_lossy().into_owned();
    let mut d = Daemon::start_with(lan, 0, real, TRACK_GROUP_CONF, &["-b", &bpid]);
    let who = if real { "keepalived 2.2.7" } else { "ours" };
    assert!(
        wait_until(30, || has_addr(lan, 0, "192.0.2.100")),
        "{who}: never MASTER:\n{}",
        d.log()
    );
    lan.must(0, &["ip", "link", "set", "mv1", "down"]);
    assert!(
        wait_until(20, || !has_addr(lan, 0, "192.0.2.100")),
        "{who}: VIP kept with the track group's interface down:\n{}",
        d.log()
    );
    assert!(
        d.log().contains("(VI_1) Entering FAULT STATE"),
        "{}",
        d.log()
    );
    lan.must(0, &["ip", "link", "set", "mv1", "up"]);
    assert!(
        wait_until(30, || has_addr(lan, 0, "192.0.2.100")),
        "{who}: not MASTER again after the interface came back:\n{}",
        d.log()
    );
    d.stop();
}

#[test]
fn static_track_group_faults_its_instances_as_keepalived() {
    let test = "static_track_group_faults_its_instances_as_keepalived";
    if !real_or_skip(test) {
        return;
    }
    let Some(lan) = node(test) else { return };
    track_group_faults(&lan, true);
    track_group_faults(&lan, false);
}
