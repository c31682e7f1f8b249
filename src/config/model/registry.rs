//! Every keyword table of the model, by the block it serves, for whoever needs the whole
//! language at once: the keyword guard (`tests/keyword_guard.rs`, which checks that each
//! applied keyword has an effect test and each other one warns) and the documentation checks.
#![forbid(unsafe_code)]

use super::{check, global, statics, vrrp, Effect, Kw};

/// One block's keywords, in table order.
#[derive(Debug, Clone)]
pub struct KeywordTable {
    /// The block as a user knows it (`global_defs`, `vrrp_instance`, `TCP_CHECK`, ...);
    /// `top level` for keywords outside any block.
    pub block: &'static str,
    pub keywords: Vec<(&'static str, Effect)>,
}

fn table<T>(block: &'static str, kws: &[Kw<T>]) -> KeywordTable {
    KeywordTable {
        block,
        keywords: kws.iter().map(|k| (k.name, k.effect)).collect(),
    }
}

/// Keywords matched by hand rather than through a `Kw` table (their handlers need state a
/// table entry cannot carry, or they are options inside a line); all of them are applied.
fn literal(block: &'static str, names: &[&'static str]) -> KeywordTable {
    KeywordTable {
        block,
        keywords: names.iter().map(|n| (*n, Effect::Applied)).collect(),
    }
}

/// The options of an address line (`virtual_ipaddress`, `virtual_ipaddress_excluded`,
/// `static_ipaddress`), matched in `addr.rs`.
const ADDRESS_OPTIONS: &[&str] = &[
    "dev",
    "scope",
    "broadcast",
    "brd",
    "label",
    "peer",
    "home",
    "-nodad",
    "noprefixroute",
    "mngtmpaddr",
    "autojoin",
    "preferred_lft",
    "use_vmac",
    "no_track",
    "track_group",
];

/// The options and types of a route line (`virtual_routes`, `static_routes`).
const ROUTE_OPTIONS: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "xresolve",
    "inet",
    "inet6",
    "src",
    "via",
    "gw",
    "from",
    "tos",
    "dsfield",
    "table",
    "protocol",
    "scope",
    "metric",
    "priority",
    "preference",
    "dev",
    "oif",
    "onlink",
    "lock",
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "initcwnd",
    "initrwnd",
    "rto_min",
    "hoplimit",
    "features",
    "quickack",
    "congctl",
    "fastopen_no_cookie",
    "realms",
    "expires",
    "pref",
    "ttl-propagate",
    "add",
    "prepend",
    "append",
    "or",
    "nexthop",
    "weight",
    "no_track",
    "track_group",
];

/// The options of a rule line (`virtual_rules`, `static_rules`).
const RULE_OPTIONS: &[&str] = &[
    "not",
    "inet",
    "inet6",
    "from",
    "to",
    "table",
    "lookup",
    "preference",
    "priority",
    "order",
    "tos",
    "dsfield",
    "fwmark",
    "realms",
    "goto",
    "nop",
    "blackhole",
    "unreachable",
    "prohibit",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "dev",
    "iif",
    "oif",
    "uidrange",
    "l3mdev",
    "protocol",
    "ipproto",
    "tunnel-id",
    "sport",
    "dport",
    "no_track",
    "track_group",
];

/// All keyword tables. Checker blocks share the `checker timing` and `checker connection`
/// tables; `SMTP_CHECK`'s `host` sub-block has the connection keywords alone.
pub fn keyword_tables() -> Vec<KeywordTable> {
    use check::checker as ck;
    let mut top = table("top level", global::ROOT);
    top.keywords.extend(table("", vrrp::ROOT).keywords);
    top.keywords.extend(table("", check::ROOT).keywords);
    vec![
        top,
        table("global_defs", global::GLOBAL),
        table("track_group", statics::TRACK_GROUP),
        literal(
            "garp_group",
            &["garp_interval", "gna_interval", "interface", "interfaces"],
        ),
        table("vrrp_sync_group", vrrp::SYNC_GROUP_KW),
        table("vrrp_instance", vrrp::instance::INSTANCE_KW),
        literal("authentication", &["auth_type", "auth_pass"]),
        table("vrrp_script", vrrp::track::SCRIPT_KW),
        table("track_file", vrrp::track::TRACK_FILE_KW),
        table("vrrp_track_process", vrrp::track::TRACK_PROCESS_KW),
        table("bfd_instance", vrrp::track::BFD_KW),
        table("virtual_server", check::parse::VS_KW),
        table("real_server", check::parse::RS_KW),
        table("SSL", check::parse::SSL_KW),
        table("checker timing", ck::TIMING_KW),
        table("checker connection", &ck::CONN_KW),
        table("HTTP_GET", ck::HTTP_KW),
        table("url", ck::URL_KW),
        table("MISC_CHECK", ck::MISC_KW),
        table("SMTP_CHECK", ck::SMTP_KW),
        table("SMTP_CHECK host", &ck::HOST_KW),
        table("DNS_CHECK", ck::DNS_KW),
        table("UDP_CHECK", ck::UDP_KW),
        table("FILE_CHECK", ck::FILE_KW),
        table("BFD_CHECK", ck::BFD_KW),
        literal("address option", ADDRESS_OPTIONS),
        KeywordTable {
            block: "route option",
            keywords: literal("", ROUTE_OPTIONS)
                .keywords
                .into_iter()
                .chain([(
                    "vrf",
                    Effect::NotImplemented("routes are not put in a VRF's table"),
                )])
                .collect(),
        },
        literal("rule option", RULE_OPTIONS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_options_are_the_parser_s() {
        // Each listed option is a word `addr.rs` matches; not a proof that the list is
        // complete, but a renamed or removed option cannot stay listed.
        let src = include_str!("addr.rs");
        for (what, list) in [
            ("address", ADDRESS_OPTIONS),
            ("route", ROUTE_OPTIONS),
            ("rule", RULE_OPTIONS),
        ] {
            for o in list {
                assert!(src.contains(&format!("\"{o}\"")), "{what} option {o}");
            }
        }
    }

    #[test]
    fn no_keyword_twice_in_a_block() {
        for t in keyword_tables() {
            let mut seen = std::collections::HashSet::new();
            for (k, _) in &t.keywords {
                assert!(seen.insert(*k), "{} twice in {}", k, t.block);
            }
        }
    }
}
