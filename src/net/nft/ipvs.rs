//! The `nftables_ipvs` table: packets to the addresses of a `virtual_server_group`
//! get the group's fwmark, so IPVS needs one fwmark service per group instead of one service
//! per address.
//!
//! The layout is keepalived 2.2.7's (read back with `nft list ruleset` in the IPVS test VM,
//! tests/ipvs.rs `vm_daemon_nftables_ipvs`): tables `ip` and `ip6` named by `nftables_ipvs`
//! (default `keepalived_ipvs`), base chain `in` (hook input, priority `nftables_ipvs_priority`,
//! default filter − 1), and per protocol a map `tcp_map`/`udp_map`/`sctp_map` of type
//! `ADDR . inet_service : mark` with `flags interval` holding one range element per group
//! entry, looked up by the rule
//! `meta mark set ip daddr . tcp dport map @tcp_map return`.
//! A table appears with its first entry, a map and its rule with the first entry of their
//! protocol; like keepalived, neither goes away before shutdown.

use super::*;

/// The transport protocol of a marked entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Sctp,
}

impl L4 {
    fn number(self) -> u8 {
        match self {
            L4::Tcp => libc::IPPROTO_TCP as u8,
            L4::Udp => libc::IPPROTO_UDP as u8,
            L4::Sctp => libc::IPPROTO_SCTP as u8,
        }
    }

    fn map(self) -> &'static str {
        match self {
            L4::Tcp => "tcp_map",
            L4::Udp => "udp_map",
            L4::Sctp => "sctp_map",
        }
    }
}

/// Packets to `first..=last` (one family), `proto` port `port`, get `mark`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MarkEntry {
    pub first: IpAddr,
    pub last: IpAddr,
    pub port: u16,
    pub proto: L4,
    pub mark: u32,
}

/// `global_defs`: `nftables_ipvs`, `nftables_ipvs_priority`, `nftables_counters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsFwConfig {
    pub table: String,
    pub priority: i32,
    /// A counter in each rule and map element.
    pub counters: bool,
}

impl Default for IpvsFwConfig {
    fn default() -> Self {
        IpvsFwConfig {
            table: "keepalived_ipvs".into(),
            priority: -1,
            counters: false,
        }
    }
}

/// What exists in one family's table.
#[derive(Debug, Default, Clone)]
struct Installed {
    table: bool,
    maps: BTreeSet<L4>,
    /// (protocol, first key, last key, mark).
    elems: BTreeSet<(L4, RangeElem)>,
}

fn family(a: &IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Ip,
        IpAddr::V6(_) => Family::Ip6,
    }
}

/// A map key: the address, then the port in network order, padded to 4 bytes (as nft
/// lays out concatenations).
fn key(a: &IpAddr, port: u16) -> Vec<u8> {
    let mut k = match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    k.extend_from_slice(&port.to_be_bytes());
    k.extend_from_slice(&[0, 0]);
    k
}

/// The `nftables_ipvs` firewall of the checker child, kept in step with the marked entries.
pub struct IpvsFirewall {
    cfg: IpvsFwConfig,
    nft: Option<Nft>,
    installed: [Installed; 2],
}

impl IpvsFirewall {
    /// A firewall that opens its socket when first needed.
    pub fn new(cfg: IpvsFwConfig) -> Self {
        IpvsFirewall {
            cfg,
            nft: None,
            installed: Default::default(),
        }
    }

    pub fn config(&self) -> &IpvsFwConfig {
        &self.cfg
    }

    /// Makes the maps hold exactly `entries`; what did not change is not touched. On error
    /// nothing changed (the kernel applies a batch whole or not at all).
    pub fn set_entries(&mut self, entries: &[MarkEntry]) -> Result<(), NftError> {
        let mut next = self.installed.clone();
        let ops = plan(entries, self.cfg.counters, &mut next);
        if !ops.is_empty() {
            Nft::opened(&mut self.nft)?.run(&self.cfg.table, self.cfg.priority, &ops)?;
        }
        self.installed = next;
        Ok(())
    }

    /// Deletes the tables we made (at shutdown, or when `nftables_ipvs` goes).
    pub fn close(&mut self) -> Result<(), NftError> {
        let ops: Vec<Op> = [Family::Ip, Family::Ip6]
            .into_iter()
            .filter(|f| self.installed[f.index()].table)
            .map(Op::DelTable)
            .collect();
        self.installed = Default::default();
        match (&mut self.nft, ops.is_empty()) {
            (Some(n), false) => n.run(&self.cfg.table, self.cfg.priority, &ops),
            _ => Ok(()),
        }
    }
}

/// The rule of a map: `meta mark set ip daddr . tcp dport map @tcp_map return`.
fn mark_rule(fam: Family, proto: L4, counter: bool) -> Vec<Expr> {
    let (daddr, len, port_reg) = match fam {
        Family::Ip => (16, 4, NFT_REG32_01),
        Family::Ip6 => (24, 16, NFT_REG_2),
    };
    let mut r = vec![
        Expr::Meta {
            key: NFT_META_L4PROTO,
            dreg: NFT_REG_1,
        },
        Expr::Cmp {
            sreg: NFT_REG_1,
            data: vec![proto.number()],
        },
        Expr::Payload {
            base: NFT_PAYLOAD_NETWORK,
            offset: daddr,
            len,
            dreg: NFT_REG_1,
        },
        // the destination port is at offset 2 in TCP, UDP and SCTP headers alike
        Expr::Payload {
            base: NFT_PAYLOAD_TRANSPORT,
            offset: 2,
            len: 2,
            dreg: port_reg,
        },
        Expr::Lookup {
            set: proto.map().into(),
            sreg: NFT_REG_1,
            dreg: Some(NFT_REG_1),
        },
        Expr::MetaSet {
            key: NFT_META_MARK,
            sreg: NFT_REG_1,
        },
    ];
    if counter {
        r.push(Expr::Counter);
    }
    r.push(Expr::Verdict {
        code: NFT_RETURN,
        chain: None,
    });
    r
}

/// The operations that take `inst` to `entries` (updating it as they would). Tables and maps
/// are created in the order of the entries that first need them, as keepalived does.
fn plan(entries: &[MarkEntry], counters: bool, inst: &mut [Installed; 2]) -> Vec<Op> {
    let mut ops = Vec::new();
    // wanted elements per (family, protocol), in entry order
    let mut want: BTreeMap<(Family, L4), Vec<RangeElem>> = BTreeMap::new();
    for e in entries {
        let fam = family(&e.first);
        if family(&e.last) != fam {
            continue;
        }
        let i = &mut inst[fam.index()];
        if !i.table {
            ops.push(Op::FreshTable(fam));
            ops.push(Op::BaseChain {
                fam,
                name: "in",
                hook: NF_INET_LOCAL_IN,
            });
            i.table = true;
        }
        if i.maps.insert(e.proto) {
            let addr = match fam {
                Family::Ip => (TYPE_IPADDR, 4),
                Family::Ip6 => (TYPE_IP6ADDR, 16),
            };
            ops.push(Op::RangeMap {
                fam,
                name: e.proto.map(),
                key_type: (addr.0 << TYPE_BITS) | TYPE_INET_SERVICE,
                fields: vec![addr.1, 2],
                data: (TYPE_MARK, 4),
                counter: counters,
            });
            ops.push(Op::Rule {
                fam,
                chain: "in",
                exprs: mark_rule(fam, e.proto, counters),
            });
        }
        let el = (
            key(&e.first, e.port),
            key(&e.last, e.port),
            e.mark.to_ne_bytes().to_vec(),
        );
        let w = want.entry((fam, e.proto)).or_default();
        if !w.contains(&el) {
            w.push(el);
        }
    }
    for fam in [Family::Ip, Family::Ip6] {
        let i = &mut inst[fam.index()];
        let maps: Vec<L4> = i.maps.iter().copied().collect();
        for proto in maps {
            let target = want.remove(&(fam, proto)).unwrap_or_default();
            // deletions first: an address range may only be in a map once
            let del: Vec<RangeElem> = i
                .elems
                .iter()
                .filter(|(p, _)| *p == proto)
                .map(|(_, el)| el.clone())
                .filter(|el| !target.contains(el))
                .collect();
            let add: Vec<RangeElem> = target
                .into_iter()
                .filter(|el| !i.elems.contains(&(proto, el.clone())))
                .collect();
            for el in &del {
                i.elems.remove(&(proto, el.clone()));
            }
            for el in &add {
                i.elems.insert((proto, el.clone()));
            }
            let set = proto.map();
            if !del.is_empty() {
                ops.push(Op::DelRanges {
                    fam,
                    set,
                    elems: del,
                });
            }
            if !add.is_empty() {
                ops.push(Op::AddRanges {
                    fam,
                    set,
                    elems: add,
                });
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(first: &str, last: &str, port: u16, proto: L4, mark: u32) -> MarkEntry {
        MarkEntry {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
            port,
            proto,
            mark,
        }
    }

    fn kinds(ops: &[Op]) -> Vec<String> {
        ops.iter()
            .map(|o| match o {
                Op::FreshTable(f) => format!("table {f:?}"),
                Op::DelTable(f) => format!("deltable {f:?}"),
                Op::BaseChain { name, fam, .. } => format!("chain {fam:?} {name}"),
                Op::RangeMap { name, fam, .. } => format!("map {fam:?} {name}"),
                Op::Rule { chain, fam, .. } => format!("rule {fam:?} {chain}"),
                Op::AddRanges { set, elems, fam } => format!("add {fam:?} {set} {}", elems.len()),
                Op::DelRanges { set, elems, fam } => format!("del {fam:?} {set} {}", elems.len()),
                o => format!("{o:?}"),
            })
            .collect()
    }

    #[test]
    fn layout_follows_the_entries_then_only_elements_change() {
        let mut inst: [Installed; 2] = Default::default();
        let es = vec![
            entry("192.0.2.10", "192.0.2.12", 80, L4::Tcp, 1000),
            entry("192.0.2.20", "192.0.2.20", 80, L4::Tcp, 1000),
            entry("2001:db8::10", "2001:db8::12", 53, L4::Udp, 1001),
            entry("192.0.2.30", "192.0.2.31", 443, L4::Udp, 1001),
        ];
        let ops = plan(&es, false, &mut inst);
        assert_eq!(
            kinds(&ops),
            [
                "table Ip",
                "chain Ip in",
                "map Ip tcp_map",
                "rule Ip in",
                "table Ip6",
                "chain Ip6 in",
                "map Ip6 udp_map",
                "rule Ip6 in",
                "map Ip udp_map",
                "rule Ip in",
                "add Ip tcp_map 2",
                "add Ip udp_map 1",
                "add Ip6 udp_map 1",
            ]
        );
        // the same entries again: nothing to do
        assert!(plan(&es, false, &mut inst).is_empty());
        // one entry gone, one new: only those two elements
        let mut es2 = es.clone();
        es2.remove(1);
        es2.push(entry("192.0.2.21", "192.0.2.21", 80, L4::Tcp, 1000));
        assert_eq!(
            kinds(&plan(&es2, false, &mut inst)),
            ["del Ip tcp_map 1", "add Ip tcp_map 1"]
        );
        // nothing left: the maps stay, their elements go
        assert_eq!(
            kinds(&plan(&[], false, &mut inst)),
            ["del Ip tcp_map 2", "del Ip udp_map 1", "del Ip6 udp_map 1"]
        );
    }

    #[test]
    fn keys_are_address_then_padded_port_and_marks_host_order() {
        let mut inst: [Installed; 2] = Default::default();
        let ops = plan(
            &[entry("192.0.2.10", "192.0.2.12", 80, L4::Tcp, 1000)],
            false,
            &mut inst,
        );
        let Some(Op::AddRanges { elems, .. }) = ops.last() else {
            panic!("{ops:?}")
        };
        assert_eq!(
            elems[0],
            (
                vec![192, 0, 2, 10, 0, 80, 0, 0],
                vec![192, 0, 2, 12, 0, 80, 0, 0],
                1000u32.to_ne_bytes().to_vec()
            )
        );
        let Some(Op::RangeMap {
            key_type, fields, ..
        }) = ops.get(2)
        else {
            panic!("{ops:?}")
        };
        assert_eq!((*key_type, fields.as_slice()), ((7 << 6) | 13, &[4, 2][..]));
        let k6 = key(&"2001:db8::1".parse().unwrap(), 53);
        assert_eq!(k6.len(), 20);
        assert_eq!(&k6[16..], &[0, 53, 0, 0]);
    }

    #[test]
    fn rule_is_keepalived_set_mark() {
        // nft --debug=netlink of keepalived 2.2.7's rule:
        // meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 4b @ network header + 16
        // => reg 1; payload load 2b @ transport header + 2 => reg 9; lookup reg 1 set tcp_map
        // dreg 1; meta set mark with reg 1; immediate reg 0 return
        let r = mark_rule(Family::Ip, L4::Tcp, false);
        assert_eq!(
            r[3],
            Expr::Payload {
                base: NFT_PAYLOAD_TRANSPORT,
                offset: 2,
                len: 2,
                dreg: 9
            }
        );
        let r6 = mark_rule(Family::Ip6, L4::Udp, false);
        assert_eq!(
            r6[1],
            Expr::Cmp {
                sreg: 1,
                data: vec![17]
            }
        );
        assert_eq!(
            r6[2],
            Expr::Payload {
                base: NFT_PAYLOAD_NETWORK,
                offset: 24,
                len: 16,
                dreg: 1
            }
        );
        assert_eq!(
            r6[3],
            Expr::Payload {
                base: 2,
                offset: 2,
                len: 2,
                dreg: 2
            }
        );
        assert_eq!(
            r6[6],
            Expr::Verdict {
                code: -5,
                chain: None
            }
        );
        // nftables_counters: `... map @tcp_map counter return`
        let c = mark_rule(Family::Ip, L4::Tcp, true);
        assert_eq!((c.len(), &c[6]), (8, &Expr::Counter));
    }

    #[test]
    fn mixed_family_range_is_ignored() {
        let mut inst: [Installed; 2] = Default::default();
        assert!(plan(
            &[entry("192.0.2.1", "2001:db8::1", 80, L4::Tcp, 1000)],
            false,
            &mut inst
        )
        .is_empty());
    }
}
