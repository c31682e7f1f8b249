//! VMAC interfaces (`use_vmac`, keepalived-spec.md §5.13): a private-mode macvlan per
//! instance, named `vrrp.<VRID>` (or as configured) with the RFC 5798 §7.3 virtual router MAC
//! `00:00:5e:00:01:<VRID>` (IPv6: `00:00:5e:00:02:<VRID>`). The instance's VIPs live on it,
//! its GARPs carry its MAC, and its adverts go out of it unless `vmac_xmit_base`.
//!
//! Sysctls as keepalived's vrrp_if_config.c: on the VMAC arp_ignore=1, accept_local=1,
//! rp_filter=0, promote_secondaries=1; on the base interface arp_ignore=1 and arp_filter=1 so
//! that it does not answer ARP for the VIPs with its own MAC (restored when its last VMAC
//! goes). VMACs we created are deleted at shutdown; an existing matching one is reused.

use std::collections::HashMap;

use tracing::info;

use crate::config::model::vrrp::instance as model;
use crate::config::model::Config;
use crate::net::{sysctl, LinkInfo, Netlink};

/// What one instance's VMAC should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub iname: String,
    pub name: String,
    pub mac: [u8; 6],
    pub base: String,
    /// Adverts use the base interface (`vmac_xmit_base`, forced for unicast, §5.13).
    pub xmit_base: bool,
}

/// The VMAC MAC of an instance: the configured one (5 octets get the VRID appended), else
/// the RFC 5798 §7.3 address for the family.
pub fn mac_for(c: &model::Instance) -> [u8; 6] {
    let vrid = c.vrid.unwrap_or(0);
    let configured = c.vmac.as_ref().and_then(|v| v.mac.as_deref());
    match configured {
        Some([a, b, c0, d, e, f]) => [*a, *b, *c0, *d, *e, *f],
        Some([a, b, c0, d, e]) => [*a, *b, *c0, *d, *e, vrid],
        _ => {
            let fam = if c.family == model::Family::V6 { 2 } else { 1 };
            [0, 0, 0x5e, 0, fam, vrid]
        }
    }
}

/// The VMAC plans of every `use_vmac` instance of `c`, names made unique in config order
/// (`PREFIX.<VRID>`; for IPv6 `vrrp6.<VRID>` when that is taken, §5.13).
pub fn plans(c: &Config) -> Vec<Plan> {
    let prefix = c.global.vmac_prefix.as_deref().unwrap_or("vrrp");
    let mut out: Vec<Plan> = Vec::new();
    for i in &c.vrrp.instances {
        let (Some(v), Some(vrid), Some(base)) = (&i.vmac, i.vrid, &i.interface) else {
            continue;
        };
        let taken = |n: &str| out.iter().any(|p| p.name == n);
        let name = match &v.ifname {
            Some(n) => n.clone(),
            None => {
                let first = format!("{prefix}.{vrid}");
                if taken(&first) && i.family == model::Family::V6 {
                    format!("vrrp6.{vrid}")
                } else {
                    first
                }
            }
        };
        if taken(&name) {
            info!(
                "({}) VMAC interface {name} already used by another instance - ignoring use_vmac",
                i.name
            );
            continue;
        }
        out.push(Plan {
            iname: i.name.clone(),
            name,
            mac: mac_for(i),
            base: base.clone(),
            xmit_base: i.vmac_xmit_base || !i.unicast_peers.is_empty(),
        });
    }
    out
}

/// The VMACs we manage, and the base interfaces' sysctls to restore.
#[derive(Debug, Default)]
pub struct Vmacs {
    /// VMAC name → (ifindex, created by us, base name, instance name).
    links: HashMap<String, (u32, bool, String, String)>,
    /// Base name → original (arp_ignore, arp_filter).
    saved: HashMap<String, (String, String)>,
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
            if let Some((idx, _, _, _)) = self.links.get(&p.name) {
                if links.iter().any(|l| l.ifindex == *idx) {
                    ok.push(p.clone());
                    continue;
                }
            }
            let existed = links.iter().any(|l| {
                l.name == p.name
                    && l.kind.as_deref() == Some("macvlan")
                    && l.parent == Some(base.ifindex)
            });
            match nl.create_vmac(base.ifindex, &p.name, p.mac).await {
                Ok(idx) => {
                    if existed {
                        info!("({}) Found matching interface {}", p.iname, p.name);
                    } else {
                        info!("({}): Success creating VMAC interface {}", p.iname, p.name);
                    }
                    self.configure(&p.name, &p.base);
                    if base.is_up() {
                        wait_running(nl, idx).await;
                    }
                    self.links.insert(
                        p.name.clone(),
                        (idx, !existed, p.base.clone(), p.iname.clone()),
                    );
                    ok.push(p.clone());
                }
                Err(e) => info!(
                    "({}) Unable to create VMAC interface {}: {e}",
                    p.iname, p.name
                ),
            }
        }
        ok
    }

    fn configure(&mut self, vmac: &str, base: &str) {
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
        if !self.saved.contains_key(base) {
            let ign = sysctl::set_ipv4_conf(base, "arp_ignore", "1");
            let fil = sysctl::set_ipv4_conf(base, "arp_filter", "1");
            match (ign, fil) {
                (Ok(i), Ok(f)) => {
                    self.saved.insert(base.to_owned(), (i, f));
                }
                (Err(e), _) | (_, Err(e)) => info!("Unable to set ARP sysctls on {base}: {e}"),
            }
        }
    }

    /// Deletes the VMACs we created that are not in `keep` (all at shutdown) and restores the
    /// base interfaces that no longer carry one of our VMACs.
    pub async fn remove_unused(&mut self, nl: &Netlink, keep: &[Plan]) {
        let gone: Vec<String> = self
            .links
            .keys()
            .filter(|n| !keep.iter().any(|p| &p.name == *n))
            .cloned()
            .collect();
        for name in gone {
            let Some((idx, ours, _, iname)) = self.links.remove(&name) else {
                continue;
            };
            if !ours {
                continue;
            }
            match nl.delete_link(idx).await {
                Ok(()) => info!("({iname}) Success removing VMAC interface {name}"),
                Err(e) => info!("({iname}) Unable to remove VMAC interface {name}: {e}"),
            }
        }
        let bases: Vec<String> = self.saved.keys().cloned().collect();
        for base in bases {
            if self.links.values().any(|(_, _, b, _)| b == &base) {
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
}
