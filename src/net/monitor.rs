//! The netlink "reflector": a socket subscribed to link, address, route and rule
//! events, turned into typed [`NetEvent`]s so a removed VIP or a downed interface is noticed
//! at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::mpsc::UnboundedReceiver;
use futures::Stream;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{AsyncSocket, SocketAddr};
use rtnetlink::MulticastGroup;

use super::addr::AddrInfo;
use super::link::LinkInfo;
use super::route::RouteInfo;
use super::NetError;

/// A change the kernel reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// IFF_UP and IFF_RUNNING became both set (or the link was first seen so).
    LinkUp {
        ifindex: u32,
        name: String,
    },
    /// IFF_UP or IFF_RUNNING became clear (or the link was first seen so).
    LinkDown {
        ifindex: u32,
        name: String,
    },
    LinkDeleted {
        ifindex: u32,
        name: String,
    },
    /// The link's name changed, its state did not (keepalived logs renames).
    LinkRenamed {
        ifindex: u32,
        old: String,
        name: String,
    },
    AddressAdded {
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
    },
    AddressRemoved {
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
    },
    RouteAdded(RouteInfo),
    RouteRemoved(RouteInfo),
    RuleAdded {
        ipv6: bool,
    },
    RuleRemoved {
        ipv6: bool,
    },
    /// The kernel dropped events (ENOBUFS): the consumer must re-read links and addresses.
    Overrun,
}

/// Receive buffer of the monitor socket (bytes).
const MONITOR_RCVBUF: usize = 4 << 20;

type Rx = UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// A stream of [`NetEvent`]s. Dropping it closes the socket.
pub struct Monitor {
    rx: Rx,
    _handle: Option<rtnetlink::Handle>,
    /// Last reported up state per ifindex: RTM_NEWLINK arrives for many changes (MTU, MAC,
    /// promiscuity); only up/down transitions become events.
    up: HashMap<u32, bool>,
    /// Last seen name per ifindex, to report renames.
    names: HashMap<u32, String>,
    /// Last seen IFF_* flags per ifindex.
    flags: HashMap<u32, u32>,
}

impl Monitor {
    /// Subscribes to link, IPv4/IPv6 address, route and rule groups. Must be called inside a
    /// tokio runtime (the socket driver is spawned on it).
    pub fn new() -> Result<Self, NetError> {
        Self::with_rcvbuf(None)
    }

    /// [`Monitor::new`] with the receive buffer `vrrp_netlink_monitor_rcv_bufs[_force]`
    /// asks for, instead of our default.
    pub fn with_rcvbuf(rcvbuf: Option<super::RcvBuf>) -> Result<Self, NetError> {
        let groups = [
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
            MulticastGroup::Ipv4Route,
            MulticastGroup::Ipv6Route,
            MulticastGroup::Ipv4Rule,
            MulticastGroup::Ipv6Rule,
        ];
        let io_err = |source| NetError::Io {
            what: "netlink monitor socket".into(),
            source,
        };
        let (mut conn, handle, rx) =
            rtnetlink::new_multicast_connection(&groups).map_err(io_err)?;
        // A burst of events (many VIPs removed at once, an interface flap) must not overflow
        // the socket: a lost RTM_DELADDR would leave a VIP unnoticed.
        match rcvbuf {
            Some(b) => b.apply(conn.socket_mut().socket_mut()),
            None => conn
                .socket_mut()
                .socket_mut()
                .set_rx_buf_sz(MONITOR_RCVBUF)
                .map_err(io_err)?,
        }
        tokio::spawn(conn);
        Ok(Self {
            rx,
            _handle: Some(handle),
            up: HashMap::new(),
            names: HashMap::new(),
            flags: HashMap::new(),
        })
    }

    /// Records the current state of links so the first RTM_NEWLINK for an unchanged link is not
    /// reported as a transition.
    pub fn seed(&mut self, links: &[LinkInfo]) {
        for l in links {
            self.up.insert(l.ifindex, l.is_up());
            self.names.insert(l.ifindex, l.name.clone());
            self.flags.insert(l.ifindex, l.flags);
        }
    }

    /// The IFF_* flags link `ifindex` last reported (0 if unknown).
    pub fn flags(&self, ifindex: u32) -> u32 {
        self.flags.get(&ifindex).copied().unwrap_or(0)
    }

    /// Takes link `ifindex` as down: its next up state is reported, a down one is not.
    pub fn assume_down(&mut self, ifindex: u32) {
        self.up.insert(ifindex, false);
    }

    /// Turns one kernel message into at most one event.
    pub fn translate(&mut self, msg: RouteNetlinkMessage) -> Option<NetEvent> {
        match msg {
            RouteNetlinkMessage::NewLink(m) => {
                let l = LinkInfo::from_message(&m);
                let up = l.is_up();
                self.flags.insert(l.ifindex, l.flags);
                let old = self.names.insert(l.ifindex, l.name.clone());
                if self.up.insert(l.ifindex, up) == Some(up) {
                    return old
                        .filter(|o| *o != l.name)
                        .map(|old| NetEvent::LinkRenamed {
                            ifindex: l.ifindex,
                            old,
                            name: l.name,
                        });
                }
                Some(if up {
                    NetEvent::LinkUp {
                        ifindex: l.ifindex,
                        name: l.name,
                    }
                } else {
                    NetEvent::LinkDown {
                        ifindex: l.ifindex,
                        name: l.name,
                    }
                })
            }
            RouteNetlinkMessage::DelLink(m) => {
                let l = LinkInfo::from_message(&m);
                self.up.remove(&l.ifindex);
                self.names.remove(&l.ifindex);
                self.flags.remove(&l.ifindex);
                Some(NetEvent::LinkDeleted {
                    ifindex: l.ifindex,
                    name: l.name,
                })
            }
            RouteNetlinkMessage::NewAddress(m) => {
                AddrInfo::from_message(&m).map(|a| NetEvent::AddressAdded {
                    ifindex: a.ifindex,
                    addr: a.addr,
                    prefix: a.prefix,
                })
            }
            RouteNetlinkMessage::DelAddress(m) => {
                AddrInfo::from_message(&m).map(|a| NetEvent::AddressRemoved {
                    ifindex: a.ifindex,
                    addr: a.addr,
                    prefix: a.prefix,
                })
            }
            RouteNetlinkMessage::NewRoute(m) => {
                Some(NetEvent::RouteAdded(RouteInfo::from_message(&m)))
            }
            RouteNetlinkMessage::DelRoute(m) => {
                Some(NetEvent::RouteRemoved(RouteInfo::from_message(&m)))
            }
            RouteNetlinkMessage::NewRule(m) => Some(NetEvent::RuleAdded {
                ipv6: m.header.family == netlink_packet_route::AddressFamily::Inet6,
            }),
            RouteNetlinkMessage::DelRule(m) => Some(NetEvent::RuleRemoved {
                ipv6: m.header.family == netlink_packet_route::AddressFamily::Inet6,
            }),
            _ => None,
        }
    }
}

impl Stream for Monitor {
    type Item = NetEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NetEvent>> {
        loop {
            match Pin::new(&mut self.rx).poll_next(cx) {
                Poll::Ready(Some((msg, _))) => {
                    match msg.payload {
                        NetlinkPayload::InnerMessage(inner) => {
                            if let Some(ev) = self.translate(inner) {
                                return Poll::Ready(Some(ev));
                            }
                        }
                        NetlinkPayload::Overrun(_) => {
                            // Link states may have changed unseen: report every link afresh.
                            self.up.clear();
                            return Poll::Ready(Some(NetEvent::Overrun));
                        }
                        _ => {}
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::address::{AddressAttribute, AddressMessage};
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

    fn link(index: u32, flags: LinkFlags) -> RouteNetlinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = flags;
        m.attributes.push(LinkAttribute::IfName("eth0".into()));
        RouteNetlinkMessage::NewLink(m)
    }

    #[test]
    fn overrun_is_reported_and_resets_link_state() {
        use netlink_packet_core::NetlinkHeader;
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut mon = Monitor {
            rx,
            _handle: None,
            up: HashMap::new(),
            names: HashMap::new(),
            flags: HashMap::new(),
        };
        let up = LinkFlags::Up | LinkFlags::Running;
        assert!(mon.translate(link(3, up)).is_some());
        let overrun = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::Overrun(Vec::new()),
        );
        tx.unbounded_send((overrun, SocketAddr::new(0, 0))).unwrap();
        tx.unbounded_send((NetlinkMessage::from(link(3, up)), SocketAddr::new(0, 0)))
            .unwrap();
        drop(tx);
        let got: Vec<_> = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(mon));
        assert_eq!(
            got,
            vec![
                NetEvent::Overrun,
                NetEvent::LinkUp {
                    ifindex: 3,
                    name: "eth0".into()
                }
            ]
        );
    }

    #[test]
    fn link_transitions_only() {
        let (_tx, rx) = futures::channel::mpsc::unbounded();
        let mut mon = Monitor {
            rx,
            _handle: None,
            up: HashMap::new(),
            names: HashMap::new(),
            flags: HashMap::new(),
        };
        let up = LinkFlags::Up | LinkFlags::Running;
        assert_eq!(
            mon.translate(link(3, up)),
            Some(NetEvent::LinkUp {
                ifindex: 3,
                name: "eth0".into()
            })
        );
        assert_eq!(mon.translate(link(3, up)), None);
        let mut renamed = link(3, up);
        if let RouteNetlinkMessage::NewLink(m) = &mut renamed {
            for a in &mut m.attributes {
                if let LinkAttribute::IfName(n) = a {
                    *n = "wan0".into();
                }
            }
        }
        assert_eq!(
            mon.translate(renamed),
            Some(NetEvent::LinkRenamed {
                ifindex: 3,
                old: "eth0".into(),
                name: "wan0".into()
            })
        );
        assert_eq!(
            mon.translate(link(3, up)),
            Some(NetEvent::LinkRenamed {
                ifindex: 3,
                old: "wan0".into(),
                name: "eth0".into()
            })
        );
        assert_eq!(
            mon.translate(link(3, LinkFlags::Up)),
            Some(NetEvent::LinkDown {
                ifindex: 3,
                name: "eth0".into()
            })
        );
        let mut a = AddressMessage::default();
        a.header.index = 3;
        a.header.prefix_len = 32;
        a.attributes
            .push(AddressAttribute::Local("192.0.2.9".parse().unwrap()));
        assert_eq!(
            mon.translate(RouteNetlinkMessage::DelAddress(a)),
            Some(NetEvent::AddressRemoved {
                ifindex: 3,
                addr: "192.0.2.9".parse().unwrap(),
                prefix: 32
            })
        );
    }
}
