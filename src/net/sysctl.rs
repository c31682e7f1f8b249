//! The per-interface sysctls VRRP touches (VMAC: arp_ignore, arp_filter,
//! accept_local, rp_filter; promote_secondaries; IPv6 forwarding for the NA Router
//! flag). Files under /proc/sys/net belong to the network namespace of the calling thread.

use std::path::PathBuf;

use super::NetError;

fn conf_path(family: &str, ifname: &str, key: &str) -> Result<PathBuf, NetError> {
    let ok = |s: &str| !s.is_empty() && !s.contains(['/', '\0']) && s != "." && s != "..";
    if !ok(ifname) || !ok(key) || ifname.len() > 15 {
        return Err(NetError::Invalid(format!(
            "sysctl {family}/conf/{ifname}/{key}"
        )));
    }
    Ok(PathBuf::from(format!(
        "/proc/sys/net/{family}/conf/{ifname}/{key}"
    )))
}

fn read(path: PathBuf) -> Result<String, NetError> {
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|source| NetError::Io {
            what: path.display().to_string(),
            source,
        })
}

fn write(path: PathBuf, value: &str) -> Result<(), NetError> {
    std::fs::write(&path, format!("{value}\n")).map_err(|source| NetError::Io {
        what: path.display().to_string(),
        source,
    })
}

/// Reads `net.ipv4.conf.IF.KEY` (IF may be `all` or `default`).
pub fn ipv4_conf(ifname: &str, key: &str) -> Result<String, NetError> {
    read(conf_path("ipv4", ifname, key)?)
}

/// Writes `net.ipv4.conf.IF.KEY` and returns the previous value (to restore it later).
pub fn set_ipv4_conf(ifname: &str, key: &str, value: &str) -> Result<String, NetError> {
    let old = ipv4_conf(ifname, key)?;
    if old != value {
        write(conf_path("ipv4", ifname, key)?, value)?;
    }
    Ok(old)
}

/// Reads `net.ipv6.conf.IF.KEY`.
pub fn ipv6_conf(ifname: &str, key: &str) -> Result<String, NetError> {
    read(conf_path("ipv6", ifname, key)?)
}

/// Writes `net.ipv6.conf.IF.KEY` and returns the previous value.
pub fn set_ipv6_conf(ifname: &str, key: &str, value: &str) -> Result<String, NetError> {
    let old = ipv6_conf(ifname, key)?;
    if old != value {
        write(conf_path("ipv6", ifname, key)?, value)?;
    }
    Ok(old)
}

/// Whether IPv6 forwarding is on for the interface (sets the NA Router flag).
pub fn ipv6_forwarding(ifname: &str) -> bool {
    ipv6_conf(ifname, "forwarding")
        .map(|v| v != "0")
        .unwrap_or(false)
}

/// The settings keepalived applies to a VMAC so that it answers ARP only for its own addresses
/// and accepts packets sourced from local addresses (keepalived's vrrp_if_config.c):
/// arp_ignore=1, arp_filter=1, accept_local=1, rp_filter=0.
pub fn configure_vmac(ifname: &str) -> Result<(), NetError> {
    set_ipv4_conf(ifname, "arp_ignore", "1")?;
    set_ipv4_conf(ifname, "arp_filter", "1")?;
    set_ipv4_conf(ifname, "accept_local", "1")?;
    set_ipv4_conf(ifname, "rp_filter", "0")?;
    Ok(())
}

/// `net.ipv4.conf.all.rp_filter` cleared while IPv4 VMACs exist (keepalived's
/// vrrp_if_config.c): the kernel uses max(all, interface), so a non-zero `all` would make
/// the VMAC filter the base interface's traffic. To keep every other interface as strict as
/// it was, `default` and each interface (not `lo`) below the old `all` value are raised to
/// it first. Everything is put back by [`RpFilter::restore`].
#[derive(Debug, Default)]
pub struct RpFilter {
    all: Option<u32>,
    default: Option<u32>,
    ifaces: Vec<(String, String)>,
}

fn conf_value(ifname: &str) -> Option<u32> {
    ipv4_conf(ifname, "rp_filter").ok()?.parse().ok()
}

impl RpFilter {
    /// Clears `all.rp_filter` if it is set; logs keepalived's NOTICE lines.
    pub fn clear() -> RpFilter {
        let mut r = RpFilter::default();
        let Some(all) = conf_value("all").filter(|v| *v != 0) else {
            return r;
        };
        if let Some(d) = conf_value("default").filter(|d| *d < all) {
            if set_ipv4_conf("default", "rp_filter", &all.to_string()).is_ok() {
                tracing::info!(
                    "NOTICE: setting sysctl net.ipv4.conf.default.rp_filter from {d} to {all}"
                );
                r.default = Some(d);
            }
        }
        let names: Vec<String> = std::fs::read_dir("/proc/sys/net/ipv4/conf")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        for n in names {
            if ["all", "default", "lo"].contains(&n.as_str()) {
                continue;
            }
            if let Some(v) = conf_value(&n).filter(|v| *v < all) {
                if set_ipv4_conf(&n, "rp_filter", &all.to_string()).is_ok() {
                    r.ifaces.push((n, v.to_string()));
                }
            }
        }
        if set_ipv4_conf("all", "rp_filter", "0").is_ok() {
            tracing::info!("NOTICE: setting sysctl net.ipv4.conf.all.rp_filter from {all} to 0");
            r.all = Some(all);
        }
        r
    }

    /// Whether `all.rp_filter` is ours to restore.
    pub fn active(&self) -> bool {
        self.all.is_some() || self.default.is_some() || !self.ifaces.is_empty()
    }

    /// Puts back what [`RpFilter::clear`] changed (interfaces gone since are skipped).
    pub fn restore(&mut self) {
        if let Some(all) = self.all.take() {
            if set_ipv4_conf("all", "rp_filter", &all.to_string()).is_ok() {
                tracing::info!("NOTICE: resetting sysctl net.ipv4.conf.all.rp_filter to {all}");
            }
        }
        for (n, v) in self.ifaces.drain(..) {
            let _ = set_ipv4_conf(&n, "rp_filter", &v);
        }
        if let Some(d) = self.default.take() {
            if set_ipv4_conf("default", "rp_filter", &d.to_string()).is_ok() {
                tracing::info!("NOTICE: resetting sysctl net.ipv4.conf.default.rp_filter to {d}");
            }
        }
    }
}

/// `promote_secondaries` turned on for the interfaces of instances configured with it
/// (keepalived's vrrp_if_config.c: a secondary address takes over when the primary goes,
/// instead of going with it); turned back off at stop where it was off before.
#[derive(Debug, Default)]
pub struct PromoteSecondaries {
    set: Vec<String>,
}

impl PromoteSecondaries {
    /// Sets it on each of `ifnames` not already on (and not already ours).
    pub fn apply<'a>(&mut self, ifnames: impl IntoIterator<Item = &'a str>) {
        for n in ifnames {
            if self.set.iter().any(|s| s == n) {
                continue;
            }
            match set_ipv4_conf(n, "promote_secondaries", "1") {
                Ok(old) if old == "0" => self.set.push(n.to_owned()),
                Ok(_) => {}
                Err(e) => tracing::info!("Unable to set promote_secondaries on {n}: {e}"),
            }
        }
    }

    /// Turns it off again where [`PromoteSecondaries::apply`] turned it on.
    pub fn restore(&mut self) {
        for n in self.set.drain(..) {
            let _ = set_ipv4_conf(&n, "promote_secondaries", "0");
        }
    }
}

const IGMP_LL_REPORTS: &str = "/proc/sys/net/ipv4/igmp_link_local_mcast_reports";

/// `disable_local_igmp`: `net.ipv4.igmp_link_local_mcast_reports` is cleared while the
/// VRRP process runs (so joining 224.0.0.18 sends no IGMP report) and put back at stop,
/// as keepalived's set_disable_local_igmp / reset_disable_local_igmp do.
#[derive(Debug, Default)]
pub struct LocalIgmp {
    cleared: bool,
}

impl LocalIgmp {
    /// Clears the sysctl if it is set; keepalived's lines when it cannot.
    pub fn disable() -> LocalIgmp {
        let path = PathBuf::from(IGMP_LL_REPORTS);
        match read(path.clone()) {
            Ok(v) if v == "1" => match write(path, "0") {
                Ok(()) => LocalIgmp { cleared: true },
                Err(e) => {
                    tracing::info!("Unable to write {IGMP_LL_REPORTS} - {e}");
                    LocalIgmp::default()
                }
            },
            Ok(_) => LocalIgmp::default(),
            Err(e) => {
                tracing::info!("Unable to read {IGMP_LL_REPORTS} - {e}");
                LocalIgmp::default()
            }
        }
    }

    /// Puts the sysctl back if [`LocalIgmp::disable`] cleared it.
    pub fn restore(&mut self) {
        if std::mem::take(&mut self.cleared) {
            if let Err(e) = write(PathBuf::from(IGMP_LL_REPORTS), "1") {
                tracing::info!("Unable to write {IGMP_LL_REPORTS} - {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_tricks() {
        assert!(conf_path("ipv4", "../x", "rp_filter").is_err());
        assert!(conf_path("ipv4", "eth0", "..").is_err());
        assert!(conf_path("ipv4", "", "rp_filter").is_err());
        assert_eq!(
            conf_path("ipv4", "eth0", "arp_ignore").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0/arp_ignore")
        );
    }

    #[test]
    fn reads_loopback() {
        // `lo` always exists in any namespace, with a numeric rp_filter.
        let v = ipv4_conf("lo", "rp_filter").unwrap();
        assert!(v.parse::<u32>().is_ok(), "{v}");
    }
}
