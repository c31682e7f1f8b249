//! `nftables_ipvs` automatic fwmarks: each virtual server using a
//! `virtual_server_group` gets a mark for its group and protocol, from
//! `nftables_ipvs_start_fwmark` (default 1000) up, one more for each new (group, protocol).
//! IPVS then holds one fwmark service per family of the group's addresses instead of one
//! service per address, and nftables marks the packets to each address range and port.
//!
//! As in keepalived, the counter only goes up: a (group, protocol) keeps its mark across
//! reloads while some virtual server still uses it, and a mark that went away is not reused.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::config::model::check::{CheckConfig, Protocol, VirtualServer, VsAddr, VsgEntry};
use crate::net::nft::ipvs::{MarkEntry, L4};

/// The marks handed out so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoMarks {
    /// The next mark to hand out (0: not started, take the configured start).
    next: u32,
    marks: BTreeMap<(String, L4), u32>,
}

/// A virtual server's protocol as IPVS takes it (none given: TCP, as `services_of`).
fn proto(vs: &VirtualServer) -> Protocol {
    vs.protocol.unwrap_or(Protocol::Tcp)
}

fn l4(p: Protocol) -> L4 {
    match p {
        Protocol::Tcp => L4::Tcp,
        Protocol::Udp => L4::Udp,
        Protocol::Sctp => L4::Sctp,
    }
}

impl AutoMarks {
    /// Marks for the virtual servers of `cfg`, in their order: kept ones keep theirs, new
    /// ones count on from `start` (or where the counter is). With `enabled` false
    /// (`nftables_ipvs` not set) no virtual server has one.
    pub fn assign(&mut self, cfg: &CheckConfig, enabled: bool, start: u32) {
        let mut old = std::mem::take(&mut self.marks);
        if !enabled {
            return;
        }
        for vs in &cfg.virtual_servers {
            let VsAddr::Group(name) = &vs.addr else {
                continue;
            };
            // a group of fwmarks only has nothing to mark
            let has_addrs = cfg.group(name).is_some_and(|g| {
                g.entries
                    .iter()
                    .any(|e| matches!(e, VsgEntry::Addrs { .. }))
            });
            let k = (name.clone(), l4(proto(vs)));
            if !has_addrs || self.marks.contains_key(&k) {
                continue;
            }
            let mark = match old.remove(&k) {
                Some(m) => m,
                None => {
                    if self.next == 0 {
                        self.next = start;
                    }
                    let m = self.next;
                    self.next = self.next.wrapping_add(1);
                    m
                }
            };
            self.marks.insert(k, mark);
        }
    }

    /// The mark of virtual server `vs`, if it has one.
    pub fn of(&self, vs: &VirtualServer) -> Option<u32> {
        match &vs.addr {
            VsAddr::Group(name) => self.marks.get(&(name.clone(), l4(proto(vs)))).copied(),
            _ => None,
        }
    }

    /// What nftables marks: every address entry of every marked group, in configuration
    /// order (virtual servers, then their group's lines).
    pub fn entries(&self, cfg: &CheckConfig) -> Vec<MarkEntry> {
        let mut out: Vec<MarkEntry> = Vec::new();
        for vs in &cfg.virtual_servers {
            let (Some(mark), VsAddr::Group(name)) = (self.of(vs), &vs.addr) else {
                continue;
            };
            let Some(g) = cfg.group(name) else { continue };
            for e in &g.entries {
                if let VsgEntry::Addrs { first, last, port } = e {
                    let m = MarkEntry {
                        first: *first,
                        last: *last,
                        port: *port,
                        proto: l4(proto(vs)),
                        mark,
                    };
                    if !out.contains(&m) {
                        out.push(m);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::check::VsGroup;
    use crate::config::{load_str, LoadOptions};

    fn cfg(text: &str) -> CheckConfig {
        load_str(
            text,
            std::path::Path::new("/t.conf"),
            &LoadOptions::default(),
        )
        .config
        .check
    }

    const TWO: &str = "
virtual_server_group G1 {
  192.0.2.10-12 80
  192.0.2.20 80
}
virtual_server_group G2 {
  192.0.2.30/31 443
  fwmark 7
}
virtual_server group G1 {
  protocol TCP
  real_server 198.51.100.2 80 {
  }
}
virtual_server group G2 {
  protocol UDP
  real_server 198.51.100.2 443 {
  }
}
virtual_server group G1 {
  protocol UDP
  real_server 198.51.100.2 80 {
  }
}
";

    #[test]
    fn marks_count_up_per_group_and_protocol_in_order() {
        let c = cfg(TWO);
        let mut m = AutoMarks::default();
        m.assign(&c, true, 1000);
        let got: Vec<_> = c.virtual_servers.iter().map(|v| m.of(v)).collect();
        assert_eq!(got, [Some(1000), Some(1001), Some(1002)]);
        let e = m.entries(&c);
        assert_eq!(e.len(), 5, "{e:?}");
        assert_eq!(
            (e[0].first.to_string(), e[0].last.to_string(), e[0].port),
            ("192.0.2.10".into(), "192.0.2.12".into(), 80)
        );
        assert_eq!((e[2].proto, e[2].mark, e[2].port), (L4::Udp, 1001, 443));
        assert_eq!((e[4].proto, e[4].mark), (L4::Udp, 1002));
    }

    #[test]
    fn reload_keeps_marks_and_never_reuses_one() {
        let c = cfg(TWO);
        let mut m = AutoMarks::default();
        m.assign(&c, true, 1000);
        // G2 goes, G3 comes: G1's marks stay, G3 gets the next one (not G2's 1001)
        let mut c2 = c.clone();
        c2.virtual_servers.remove(1);
        c2.groups.push(VsGroup {
            name: "G3".into(),
            entries: vec![VsgEntry::Addrs {
                first: "203.0.113.1".parse().unwrap(),
                last: "203.0.113.1".parse().unwrap(),
                port: 25,
            }],
            span: c2.groups[0].span,
        });
        let mut g3 = c2.virtual_servers[0].clone();
        g3.addr = VsAddr::Group("G3".into());
        c2.virtual_servers.insert(0, g3);
        m.assign(&c2, true, 1000);
        let got: Vec<_> = c2.virtual_servers.iter().map(|v| m.of(v)).collect();
        assert_eq!(got, [Some(1003), Some(1000), Some(1002)]);
    }

    #[test]
    fn disabled_or_fwmark_only_groups_get_none() {
        let c = cfg(TWO);
        let mut m = AutoMarks::default();
        m.assign(&c, false, 1000);
        assert!(c.virtual_servers.iter().all(|v| m.of(v).is_none()));
        assert!(m.entries(&c).is_empty());
        let c = cfg("
virtual_server_group F {
  fwmark 5
}
virtual_server group F {
  real_server 198.51.100.2 80 {
  }
}
");
        m.assign(&c, true, 1000);
        assert_eq!(m.of(&c.virtual_servers[0]), None);
    }
}
