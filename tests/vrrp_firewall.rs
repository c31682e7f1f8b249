//! The VRRP firewall: `vrrp_strict` / `no_accept` drop traffic to the VIPs of a
//! MASTER, and VMACs get keepalived's IGMP/MLD rules. Each scenario runs with our daemon and
//! with the real keepalived 2.2.7 on the same LAN, and `nft list ruleset` must read the same
//! at every step. Root is needed: loud skip, or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;
use support::wire;

use std::process::Command;

use node_daemon::*;
use wire::*;

const VIP: &str = "192.0.2.100";
const EVIP: &str = "198.51.100.7";
const VIP6: &str = "2001:db8::200";

fn nft_or_skip(test: &str) -> bool {
    if Command::new("nft").arg("--version").output().is_err() {
        support::skip_or_fail(test, "nft (Debian package nftables) is not installed");
        return false;
    }
    true
}

fn pings(lan: &netns::Lan, from: usize, to: &str) -> bool {
    // busybox-static is one of the test packages; iputils may be absent.
    let o = lan.exec(from, &["busybox", "ping", "-c", "1", "-W", "1", to]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("exec of"), "cannot run busybox ping: {err}");
    o.status.success()
}

fn strict_conf(prio: u8) -> String {
    format!(
        "global_defs {{\n  router_id test\n  vrrp_strict\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n  \
         virtual_ipaddress_excluded {{\n    {EVIP}/32\n  }}\n}}\n\
         vrrp_instance VI_6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
         priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    fe80::52\n    {VIP6}/64\n  }}\n}}\n"
    )
}

/// The rulesets of node 0 at MASTER, after a higher-priority peer took over, and after stop;
/// plus whether the client could ping the VIP while node 0 was MASTER.
fn strict_run(lan: &netns::Lan, real: bool) -> (Vec<String>, bool, String) {
    // A table left by an earlier run is replaced (and logged) at the first use.
    lan.must(0, &["nft", "add", "table", "ip", "keepalived"]);
    lan.must(
        0,
        &[
            "nft",
            "add",
            "set",
            "ip",
            "keepalived",
            "junk",
            "{ type ipv4_addr; }",
        ],
    );
    let mut a = Daemon::start(lan, 0, real, &strict_conf(150));
    let ok = wait_until(10, || {
        has_addr(lan, 0, VIP) && lan.nft_ruleset(0).contains("fe80::52 . \"eth0\"")
    });
    assert!(ok, "node 0 not MASTER with its drop rules\n{}", a.log());
    let mut out = vec![lan.nft_ruleset(0)];
    let ping = pings(lan, 2, VIP);
    // The node's own address still answers: only the VIPs are dropped.
    assert!(pings(lan, 2, "192.0.2.1"), "{}", a.log());
    // A reload that adds a VIP adds it to the drop set.
    let two_vips = |prio| {
        strict_conf(prio).replace(
            &format!("    {VIP}/24\n"),
            &format!("    {VIP}/24\n    192.0.2.101/24\n"),
        )
    };
    a.write_conf(&two_vips(150));
    a.signal(libc::SIGHUP);
    let ok = wait_until(10, || {
        has_addr(lan, 0, "192.0.2.101") && lan.nft_ruleset(0).contains("192.0.2.101")
    });
    assert!(ok, "reload did not add the VIP and its drop\n{}", a.log());
    out.push(lan.nft_ruleset(0));
    // A peer with a higher priority (always ours: it is not under test here) takes over.
    // (the same addresses: under vrrp_strict a differing list is dropped)
    let mut conf_b = two_vips(200);
    conf_b = conf_b.replace("vrrp_strict\n", "vrrp_strict\n  nftables kb\n");
    let mut b = Daemon::start(lan, 1, false, &conf_b);
    let ok = wait_until(12, || !has_addr(lan, 0, VIP) && has_addr(lan, 1, VIP));
    assert!(ok, "node 1 did not take over\n{}", logs(&[&a, &b]));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    out.push(lan.nft_ruleset(0));
    b.stop();
    a.stop();
    out.push(lan.nft_ruleset(0));
    (out, ping, a.log())
}

/// `vrrp_strict`: VIPs and eVIPs (IPv4 and IPv6, link-local keyed by interface) in the drop
/// sets while MASTER, the sets emptied at BACKUP, the tables gone at stop; the client cannot
/// reach the VIP — exactly as keepalived 2.2.7.
#[test]
fn strict_drops_match_real_keepalived() {
    let t = "strict_drops_match_real_keepalived";
    if !real_or_skip(t) || !nft_or_skip(t) {
        return;
    }
    let Some(lan) = lan_or_skip(t, 3) else { return };
    let (real, real_ping, _) = strict_run(&lan, true);
    let (ours, our_ping, log) = strict_run(&lan, false);
    assert!(
        !real_ping && !our_ping,
        "VIP answered a ping under vrrp_strict"
    );
    assert!(
        real[0].contains("elements = { 192.0.2.100, 198.51.100.7 }"),
        "{}",
        real[0]
    );
    for (step, (r, o)) in ["MASTER", "reloaded", "BACKUP", "stopped"]
        .iter()
        .zip(real.iter().zip(&ours))
    {
        assert_eq!(o, r, "ruleset at {step} differs (ours vs real)\n{log}");
    }
    assert_eq!(ours[3], "", "tables left behind");
    for want in [
        "use_vmac or no_accept/strict specified, but no firewall configured - using nftables",
        "(VI_1) setting firewall drop rule",
        "(VI_1) removing firewall drop rule",
        "Deleting old ip keepalived table",
    ] {
        assert!(log.contains(want), "no `{want}`\n{log}");
    }
}

fn vmac_conf() -> String {
    format!(
        "global_defs {{\n  router_id test\n  nftables_counters\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  advert_int 1\n  use_vmac\n  no_accept\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n\
         vrrp_instance VI_6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
         priority 150\n  advert_int 1\n  use_vmac\n  virtual_ipaddress {{\n    fe80::52\n    {VIP6}/64\n  }}\n}}\n"
    )
}

/// Counter values change with traffic; the layout must not.
fn without_counters(s: &str) -> String {
    s.lines()
        .map(|l| match l.find(" counter packets ") {
            Some(i) => {
                let rest = &l[i + 17..];
                let after = rest.find(" bytes ").map_or("", |j| &rest[j + 7..]);
                let after = after.split_once(' ').map_or("", |x| x.1);
                format!("{} counter {}", &l[..i], after)
            }
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// VMACs: IGMP reports leaving an IPv4 VMAC are copied to the base interface and dropped, MLD
/// reports and router solicitations of an IPv6 VMAC likewise, `no_accept` drops for the IPv4
/// instance only, counters on every rule (`nftables_counters`) — the same rules as keepalived
/// 2.2.7, at BACKUP (VMAC rules only) and at MASTER.
#[test]
fn vmac_rules_match_real_keepalived() {
    let t = "vmac_rules_match_real_keepalived";
    if !real_or_skip(t) || !nft_or_skip(t) {
        return;
    }
    let Some(lan) = lan_or_skip(t, 2) else { return };
    let mut seen = Vec::new();
    let mut rp = Vec::new();
    let rp_filters = |lan: &netns::Lan| -> Vec<String> {
        ["all", "default", "eth0", "lo"]
            .iter()
            .map(|i| sysctl(lan, 0, &format!("net/ipv4/conf/{i}/rp_filter")))
            .collect()
    };
    for real in [true, false] {
        // A non-zero all.rp_filter is cleared while IPv4 VMACs exist, `default` and the other
        // interfaces raised to it (not lo), everything restored at stop.
        lan.must(
            0,
            &[
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.rp_filter=2",
                "net.ipv4.conf.default.rp_filter=1",
                "net.ipv4.conf.eth0.rp_filter=1",
                "net.ipv4.conf.lo.rp_filter=0",
            ],
        );
        let before = rp_filters(&lan);
        let mut d = Daemon::start(&lan, 0, real, &vmac_conf());
        let ok = wait_until(5, || lan.nft_ruleset(0).contains("vmac_set"));
        assert!(ok, "no VMAC rules\n{}", d.log());
        let backup = without_counters(&lan.nft_ruleset(0));
        let ok = wait_until(10, || has_addr_on(&lan, 0, "vrrp.51", VIP));
        assert!(ok, "not MASTER\n{}", d.log());
        std::thread::sleep(std::time::Duration::from_millis(500));
        let master = without_counters(&lan.nft_ruleset(0));
        let running = rp_filters(&lan);
        assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/vrrp.51/rp_filter"), "0");
        d.stop();
        assert_eq!(
            rp_filters(&lan),
            before,
            "rp_filter not restored\n{}",
            d.log()
        );
        rp.push(running);
        seen.push((backup, master, d.log()));
        assert_eq!(lan.nft_ruleset(0), "", "tables left behind\n{}", d.log());
    }
    assert_eq!(
        rp[0],
        ["0", "2", "2", "0"],
        "keepalived 2.2.7's rp_filter changes"
    );
    assert_eq!(rp[1], rp[0], "rp_filter while running (ours vs real)");
    for want in [
        "NOTICE: setting sysctl net.ipv4.conf.default.rp_filter from 1 to 2",
        "NOTICE: setting sysctl net.ipv4.conf.all.rp_filter from 2 to 0",
        "NOTICE: resetting sysctl net.ipv4.conf.all.rp_filter to 2",
        "NOTICE: resetting sysctl net.ipv4.conf.default.rp_filter to 1",
    ] {
        assert!(seen[1].2.contains(want), "no `{want}`\n{}", seen[1].2);
    }
    let (rb, rm, _) = &seen[0];
    let (ob, om, log) = &seen[1];
    assert!(
        rm.contains("dup to ip daddr device oif map @vmac_map"),
        "{rm}"
    );
    assert!(rm.contains("\"vrrp.51\" : \"eth0\""), "{rm}");
    assert_eq!(ob, rb, "ruleset at BACKUP differs (ours vs real)\n{log}");
    assert_eq!(om, rm, "ruleset at MASTER differs (ours vs real)\n{log}");
}

/// 5,000 `no_accept` VIPs: the drop set's element list is over 64 KiB, so it goes to the
/// kernel in several messages (a 16-bit attribute length would wrap); every VIP is in the set.
#[test]
fn five_thousand_no_accept_vips() {
    if !nft_or_skip("five_thousand_no_accept_vips") {
        return;
    }
    let Some(lan) = lan_or_skip("five_thousand_no_accept_vips", 1) else {
        return;
    };
    let evips: String = (0..5000u32)
        .map(|i| {
            format!(
                "    10.{}.{}.{}/32\n",
                20 + i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect();
    let conf = format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  advert_int 1\n  no_accept\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n  \
         virtual_ipaddress_excluded {{\n{evips}  }}\n}}\n"
    );
    let d = Daemon::start(&lan, 0, false, &conf);
    let set = || {
        let o = lan.exec(0, &["nft", "list", "set", "ip", "keepalived", "vips"]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let ok = wait_until(60, || {
        let s = set();
        s.contains("10.20.19.135") && s.contains("10.20.0.0") && s.contains(VIP)
    });
    let s = set();
    let n = s.matches("10.20.").count();
    assert!(ok && n == 5000, "{n} of 5000 VIPs in the set\n{}", d.log());
    assert!(
        !d.log().contains("Unable to update the firewall"),
        "{}",
        d.log()
    );
}

/// A kernel slow to answer nf_tables (each receive stalled 0.7 s by our test hook) costs
/// the VIPs some delay but never an advert: the firewall runs off the thread that sends them.
/// Without that, the stalled answers of taking MASTER (old table check, then one per
/// message of the batch) silence the master for seconds.
#[test]
fn slow_nftables_does_not_delay_adverts() {
    if !nft_or_skip("slow_nftables_does_not_delay_adverts") || !tcpdump_available() {
        support::skip_or_fail(
            "slow_nftables_does_not_delay_adverts",
            "needs nft and tcpdump",
        );
        return;
    }
    let Some(lan) = lan_or_skip("slow_nftables_does_not_delay_adverts", 2) else {
        return;
    };
    let me = lan.nodes[0].v4.to_string();
    let cap = Capture::start(&lan, 1, &format!("ip proto 112 and src host {me}"));
    let conf = format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  advert_int 1\n  no_accept\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
    );
    let d = Daemon::start_env(
        &lan,
        0,
        false,
        &conf,
        &[],
        &[("KEEPALIVED_TEST_NFT_STALL_MS", "700")],
    );
    assert!(
        wait_until(20, || d.log().contains("Entering MASTER STATE")),
        "{}",
        d.log()
    );
    // The firewall's stalled answers, then the VIP.
    assert!(
        wait_until(40, || has_addr(&lan, 0, VIP)),
        "no VIP\n{}",
        d.log()
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t: Vec<f64> = cap.matching(&["VRRP"]).iter().map(|(t, _)| *t).collect();
    assert!(t.len() >= 6, "{} adverts\n{}", t.len(), cap.text());
    // The first advert is the new master's; from there one a second.
    let worst = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        worst < 2.0,
        "an advert gap of {worst:.2} s while nf_tables stalled\n{}\n{}",
        cap.text(),
        d.log()
    );
    assert!(
        !d.log().contains("Unable to update the firewall"),
        "{}",
        d.log()
    );
}
