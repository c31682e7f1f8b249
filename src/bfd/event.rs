//! State changes of BFD sessions, from the BFD child to the VRRP child and the checker,
//! through pipes the parent creates before forking (keepalived's BFD event pipes). A
//! record is fixed-size, well under `PIPE_BUF`, so writes are atomic and a reader never
//! sees half of one: the session name (keepalived limits it to 31 bytes), the state and
//! when it was sent (for keepalived's `delivered in N usec`).

use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;

/// keepalived's `BFD_INAME_MAX`, including the terminating NUL.
pub const NAME_MAX: usize = 32;
/// Bytes per record.
pub const RECORD_LEN: usize = NAME_MAX + 1 + 8;

/// A session went Up, or is no longer Up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub up: bool,
    /// Microseconds since the Unix epoch at sending.
    pub sent_us: u64,
}

/// Now, as [`Event::sent_us`].
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl Event {
    /// keepalived's `-D` line on receipt.
    pub fn received_line(&self) -> String {
        format!(
            "Received BFD event: instance {} is in state {} (delivered in {} usec)",
            self.name,
            if self.up { "Up" } else { "Down" },
            now_us().saturating_sub(self.sent_us)
        )
    }
}

impl Event {
    /// `None` for a name keepalived would not accept (too long).
    pub fn encode(&self) -> Option<[u8; RECORD_LEN]> {
        let n = self.name.as_bytes();
        if n.len() >= NAME_MAX {
            return None;
        }
        let mut b = [0u8; RECORD_LEN];
        b[..n.len()].copy_from_slice(n);
        b[NAME_MAX] = u8::from(self.up);
        b[NAME_MAX + 1..].copy_from_slice(&self.sent_us.to_le_bytes());
        Some(b)
    }

    pub fn decode(b: &[u8; RECORD_LEN]) -> Event {
        let end = b[..NAME_MAX]
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(NAME_MAX);
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[NAME_MAX + 1..]);
        Event {
            name: String::from_utf8_lossy(&b[..end]).into_owned(),
            up: b[NAME_MAX] != 0,
            sent_us: u64::from_le_bytes(t),
        }
    }
}

/// The BFD child's ends: where events for each child go.
#[derive(Default)]
pub struct EventSink {
    pub vrrp: Option<std::fs::File>,
    pub checker: Option<std::fs::File>,
}

impl EventSink {
    pub fn new(vrrp: Option<OwnedFd>, checker: Option<OwnedFd>) -> EventSink {
        EventSink {
            vrrp: vrrp.map(std::fs::File::from),
            checker: checker.map(std::fs::File::from),
        }
    }

    /// Writes `ev` to the children that want it. The pipes are non-blocking: with a
    /// child not reading (not running), the record is dropped rather than stalling BFD;
    /// a respawned child learns every state again when the BFD child resends them.
    pub fn send(&mut self, ev: &Event, vrrp: bool, checker: bool) {
        let Some(rec) = ev.encode() else { return };
        for (want, pipe) in [(vrrp, &mut self.vrrp), (checker, &mut self.checker)] {
            if let (true, Some(p)) = (want, pipe.as_mut()) {
                if let Err(e) = p.write_all(&rec) {
                    if crate::log::detail() > 0 {
                        tracing::error!("({}) pipe write() error {e}", ev.name);
                    }
                }
            }
        }
    }
}

/// A reading end (VRRP child or checker): records out of a non-blocking pipe.
pub struct EventSource {
    fd: tokio::io::unix::AsyncFd<std::fs::File>,
    partial: Vec<u8>,
}

impl EventSource {
    pub fn new(fd: OwnedFd) -> io::Result<EventSource> {
        let file = std::fs::File::from(fd);
        // SAFETY: the File owns a valid descriptor that nothing else closes or replaces
        // while the AsyncFd holds it.
        let fd = unsafe { tokio::io::unix::AsyncFd::register(file)? };
        Ok(EventSource {
            fd,
            partial: Vec::new(),
        })
    }

    /// Waits for the next events (at least one, unless the pipe closed: `Ok(vec![])`).
    pub async fn next(&mut self) -> io::Result<Vec<Event>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; RECORD_LEN * 32];
            match guard.try_io(|f| f.get_ref().read(&mut buf)) {
                Ok(Ok(0)) => return Ok(Vec::new()),
                Ok(Ok(n)) => {
                    self.partial
                        .extend_from_slice(buf.get(..n).unwrap_or_default());
                    let out = drain(&mut self.partial);
                    if !out.is_empty() {
                        return Ok(out);
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Whole records at the front of `buf`, removed from it.
fn drain(buf: &mut Vec<u8>) -> Vec<Event> {
    let whole = buf.len() / RECORD_LEN * RECORD_LEN;
    let out = buf[..whole]
        .chunks_exact(RECORD_LEN)
        .filter_map(|c| <&[u8; RECORD_LEN]>::try_from(c).ok())
        .map(Event::decode)
        .collect();
    buf.drain(..whole);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_split_reads_join() {
        let a = Event {
            name: "peerB".into(),
            up: true,
            sent_us: 1,
        };
        let b = Event {
            name: "x".repeat(31),
            up: false,
            sent_us: u64::MAX,
        };
        assert!(Event {
            name: "y".repeat(32),
            up: true,
            sent_us: 0,
        }
        .encode()
        .is_none());
        let mut bytes = a.encode().unwrap().to_vec();
        bytes.extend_from_slice(&b.encode().unwrap());
        let mut buf = bytes[..50].to_vec();
        assert_eq!(drain(&mut buf), [a]);
        assert_eq!(buf.len(), 50 - RECORD_LEN);
        buf.extend_from_slice(&bytes[50..]);
        assert_eq!(drain(&mut buf), [b]);
        assert!(buf.is_empty());
    }
}
