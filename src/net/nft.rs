//! nftables through nfnetlink, as keepalived 2.2.7 programs them.
//!
//! keepalived uses the firewall for two things, and so do we:
//! * `no_accept` (the default under `vrrp_strict`): while an instance is MASTER its VIPs are
//!   in a set, and traffic to or from them is dropped;
//! * VMACs: IGMP/MLD reports leaving a VMAC are copied to its base interface and dropped,
//!   router solicitations from IPv6 VMACs are dropped.
//!
//! The tables, chains, sets and rules are the ones keepalived 2.2.7 creates (read back with
//! `nft list ruleset` side by side, tests/vrrp_firewall.rs): tables `ip keepalived` and
//! `ip6 keepalived`, base chains `in`/`out` at priority filter − 1, sets `vips`,
//! `neighbor-discovery`, `vips_link_local`, map `vmac_map`, set `vmac_set`.
//!
//! There is no nftables crate that speaks netlink without C bindings or the `nft` binary, so
//! the few messages needed are written here: a batch of NEWTABLE/NEWCHAIN/NEWSET/NEWSETELEM/
//! NEWRULE/DELSETELEM/DELTABLE, each acknowledged. [`Firewall`] keeps what is installed and
//! turns a desired state into the smallest batch; a failed batch changes nothing (the kernel
//! applies a batch whole or not at all) and the state stays as it was.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

pub mod ipvs;

/// Errors talking to nf_tables.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("nftables socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused the batch (the first error it reported).
    #[error("nftables {op}: {source}")]
    Kernel {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("nftables: no reply from the kernel")]
    NoReply,
    /// An attribute longer than netlink's 16-bit length field (never sent).
    #[error("nftables: an attribute of {0} bytes does not fit a netlink message")]
    TooLong(usize),
}

// linux/netfilter/nfnetlink.h, nf_tables.h
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NLMSG_ERROR: u16 = 2;

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_TYPE: u16 = 4;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_TYPE: u16 = 6;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_DESC: u16 = 9;
const NFTA_SET_DESC_CONCAT: u16 = 2;
const NFTA_SET_FIELD_LEN: u16 = 1;
const NFTA_SET_ID: u16 = 10;
const NFTA_SET_USERDATA: u16 = 13;
const NFTA_SET_EXPR: u16 = 17;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

const NFT_SET_CONSTANT: u32 = 0x2;
const NFT_SET_INTERVAL: u32 = 0x4;
const NFT_SET_MAP: u32 = 0x8;
const NFT_SET_CONCAT: u32 = 0x80;

const NF_INET_LOCAL_IN: u32 = 1;
const NF_INET_LOCAL_OUT: u32 = 3;
const NF_DROP: i32 = 0;
const NF_ACCEPT: i32 = 1;
const NFT_GOTO: i32 = -4;
const NFT_RETURN: i32 = -5;

const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;
/// The second 32-bit register (the one after a 4-byte value loaded into `NFT_REG_1`).
const NFT_REG32_01: u32 = 9;
const NFT_PAYLOAD_NETWORK: u32 = 1;
const NFT_PAYLOAD_TRANSPORT: u32 = 2;
const NFT_META_MARK: u32 = 3;
const NFT_META_IIF: u32 = 4;
const NFT_META_OIF: u32 = 5;
const NFT_META_IIFNAME: u32 = 6;
const NFT_META_OIFNAME: u32 = 7;
const NFT_META_L4PROTO: u32 = 16;
const NFT_META_OIFKIND: u32 = 27;

// nft's datatype numbers (only shown by `nft list`; the kernel stores them as given).
const TYPE_IPADDR: u32 = 7;
const TYPE_IP6ADDR: u32 = 8;
const TYPE_INET_SERVICE: u32 = 13;
const TYPE_MARK: u32 = 19;
const TYPE_IFINDEX: u32 = 20;
const TYPE_ICMP6_TYPE: u32 = 29;
const TYPE_IFNAME: u32 = 41;
const TYPE_BITS: u32 = 6;
// libnftnl's set user data (NFTNL_UDATA_SET_{KEY,DATA}BYTEORDER) and nft's byte orders: how
// `nft list` prints keys; without it an interface index shows as a byte-swapped number.
const UDATA_KEYBYTEORDER: u8 = 0;
const UDATA_DATABYTEORDER: u8 = 1;
const BYTEORDER_HOST: u32 = 1;
const BYTEORDER_BIG: u32 = 2;

const IPPROTO_IGMP: u8 = 2;
const IPPROTO_ICMPV6: u8 = 58;
const ICMPV6_ROUTER_SOLICIT: u8 = 133;
const ICMPV6_ND_SOLICIT: u8 = 135;
const ICMPV6_ND_ADVERT: u8 = 136;
const ICMPV6_MLD2_REPORT: u8 = 143;
const IFNAMSIZ: usize = 16;

/// Address family of a table: `ip` or `ip6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Ip,
    Ip6,
}

impl Family {
    fn nfproto(self) -> u8 {
        match self {
            Family::Ip => libc::NFPROTO_IPV4 as u8,
            Family::Ip6 => libc::NFPROTO_IPV6 as u8,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// nft's name of the family, as keepalived logs it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        }
    }
}

/// Netlink attributes written into a message buffer, and the length of the first one too
/// long for netlink's 16-bit length field (the batch is then refused, never sent wrapped).
struct Attrs<'a>(&'a mut Vec<u8>, &'a mut Option<usize>);

impl Attrs<'_> {
    fn len16(&mut self, len: usize) -> u16 {
        u16::try_from(len).unwrap_or_else(|_| {
            self.1.get_or_insert(len);
            0
        })
    }

    fn put(&mut self, kind: u16, data: &[u8]) {
        let len = self.len16(4 + data.len());
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.0.len() % 4 != 0 {
            self.0.push(0);
        }
    }

    fn str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.put(kind, &v);
    }

    fn be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }

    fn nest(&mut self, kind: u16, f: impl FnOnce(&mut Attrs<'_>)) {
        let start = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        f(&mut Attrs(self.0, self.1));
        let len = self.len16(self.0.len() - start);
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// `NFTA_DATA_VALUE` inside a nest of `kind`.
    fn value(&mut self, kind: u16, data: &[u8]) {
        self.nest(kind, |a| a.put(NFTA_DATA_VALUE, data));
    }
}

/// A set element: key, and for a map its data.
type Elem = (Vec<u8>, Option<Vec<u8>>);

/// One expression of a rule (the ones keepalived's rules use).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Payload {
        base: u32,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    Meta {
        key: u32,
        dreg: u32,
    },
    /// `meta KEY set` from a register.
    MetaSet {
        key: u32,
        sreg: u32,
    },
    Cmp {
        sreg: u32,
        data: Vec<u8>,
    },
    Bitwise {
        reg: u32,
        mask: Vec<u8>,
    },
    Lookup {
        set: String,
        sreg: u32,
        dreg: Option<u32>,
    },
    Dup {
        addr: u32,
        dev: u32,
    },
    Counter,
    Verdict {
        code: i32,
        chain: Option<String>,
    },
}

/// How an expression writes its `NFTA_EXPR_DATA`.
type ExprBody<'a> = Box<dyn Fn(&mut Attrs<'_>) + 'a>;

/// Keys (and map data) of a set.
type Elems = BTreeSet<Elem>;

impl Expr {
    fn emit(&self, a: &mut Attrs<'_>) {
        let (name, body): (&str, ExprBody<'_>) = match self {
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => (
                "payload",
                Box::new(move |a| {
                    a.be32(1, *dreg);
                    a.be32(2, *base);
                    a.be32(3, *offset);
                    a.be32(4, *len);
                }),
            ),
            Expr::Meta { key, dreg } => (
                "meta",
                Box::new(move |a| {
                    a.be32(1, *dreg);
                    a.be32(2, *key);
                }),
            ),
            Expr::MetaSet { key, sreg } => (
                "meta",
                Box::new(move |a| {
                    a.be32(2, *key);
                    a.be32(3, *sreg);
                }),
            ),
            Expr::Cmp { sreg, data } => (
                "cmp",
                Box::new(move |a| {
                    a.be32(1, *sreg);
                    a.be32(2, 0); // NFT_CMP_EQ
                    a.value(3, data);
                }),
            ),
            Expr::Bitwise { reg, mask } => (
                "bitwise",
                Box::new(move |a| {
                    a.be32(1, *reg);
                    a.be32(2, *reg);
                    a.be32(3, mask.len() as u32);
                    a.value(4, mask);
                    a.value(5, &vec![0; mask.len()]);
                }),
            ),
            Expr::Lookup { set, sreg, dreg } => (
                "lookup",
                Box::new(move |a| {
                    a.str(1, set);
                    a.be32(2, *sreg);
                    if let Some(d) = dreg {
                        a.be32(3, *d);
                    }
                }),
            ),
            Expr::Dup { addr, dev } => (
                "dup",
                Box::new(move |a| {
                    a.be32(1, *addr);
                    a.be32(2, *dev);
                }),
            ),
            Expr::Counter => (
                "counter",
                Box::new(|a| {
                    a.put(1, &0u64.to_be_bytes());
                    a.put(2, &0u64.to_be_bytes());
                }),
            ),
            Expr::Verdict { code, chain } => (
                "immediate",
                Box::new(move |a| {
                    a.be32(1, 0); // NFT_REG_VERDICT
                    a.nest(2, |a| {
                        a.nest(NFTA_DATA_VERDICT, |a| {
                            a.be32(NFTA_VERDICT_CODE, *code as u32);
                            if let Some(c) = chain {
                                a.str(NFTA_VERDICT_CHAIN, c);
                            }
                        })
                    });
                }),
            ),
        };
        a.nest(NFTA_LIST_ELEM, |a| {
            a.str(NFTA_EXPR_NAME, name);
            a.nest(NFTA_EXPR_DATA, |a| body(a));
        });
    }
}

/// A set or map definition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetDef {
    name: &'static str,
    flags: u32,
    key_type: u32,
    key_len: u32,
    data: Option<(u32, u32)>,
}

/// nft's byte order of a key type: interface indexes are host order, the rest network order
/// (a concatenation takes its first part's).
fn byteorder(key_type: u32) -> u32 {
    if key_type == TYPE_IFINDEX {
        BYTEORDER_HOST
    } else {
        BYTEORDER_BIG
    }
}

/// One change in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// Create the table afresh: add, delete (leftovers of an earlier run), add.
    FreshTable(Family),
    DelTable(Family),
    BaseChain {
        fam: Family,
        name: &'static str,
        hook: u32,
    },
    Chain {
        fam: Family,
        name: &'static str,
    },
    Set {
        fam: Family,
        def: SetDef,
    },
    Rule {
        fam: Family,
        chain: &'static str,
        exprs: Vec<Expr>,
    },
    AddElems {
        fam: Family,
        set: &'static str,
        elems: Vec<Elem>,
    },
    DelElems {
        fam: Family,
        set: &'static str,
        elems: Vec<Elem>,
    },
    /// A map keyed by a concatenation of ranges (`flags interval`), as keepalived's IPVS maps:
    /// `fields` are the byte lengths of the parts, each padded to 4 in the key.
    RangeMap {
        fam: Family,
        name: &'static str,
        key_type: u32,
        fields: Vec<u32>,
        data: (u32, u32),
        /// A counter in each element (`nftables_counters`).
        counter: bool,
    },
    /// Elements of a [`Op::RangeMap`]: (first key, last key, data).
    AddRanges {
        fam: Family,
        set: &'static str,
        elems: Vec<RangeElem>,
    },
    DelRanges {
        fam: Family,
        set: &'static str,
        elems: Vec<RangeElem>,
    },
}

/// An element of a range map: first key, last key (inclusive), data.
type RangeElem = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Set elements per NEWSETELEM/DELSETELEM message: the element list is one attribute, and
/// netlink attribute lengths are 16 bits. The largest element we write (a range of
/// concatenated address and interface keys with its data) takes under 200 bytes, so 256 of
/// them stay well below 64 KiB.
const ELEMS_PER_MSG: usize = 256;

/// `elems` in messages of at most [`ELEMS_PER_MSG`]; an empty list is one empty message.
fn chunks<T>(elems: &[T]) -> impl Iterator<Item = &[T]> {
    let empty = elems.is_empty().then_some(elems);
    elems.chunks(ELEMS_PER_MSG).chain(empty)
}

/// A finished batch: its bytes, the (sequence, what) of each acknowledged message, and the
/// next sequence number.
type Finished = (Vec<u8>, Vec<(u32, &'static str)>, u32);

/// A batch of nf_tables messages being built.
struct Batch {
    buf: Vec<u8>,
    /// An attribute too long to encode (see [`Attrs`]).
    too_long: Option<usize>,
    seq: u32,
    /// (sequence number, what it was) of each acknowledged message.
    acked: Vec<(u32, &'static str)>,
    set_id: u32,
}

impl Batch {
    /// A buffer for messages outside a batch.
    fn empty(seq: u32) -> Self {
        Batch {
            buf: Vec::new(),
            too_long: None,
            seq,
            acked: Vec::new(),
            set_id: 0,
        }
    }

    /// A batch: BATCH_BEGIN written, messages to follow.
    fn new(seq: u32) -> Self {
        let mut b = Batch::empty(seq);
        b.header(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            0,
            NFNL_SUBSYS_NFTABLES,
            |_| {},
        );
        b
    }

    fn header(
        &mut self,
        kind: u16,
        flags: u16,
        family: u8,
        res_id: u16,
        f: impl FnOnce(&mut Attrs<'_>),
    ) -> u32 {
        let start = self.buf.len();
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.push(family);
        self.buf.push(0); // NFNETLINK_V0
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        f(&mut Attrs(&mut self.buf, &mut self.too_long));
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
        seq
    }

    fn msg(
        &mut self,
        what: &'static str,
        cmd: u16,
        flags: u16,
        fam: Family,
        f: impl FnOnce(&mut Attrs<'_>),
    ) {
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | cmd;
        let seq = self.header(kind, NLM_F_REQUEST | NLM_F_ACK | flags, fam.nfproto(), 0, f);
        self.acked.push((seq, what));
    }

    fn op(&mut self, table: &str, priority: i32, op: &Op) {
        match op {
            Op::FreshTable(fam) => {
                let t = |a: &mut Attrs<'_>| a.str(NFTA_TABLE_NAME, table);
                self.msg("add table", NFT_MSG_NEWTABLE, NLM_F_CREATE, *fam, t);
                self.msg("delete table", NFT_MSG_DELTABLE, 0, *fam, t);
                self.msg("add table", NFT_MSG_NEWTABLE, NLM_F_CREATE, *fam, t);
            }
            Op::DelTable(fam) => {
                self.msg("delete table", NFT_MSG_DELTABLE, 0, *fam, |a| {
                    a.str(NFTA_TABLE_NAME, table)
                });
            }
            Op::BaseChain { fam, name, hook } => {
                self.msg("add chain", NFT_MSG_NEWCHAIN, NLM_F_CREATE, *fam, |a| {
                    a.str(NFTA_CHAIN_TABLE, table);
                    a.str(NFTA_CHAIN_NAME, name);
                    a.nest(NFTA_CHAIN_HOOK, |a| {
                        a.be32(NFTA_HOOK_HOOKNUM, *hook);
                        a.be32(NFTA_HOOK_PRIORITY, priority as u32);
                    });
                    a.be32(NFTA_CHAIN_POLICY, NF_ACCEPT as u32);
                    a.str(NFTA_CHAIN_TYPE, "filter");
                });
            }
            Op::Chain { fam, name } => {
                self.msg("add chain", NFT_MSG_NEWCHAIN, NLM_F_CREATE, *fam, |a| {
                    a.str(NFTA_CHAIN_TABLE, table);
                    a.str(NFTA_CHAIN_NAME, name);
                });
            }
            Op::Set { fam, def } => {
                self.set_id += 1;
                let id = self.set_id;
                self.msg("add set", NFT_MSG_NEWSET, NLM_F_CREATE, *fam, |a| {
                    a.str(NFTA_SET_TABLE, table);
                    a.str(NFTA_SET_NAME, def.name);
                    a.be32(NFTA_SET_FLAGS, def.flags);
                    a.be32(NFTA_SET_KEY_TYPE, def.key_type);
                    a.be32(NFTA_SET_KEY_LEN, def.key_len);
                    if let Some((t, l)) = def.data {
                        a.be32(NFTA_SET_DATA_TYPE, t);
                        a.be32(NFTA_SET_DATA_LEN, l);
                    }
                    a.be32(NFTA_SET_ID, id);
                    let mut udata = Vec::new();
                    let mut put = |kind: u8, order: u32| {
                        udata.extend_from_slice(&[kind, 4]);
                        udata.extend_from_slice(&order.to_ne_bytes());
                    };
                    put(UDATA_KEYBYTEORDER, byteorder(def.key_type));
                    if let Some((t, _)) = def.data {
                        put(UDATA_DATABYTEORDER, byteorder(t));
                    }
                    a.put(NFTA_SET_USERDATA, &udata);
                });
            }
            Op::Rule { fam, chain, exprs } => {
                self.msg(
                    "add rule",
                    NFT_MSG_NEWRULE,
                    NLM_F_CREATE | NLM_F_APPEND,
                    *fam,
                    |a| {
                        a.str(NFTA_RULE_TABLE, table);
                        a.str(NFTA_RULE_CHAIN, chain);
                        a.nest(NFTA_RULE_EXPRESSIONS, |a| {
                            for e in exprs {
                                e.emit(a);
                            }
                        });
                    },
                );
            }
            Op::RangeMap {
                fam,
                name,
                key_type,
                fields,
                data,
                counter,
            } => {
                self.set_id += 1;
                let id = self.set_id;
                let key_len: u32 = fields.iter().map(|f| (f + 3) & !3).sum();
                self.msg("add set", NFT_MSG_NEWSET, NLM_F_CREATE, *fam, |a| {
                    a.str(NFTA_SET_TABLE, table);
                    a.str(NFTA_SET_NAME, name);
                    a.be32(
                        NFTA_SET_FLAGS,
                        NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_CONCAT,
                    );
                    a.be32(NFTA_SET_KEY_TYPE, *key_type);
                    a.be32(NFTA_SET_KEY_LEN, key_len);
                    a.be32(NFTA_SET_DATA_TYPE, data.0);
                    a.be32(NFTA_SET_DATA_LEN, data.1);
                    a.be32(NFTA_SET_ID, id);
                    // keepalived's setup_set: host order for anything but a lone address
                    let mut udata = Vec::new();
                    for kind in [UDATA_KEYBYTEORDER, UDATA_DATABYTEORDER] {
                        udata.extend_from_slice(&[kind, 4]);
                        udata.extend_from_slice(&BYTEORDER_HOST.to_ne_bytes());
                    }
                    a.put(NFTA_SET_USERDATA, &udata);
                    a.nest(NFTA_SET_DESC, |a| {
                        a.nest(NFTA_SET_DESC_CONCAT, |a| {
                            for f in fields {
                                a.nest(NFTA_LIST_ELEM, |a| a.be32(NFTA_SET_FIELD_LEN, *f));
                            }
                        })
                    });
                    if *counter {
                        // the kernel gives every element a copy of this expression
                        a.nest(NFTA_SET_EXPR, |a| {
                            a.str(NFTA_EXPR_NAME, "counter");
                            a.nest(NFTA_EXPR_DATA, |_| {});
                        });
                    }
                });
            }
            Op::AddRanges { fam, set, elems } | Op::DelRanges { fam, set, elems } => {
                let (what, cmd, flags) = match op {
                    Op::AddRanges { .. } => ("add element", NFT_MSG_NEWSETELEM, NLM_F_CREATE),
                    _ => ("delete element", NFT_MSG_DELSETELEM, 0),
                };
                for elems in chunks(elems) {
                    self.msg(what, cmd, flags, *fam, |a| {
                        a.str(NFTA_SET_ELEM_LIST_TABLE, table);
                        a.str(NFTA_SET_ELEM_LIST_SET, set);
                        a.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |a| {
                            for (k, end, d) in elems {
                                a.nest(NFTA_LIST_ELEM, |a| {
                                    a.value(NFTA_SET_ELEM_KEY, k);
                                    a.value(NFTA_SET_ELEM_KEY_END, end);
                                    if cmd == NFT_MSG_NEWSETELEM {
                                        a.value(NFTA_SET_ELEM_DATA, d);
                                    }
                                });
                            }
                        });
                    });
                }
            }
            Op::AddElems { fam, set, elems } | Op::DelElems { fam, set, elems } => {
                let (what, cmd, flags) = match op {
                    Op::AddElems { .. } => ("add element", NFT_MSG_NEWSETELEM, NLM_F_CREATE),
                    _ => ("delete element", NFT_MSG_DELSETELEM, 0),
                };
                for elems in chunks(elems) {
                    self.msg(what, cmd, flags, *fam, |a| {
                        a.str(NFTA_SET_ELEM_LIST_TABLE, table);
                        a.str(NFTA_SET_ELEM_LIST_SET, set);
                        a.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |a| {
                            for (k, d) in elems {
                                a.nest(NFTA_LIST_ELEM, |a| {
                                    a.value(NFTA_SET_ELEM_KEY, k);
                                    if let Some(d) = d {
                                        a.value(NFTA_SET_ELEM_DATA, d);
                                    }
                                });
                            }
                        });
                    });
                }
            }
        }
    }

    fn finish(mut self) -> Result<Finished, NftError> {
        self.header(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            0,
            NFNL_SUBSYS_NFTABLES,
            |_| {},
        );
        if let Some(len) = self.too_long {
            return Err(NftError::TooLong(len));
        }
        Ok((self.buf, self.acked, self.seq))
    }
}

/// Test hook: `KEEPALIVED_TEST_NFT_STALL_MS` delays every nf_tables receive, standing in
/// for a kernel slow to answer (tests/vrrp_firewall.rs checks the adverts keep their pace).
fn test_stall() -> Option<Duration> {
    static STALL: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    *STALL.get_or_init(|| {
        std::env::var("KEEPALIVED_TEST_NFT_STALL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    })
}

/// An nfnetlink socket.
pub struct Nft {
    sock: Socket,
    seq: u32,
}

impl Nft {
    pub fn new() -> Result<Self, NftError> {
        let mut sock = Socket::new(NETLINK_NETFILTER).map_err(NftError::Socket)?;
        sock.bind_auto().map_err(NftError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(NftError::Socket)?;
        // Replies come at once; the timeout only guards against a kernel that never answers.
        socket2::SockRef::from(&sock)
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(NftError::Socket)?;
        Ok(Nft { sock, seq: 1 })
    }

    /// The socket in `slot`, opened at the first use.
    pub(crate) fn opened(slot: &mut Option<Nft>) -> Result<&mut Nft, NftError> {
        match slot {
            Some(n) => Ok(n),
            None => Ok(slot.insert(Nft::new()?)),
        }
    }

    /// One receive into `rx`; the socket's timeout means the kernel did not answer.
    fn recv<'a>(&mut self, rx: &'a mut [u8]) -> Result<&'a [u8], NftError> {
        if let Some(d) = test_stall() {
            std::thread::sleep(d);
        }
        match self.sock.recv(&mut &mut rx[..], 0) {
            Ok(n) => Ok(&rx[..n.min(rx.len())]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(NftError::NoReply),
            Err(e) => Err(NftError::Socket(e)),
        }
    }

    /// A batch goes in one message, which netlink refuses when longer than the socket's send
    /// buffer: thousands of set elements need more than the default.
    fn fit_send_buffer(&mut self, len: usize) {
        let need = len.saturating_add(4096);
        let sock = socket2::SockRef::from(&self.sock);
        // The kernel reports double what was set.
        if sock.send_buffer_size().is_ok_and(|n| n / 2 >= need) {
            return;
        }
        let forced =
            nix::sys::socket::setsockopt(&self.sock, nix::sys::socket::sockopt::SndBufForce, &need);
        if forced.is_err() {
            let _ = sock.set_send_buffer_size(need);
        }
    }

    /// Sends `ops` as one batch and waits for every acknowledgement.
    fn run(&mut self, table: &str, priority: i32, ops: &[Op]) -> Result<(), NftError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut b = Batch::new(self.seq);
        for op in ops {
            b.op(table, priority, op);
        }
        let (buf, acked, next) = b.finish()?;
        self.seq = next;
        self.fit_send_buffer(buf.len());
        self.sock.send(&buf, 0).map_err(NftError::Socket)?;
        let mut pending: BTreeMap<u32, &'static str> = acked.into_iter().collect();
        let mut first_err = None;
        let mut rx = vec![0u8; 16384];
        while !pending.is_empty() {
            for (seq, errno) in acks(self.recv(&mut rx)?) {
                let Some(what) = pending.remove(&seq) else {
                    continue;
                };
                if errno != 0 && first_err.is_none() {
                    first_err = Some(NftError::Kernel {
                        op: what,
                        source: io::Error::from_raw_os_error(errno),
                    });
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Nft {
    /// Whether table `name` exists in `fam` (a GETTABLE answered by the table or ENOENT).
    fn table_exists(&mut self, fam: Family, name: &str) -> Result<bool, NftError> {
        let mut b = Batch::empty(self.seq);
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
        let seq = b.header(kind, NLM_F_REQUEST | NLM_F_ACK, fam.nfproto(), 0, |a| {
            a.str(NFTA_TABLE_NAME, name)
        });
        self.seq = b.seq;
        self.sock.send(&b.buf, 0).map_err(NftError::Socket)?;
        let mut rx = vec![0u8; 16384];
        let mut found = false;
        loop {
            let got = self.recv(&mut rx)?;
            found |= messages(got).any(|(k, s, _)| k == kind - 1 && s == seq);
            match acks(got).find(|(s, _)| *s == seq) {
                Some((_, 0)) => return Ok(found),
                Some((_, libc::ENOENT)) => return Ok(false),
                Some((_, errno)) => {
                    return Err(NftError::Kernel {
                        op: "get table",
                        source: io::Error::from_raw_os_error(errno),
                    })
                }
                None => {}
            }
        }
    }
}

/// (type, sequence, payload) of every message in a receive buffer; a malformed tail ends it.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let seq = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let payload = &buf[16..len];
        buf = &buf[((len + 3) & !3).min(buf.len())..];
        Some((kind, seq, payload))
    })
}

/// (sequence of the request, errno) of every NLMSG_ERROR in a receive buffer (0: an ack).
fn acks(buf: &[u8]) -> impl Iterator<Item = (u32, i32)> + '_ {
    messages(buf).filter_map(|(kind, _, p)| {
        // error code, then the request's header (its sequence at offset 8)
        if kind != NLMSG_ERROR || p.len() < 4 + 16 {
            return None;
        }
        let err = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
        let seq = u32::from_ne_bytes([p[12], p[13], p[14], p[15]]);
        Some((seq, -err))
    })
}

/// How the firewall is named and built (`global_defs`: `nftables`, `nftables_priority`,
/// `nftables_counters`, `nftables_ifindex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwConfig {
    pub table: String,
    pub priority: i32,
    pub counters: bool,
    /// Link-local VIPs keyed by interface name instead of index (keepalived does that when an
    /// instance has `dont_track_primary` and `nftables_ifindex` is not set).
    pub ll_by_name: bool,
}

impl Default for FwConfig {
    fn default() -> Self {
        FwConfig {
            table: "keepalived".into(),
            priority: -1,
            counters: false,
            ll_by_name: false,
        }
    }
}

/// A VIP to drop traffic for: the address, and for IPv6 link-local ones its interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DropEntry {
    pub addr: IpAddr,
    pub ifindex: u32,
    pub ifname: String,
}

/// A VMAC whose IGMP/MLD reports move to its base interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VmacEntry {
    pub fam: Family,
    pub vmac: u32,
    pub base: u32,
}

/// What exists in one table.
#[derive(Debug, Default, Clone)]
struct Installed {
    table: bool,
    out: bool,
    inp: bool,
    vips: bool,
    link_local: bool,
    vmac: bool,
    /// Set name → keys (and map data) in it.
    elems: BTreeMap<&'static str, Elems>,
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn ifname_key(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(IFNAMSIZ, 0);
    v
}

/// The firewall of the VRRP child: what keepalived's no_accept and VMAC rules need, kept in
/// step with a desired state.
pub struct Firewall {
    cfg: FwConfig,
    nft: Option<Nft>,
    installed: [Installed; 2],
    /// Instance name → its entries while it is MASTER with no_accept.
    drops: BTreeMap<String, Vec<DropEntry>>,
    vmacs: Vec<VmacEntry>,
}

impl Firewall {
    /// A firewall that opens its socket when first needed.
    pub fn new(cfg: FwConfig) -> Self {
        Firewall {
            cfg,
            nft: None,
            installed: Default::default(),
            drops: BTreeMap::new(),
            vmacs: Vec::new(),
        }
    }

    pub fn config(&self) -> &FwConfig {
        &self.cfg
    }

    /// The drop entries of instance `iname` (empty: none, as when it leaves MASTER).
    pub fn set_drops(&mut self, iname: &str, entries: Vec<DropEntry>) -> Result<(), NftError> {
        let old = if entries.is_empty() {
            self.drops.remove(iname)
        } else {
            self.drops.insert(iname.to_owned(), entries)
        };
        let r = self.apply();
        if r.is_err() {
            // Keep the desired state as it was: the kernel applied nothing.
            match old {
                Some(o) => self.drops.insert(iname.to_owned(), o),
                None => self.drops.remove(iname),
            };
        }
        r
    }

    /// The VMACs now in place.
    pub fn set_vmacs(&mut self, mut vmacs: Vec<VmacEntry>) -> Result<(), NftError> {
        vmacs.sort();
        vmacs.dedup();
        let old = std::mem::replace(&mut self.vmacs, vmacs);
        let r = self.apply();
        if r.is_err() {
            self.vmacs = old;
        }
        r
    }

    /// A VMAC was recreated under a new index: its entries follow it.
    pub fn relink_vmac(&mut self, old: u32, new: u32) -> Result<(), NftError> {
        let v = self
            .vmacs
            .iter()
            .map(|e| VmacEntry {
                vmac: if e.vmac == old { new } else { e.vmac },
                ..*e
            })
            .collect();
        self.set_vmacs(v)
    }

    /// Deletes the tables we made (at shutdown).
    pub fn close(&mut self) -> Result<(), NftError> {
        let ops: Vec<Op> = [Family::Ip, Family::Ip6]
            .into_iter()
            .filter(|f| self.installed[f.index()].table)
            .map(Op::DelTable)
            .collect();
        self.drops.clear();
        self.vmacs.clear();
        let r = self.run(&ops);
        self.installed = Default::default();
        r
    }

    /// A table of our name left by an earlier run is replaced; keepalived says so.
    fn log_old_table(&mut self, fam: Family) {
        let table = self.cfg.table.clone();
        if let Ok(true) = self.socket().and_then(|n| n.table_exists(fam, &table)) {
            tracing::info!("Deleting old {} {table} table", fam.name());
        }
    }

    fn socket(&mut self) -> Result<&mut Nft, NftError> {
        Nft::opened(&mut self.nft)
    }

    fn run(&mut self, ops: &[Op]) -> Result<(), NftError> {
        if ops.is_empty() {
            return Ok(());
        }
        let (table, priority) = (self.cfg.table.clone(), self.cfg.priority);
        self.socket()?.run(&table, priority, ops)
    }

    fn apply(&mut self) -> Result<(), NftError> {
        let mut next = self.installed.clone();
        let ops = self.plan(&mut next);
        for op in &ops {
            if let Op::FreshTable(fam) = op {
                self.log_old_table(*fam);
            }
        }
        self.run(&ops)?;
        self.installed = next;
        Ok(())
    }

    /// The elements each set should hold now.
    fn desired(&self) -> [BTreeMap<&'static str, Elems>; 2] {
        let mut want: [BTreeMap<_, BTreeSet<_>>; 2] = Default::default();
        for e in self.drops.values().flatten() {
            match e.addr {
                IpAddr::V4(a) => {
                    want[0]
                        .entry("vips")
                        .or_default()
                        .insert((a.octets().to_vec(), None));
                }
                IpAddr::V6(a) if is_link_local(&a) => {
                    let mut k = a.octets().to_vec();
                    if self.cfg.ll_by_name {
                        k.extend(ifname_key(&e.ifname));
                    } else {
                        k.extend(e.ifindex.to_ne_bytes());
                    }
                    want[1]
                        .entry("vips_link_local")
                        .or_default()
                        .insert((k, None));
                    // the infrastructure (chains, vips set) comes with any IPv6 entry
                    want[1].entry("vips").or_default();
                }
                IpAddr::V6(a) => {
                    want[1]
                        .entry("vips")
                        .or_default()
                        .insert((a.octets().to_vec(), None));
                }
            }
        }
        for v in &self.vmacs {
            let w = &mut want[v.fam.index()];
            w.entry("vmac_map").or_default().insert((
                v.vmac.to_ne_bytes().to_vec(),
                Some(v.base.to_ne_bytes().to_vec()),
            ));
            if v.fam == Family::Ip6 {
                w.entry("vmac_set")
                    .or_default()
                    .insert((v.vmac.to_ne_bytes().to_vec(), None));
            }
        }
        want
    }

    /// The operations that take `inst` to the desired state (updating it as they would).
    fn plan(&self, inst: &mut [Installed; 2]) -> Vec<Op> {
        let want = self.desired();
        let mut ops = Vec::new();
        for fam in [Family::Ip, Family::Ip6] {
            let w = &want[fam.index()];
            let i = &mut inst[fam.index()];
            let needs_vips = w.contains_key("vips") || w.contains_key("vips_link_local");
            let needs_ll = w.contains_key("vips_link_local");
            let needs_vmac = w.contains_key("vmac_map");
            if (needs_vips || needs_vmac) && !i.table {
                ops.push(Op::FreshTable(fam));
                i.table = true;
            }
            if needs_vmac && !i.vmac {
                self.vmac_infra(fam, i, &mut ops);
            }
            if needs_vips && !i.vips {
                self.vips_infra(fam, i, &mut ops);
            }
            if needs_ll && !i.link_local {
                self.link_local_infra(i, &mut ops);
            }
            // Deletions first, so a set never holds more than it should.
            let sets: BTreeSet<&'static str> = i.elems.keys().chain(w.keys()).copied().collect();
            for set in sets {
                if set == "neighbor-discovery" {
                    continue;
                }
                let have = i.elems.entry(set).or_default();
                let empty = BTreeSet::new();
                let target = w.get(set).unwrap_or(&empty);
                let del: Vec<_> = have.difference(target).cloned().collect();
                let add: Vec<_> = target.difference(have).cloned().collect();
                if !del.is_empty() {
                    for d in &del {
                        have.remove(d);
                    }
                    ops.push(Op::DelElems {
                        fam,
                        set,
                        elems: del,
                    });
                }
                if !add.is_empty() {
                    have.extend(add.iter().cloned());
                    ops.push(Op::AddElems {
                        fam,
                        set,
                        elems: add,
                    });
                }
            }
        }
        ops
    }

    fn counted(&self, mut e: Vec<Expr>) -> Vec<Expr> {
        if self.cfg.counters {
            let at = e.len() - 1;
            e.insert(at, Expr::Counter);
        }
        e
    }

    fn ensure_out(&self, fam: Family, i: &mut Installed, ops: &mut Vec<Op>) {
        if !i.out {
            ops.push(Op::BaseChain {
                fam,
                name: "out",
                hook: NF_INET_LOCAL_OUT,
            });
            i.out = true;
        }
    }

    fn vips_infra(&self, fam: Family, i: &mut Installed, ops: &mut Vec<Op>) {
        self.ensure_out(fam, i, ops);
        if !i.inp {
            ops.push(Op::BaseChain {
                fam,
                name: "in",
                hook: NF_INET_LOCAL_IN,
            });
            i.inp = true;
        }
        let drop = Expr::Verdict {
            code: NF_DROP,
            chain: None,
        };
        let lookup = |set: &str| Expr::Lookup {
            set: set.into(),
            sreg: NFT_REG_1,
            dreg: None,
        };
        let net = |offset, len| Expr::Payload {
            base: NFT_PAYLOAD_NETWORK,
            offset,
            len,
            dreg: NFT_REG_1,
        };
        match fam {
            Family::Ip => {
                ops.push(Op::Set {
                    fam,
                    def: SetDef {
                        name: "vips",
                        flags: 0,
                        key_type: TYPE_IPADDR,
                        key_len: 4,
                        data: None,
                    },
                });
                for (chain, off) in [("in", 16), ("out", 12)] {
                    ops.push(Op::Rule {
                        fam,
                        chain,
                        exprs: self.counted(vec![net(off, 4), lookup("vips"), drop.clone()]),
                    });
                }
            }
            Family::Ip6 => {
                ops.push(Op::Chain {
                    fam,
                    name: "in_link_local",
                });
                ops.push(Op::Chain {
                    fam,
                    name: "out_link_local",
                });
                ops.push(Op::Set {
                    fam,
                    def: SetDef {
                        name: "vips",
                        flags: 0,
                        key_type: TYPE_IP6ADDR,
                        key_len: 16,
                        data: None,
                    },
                });
                ops.push(Op::Set {
                    fam,
                    def: SetDef {
                        name: "neighbor-discovery",
                        flags: NFT_SET_CONSTANT,
                        key_type: TYPE_ICMP6_TYPE,
                        key_len: 1,
                        data: None,
                    },
                });
                ops.push(Op::AddElems {
                    fam,
                    set: "neighbor-discovery",
                    elems: vec![
                        (vec![ICMPV6_ND_SOLICIT], None),
                        (vec![ICMPV6_ND_ADVERT], None),
                    ],
                });
                let mut ll_mask = vec![0u8; 16];
                ll_mask[0] = 0xff;
                ll_mask[1] = 0xc0;
                let mut ll_net = vec![0u8; 16];
                ll_net[0] = 0xfe;
                ll_net[1] = 0x80;
                for (chain, off, ll_chain) in
                    [("in", 24, "in_link_local"), ("out", 8, "out_link_local")]
                {
                    ops.push(Op::Rule {
                        fam,
                        chain,
                        exprs: self.counted(vec![
                            net(6, 1),
                            Expr::Cmp {
                                sreg: NFT_REG_1,
                                data: vec![IPPROTO_ICMPV6],
                            },
                            Expr::Payload {
                                base: NFT_PAYLOAD_TRANSPORT,
                                offset: 0,
                                len: 1,
                                dreg: NFT_REG_1,
                            },
                            lookup("neighbor-discovery"),
                            Expr::Verdict {
                                code: NF_ACCEPT,
                                chain: None,
                            },
                        ]),
                    });
                    ops.push(Op::Rule {
                        fam,
                        chain,
                        exprs: self.counted(vec![
                            net(off, 16),
                            Expr::Bitwise {
                                reg: NFT_REG_1,
                                mask: ll_mask.clone(),
                            },
                            Expr::Cmp {
                                sreg: NFT_REG_1,
                                data: ll_net.clone(),
                            },
                            Expr::Verdict {
                                code: NFT_GOTO,
                                chain: Some(ll_chain.into()),
                            },
                        ]),
                    });
                }
                for (chain, off) in [("in", 24), ("out", 8)] {
                    ops.push(Op::Rule {
                        fam,
                        chain,
                        exprs: self.counted(vec![net(off, 16), lookup("vips"), drop.clone()]),
                    });
                }
            }
        }
        i.vips = true;
    }

    fn link_local_infra(&self, i: &mut Installed, ops: &mut Vec<Op>) {
        let fam = Family::Ip6;
        let (if_type, if_len) = if self.cfg.ll_by_name {
            (TYPE_IFNAME, IFNAMSIZ as u32)
        } else {
            (TYPE_IFINDEX, 4)
        };
        ops.push(Op::Set {
            fam,
            def: SetDef {
                name: "vips_link_local",
                flags: 0,
                key_type: (TYPE_IP6ADDR << TYPE_BITS) | if_type,
                key_len: 16 + if_len,
                data: None,
            },
        });
        let by_name = self.cfg.ll_by_name;
        for (chain, off, key) in [
            (
                "in_link_local",
                24,
                if by_name {
                    NFT_META_IIFNAME
                } else {
                    NFT_META_IIF
                },
            ),
            (
                "out_link_local",
                8,
                if by_name {
                    NFT_META_OIFNAME
                } else {
                    NFT_META_OIF
                },
            ),
        ] {
            ops.push(Op::Rule {
                fam,
                chain,
                exprs: self.counted(vec![
                    Expr::Payload {
                        base: NFT_PAYLOAD_NETWORK,
                        offset: off,
                        len: 16,
                        dreg: NFT_REG_1,
                    },
                    Expr::Meta {
                        key,
                        dreg: NFT_REG_2,
                    },
                    Expr::Lookup {
                        set: "vips_link_local".into(),
                        sreg: NFT_REG_1,
                        dreg: None,
                    },
                    Expr::Verdict {
                        code: NF_DROP,
                        chain: None,
                    },
                ]),
            });
        }
        i.link_local = true;
    }

    fn vmac_infra(&self, fam: Family, i: &mut Installed, ops: &mut Vec<Op>) {
        self.ensure_out(fam, i, ops);
        ops.push(Op::Set {
            fam,
            def: SetDef {
                name: "vmac_map",
                flags: NFT_SET_MAP,
                key_type: TYPE_IFINDEX,
                key_len: 4,
                data: Some((TYPE_IFINDEX, 4)),
            },
        });
        let cmp = |data: Vec<u8>, sreg| Expr::Cmp { sreg, data };
        let mut macvlan = b"macvlan".to_vec();
        macvlan.resize(IFNAMSIZ, 0);
        let oifkind = [
            Expr::Meta {
                key: NFT_META_OIFKIND,
                dreg: NFT_REG_2,
            },
            cmp(macvlan, NFT_REG_2),
            Expr::Meta {
                key: NFT_META_OIF,
                dreg: NFT_REG_2,
            },
        ];
        let map_dup = [
            Expr::Lookup {
                set: "vmac_map".into(),
                sreg: NFT_REG_2,
                dreg: Some(NFT_REG_2),
            },
            Expr::Dup {
                addr: NFT_REG_1,
                dev: NFT_REG_2,
            },
        ];
        let drop = Expr::Verdict {
            code: NF_DROP,
            chain: None,
        };
        let icmp6 = |t: u8| {
            vec![
                Expr::Meta {
                    key: NFT_META_L4PROTO,
                    dreg: NFT_REG_1,
                },
                cmp(vec![IPPROTO_ICMPV6], NFT_REG_1),
                Expr::Payload {
                    base: NFT_PAYLOAD_TRANSPORT,
                    offset: 0,
                    len: 1,
                    dreg: NFT_REG_1,
                },
                cmp(vec![t], NFT_REG_1),
            ]
        };
        match fam {
            Family::Ip => {
                let mut e = vec![
                    Expr::Payload {
                        base: NFT_PAYLOAD_NETWORK,
                        offset: 9,
                        len: 1,
                        dreg: NFT_REG_1,
                    },
                    cmp(vec![IPPROTO_IGMP], NFT_REG_1),
                    Expr::Payload {
                        base: NFT_PAYLOAD_NETWORK,
                        offset: 16,
                        len: 4,
                        dreg: NFT_REG_1,
                    },
                ];
                e.extend(oifkind.iter().cloned());
                e.extend(map_dup.iter().cloned());
                e.push(drop);
                ops.push(Op::Rule {
                    fam,
                    chain: "out",
                    exprs: self.counted(e),
                });
            }
            Family::Ip6 => {
                ops.push(Op::Set {
                    fam,
                    def: SetDef {
                        name: "vmac_set",
                        flags: 0,
                        key_type: TYPE_IFINDEX,
                        key_len: 4,
                        data: None,
                    },
                });
                let mut e = icmp6(ICMPV6_MLD2_REPORT);
                e.push(Expr::Payload {
                    base: NFT_PAYLOAD_NETWORK,
                    offset: 24,
                    len: 16,
                    dreg: NFT_REG_1,
                });
                e.extend(oifkind.iter().cloned());
                e.extend(map_dup.iter().cloned());
                e.push(drop.clone());
                ops.push(Op::Rule {
                    fam,
                    chain: "out",
                    exprs: self.counted(e),
                });
                let mut e = icmp6(ICMPV6_ROUTER_SOLICIT);
                e.extend(oifkind.iter().cloned());
                e.push(Expr::Lookup {
                    set: "vmac_set".into(),
                    sreg: NFT_REG_2,
                    dreg: None,
                });
                e.push(drop);
                ops.push(Op::Rule {
                    fam,
                    chain: "out",
                    exprs: self.counted(e),
                });
            }
        }
        i.vmac = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(a: &str, ifindex: u32) -> DropEntry {
        DropEntry {
            addr: a.parse().unwrap(),
            ifindex,
            ifname: "eth0".into(),
        }
    }

    fn plan_of(fw: &mut Firewall) -> Vec<Op> {
        let mut next = fw.installed.clone();
        let ops = fw.plan(&mut next);
        fw.installed = next;
        ops
    }

    fn kinds(ops: &[Op]) -> Vec<String> {
        ops.iter()
            .map(|o| match o {
                Op::FreshTable(f) => format!("table {f:?}"),
                Op::DelTable(f) => format!("deltable {f:?}"),
                Op::BaseChain { name, .. } | Op::Chain { name, .. } => format!("chain {name}"),
                Op::Set { def, .. } => format!("set {}", def.name),
                Op::Rule { chain, .. } => format!("rule {chain}"),
                Op::AddElems { set, elems, .. } => format!("add {set} {}", elems.len()),
                Op::DelElems { set, elems, .. } => format!("del {set} {}", elems.len()),
                Op::RangeMap { name, .. } => format!("map {name}"),
                Op::AddRanges { set, elems, .. } => format!("add {set} {}", elems.len()),
                Op::DelRanges { set, elems, .. } => format!("del {set} {}", elems.len()),
            })
            .collect()
    }

    #[test]
    fn ipv4_drops_created_once_then_only_elements_change() {
        let mut fw = Firewall::new(FwConfig::default());
        fw.drops.insert(
            "VI_1".into(),
            vec![entry("192.0.2.100", 2), entry("198.51.100.7", 2)],
        );
        let ops = plan_of(&mut fw);
        assert_eq!(
            kinds(&ops),
            [
                "table Ip",
                "chain out",
                "chain in",
                "set vips",
                "rule in",
                "rule out",
                "add vips 2"
            ]
        );
        // Leaving MASTER empties the set; the table stays (as keepalived 2.2.7).
        fw.drops.clear();
        assert_eq!(kinds(&plan_of(&mut fw)), ["del vips 2"]);
        fw.drops
            .insert("VI_1".into(), vec![entry("192.0.2.100", 2)]);
        assert_eq!(kinds(&plan_of(&mut fw)), ["add vips 1"]);
        // A second instance with the same VIP: no duplicate, and removing one keeps it.
        fw.drops
            .insert("VI_2".into(), vec![entry("192.0.2.100", 2)]);
        assert!(plan_of(&mut fw).is_empty());
        fw.drops.remove("VI_1");
        assert!(plan_of(&mut fw).is_empty());
    }

    #[test]
    fn ipv6_link_local_set_comes_with_the_first_link_local_vip() {
        let mut fw = Firewall::new(FwConfig::default());
        fw.drops
            .insert("VI_6".into(), vec![entry("2001:db8::200", 2)]);
        let k = kinds(&plan_of(&mut fw));
        assert!(k.contains(&"set neighbor-discovery".to_string()));
        assert!(!k.iter().any(|s| s.contains("vips_link_local")), "{k:?}");
        fw.drops.insert(
            "VI_6".into(),
            vec![entry("fe80::52", 2), entry("2001:db8::200", 2)],
        );
        assert_eq!(
            kinds(&plan_of(&mut fw)),
            [
                "set vips_link_local",
                "rule in_link_local",
                "rule out_link_local",
                "add vips_link_local 1"
            ]
        );
    }

    #[test]
    fn vmac_rules_per_family() {
        let mut fw = Firewall::new(FwConfig::default());
        fw.vmacs = vec![
            VmacEntry {
                fam: Family::Ip,
                vmac: 3,
                base: 2,
            },
            VmacEntry {
                fam: Family::Ip6,
                vmac: 4,
                base: 2,
            },
        ];
        assert_eq!(
            kinds(&plan_of(&mut fw)),
            [
                "table Ip",
                "chain out",
                "set vmac_map",
                "rule out",
                "add vmac_map 1",
                "table Ip6",
                "chain out",
                "set vmac_map",
                "set vmac_set",
                "rule out",
                "rule out",
                "add vmac_map 1",
                "add vmac_set 1"
            ]
        );
        fw.vmacs.clear();
        assert_eq!(
            kinds(&plan_of(&mut fw)),
            ["del vmac_map 1", "del vmac_map 1", "del vmac_set 1"]
        );
    }

    #[test]
    fn counters_go_before_the_verdict() {
        let fw = Firewall::new(FwConfig {
            counters: true,
            ..FwConfig::default()
        });
        let e = fw.counted(vec![
            Expr::Meta { key: 1, dreg: 1 },
            Expr::Verdict {
                code: 0,
                chain: None,
            },
        ]);
        assert_eq!(e[1], Expr::Counter);
    }

    #[test]
    fn batch_framing() {
        let mut b = Batch::new(7);
        b.op("keepalived", -1, &Op::DelTable(Family::Ip));
        let (buf, acked, next) = b.finish().unwrap();
        assert_eq!(acked, [(8, "delete table")]);
        assert_eq!(next, 10);
        // begin (20 bytes), deltable (20 + "keepalived\0" padded: 4 + 12), end (20)
        assert_eq!(buf.len(), 20 + 36 + 20);
        assert_eq!(u16::from_ne_bytes([buf[4], buf[5]]), NFNL_MSG_BATCH_BEGIN);
        assert_eq!(&buf[18..20], &10u16.to_be_bytes());
        let del = &buf[20..56];
        assert_eq!(u32::from_ne_bytes([del[0], del[1], del[2], del[3]]), 36);
        assert_eq!(u16::from_ne_bytes([del[4], del[5]]), (10 << 8) | 2);
        assert_eq!(del[16], libc::NFPROTO_IPV4 as u8);
        assert_eq!(&del[24..35], b"keepalived\0");
    }

    /// 5,000 IPv6 elements (a few thousand no_accept VIPs) would make a 100 kB element
    /// list: they go in messages of 256, every attribute length exact.
    #[test]
    fn large_element_lists_are_split_below_the_attribute_limit() {
        let elems: Vec<Elem> = (0..5000u32)
            .map(|i| {
                let mut k = vec![0x20, 0x01, 0x0d, 0xb8];
                k.extend_from_slice(&[0; 8]);
                k.extend_from_slice(&i.to_be_bytes());
                (k, None)
            })
            .collect();
        let mut b = Batch::new(1);
        b.op(
            "keepalived",
            -1,
            &Op::AddElems {
                fam: Family::Ip6,
                set: "vips",
                elems,
            },
        );
        let (buf, acked, _) = b.finish().unwrap();
        assert_eq!(acked.len(), 5000usize.div_ceil(ELEMS_PER_MSG));
        // Each message: its element list attribute's length covers it to the end.
        let msgs: Vec<_> = messages(&buf).collect();
        assert_eq!(msgs.len(), acked.len() + 2);
        for (_, _, p) in &msgs[1..msgs.len() - 1] {
            // nfgenmsg (4), then table and set names, then the element list
            let mut at = 4;
            let mut last = (0, 0);
            while at + 4 <= p.len() {
                let len = u16::from_ne_bytes([p[at], p[at + 1]]) as usize;
                assert!(len >= 4, "{at}");
                last = (at, len);
                at += (len + 3) & !3;
            }
            assert_eq!(at, p.len());
            assert!(last.1 > 100 * 20, "{last:?}");
        }
    }

    #[test]
    fn an_attribute_over_64k_is_refused_not_wrapped() {
        let mut b = Batch::new(1);
        b.op(
            "keepalived",
            -1,
            &Op::AddElems {
                fam: Family::Ip,
                set: "vips",
                elems: vec![(vec![1; 70_000], None)],
            },
        );
        assert!(matches!(b.finish(), Err(NftError::TooLong(n)) if n > 70_000));
    }

    #[test]
    fn acks_parse_and_ignore_garbage() {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&5u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(-2i32).to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&9u32.to_ne_bytes()); // the request's seq
        m.extend_from_slice(&[0; 4]);
        let all = |b: &[u8]| acks(b).collect::<Vec<_>>();
        assert_eq!(all(&m), [(9, 2)]);
        assert!(all(&m[..20]).is_empty());
        assert!(all(&[0xff; 40]).is_empty());
        // A last message whose length is not a multiple of 4 ends the buffer: no panic.
        let mut odd = m.clone();
        odd.extend_from_slice(&17u32.to_ne_bytes());
        odd.extend_from_slice(&[0; 13]);
        assert_eq!(all(&odd), [(9, 2)]);
    }
}
