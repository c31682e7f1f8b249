//! The kernel side of the VRRP receive path: an eBPF socket filter on each receive socket
//! that drops adverts for VRIDs no instance on that socket runs, and counts them in a
//! one-slot array map, so that a flood of foreign adverts never reaches user space and
//! every dropped packet is still accounted (`unknown_vrid` in rxguard.rs).
//!
//! Only that check moves to the kernel: keepalived counts or logs every other drop (TTL,
//! length, version, authentication: its per-instance statistics; too short: a log line),
//! and those stay in user space where they are counted by instance. A packet too short to
//! carry a VRID passes, for the same reason. Classic BPF cannot count, hence eBPF.
//!
//! The program is rebuilt when the socket's VRIDs change (a reload); the map, and so the
//! count, stays with the socket.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use thiserror::Error;

/// Why the filter could not be set up (the socket then works unfiltered).
#[derive(Debug, Error)]
pub enum FilterError {
    #[error("cannot create the eBPF map: {0}")]
    Map(io::Error),
    #[error("the kernel refused the eBPF program: {0} {1}")]
    Load(io::Error, String),
    #[error("cannot attach the eBPF program to the socket: {0}")]
    Attach(io::Error),
}

// bpf(2) commands, map and program types (linux/bpf.h).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;

/// One eBPF instruction (struct bpf_insn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes used (class | size/op | mode/source).
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const AND64_K: u8 = 0x57;
const LSH64_K: u8 = 0x67;
const ADD64_K: u8 = 0x07;
const LDX_W: u8 = 0x61;
const ST_W: u8 = 0x62;
const LD_ABS_B: u8 = 0x30;
const LD_IND_B: u8 = 0x50;
const LD_IMM64: u8 = 0x18;
const JEQ_K: u8 = 0x15;
const JLT_K: u8 = 0xa5;
const JLT_X: u8 = 0xad;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
/// BPF_STX | BPF_ATOMIC | BPF_DW with imm BPF_ADD (the former BPF_XADD).
const ATOMIC_ADD64: u8 = 0xdb;

/// The VRRP header's first bytes: version/type, then the VRID.
const VRRP_MIN: i32 = 8;
const IPV4_MIN: i32 = 20;

/// The filter program for a socket delivering whole IPv4 packets (`ipv4_header`) or bare
/// VRRP payloads (IPv6), accepting `vrids` and packets too short to tell. Pure, so that it
/// can be checked without a kernel; `map_fd` is the counter map.
pub fn program(ipv4_header: bool, vrids: &[u8], map_fd: RawFd) -> Vec<Insn> {
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0), // r6 = skb (the packet loads use it)
        insn(LDX_W, 7, 6, 0, 0),   // r7 = skb->len
    ];
    // Jumps to "accept" are patched once its place is known.
    let mut to_accept = Vec::new();
    if ipv4_header {
        to_accept.push(p.len());
        p.push(insn(JLT_K, 7, 0, 0, IPV4_MIN));
        p.push(insn(LD_ABS_B, 0, 0, 0, 0)); // r0 = version/IHL
        p.push(insn(MOV64_X, 8, 0, 0, 0));
        p.push(insn(AND64_K, 8, 0, 0, 0x0f));
        p.push(insn(LSH64_K, 8, 0, 0, 2)); // r8 = IHL in bytes
        to_accept.push(p.len());
        p.push(insn(JLT_K, 8, 0, 0, IPV4_MIN));
        p.push(insn(MOV64_X, 9, 8, 0, 0));
        p.push(insn(ADD64_K, 9, 0, 0, VRRP_MIN));
        to_accept.push(p.len());
        p.push(insn(JLT_X, 7, 9, 0, 0)); // len < IHL + VRRP header
        p.push(insn(LD_IND_B, 0, 8, 0, 1)); // r0 = VRID
    } else {
        to_accept.push(p.len());
        p.push(insn(JLT_K, 7, 0, 0, VRRP_MIN));
        p.push(insn(LD_ABS_B, 0, 0, 0, 1));
    }
    for &v in vrids {
        to_accept.push(p.len());
        p.push(insn(JEQ_K, 0, 0, 0, i32::from(v)));
    }
    // Not ours: count, then drop.
    p.push(insn(ST_W, 10, 0, -4, 0)); // key 0 on the stack
    p.push(insn(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, map_fd));
    p.push(insn(0, 0, 0, 0, 0));
    p.push(insn(MOV64_X, 2, 10, 0, 0));
    p.push(insn(ADD64_K, 2, 0, 0, -4));
    p.push(insn(CALL, 0, 0, 0, HELPER_MAP_LOOKUP_ELEM));
    p.push(insn(JEQ_K, 0, 0, 2, 0)); // no slot: skip the add
    p.push(insn(MOV64_K, 1, 0, 0, 1));
    p.push(insn(ATOMIC_ADD64, 0, 1, 0, 0));
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    let accept = p.len();
    p.push(insn(MOV64_K, 0, 0, 0, -1)); // the whole packet
    p.push(insn(EXIT, 0, 0, 0, 0));
    for at in to_accept {
        if let Some(i) = p.get_mut(at) {
            i.off = i16::try_from(accept - at - 1).unwrap_or(i16::MAX);
        }
    }
    p
}

fn bpf(cmd: libc::c_long, attr: &mut [u64]) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a zero-padded, properly aligned bpf_attr for `cmd` of exactly the
    // size passed; the kernel reads (and for lookups writes through pointers it holds)
    // only within it and the buffers it points to, which outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("bad descriptor"))?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads a socket filter program, with the verifier's log in `log` when given.
fn load(prog: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut attr = [0u64; 16];
    attr[0] = u64::from(BPF_PROG_TYPE_SOCKET_FILTER) | ((prog.len() as u64) << 32);
    attr[1] = prog.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    if let Some(log) = log {
        // log_level 1, log_size, log_buf
        attr[3] = 1 | ((log.len() as u64) << 32);
        attr[4] = log.as_mut_ptr() as u64;
    }
    bpf(BPF_PROG_LOAD, &mut attr).and_then(owned)
}

/// A socket's filter: its counter map and what it accepts.
#[derive(Debug)]
pub struct RxFilter {
    map: OwnedFd,
    ipv4_header: bool,
    vrids: Vec<u8>,
    /// The count already reported by [`RxFilter::take_dropped`].
    reported: u64,
}

impl RxFilter {
    /// Attaches a filter accepting `vrids` to `sock`.
    pub fn attach(
        sock: &impl AsRawFd,
        ipv4_header: bool,
        vrids: &[u8],
    ) -> Result<Self, FilterError> {
        // map_type, key_size, value_size, max_entries
        let mut attr = [0u64; 6];
        attr[0] = u64::from(BPF_MAP_TYPE_ARRAY) | (4u64 << 32);
        attr[1] = 8 | (1u64 << 32);
        let map = bpf(BPF_MAP_CREATE, &mut attr)
            .and_then(owned)
            .map_err(FilterError::Map)?;
        let mut f = RxFilter {
            map,
            ipv4_header,
            vrids: Vec::new(),
            reported: 0,
        };
        f.update(sock, vrids)?;
        Ok(f)
    }

    /// The VRIDs accepted now.
    pub fn vrids(&self) -> &[u8] {
        &self.vrids
    }

    /// Replaces the program with one accepting `vrids` (sorted, deduplicated by the
    /// caller or not: duplicates only cost a comparison); the count continues.
    pub fn update(&mut self, sock: &impl AsRawFd, vrids: &[u8]) -> Result<(), FilterError> {
        let prog = program(self.ipv4_header, vrids, self.map.as_raw_fd());
        // Loaded without the verifier's log (a log too small for it fails the load);
        // asked again with one only to say why it was refused.
        let fd = match load(&prog, None) {
            Ok(fd) => fd,
            Err(e) => {
                let mut log = vec![0u8; 1 << 20];
                let _ = load(&prog, Some(&mut log));
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(log.get(..end).unwrap_or_default());
                let tail: String = text.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
                return Err(FilterError::Load(e, tail));
            }
        };
        let pfd: libc::c_int = fd.as_raw_fd();
        // SAFETY: a valid socket, a pointer to a live c_int and its exact size.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_BPF,
                (&pfd as *const libc::c_int).cast::<libc::c_void>(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(FilterError::Attach(io::Error::last_os_error()));
        }
        // The socket holds the program now; our descriptor closes with `fd`.
        self.vrids = vrids.to_vec();
        Ok(())
    }

    /// Packets the kernel dropped since the filter was attached.
    pub fn dropped(&self) -> io::Result<u64> {
        let key: u32 = 0;
        let mut value: u64 = 0;
        let mut attr = [0u64; 4];
        attr[0] = self.map.as_raw_fd() as u64;
        attr[1] = &key as *const u32 as u64;
        attr[2] = &mut value as *mut u64 as u64;
        bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)?;
        Ok(value)
    }

    /// The drops not reported yet (0 when the map cannot be read).
    pub fn take_dropped(&mut self) -> u64 {
        let now = self.dropped().unwrap_or(self.reported);
        let new = now.saturating_sub(self.reported);
        self.reported = now;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accept_jump_lands_on_the_accept_exit() {
        for v4 in [true, false] {
            let p = program(v4, &[1, 51, 255], 7);
            let accept = p.len() - 2;
            assert_eq!(p[accept], insn(MOV64_K, 0, 0, 0, -1));
            let jumps: Vec<usize> = p
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    matches!(i.code, JLT_K | JLT_X)
                        || (i.code == JEQ_K && i.regs == 0 && i.imm != 0)
                })
                .map(|(at, i)| at + 1 + i.off as usize)
                .collect();
            assert!(!jumps.is_empty());
            assert!(jumps.iter().all(|&t| t == accept), "{v4}: {jumps:?}");
            // the VRIDs, in order, each compared once
            let cmp: Vec<i32> = p
                .iter()
                .filter(|i| i.code == JEQ_K && i.imm != 0)
                .map(|i| i.imm)
                .collect();
            assert_eq!(cmp, vec![1, 51, 255]);
            assert!(p.iter().any(|i| i.code == LD_IMM64 && i.imm == 7));
        }
    }

    /// The program against the running kernel, on loopback in a namespace of this thread's
    /// own: foreign VRIDs are dropped and counted, ours and short packets pass.
    #[test]
    fn kernel_drops_foreign_vrids_and_counts_them() {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        use std::net::{Ipv4Addr, SocketAddrV4};
        // SAFETY: geteuid has no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var("CI").is_err(), "needs root");
            return;
        }
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(up.success());
        let proto = Some(Protocol::from(112));
        let rx = Socket::new(Domain::IPV4, Type::RAW, proto).unwrap();
        let mut f = RxFilter::attach(&rx, true, &[51, 52]).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let tx = Socket::new(Domain::IPV4, Type::RAW, proto).unwrap();
        let to = SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        // VRRP payloads (the kernel adds the IPv4 header): VRID at byte 1.
        for vrid in [50u8, 51, 9, 52, 200] {
            tx.send_to(&[0x21, vrid, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1], &to)
                .unwrap();
        }
        tx.send_to(&[0x21, 7], &to).unwrap(); // too short to judge: passes
        let mut got = Vec::new();
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 256];
        while let Ok(n) = rx.recv(&mut buf) {
            // SAFETY: recv initialised the first n bytes.
            let b: Vec<u8> = buf[..n]
                .iter()
                .map(|x| unsafe { x.assume_init() })
                .collect();
            got.push((n - 20, b.get(21).copied()));
        }
        assert_eq!(got, vec![(12, Some(51)), (12, Some(52)), (2, Some(7))]);
        assert_eq!(f.take_dropped(), 3);
        assert_eq!(f.take_dropped(), 0);
        // A reload's VRIDs: the count goes on.
        f.update(&rx, &[50]).unwrap();
        tx.send_to(&[0x21, 51, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1], &to)
            .unwrap();
        tx.send_to(&[0x21, 50, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1], &to)
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        // SAFETY: recv initialised the first n bytes.
        assert_eq!(unsafe { buf[21].assume_init() }, 50, "{n}");
        assert_eq!(f.take_dropped(), 1);
        assert_eq!(f.dropped().unwrap(), 4);
        // Every VRID (log_unknown_vrids): the largest program loads too.
        let all: Vec<u8> = (0..=255).collect();
        f.update(&rx, &all).unwrap();
        tx.send_to(&[0x21, 99, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1], &to)
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        // SAFETY: recv initialised the first n bytes.
        assert_eq!(unsafe { buf[21].assume_init() }, 99, "{n}");
        assert_eq!(f.take_dropped(), 0);

        // IPv6 raw sockets see the VRRP payload alone.
        use std::net::{Ipv6Addr, SocketAddrV6};
        let rx6 = Socket::new(Domain::IPV6, Type::RAW, proto).unwrap();
        let mut f6 = RxFilter::attach(&rx6, false, &[51]).unwrap();
        rx6.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let tx6 = Socket::new(Domain::IPV6, Type::RAW, proto).unwrap();
        let to6 = SockAddr::from(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0));
        for vrid in [50u8, 51, 52] {
            tx6.send_to(&[0x31, vrid, 100, 0, 0, 100, 0, 0], &to6)
                .unwrap();
        }
        let mut got6 = Vec::new();
        while let Ok(n) = rx6.recv(&mut buf) {
            // SAFETY: recv initialised the first n bytes.
            got6.push((n, unsafe { buf[1].assume_init() }));
        }
        assert_eq!(got6, vec![(8, 51)]);
        assert_eq!(f6.take_dropped(), 2);
    }

    #[test]
    fn no_vrid_drops_everything_long_enough() {
        let p = program(false, &[], 3);
        assert!(!p.iter().any(|i| i.code == JEQ_K && i.imm != 0));
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
    }
}
