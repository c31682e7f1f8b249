//! Links: lookup, up/down, MTU, multicast flag, macvlan VMACs and ipvlans.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, IpVlanFlags, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo as NlLinkInfo, LinkLayerType, LinkMessage, MacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::{NetError, Netlink, Tolerate};

/// What we need to know about a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub ifindex: u32,
    pub name: String,
    /// Hardware address when it is 6 bytes long (Ethernet-like).
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// IFF_UP.
    pub admin_up: bool,
    /// IFF_RUNNING (carrier and operational).
    pub running: bool,
    /// IFF_MULTICAST.
    pub multicast: bool,
    /// ARPHRD_ETHER (a VMAC or ipvlan needs it).
    pub ether: bool,
    /// IFLA_INFO_KIND, e.g. "macvlan", "veth", "bridge".
    pub kind: Option<String>,
    /// IFLA_LINK: the parent of a macvlan/vlan/veth.
    pub parent: Option<u32>,
    /// The macvlan mode, if this is a macvlan.
    pub macvlan_private: Option<bool>,
    /// The raw IFF_* flags (keepalived logs them in hex for delayed changes).
    pub flags: u32,
}

impl LinkInfo {
    /// keepalived treats an interface as up when both IFF_UP and IFF_RUNNING are set.
    pub fn is_up(&self) -> bool {
        self.admin_up && self.running
    }

    pub fn from_message(m: &LinkMessage) -> Self {
        let f = m.header.flags;
        let mut l = LinkInfo {
            ifindex: m.header.index,
            name: String::new(),
            mac: None,
            mtu: 0,
            admin_up: f.contains(LinkFlags::Up),
            running: f.contains(LinkFlags::Running),
            multicast: f.contains(LinkFlags::Multicast),
            ether: m.header.link_layer_type == LinkLayerType::Ether,
            kind: None,
            parent: None,
            macvlan_private: None,
            flags: f.bits(),
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n.clone(),
                LinkAttribute::Address(mac) => l.mac = <[u8; 6]>::try_from(mac.as_slice()).ok(),
                LinkAttribute::Mtu(mtu) => l.mtu = *mtu,
                LinkAttribute::Link(p) => l.parent = Some(*p),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            NlLinkInfo::Kind(k) => l.kind = Some(k.to_string()),
                            NlLinkInfo::Data(InfoData::MacVlan(d)) => {
                                for x in d {
                                    if let InfoMacVlan::Mode(mode) = x {
                                        l.macvlan_private = Some(*mode == MacVlanMode::Private);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        l
    }
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn check_name(name: &str) -> Result<(), NetError> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\0']) {
        return Err(NetError::Invalid(format!("interface name {name:?}")));
    }
    Ok(())
}

impl Netlink {
    /// All links.
    pub async fn links(&self) -> Result<Vec<LinkInfo>, NetError> {
        let msgs = self
            .dump(
                "list links",
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
            )
            .await?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(LinkInfo::from_message(l)),
                _ => None,
            })
            .collect())
    }

    /// The link of that name, `None` when there is none.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>, NetError> {
        check_name(name)?;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.one_link(m).await
    }

    /// The link of that index, `None` when there is none.
    pub async fn link_by_index(&self, ifindex: u32) -> Result<Option<LinkInfo>, NetError> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        self.one_link(m).await
    }

    async fn one_link(&self, m: LinkMessage) -> Result<Option<LinkInfo>, NetError> {
        match self
            .get("get link", RouteNetlinkMessage::GetLink(m), 0)
            .await
        {
            Ok(msgs) => Ok(msgs.iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(LinkInfo::from_message(l)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index of the named interface.
    pub async fn ifindex(&self, name: &str) -> Result<u32, NetError> {
        self.link_by_name(name)
            .await?
            .map(|l| l.ifindex)
            .ok_or_else(|| NetError::NoSuchInterface(name.to_string()))
    }

    async fn set_flag(&self, ifindex: u32, flag: LinkFlags, on: bool) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        m.header.change_mask = flag;
        if on {
            m.header.flags = flag;
        }
        self.ack(
            "set link",
            RouteNetlinkMessage::SetLink(m),
            0,
            Tolerate::Nothing,
        )
        .await
    }

    /// `ip link set IF up|down`.
    pub async fn set_link_up(&self, ifindex: u32, up: bool) -> Result<(), NetError> {
        self.set_flag(ifindex, LinkFlags::Up, up).await
    }

    /// `ip link set IF multicast on|off`.
    pub async fn set_link_multicast(&self, ifindex: u32, on: bool) -> Result<(), NetError> {
        self.set_flag(ifindex, LinkFlags::Multicast, on).await
    }

    /// `ip link set IF mtu N`.
    pub async fn set_link_mtu(&self, ifindex: u32, mtu: u32) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        m.attributes.push(LinkAttribute::Mtu(mtu));
        self.ack(
            "set mtu",
            RouteNetlinkMessage::SetLink(m),
            0,
            Tolerate::Nothing,
        )
        .await
    }

    /// Creates a private-mode macvlan `name` with address `mac` on `parent`, left down so
    /// that its sysctls can be set before the kernel configures it. An existing
    /// macvlan of that name on that parent is reused (keepalived: "Found matching
    /// interface"); its MAC is then set to `mac`. Returns its index.
    pub async fn create_vmac(
        &self,
        parent: u32,
        name: &str,
        mac: [u8; 6],
    ) -> Result<u32, NetError> {
        let data = InfoData::MacVlan(vec![InfoMacVlan::Mode(MacVlanMode::Private)]);
        let link = self
            .create_sublink(parent, name, Some(mac), InfoKind::MacVlan, data)
            .await?;
        if link.mac != Some(mac) {
            let mut m = LinkMessage::default();
            m.header.index = link.ifindex;
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
            self.ack(
                "set vmac address",
                RouteNetlinkMessage::SetLink(m),
                0,
                Tolerate::Nothing,
            )
            .await?;
        }
        Ok(link.ifindex)
    }

    /// Creates an L2 ipvlan `name` on `parent` (`use_ipvlan`: it shares the parent's MAC),
    /// with the bridge (no flag), private or VEPA flag; left down like [`Self::create_vmac`].
    /// An existing ipvlan of that name on that parent is reused. Returns its index.
    pub async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        flags: IpVlanFlags,
    ) -> Result<u32, NetError> {
        let data = InfoData::IpVlan(vec![
            InfoIpVlan::Mode(IpVlanMode::L2),
            InfoIpVlan::Flags(flags),
        ]);
        let link = self
            .create_sublink(parent, name, None, InfoKind::IpVlan, data)
            .await?;
        Ok(link.ifindex)
    }

    /// Creates (or finds) a link of `kind` named `name` on `parent`.
    async fn create_sublink(
        &self,
        parent: u32,
        name: &str,
        mac: Option<[u8; 6]>,
        kind: InfoKind,
        data: InfoData,
    ) -> Result<LinkInfo, NetError> {
        check_name(name)?;
        let want = kind.to_string();
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Link(parent));
        if let Some(mac) = mac {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(kind),
            NlLinkInfo::Data(data),
        ]));
        self.ack(
            "create link",
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
            Tolerate::Exists,
        )
        .await?;
        let link = self
            .link_by_name(name)
            .await?
            .ok_or_else(|| NetError::NoSuchInterface(name.to_string()))?;
        if link.kind.as_deref() != Some(want.as_str()) || link.parent != Some(parent) {
            return Err(NetError::Invalid(format!(
                "{name} exists and is not a {want} on ifindex {parent}"
            )));
        }
        Ok(link)
    }

    /// Deletes a link (a VMAC at shutdown); already gone is success.
    pub async fn delete_link(&self, ifindex: u32) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        self.ack(
            "delete link",
            RouteNetlinkMessage::DelLink(m),
            0,
            Tolerate::Missing,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_link_message() {
        let mut m = LinkMessage::default();
        m.header.index = 5;
        m.header.flags = LinkFlags::Up | LinkFlags::Multicast;
        m.attributes.push(LinkAttribute::IfName("vrrp.51".into()));
        m.attributes
            .push(LinkAttribute::Address(vec![0, 0, 0x5e, 0, 1, 51]));
        m.attributes.push(LinkAttribute::Link(2));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::MacVlan),
            NlLinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Private,
            )])),
        ]));
        let l = LinkInfo::from_message(&m);
        assert_eq!(l.name, "vrrp.51");
        assert_eq!(l.mac, Some([0, 0, 0x5e, 0, 1, 51]));
        assert!(l.admin_up && !l.running && !l.is_up() && l.multicast);
        assert_eq!(l.kind.as_deref(), Some("macvlan"));
        assert_eq!(l.parent, Some(2));
        assert_eq!(l.macvlan_private, Some(true));
        assert_eq!(format_mac(&[0, 0, 0x5e, 0, 1, 0x33]), "00:00:5e:00:01:33");
        assert!(check_name("a-very-long-interface").is_err());
    }
}
