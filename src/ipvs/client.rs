//! Blocking IPVS client over a generic-netlink socket.
//!
//! Every call is one request and its reply, so it can be used from a tokio
//! current-thread runtime directly (the kernel answers at once).

use std::io;
use std::process::Command;

use netlink_packet_core::{
    DecodeError, NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable, NlasIterator, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::attr::CmdAttr;
use super::msg::{
    Dest, DestEntry, Info, IpvsCmd, IpvsMessage, Service, ServiceEntry, SyncDaemon, Timeouts,
    IPVS_GENL_NAME,
};

/// CTRL_ATTR_FAMILY_ID in a CTRL_CMD_NEWFAMILY reply.
const CTRL_ATTR_FAMILY_ID: u16 = 1;

/// An IPVS failure, worded as keepalived logs it.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The family could not be resolved, even after `modprobe ip_vs`.
    #[error("IPVS: Can't initialize ipvs: {0}")]
    Init(String),
    /// The kernel (or the socket) refused a command. `name`/`code` are
    /// keepalived's names and numbers (IP_VS_SO_*), `msg` is libipvs' text.
    #[error("IPVS cmd {name}({code}) error: {msg}({errno})")]
    Cmd {
        name: &'static str,
        code: u32,
        errno: i32,
        msg: String,
    },
    /// The kernel's reply could not be decoded.
    #[error("IPVS cmd {name}: bad reply from the kernel: {msg}")]
    Decode { name: &'static str, msg: String },
}

impl IpvsError {
    /// The errno of a refused command.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Cmd { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// keepalived's operation names (ipvs_cmd_str) and IP_VS_SO_* numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Edit,
    Del,
    Flush,
    AddDest,
    DelDest,
    EditDest,
    SetTimeout,
    StartDaemon,
    StopDaemon,
    Zero,
    GetInfo,
    GetServices,
    GetDests,
    GetTimeout,
    GetDaemon,
}

const IP_VS_BASE_CTL: u32 = 64 + 1024 + 64;

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "IP_VS_SO_SET_ADD",
            Op::Edit => "IP_VS_SO_SET_EDIT",
            Op::Del => "IP_VS_SO_SET_DEL",
            Op::Flush => "IP_VS_SO_SET_FLUSH",
            Op::AddDest => "IP_VS_SO_SET_ADDDEST",
            Op::DelDest => "IP_VS_SO_SET_DELDEST",
            Op::EditDest => "IP_VS_SO_SET_EDITDEST",
            Op::SetTimeout => "IP_VS_SO_SET_TIMEOUT",
            Op::StartDaemon => "IP_VS_SO_SET_STARTDAEMON",
            Op::StopDaemon => "IP_VS_SO_SET_STOPDAEMON",
            Op::Zero => "IP_VS_SO_SET_ZERO",
            Op::GetInfo => "IP_VS_SO_GET_INFO",
            Op::GetServices => "IP_VS_SO_GET_SERVICES",
            Op::GetDests => "IP_VS_SO_GET_DESTS",
            Op::GetTimeout => "IP_VS_SO_GET_TIMEOUT",
            Op::GetDaemon => "IP_VS_SO_GET_DAEMON",
        }
    }

    fn code(self) -> u32 {
        IP_VS_BASE_CTL
            + match self {
                Op::Add => 2,
                Op::Edit => 3,
                Op::Del => 4,
                Op::Flush => 5,
                Op::AddDest => 7,
                Op::DelDest => 8,
                Op::EditDest => 9,
                Op::SetTimeout => 10,
                Op::StartDaemon => 11,
                Op::StopDaemon => 12,
                Op::Zero => 15,
                Op::GetInfo => 1,
                Op::GetServices => 2,
                Op::GetDests => 4,
                Op::GetTimeout => 6,
                Op::GetDaemon => 7,
            }
    }

    /// libipvs' ipvs_strerror(): per-operation texts, then generic ones.
    fn strerror(self, errno: i32) -> String {
        use libc::*;
        let specific = match (self, errno) {
            (Op::Add, EEXIST) => Some("Service already exists"),
            (Op::Add | Op::Edit, ENOENT) => Some("Scheduler or persistence engine not found"),
            (Op::Edit | Op::Del | Op::Zero | Op::GetServices | Op::GetDests, ESRCH) => {
                Some("No such service")
            }
            (Op::AddDest | Op::EditDest | Op::DelDest, ESRCH) => Some("No such service"),
            (Op::AddDest, EEXIST) => Some("Destination already exists"),
            (Op::EditDest | Op::DelDest, ENOENT) => Some("No such destination"),
            (Op::StartDaemon, EEXIST) => Some("Daemon has already run"),
            (Op::StopDaemon, ESRCH) => Some("No daemon is running"),
            (_, EPERM) => Some("Permission denied (you must be root)"),
            (_, EINVAL) => {
                Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
            }
            (_, ENOPROTOOPT) => Some("Protocol not available"),
            (_, ENOMEM) => Some("Memory allocation problem"),
            (_, EOPNOTSUPP) => Some("Operation not supported with IPv6"),
            (_, EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
            (_, EMSGSIZE) => Some("Module is wrong version"),
            _ => None,
        };
        specific
            .map(str::to_string)
            .unwrap_or_else(|| self::strerror(errno))
    }

    fn error(self, errno: i32) -> IpvsError {
        IpvsError::Cmd {
            name: self.name(),
            code: self.code(),
            errno,
            msg: self.strerror(errno),
        }
    }
}

fn strerror(errno: i32) -> String {
    nix::errno::Errno::from_raw(errno).desc().to_string()
}

/// A generic-netlink payload kept as bytes (genl header + attributes).
#[derive(Debug, Clone)]
struct RawGenl(Vec<u8>);

impl NetlinkDeserializable for RawGenl {
    type Error = DecodeError;
    fn deserialize(_: &NetlinkHeader, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(RawGenl(payload.to_vec()))
    }
}

/// Why one netlink exchange failed, before it is tied to an operation.
#[derive(Debug)]
enum NlError {
    Errno(i32),
    Decode(String),
}

impl From<io::Error> for NlError {
    fn from(e: io::Error) -> Self {
        NlError::Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

/// A generic-netlink socket talking to the kernel.
struct GenlSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl GenlSocket {
    fn open() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(GenlSocket {
            sock,
            seq: 0,
            buf: Vec::with_capacity(65536),
        })
    }

    /// Sends `payload` and collects the reply messages' generic-netlink
    /// payloads: until NLMSG_DONE for a dump, else until the ACK.
    fn transact<T>(&mut self, payload: T, dump: bool) -> Result<Vec<Vec<u8>>, NlError>
    where
        T: NetlinkSerializable,
    {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        header.sequence_number = seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
        msg.finalize();
        let mut out = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut out);
        self.sock.send(&out, 0)?;

        let mut replies = Vec::new();
        loop {
            self.buf.clear();
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            let mut data: &[u8] = &self.buf;
            while !data.is_empty() {
                let len = NetlinkBuffer::new_checked(data)
                    .map_err(|e| NlError::Decode(e.to_string()))?
                    .length() as usize;
                let this = data
                    .get(..len)
                    .ok_or_else(|| NlError::Decode("short message".into()))?;
                let m = NetlinkMessage::<RawGenl>::deserialize(this)
                    .map_err(|e| NlError::Decode(e.to_string()))?;
                data = data.get(len.div_ceil(4) * 4..).unwrap_or_default();
                if m.header.sequence_number != seq {
                    continue; // a stale reply to an earlier, abandoned request
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(RawGenl(b)) => replies.push(b),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(c) => Err(NlError::Errno(c.get().saturating_neg())),
                        }
                    }
                    NetlinkPayload::Done(d) => {
                        return if d.code < 0 {
                            Err(NlError::Errno(d.code.saturating_neg()))
                        } else {
                            Ok(replies)
                        };
                    }
                    NetlinkPayload::Overrun(_) => return Err(NlError::Errno(libc::ENOBUFS)),
                    _ => {}
                }
            }
        }
    }

    /// CTRL_CMD_GETFAMILY: the id of generic-netlink family `name`.
    fn resolve_family(&mut self, name: &str) -> Result<u16, NlError> {
        let req = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
        });
        for reply in self.transact(req, false)? {
            let attrs = reply.get(4..).unwrap_or_default();
            for nla in NlasIterator::new(attrs) {
                let nla = nla.map_err(|e| NlError::Decode(e.to_string()))?;
                if nla.kind() == CTRL_ATTR_FAMILY_ID {
                    let id = nla
                        .value()
                        .try_into()
                        .map(u16::from_ne_bytes)
                        .map_err(|_| NlError::Decode("bad CTRL_ATTR_FAMILY_ID".into()))?;
                    return Ok(id);
                }
            }
        }
        Err(NlError::Errno(libc::ENOENT))
    }
}

/// A handle on the kernel's IPVS tables.
pub struct Ipvs {
    sock: GenlSocket,
    family: u16,
}

impl std::fmt::Debug for Ipvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipvs")
            .field("family", &self.family)
            .finish()
    }
}

impl Ipvs {
    /// keepalived's ipvs_start: "Initializing ipvs", then the connection (its failure is
    /// fatal to the child that needs IPVS).
    pub fn start() -> Result<Self, IpvsError> {
        tracing::info!(target: crate::log::SYSLOG_DEBUG, "Initializing ipvs");
        Self::open()
    }

    /// Opens the IPVS family; if it is missing, runs `modprobe ip_vs` once
    /// and retries.
    pub fn open() -> Result<Self, IpvsError> {
        let init = |e: NlError| match e {
            NlError::Errno(n) => IpvsError::Init(strerror(n)),
            NlError::Decode(m) => IpvsError::Init(m),
        };
        let mut sock = GenlSocket::open().map_err(|e| init(e.into()))?;
        let family = match sock.resolve_family(IPVS_GENL_NAME) {
            Ok(f) => f,
            Err(_) => {
                // keepalived ignores modprobe's own outcome and just retries.
                let _ = Command::new("modprobe").arg("ip_vs").status();
                sock.resolve_family(IPVS_GENL_NAME).map_err(init)?
            }
        };
        Ok(Ipvs { sock, family })
    }

    /// The resolved generic-netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Sends one IPVS command and returns the raw generic-netlink payloads of
    /// the replies (used for captures and by the typed calls).
    pub fn request_raw(
        &mut self,
        cmd: IpvsCmd,
        attrs: Vec<CmdAttr>,
        dump: bool,
    ) -> Result<Vec<Vec<u8>>, i32> {
        let mut msg = GenlMessage::from_payload(IpvsMessage::new(cmd, attrs));
        msg.set_resolved_family_id(self.family);
        self.sock.transact(msg, dump).map_err(|e| match e {
            NlError::Errno(n) => n,
            NlError::Decode(_) => libc::EBADMSG,
        })
    }

    fn request(
        &mut self,
        op: Op,
        cmd: IpvsCmd,
        attrs: Vec<CmdAttr>,
        dump: bool,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let mut msg = GenlMessage::from_payload(IpvsMessage::new(cmd, attrs));
        msg.set_resolved_family_id(self.family);
        let raw = self.sock.transact(msg, dump).map_err(|e| match e {
            NlError::Errno(n) => op.error(n),
            NlError::Decode(msg) => IpvsError::Decode {
                name: op.name(),
                msg,
            },
        })?;
        raw.iter()
            .map(|b| {
                IpvsMessage::from_genl_bytes(b).map_err(|e| IpvsError::Decode {
                    name: op.name(),
                    msg: e.to_string(),
                })
            })
            .collect()
    }

    /// A command whose EEXIST (adds) / ENOENT (deletes) is not an error.
    fn set(&mut self, op: Op, cmd: IpvsCmd, attrs: Vec<CmdAttr>) -> Result<(), IpvsError> {
        match self.request(op, cmd, attrs, false) {
            Ok(_) => Ok(()),
            Err(e) => match (op, e.errno()) {
                (Op::Add | Op::AddDest, Some(libc::EEXIST)) => Ok(()),
                (Op::Del | Op::DelDest, Some(libc::ENOENT)) => Ok(()),
                _ => Err(e),
            },
        }
    }

    pub fn add_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.set(
            Op::Add,
            IpvsCmd::NewService,
            vec![CmdAttr::Service(svc.to_attrs())],
        )
    }

    pub fn edit_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.set(
            Op::Edit,
            IpvsCmd::SetService,
            vec![CmdAttr::Service(svc.to_attrs())],
        )
    }

    pub fn del_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.set(
            Op::Del,
            IpvsCmd::DelService,
            vec![CmdAttr::Service(svc.key_attrs())],
        )
    }

    fn dest_attrs(svc: &Service, dest: Vec<super::attr::DestAttr>) -> Vec<CmdAttr> {
        vec![CmdAttr::Service(svc.key_attrs()), CmdAttr::Dest(dest)]
    }

    pub fn add_dest(&mut self, svc: &Service, dest: &Dest) -> Result<(), IpvsError> {
        self.set(
            Op::AddDest,
            IpvsCmd::NewDest,
            Self::dest_attrs(svc, dest.to_attrs()),
        )
    }

    /// SET_DEST; a missing destination is added instead.
    pub fn edit_dest(&mut self, svc: &Service, dest: &Dest) -> Result<(), IpvsError> {
        match self.set(
            Op::EditDest,
            IpvsCmd::SetDest,
            Self::dest_attrs(svc, dest.to_attrs()),
        ) {
            Err(e) if e.errno() == Some(libc::ENOENT) => self.add_dest(svc, dest),
            r => r,
        }
    }

    pub fn del_dest(&mut self, svc: &Service, dest: &Dest) -> Result<(), IpvsError> {
        self.set(
            Op::DelDest,
            IpvsCmd::DelDest,
            Self::dest_attrs(svc, dest.key_attrs()),
        )
    }

    /// Removes every service and destination.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.set(Op::Flush, IpvsCmd::Flush, Vec::new())
    }

    /// Zeroes the counters of `svc`, or of everything.
    pub fn zero(&mut self, svc: Option<&Service>) -> Result<(), IpvsError> {
        let attrs = svc
            .map(|s| vec![CmdAttr::Service(s.key_attrs())])
            .unwrap_or_default();
        self.set(Op::Zero, IpvsCmd::Zero, attrs)
    }

    /// Dumps all services.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let msgs = self.request(Op::GetServices, IpvsCmd::GetService, Vec::new(), true)?;
        msgs.iter()
            .filter_map(|m| m.service_attrs())
            .map(|a| {
                ServiceEntry::from_attrs(a).map_err(|e| IpvsError::Decode {
                    name: Op::GetServices.name(),
                    msg: e.to_string(),
                })
            })
            .collect()
    }

    /// Dumps the destinations of `svc`.
    pub fn dests(&mut self, svc: &Service) -> Result<Vec<DestEntry>, IpvsError> {
        let attrs = vec![CmdAttr::Service(svc.key_attrs())];
        let msgs = self.request(Op::GetDests, IpvsCmd::GetDest, attrs, true)?;
        msgs.iter()
            .filter_map(|m| m.dest_attrs())
            .map(|a| {
                DestEntry::from_attrs(a, svc.af).map_err(|e| IpvsError::Decode {
                    name: Op::GetDests.name(),
                    msg: e.to_string(),
                })
            })
            .collect()
    }

    pub fn get_timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let msgs = self.request(Op::GetTimeout, IpvsCmd::GetConfig, Vec::new(), false)?;
        let attrs: Vec<CmdAttr> = msgs.into_iter().flat_map(|m| m.attrs).collect();
        Ok(Timeouts::from_attrs(&attrs))
    }

    /// Sets the timeouts; a zero field is left unchanged by the kernel.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        self.set(Op::SetTimeout, IpvsCmd::SetConfig, t.to_attrs())
    }

    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        self.set(
            Op::StartDaemon,
            IpvsCmd::NewDaemon,
            vec![CmdAttr::Daemon(d.to_attrs())],
        )
    }

    /// Stops the daemon with `d`'s state (and sync id, as keepalived sends it).
    pub fn stop_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        let attrs = vec![
            super::attr::DaemonAttr::State(d.state.to_raw()),
            super::attr::DaemonAttr::SyncId(d.sync_id),
        ];
        self.set(
            Op::StopDaemon,
            IpvsCmd::DelDaemon,
            vec![CmdAttr::Daemon(attrs)],
        )
    }

    /// The running sync daemons.
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let msgs = self.request(Op::GetDaemon, IpvsCmd::GetDaemon, Vec::new(), true)?;
        msgs.iter()
            .filter_map(|m| m.daemon_attrs())
            .map(|a| {
                SyncDaemon::from_attrs(a).map_err(|e| IpvsError::Decode {
                    name: Op::GetDaemon.name(),
                    msg: e.to_string(),
                })
            })
            .collect()
    }

    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let msgs = self.request(Op::GetInfo, IpvsCmd::GetInfo, Vec::new(), false)?;
        let attrs: Vec<CmdAttr> = msgs.into_iter().flat_map(|m| m.attrs).collect();
        Ok(Info::from_attrs(&attrs))
    }
}
