//! The sockets of another process, seen from a test: their receive buffer sizes.
#![allow(dead_code)]

/// SO_RCVBUF of every socket of process `pid`, by (domain, protocol): read through
/// pidfd_getfd, since `ss -m` shows no memory for raw sockets.
pub fn socket_rcvbufs(pid: i32) -> Vec<(i32, i32, usize)> {
    use nix::sys::socket::{getsockopt, sockopt};
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut out = Vec::new();
    // SAFETY: plain syscalls; a returned descriptor is new and owned here.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return out;
    }
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for e in dir.flatten() {
        let is_socket =
            std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let fd = unsafe {
            libc::syscall(
                libc::SYS_pidfd_getfd,
                std::os::fd::AsRawFd::as_raw_fd(&pidfd),
                n,
                0,
            )
        };
        if fd < 0 {
            continue;
        }
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let (domain, proto) = (
            int_opt(&fd, libc::SO_DOMAIN),
            int_opt(&fd, libc::SO_PROTOCOL),
        );
        if let Ok(b) = getsockopt(&fd, sockopt::RcvBuf) {
            out.push((domain, proto, b));
        }
    }
    out
}

/// An integer SOL_SOCKET option, -1 when unreadable.
fn int_opt(fd: &impl std::os::fd::AsRawFd, opt: libc::c_int) -> i32 {
    let mut v: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` outlive the call and describe an int.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            std::ptr::addr_of_mut!(v).cast(),
            &mut len,
        )
    };
    if r == 0 {
        v
    } else {
        -1
    }
}
