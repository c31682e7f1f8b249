//! VMAC interfaces (`use_vmac`): a private-mode macvlan per
//! instance, named `vrrp.<VRID>` (or as configured) with the RFC 5798 virtual router MAC
//! `00:00:5e:00:01:<VRID>` (IPv6: `00:00:5e:00:02:<VRID>`). The instance's VIPs live on it,
//! its GARPs carry its MAC, and its adverts go out of it unless `vmac_xmit_base`.
//!
//! Sysctls as keepalived's vrrp_if_config.c: on the VMAC arp_ignore=1, accept_local=1,
//! rp_filter=0, promote_secondaries=1; on the base interface arp_ignore=1 and arp_filter=1 so
//! that it does not answer ARP for the VIPs with its own MAC (restored when its last VMAC
//! goes). VMACs are deleted at shutdown, also an existing matching one that was reused
//! (as keepalived 2.2.7 does), and made again when deleted by hand.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_route::link::IpVlanFlags;
use tracing::info;

use crate::config::model::addr::AddressSpec;
use crate::config::model::vrrp::instance as model;
use crate::config::model::Config;
use crate::net::{sysctl, AddrSpec, LinkInfo, Netlink};

/// What kind of link a plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A private-mode macvlan with the plan's MAC (`use_vmac`, `use_vmac_addr`).
    Macvlan,
    /// An L2 ipvlan (`use_ipvlan`): the base's MAC, no sysctls, its own address.
    Ipvlan {
        mode: model::IpvlanMode,
        addr: Option<(IpAddr, u8)>,
    },
}

/// What one VMAC (or ipvlan) should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub iname: String,
    pub name: String,
    pub mac: [u8; 6],
    pub base: String,
    /// Adverts use the base interface (`vmac_xmit_base`, forced for unicast).
    pub xmit_base: bool,
    /// The family of the addresses it carries (its MAC, sysctls, IPv6 link-local).
    pub ipv6: bool,
    /// An IPv4 VMAC that also carries IPv6 eVIPs keeps IPv6 enabled.
    pub other_family: bool,
    /// It carries the instance's VIPs/eVIPs of its family on `base` (`use_vmac_addr`, or a
    /// VIP's `use_vmac`) rather than being the instance's own interface.
    pub for_addrs: bool,
    pub kind: Kind,
    /// keepalived's warnings about the addresses it carries, logged when it is created.
    pub notes: Vec<String>,
}

impl Plan {
    fn is_ipvlan(&self) -> bool {
        matches!(self.kind, Kind::Ipvlan { .. })
    }
}

/// The RFC 5798 virtual router MAC of a family.
fn rfc_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0, 0, 0x5e, 0, if ipv6 { 2 } else { 1 }, vrid]
}

/// The VMAC MAC of an instance: the configured one (5 octets get the VRID appended), else
/// the RFC 5798 address for the family.
pub fn mac_for(c: &model::Instance) -> [u8; 6] {
    let vrid = c.vrid.unwrap_or(0);
    let configured = c.vmac.as_ref().and_then(|v| v.mac.as_deref());
    match configured {
        Some([a, b, c0, d, e, f]) => [*a, *b, *c0, *d, *e, *f],
        Some([a, b, c0, d, e]) => [*a, *b, *c0, *d, *e, vrid],
        _ => rfc_mac(vrid, c.family == model::Family::V6),
    }
}

/// The first free default name: `P.<VRID>`, for IPv6 then `P6.<VRID>`, then `P1.<VRID>`,
/// `P2.<VRID>`... (observed with keepalived 2.2.7: `vrrp.51`, `vrrp6.51`, `vrrp1.51`).
fn free_name(prefix: &str, vrid: u8, ipv6: bool, taken: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut names = vec![format!("{prefix}.{vrid}")];
    if ipv6 {
        names.push(format!("{prefix}6.{vrid}"));
    }
    names.extend(
        (1..=9)
            .filter(|n| *n != 6)
            .map(|n| format!("{prefix}{n}.{vrid}")),
    );
    names.into_iter().find(|n| n.len() <= 15 && !taken(n))
}

/// `use_ipvlan`'s address: `IP[/LEN]`, a host prefix without `/LEN`.
fn ipvlan_addr(text: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv6() { 128 } else { 32 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

/// Whether address `a` of instance `i` needs a VMAC of its own: with `use_vmac_addr` when
/// its interface or family is not the instance's, or when the address says `use_vmac`
/// (unless it would go on the instance's own VMAC anyway).
pub fn addr_needs_vmac(i: &model::Instance, a: &AddressSpec) -> bool {
    let v6 = i.family == model::Family::V6;
    let own_if = a.dev.is_none() || a.dev == i.interface;
    let own = own_if && a.addr.is_ipv6() == v6;
    if i.use_vmac_addr && !own {
        return true;
    }
    a.use_vmac && !(own && i.vmac.is_some())
}

/// The VMAC (and ipvlan) plans of every instance of `c`, names made unique in config order:
/// first the instances' own (`use_vmac`, `use_ipvlan`), then those for addresses
/// (`use_vmac_addr`, per-address `use_vmac`), one per (instance, interface, family).
pub fn plans(c: &Config) -> Vec<Plan> {
    let prefix = c.global.vmac_prefix.as_deref().unwrap_or("vrrp");
    let mut out: Vec<Plan> = Vec::new();
    for i in &c.vrrp.instances {
        let (Some(vrid), Some(base)) = (i.vrid, &i.interface) else {
            continue;
        };
        let v6 = i.family == model::Family::V6;
        let (ifname, kind) = match (&i.vmac, &i.ipvlan) {
            (Some(v), _) => (v.ifname.clone(), Kind::Macvlan),
            (None, Some(p)) => (
                p.ifname.clone(),
                Kind::Ipvlan {
                    mode: p.mode.unwrap_or(model::IpvlanMode::Bridge),
                    addr: p.addr.as_deref().and_then(ipvlan_addr),
                },
            ),
            (None, None) => continue,
        };
        let taken = |n: &str| out.iter().any(|p| p.name == n);
        let name = match ifname {
            Some(n) => n,
            None => match free_name(prefix, vrid, v6, &taken) {
                Some(n) => n,
                None => continue,
            },
        };
        if taken(&name) {
            info!(
                "({}) VMAC interface {name} already used by another instance - ignoring use_vmac",
                i.name
            );
            continue;
        }
        // eVIPs of the other family without `dev` go on this VMAC unless they get their own.
        let other_family = i
            .vips
            .iter()
            .chain(i.evips.iter())
            .any(|a| a.addr.is_ipv6() != v6 && a.dev.is_none() && !addr_needs_vmac(i, a));
        let ipvlan = matches!(kind, Kind::Ipvlan { .. });
        out.push(Plan {
            iname: i.name.clone(),
            name,
            mac: mac_for(i),
            base: base.clone(),
            xmit_base: !ipvlan && (i.vmac_xmit_base || !i.unicast_peers.is_empty()),
            ipv6: v6,
            other_family,
            for_addrs: false,
            kind,
            notes: Vec::new(),
        });
    }
    let addr_prefix = c.global.vmac_addr_prefix.as_deref().unwrap_or("vrrp");
    for i in &c.vrrp.instances {
        let (Some(vrid), Some(own)) = (i.vrid, &i.interface) else {
            continue;
        };
        for a in i.vips.iter().chain(i.evips.iter()) {
            let own_if = a.dev.is_none() || a.dev.as_ref() == Some(own);
            let own_vmac = own_if && a.addr.is_ipv6() == (i.family == model::Family::V6);
            // keepalived 2.2.7's warnings (observed); its own VMAC then keeps the address.
            let note = match (a.use_vmac, i.use_vmac_addr, own_vmac) {
                (true, _, true) if i.vmac.is_some() => Some(format!(
                    "({}) use_vmac specified for VIP/eVIP {} and vrrp instance",
                    i.name, a.addr
                )),
                (true, true, false) => Some(format!(
                    "({}) use_vmac_addr specified and use_vmac specified for VIP/eVIP {}",
                    i.name, a.addr
                )),
                _ => None,
            };
            if !addr_needs_vmac(i, a) {
                if let Some(n) = note {
                    if let Some(p) = out.iter_mut().find(|p| p.iname == i.name && !p.for_addrs) {
                        p.notes.push(n);
                    }
                }
                continue;
            }
            let base = a.dev.clone().unwrap_or_else(|| own.clone());
            let v6 = a.addr.is_ipv6();
            let dup = out
                .iter_mut()
                .find(|p| p.for_addrs && p.iname == i.name && p.base == base && p.ipv6 == v6);
            if let Some(p) = dup {
                p.notes.extend(note);
                continue;
            }
            let taken = |n: &str| out.iter().any(|p| p.name == n);
            let Some(name) = free_name(addr_prefix, vrid, v6, &taken) else {
                continue;
            };
            out.push(Plan {
                iname: i.name.clone(),
                name,
                mac: rfc_mac(vrid, v6),
                base,
                xmit_base: false,
                ipv6: v6,
                other_family: false,
                for_addrs: true,
                kind: Kind::Macvlan,
                notes: note.into_iter().collect(),
            });
        }
    }
    out
}

/// A VMAC we manage.
#[derive(Debug, Clone)]
struct Entry {
    ifindex: u32,
    /// Creation order: removal follows it, as keepalived's.
    seq: u64,
    plan: Plan,
}

/// The VMACs we manage, and the base interfaces' sysctls to restore.
#[derive(Debug, Default)]
pub struct Vmacs {
    links: HashMap<String, Entry>,
    next_seq: u64,
    /// Base name → original (arp_ignore, arp_filter).
    saved: HashMap<String, (String, String)>,
    /// Every configured plan: those whose base interface is missing are made when it
    /// appears (`dynamic_interfaces`).
    wanted: Vec<Plan>,
}

impl Vmacs {
    /// Creates (or adopts) the VMAC of every plan whose base interface exists; returns the
    /// plans that are in place. Plans that fail are logged and dropped (the instance then
    /// runs on its base interface).
    pub async fn ensure(&mut self, nl: &Netlink, plans: &[Plan], links: &[LinkInfo]) -> Vec<Plan> {
        let mut ok = Vec::new();
        for p in plans {
            let Some(base) = links.iter().find(|l| l.name == p.base) else {
                continue;
            };
            let adopt = self.matching_mac(p, base, links);
            let p = &match adopt {
                Some(name) => Plan { name, ..p.clone() },
                None => p.clone(),
            };
            if let Some(e) = self.links.get(&p.name) {
                if links.iter().any(|l| l.ifindex == e.ifindex) {
                    ok.push(p.clone());
                    continue;
                }
            }
            for n in &p.notes {
                info!("{n}");
            }
            let kind = if p.is_ipvlan() { "ipvlan" } else { "macvlan" };
            let existed = links.iter().any(|l| {
                l.name == p.name
                    && l.kind.as_deref() == Some(kind)
                    && l.parent == Some(base.ifindex)
            });
            let created = match &p.kind {
                Kind::Macvlan => nl.create_vmac(base.ifindex, &p.name, p.mac).await,
                Kind::Ipvlan { mode, .. } => {
                    let flags = match mode {
                        model::IpvlanMode::Bridge => IpVlanFlags::empty(),
                        model::IpvlanMode::Private => IpVlanFlags::Private,
                        model::IpvlanMode::Vepa => IpVlanFlags::Vepa,
                    };
                    nl.create_ipvlan(base.ifindex, &p.name, flags).await
                }
            };
            let idx = match created {
                Ok(idx) => idx,
                Err(e) => {
                    if p.is_ipvlan() {
                        info!(
                            "({}): Unable to create ipvlan interface {}",
                            p.iname, p.name
                        );
                    } else {
                        info!("({}): Unable to create VMAC interface {}", p.iname, p.name);
                    }
                    if crate::log::detail() > 0 {
                        info!("({}) {}: {e}", p.iname, p.name);
                    }
                    continue;
                }
            };
            if existed {
                info!("({}) Found matching interface {}", p.iname, p.name);
            } else if crate::log::detail() > 0 {
                // keepalived logs creation (and removal) with -D only.
                let what = if p.is_ipvlan() { "ipvlan" } else { "VMAC" };
                info!(
                    "({}): Success creating {what} interface {}",
                    p.iname, p.name
                );
            }
            self.configure(p, base);
            if let Err(e) = nl.set_link_up(idx, true).await {
                info!("({}) Unable to set {} up: {e}", p.iname, p.name);
            }
            if base.is_up() {
                wait_running(nl, idx).await;
            }
            if p.ipv6 && !p.is_ipvlan() && !p.xmit_base {
                // Adverts and NAs leave with a non-VIP address but the virtual MAC.
                if let Ok(Some(ll)) = nl.link_local_ipv6(base.ifindex).await {
                    let spec = AddrSpec::new(idx, IpAddr::V6(ll), 64);
                    if nl.add_address(&spec).await.is_err() && !existed {
                        info!(
                            "({}) adding link-local address to {} failed",
                            p.iname, p.name
                        );
                    }
                }
            }
            if let Kind::Ipvlan {
                addr: Some((a, len)),
                ..
            } = p.kind
            {
                if nl.add_address(&AddrSpec::new(idx, a, len)).await.is_err() && !existed {
                    info!("{}: Failed to add interface address to {}", p.iname, p.name);
                }
            }
            self.next_seq += 1;
            self.links.insert(
                p.name.clone(),
                Entry {
                    ifindex: idx,
                    seq: self.next_seq,
                    plan: p.clone(),
                },
            );
            ok.push(p.clone());
        }
        ok
    }

    /// keepalived 2.2.7 adopts a private macvlan on the base with the VMAC's MAC whatever
    /// its name (observed: `Found matching interface blocker`); the kernel would refuse a
    /// second one with that MAC anyway. `None` when a link of the plan's name exists.
    fn matching_mac(&self, p: &Plan, base: &LinkInfo, links: &[LinkInfo]) -> Option<String> {
        if p.is_ipvlan() || links.iter().any(|l| l.name == p.name) {
            return None;
        }
        links
            .iter()
            .find(|l| {
                l.kind.as_deref() == Some("macvlan")
                    && l.macvlan_private == Some(true)
                    && l.parent == Some(base.ifindex)
                    && l.mac == Some(p.mac)
                    && self
                        .links
                        .get(&l.name)
                        .map_or(true, |e| e.plan.iname == p.iname)
            })
            .map(|l| l.name.clone())
    }

    /// Settings made while the new link is still down (keepalived's vrrp_vmac.c and
    /// vrrp_if_config.c). A macvlan for IPv4: arp_ignore=1, accept_local=1, rp_filter=0,
    /// promote_secondaries=1, and on its base arp_ignore=1, arp_filter=1 so that the base
    /// does not answer ARP for the VIPs with its own MAC (restored when its last VMAC goes).
    /// IPv4-only links get IPv6 disabled; a macvlan generates no IPv6 address of its own
    /// (addr_gen_mode none): an IPv6 one gets the base's link-local address (`ensure`).
    fn configure(&mut self, p: &Plan, base: &LinkInfo) {
        let vmac = p.name.as_str();
        if !p.ipv6 && !p.other_family {
            if let Err(e) = sysctl::set_ipv6_conf(vmac, "disable_ipv6", "1") {
                info!("Unable to disable IPv6 on {vmac}: {e}");
            }
        }
        if p.is_ipvlan() {
            return;
        }
        if let Err(e) = sysctl::set_ipv6_conf(vmac, "addr_gen_mode", "1") {
            info!(
                "({}) Error setting ADDR_GEN_MODE to NONE on {vmac}: {e}",
                p.iname
            );
        }
        if p.ipv6 {
            return;
        }
        for (k, v) in [
            ("arp_ignore", "1"),
            ("accept_local", "1"),
            ("rp_filter", "0"),
            ("promote_secondaries", "1"),
        ] {
            if let Err(e) = sysctl::set_ipv4_conf(vmac, k, v) {
                info!("Unable to set {k} on {vmac}: {e}");
            }
        }
        if !self.saved.contains_key(&base.name) {
            let ign = sysctl::set_ipv4_conf(&base.name, "arp_ignore", "1");
            let fil = sysctl::set_ipv4_conf(&base.name, "arp_filter", "1");
            match (ign, fil) {
                (Ok(i), Ok(f)) => {
                    self.saved.insert(base.name.clone(), (i, f));
                }
                (Err(e), _) | (_, Err(e)) => {
                    info!("Unable to set ARP sysctls on {}: {e}", base.name)
                }
            }
        }
    }

    /// Remembers the configured plans (see [`Vmacs::make_on`]).
    pub fn want(&mut self, plans: &[Plan]) {
        self.wanted = plans.to_vec();
    }

    /// Interface `base` appeared: makes the configured VMACs that live on it.
    pub async fn make_on(&mut self, nl: &Netlink, base: &str, links: &[LinkInfo]) {
        let plans: Vec<Plan> = self
            .wanted
            .iter()
            .filter(|p| p.base == base && !self.links.contains_key(&p.name))
            .cloned()
            .collect();
        if !plans.is_empty() {
            self.ensure(nl, &plans, links).await;
        }
    }

    /// The configured plans on `base` that are not in place (they could not be made).
    pub fn failed_on(&self, base: &str) -> Vec<Plan> {
        self.wanted
            .iter()
            .filter(|p| {
                p.base == base
                    && !self.links.values().any(|e| {
                        e.plan.iname == p.iname
                            && e.plan.for_addrs == p.for_addrs
                            && e.plan.ipv6 == p.ipv6
                    })
            })
            .cloned()
            .collect()
    }

    /// The plans in place (as [`Vmacs::ensure`] returns them), in creation order.
    pub fn in_place(&self) -> Vec<Plan> {
        let mut e: Vec<&Entry> = self.links.values().collect();
        e.sort_by_key(|e| e.seq);
        e.into_iter().map(|e| e.plan.clone()).collect()
    }

    /// The plan of the VMAC `name` at `ifindex` if it is one we manage.
    pub fn ours_at(&self, name: &str, ifindex: u32) -> Option<&Plan> {
        self.links
            .get(name)
            .filter(|e| e.ifindex == ifindex)
            .map(|e| &e.plan)
    }

    /// The (name, index) of every VMAC we manage.
    pub fn ours(&self) -> Vec<(String, u32)> {
        self.links
            .iter()
            .map(|(n, e)| (n.clone(), e.ifindex))
            .collect()
    }

    /// A VMAC we manage was deleted by someone else: make it again as at start (MAC,
    /// sysctls, up, ipvlan address). Returns its new index.
    pub async fn recreate(&mut self, nl: &Netlink, name: &str) -> Option<u32> {
        let plan = self.links.remove(name)?.plan;
        let links = match nl.links().await {
            Ok(l) => l,
            Err(e) => {
                info!("({}) Unable to read interfaces: {e}", plan.iname);
                return None;
            }
        };
        self.ensure(nl, std::slice::from_ref(&plan), &links).await;
        self.links.get(name).map(|e| e.ifindex)
    }

    /// Deletes the VMACs we manage that are not in `keep` (all at shutdown) and restores the
    /// base interfaces that no longer carry one of our VMACs.
    pub async fn remove_unused(&mut self, nl: &Netlink, keep: &[Plan]) {
        let mut gone: Vec<(u64, String)> = self
            .links
            .iter()
            .filter(|(n, _)| !keep.iter().any(|p| &p.name == *n))
            .map(|(n, e)| (e.seq, n.clone()))
            .collect();
        gone.sort();
        let gone = gone.into_iter().map(|g| g.1);
        for name in gone {
            let Some(e) = self.links.remove(&name) else {
                continue;
            };
            let iname = &e.plan.iname;
            match nl.delete_link(e.ifindex).await {
                Ok(()) => {
                    if crate::log::detail() > 0 {
                        info!("({iname}) Success removing VMAC interface {name}");
                    }
                }
                Err(_) => info!("({iname}) Error removing VMAC interface {name}"),
            }
        }
        let bases: Vec<String> = self.saved.keys().cloned().collect();
        for base in bases {
            if self.links.values().any(|e| e.plan.base == base) {
                continue;
            }
            if let Some((ign, fil)) = self.saved.remove(&base) {
                let _ = sysctl::set_ipv4_conf(&base, "arp_ignore", &ign);
                let _ = sysctl::set_ipv4_conf(&base, "arp_filter", &fil);
            }
        }
    }
}

/// A new macvlan reports IFF_RUNNING a moment after it is set up (the kernel's link watch);
/// waiting (at most 1 s) keeps the instance from starting in FAULT and flapping.
async fn wait_running(nl: &Netlink, ifindex: u32) {
    for _ in 0..50 {
        if let Ok(Some(l)) = nl.link_by_index(ifindex).await {
            if l.is_up() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(vrid: u8, v6: bool, mac: Option<Vec<u8>>) -> model::Instance {
        let mut i = model::Instance::new("VI", Default::default());
        i.vrid = Some(vrid);
        i.interface = Some("eth0".into());
        if v6 {
            i.family = model::Family::V6;
        }
        i.vmac = Some(model::Vmac { ifname: None, mac });
        i
    }

    #[test]
    fn macs() {
        assert_eq!(mac_for(&inst(51, false, None)), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(mac_for(&inst(7, true, None)), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(
            mac_for(&inst(9, false, Some(vec![2, 1, 2, 3, 4]))),
            [2, 1, 2, 3, 4, 9]
        );
        assert_eq!(
            mac_for(&inst(9, false, Some(vec![2, 1, 2, 3, 4, 5]))),
            [2, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn names_are_unique() {
        let mut c = Config::default();
        c.vrrp.instances.push(inst(51, false, None));
        let mut b = inst(51, true, None);
        b.name = "VI6".into();
        b.unicast_peers.push(model::UnicastPeer {
            addr: "fe80::2".parse().unwrap(),
            min_ttl: None,
            max_ttl: None,
            span: Default::default(),
        });
        c.vrrp.instances.push(b);
        let p = plans(&c);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "vrrp.51");
        assert!(!p[0].xmit_base);
        assert_eq!(p[1].name, "vrrp6.51");
        assert!(p[1].xmit_base, "unicast forces vmac_xmit_base");
    }

    #[test]
    fn addr_vmacs_per_interface_and_family() {
        use crate::config::model::addr::AddressSpec;
        let mut c = Config::default();
        let mut i = inst(51, false, None);
        i.use_vmac_addr = true;
        let mut on_eth1 = AddressSpec::new("198.51.100.100".parse().unwrap(), 32);
        on_eth1.dev = Some("eth1".into());
        i.vips
            .push(AddressSpec::new("192.0.2.100".parse().unwrap(), 32));
        i.vips.push(on_eth1.clone());
        let mut second = on_eth1;
        second.addr = "198.51.100.101".parse().unwrap();
        i.vips.push(second);
        i.evips
            .push(AddressSpec::new("2001:db8::100".parse().unwrap(), 128));
        c.vrrp.instances.push(i);
        let p = plans(&c);
        let got: Vec<(&str, &str, bool, bool)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.base.as_str(), p.ipv6, p.for_addrs))
            .collect();
        // Observed with 2.2.7: vrrp.51 (instance), vrrp1.51 on eth1, vrrp6.51 for IPv6.
        assert_eq!(
            got,
            [
                ("vrrp.51", "eth0", false, false),
                ("vrrp1.51", "eth1", false, true),
                ("vrrp6.51", "eth0", true, true),
            ]
        );
        assert_eq!(p[2].mac, [0, 0, 0x5e, 0, 2, 51]);
        assert!(!p[0].other_family, "the IPv6 eVIP has its own VMAC");
        // Without use_vmac the first address VMAC takes the plain name.
        c.vrrp.instances[0].vmac = None;
        c.global.vmac_addr_prefix = Some("vx".into());
        let names: Vec<String> = plans(&c).into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["vx.51", "vx6.51"]);
        // keepalived's warning for a use_vmac that use_vmac_addr makes redundant.
        c.vrrp.instances[0].vips[1].use_vmac = true;
        let p = plans(&c);
        assert_eq!(
            p[0].notes,
            ["(VI) use_vmac_addr specified and use_vmac specified for VIP/eVIP 198.51.100.100"]
        );
        assert!(p[1].notes.is_empty());
    }

    #[test]
    fn ipvlan_plan() {
        let mut c = Config::default();
        let mut i = inst(51, false, None);
        i.vmac = None;
        i.ipvlan = Some(model::Ipvlan {
            ifname: None,
            addr: Some("192.0.2.11/24".into()),
            mode: Some(model::IpvlanMode::Private),
        });
        c.vrrp.instances.push(i);
        let p = plans(&c);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "vrrp.51");
        assert_eq!(
            p[0].kind,
            Kind::Ipvlan {
                mode: model::IpvlanMode::Private,
                addr: Some(("192.0.2.11".parse().unwrap(), 24)),
            }
        );
        assert!(!p[0].xmit_base);
        assert_eq!(
            ipvlan_addr("2001:db8::5"),
            Some(("2001:db8::5".parse().unwrap(), 128))
        );
        assert_eq!(ipvlan_addr("192.0.2.1/33"), None);
    }
}
