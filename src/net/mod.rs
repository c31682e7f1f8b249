//! Host networking over rtnetlink: addresses, routes,
//! rules, links and macvlan VMACs, the event monitor ("reflector") and the few sysctls VRRP sets.
//!
//! Everything here is async and runs on a tokio current-thread runtime. A [`Netlink`] owns one
//! command socket; a [`Monitor`] owns a second one subscribed to multicast groups. Both belong to
//! the network namespace of the thread that creates them.
//!
//! The structs describing what to program ([`AddrSpec`], [`RouteSpec`], [`RuleSpec`]) are plain
//! data, independent of the config model.

#![forbid(unsafe_code)]

pub mod addr;
pub mod link;
pub mod monitor;
pub mod nft;
pub mod route;
pub mod rule;
pub mod sysctl;

use std::io;

use futures::StreamExt;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::AsyncSocket;

pub use addr::{AddrInfo, AddrSpec};
pub use link::LinkInfo;
pub use monitor::{Monitor, NetEvent};
pub use route::{RouteKind, RouteSpec};
pub use rule::{RuleAction, RuleSpec};

/// Errors from netlink requests and sysctl writes.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The kernel refused a request (the errno it returned).
    #[error("netlink {op}: {source}")]
    Kernel {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The netlink connection is gone or the request could not be sent.
    #[error("netlink {op}: request failed ({detail})")]
    Request { op: &'static str, detail: String },
    /// No interface of that name or index.
    #[error("no such interface {0}")]
    NoSuchInterface(String),
    /// A name, label or value the kernel would reject before we ask it.
    #[error("invalid {0}")]
    Invalid(String),
    /// Opening a socket or a /proc/sys file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl NetError {
    /// The errno of a refused request, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Which requests treat some errno as success: adding what is already there, deleting what
/// is already gone (keepalived deletes every VIP at startup without complaint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tolerate {
    Nothing,
    Exists,
    Missing,
}

/// A netlink socket's receive buffer as the `*_netlink_*_rcv_bufs` keywords set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RcvBuf {
    pub size: u32,
    /// `*_rcv_bufs_force`: SO_RCVBUFFORCE, past net.core.rmem_max.
    pub force: bool,
}

impl RcvBuf {
    /// The buffer a keyword pair asks for (`*_rcv_bufs SIZE`, `*_rcv_bufs_force`); `None`
    /// when neither is set, which keeps our defaults (the monitor's is larger than
    /// keepalived's 64 KiB, so that a burst of events is not lost).
    pub fn configured(size: Option<u32>, force: bool) -> Option<RcvBuf> {
        // `_force` alone forces keepalived's default size (64 KiB).
        (size.is_some() || force).then(|| RcvBuf {
            size: size.unwrap_or(64 * 1024),
            force,
        })
    }

    /// Sets the buffer; a failure is logged with keepalived's wording and not fatal.
    pub fn apply(self, s: &impl std::os::fd::AsFd) {
        use nix::sys::socket::{setsockopt, sockopt};
        let n = self.size as usize;
        if self.force {
            if let Err(e) = setsockopt(s, sockopt::RcvBufForce, &n) {
                tracing::info!(
                    "cant set SO_RCVBUFFORCE IP option. errno={} ({})",
                    e as i32,
                    e.desc()
                );
            }
        } else if let Err(e) = setsockopt(s, sockopt::RcvBuf, &n) {
            tracing::info!(
                "Cannot set SO_RCVBUF IP option. errno={} ({})",
                e as i32,
                e.desc()
            );
        }
    }
}

/// A command connection to rtnetlink in the current network namespace.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    /// Opens the socket and spawns its driver on the current tokio runtime (must be called from
    /// within one).
    pub fn new() -> Result<Self, NetError> {
        Self::with_rcvbuf(None)
    }

    /// [`Netlink::new`] with a receive buffer (`vrrp_netlink_cmd_rcv_bufs[_force]`).
    pub fn with_rcvbuf(rcvbuf: Option<RcvBuf>) -> Result<Self, NetError> {
        let (mut conn, handle, _) = rtnetlink::new_connection().map_err(|source| NetError::Io {
            what: "netlink socket".into(),
            source,
        })?;
        if let Some(b) = rcvbuf {
            b.apply(conn.socket_mut().socket_mut());
        }
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// Sends one request that expects an acknowledgement.
    async fn ack(
        &self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
        tolerate: Tolerate,
    ) -> Result<(), NetError> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut resp = handle.request(req).map_err(|e| NetError::Request {
            op,
            detail: e.to_string(),
        })?;
        while let Some(m) = resp.next().await {
            if let NetlinkPayload::Error(e) = m.payload {
                let Some(code) = e.code else { continue };
                let errno = -code.get();
                let ok = match tolerate {
                    Tolerate::Nothing => false,
                    Tolerate::Exists => errno == libc::EEXIST,
                    Tolerate::Missing => {
                        errno == libc::ENOENT
                            || errno == libc::EADDRNOTAVAIL
                            || errno == libc::ESRCH
                            || errno == libc::ENODEV
                    }
                };
                if ok {
                    return Ok(());
                }
                return Err(NetError::Kernel {
                    op,
                    source: io::Error::from_raw_os_error(errno),
                });
            }
        }
        Ok(())
    }

    /// Sends one dump request and collects the answers.
    async fn dump(
        &self,
        op: &'static str,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        self.get(op, msg, NLM_F_DUMP).await
    }

    async fn get(
        &self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | flags;
        let mut handle = self.handle.clone();
        let mut resp = handle.request(req).map_err(|e| NetError::Request {
            op,
            detail: e.to_string(),
        })?;
        let mut out = Vec::new();
        while let Some(m) = resp.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(NetError::Kernel {
                            op,
                            source: io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
