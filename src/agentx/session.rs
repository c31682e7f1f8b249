//! The subagent's session with the master agent: connect (unix socket or TCP), Open,
//! Register each subtree, then answer Get/GetNext/GetBulk from a snapshot of the child's
//! objects, TestSet/CommitSet through the child, forward notifications, and reconnect when
//! the master goes away. It runs on its own task: the child only ever sends it messages
//! on unbounded channels, so a dead or slow snmpd never holds up the child.

use super::pdu::{self, DecodeError, Message, Oid, Pdu, SearchRange, Value, VarBind};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, warn};

/// Where net-snmp's subagents (and so keepalived) look for the master by default.
pub const DEFAULT_SOCKET: &str = "/var/agentx/master";
/// How long we wait for the master's answer to Open or Register.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Between attempts to reach the master.
const RETRY: Duration = Duration::from_secs(1);
/// keepalived sets net-snmp's AgentX ping interval to 120 s.
const PING_INTERVAL: Duration = Duration::from_secs(120);
/// net-snmp's subagent identity, which keepalived's Open carries.
const AGENT_OID: [u32; 10] = [1, 3, 6, 1, 4, 1, 8072, 3, 2, 10];
const AGENT_DESCR: &[u8] = b"Net-SNMP AgentX sub-agent";
/// net-snmp's Open asks for a 1 s default timeout.
const OPEN_TIMEOUT: u8 = 1;
/// net-snmp's Register: no timeout of its own (255) and the default priority.
const REGISTER_TIMEOUT: u8 = 255;
const REGISTER_PRIORITY: u8 = 127;
/// What net-snmp logs once connected; keepalived's log shows it.
const CONNECTED: &str = "NET-SNMP version 5.9.3 AgentX subagent connected";

/// The master's address as `snmp_socket` / `-A` give it (net-snmp's transport syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(String),
}

impl Address {
    /// `unix:PATH`, a bare `/PATH`, `tcp:HOST:PORT` (`HOST:PORT` and `tcp:PORT` too);
    /// none: the default socket.
    pub fn parse(s: Option<&str>) -> Address {
        let Some(s) = s else {
            return Address::Unix(PathBuf::from(DEFAULT_SOCKET));
        };
        if let Some(p) = s.strip_prefix("unix:") {
            return Address::Unix(PathBuf::from(p));
        }
        if s.starts_with('/') {
            return Address::Unix(PathBuf::from(s));
        }
        let rest = s.strip_prefix("tcp:").unwrap_or(s);
        if rest.parse::<u16>().is_ok() {
            return Address::Tcp(format!("127.0.0.1:{rest}"));
        }
        Address::Tcp(rest.to_owned())
    }
}

/// A child's objects at one moment, by OID.
pub type Tree = BTreeMap<Oid, Value>;

/// What the session asks the child.
#[derive(Debug)]
pub enum Ask {
    /// The objects now.
    Snapshot(oneshot::Sender<Tree>),
    /// A Set's test (`commit` false) or commit phase: `Err((error, index))` with an SNMP
    /// error status and the 1-based varbind it is about.
    Set {
        varbinds: Vec<VarBind>,
        commit: bool,
        reply: oneshot::Sender<Result<(), (u16, u16)>>,
    },
}

/// What the subagent serves.
#[derive(Clone, Debug, Default)]
pub struct Agent {
    /// Registered one by one, in this order (keepalived registers each object).
    pub registrations: Vec<Oid>,
    /// The sysORTable entries (AddAgentCaps).
    pub caps: Vec<(Oid, String)>,
}

/// The running session; dropping it ends the task.
pub struct Session {
    task: tokio::task::JoinHandle<()>,
    notifier: Notifier,
}

/// Sends notifications through a session (cheap to clone; harmless once it has ended).
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Vec<VarBind>>,
    started: Instant,
}

impl Session {
    /// Starts the session task on the current LocalSet.
    pub fn start(agent: Agent, addr: Address, asks: mpsc::UnboundedSender<Ask>) -> Session {
        let (tx, rx) = mpsc::unbounded_channel();
        let started = Instant::now();
        let task = tokio::task::spawn_local(run(agent, addr, asks, rx, started));
        Session {
            task,
            notifier: Notifier { tx, started },
        }
    }

    pub fn notifier(&self) -> Notifier {
        self.notifier.clone()
    }

    /// Ends the session: the notifications already queued (STOP traps) go out first when
    /// the master is there, then a Close; waits at most `grace`.
    pub async fn stop(self, grace: Duration) {
        let Session { task, notifier } = self;
        drop(notifier);
        let abort = task.abort_handle();
        if tokio::time::timeout(grace, task).await.is_err() {
            abort.abort();
        }
    }
}

impl Notifier {
    /// Sends a notification (snmpTrapOID and its objects; sysUpTime is put first). Lost
    /// while the master is away, as with net-snmp.
    pub fn notify(&self, trap: Oid, objects: Vec<VarBind>) {
        let mut v = Vec::with_capacity(objects.len() + 2);
        v.push(VarBind {
            name: Oid::new(&[1, 3, 6, 1, 2, 1, 1, 3, 0]),
            value: Value::TimeTicks(uptime(self.started)),
        });
        v.push(VarBind {
            name: Oid::new(&[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0]),
            value: Value::ObjectId(trap),
        });
        v.extend(objects);
        let _ = self.tx.send(v);
    }
}

/// Hundredths of a second since the subagent started.
fn uptime(started: Instant) -> u32 {
    (started.elapsed().as_millis() / 10) as u32
}

trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

async fn connect(addr: &Address) -> std::io::Result<Box<dyn Stream>> {
    Ok(match addr {
        Address::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
        Address::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a.as_str()).await?),
    })
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("master agent refused {what}: error {error}")]
    Refused { what: &'static str, error: u16 },
    #[error("no answer from the master agent")]
    Timeout,
    #[error("the master agent closed the session")]
    Closed,
}

struct Conn {
    s: Box<dyn Stream>,
    buf: Vec<u8>,
    session_id: u32,
    packet_id: u32,
    started: Instant,
}

impl Conn {
    async fn send(&mut self, transaction_id: u32, packet_id: u32, pdu: Pdu) -> std::io::Result<()> {
        let m = Message {
            flags: 0,
            session_id: self.session_id,
            transaction_id,
            packet_id,
            pdu,
        };
        self.s.write_all(&pdu::encode(&m)).await
    }

    async fn request(&mut self, pdu: Pdu) -> std::io::Result<u32> {
        self.packet_id = self.packet_id.wrapping_add(1);
        let id = self.packet_id;
        self.send(0, id, pdu).await?;
        Ok(id)
    }

    /// The next whole message from the master.
    async fn read(&mut self) -> Result<Message, SessionError> {
        loop {
            match pdu::decode(&self.buf) {
                Ok((m, n)) => {
                    self.buf.drain(..n);
                    return Ok(m);
                }
                Err(DecodeError::Incomplete { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk).await?;
            if n == 0 {
                return Err(SessionError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `pdu` and waits for the master's Response to it.
    async fn call(&mut self, what: &'static str, pdu: Pdu) -> Result<Message, SessionError> {
        let id = self.request(pdu).await?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.read())
                .await
                .map_err(|_| SessionError::Timeout)??;
            if let Pdu::Response { error, .. } = m.pdu {
                if m.packet_id != id {
                    continue;
                }
                if error != pdu::error::NO_ERROR {
                    return Err(SessionError::Refused { what, error });
                }
                return Ok(m);
            }
        }
    }
}

async fn run(
    agent: Agent,
    addr: Address,
    asks: mpsc::UnboundedSender<Ask>,
    mut notifies: mpsc::UnboundedReceiver<Vec<VarBind>>,
    started: Instant,
) {
    let mut warned = false;
    loop {
        match session(&agent, &addr, &asks, &mut notifies, started, &mut warned).await {
            Ok(()) => return,
            Err(_) if notifies.is_closed() => return,
            Err(e) => {
                if !warned {
                    warn!("AgentX master agent ({addr:?}): {e}; retrying");
                    warned = true;
                }
            }
        }
        // Traps raised while away are lost, as with net-snmp.
        while notifies.try_recv().is_ok() {}
        tokio::time::sleep(RETRY).await;
    }
}

async fn session(
    agent: &Agent,
    addr: &Address,
    asks: &mpsc::UnboundedSender<Ask>,
    notifies: &mut mpsc::UnboundedReceiver<Vec<VarBind>>,
    started: Instant,
    warned: &mut bool,
) -> Result<(), SessionError> {
    let s = connect(addr).await?;
    let mut c = Conn {
        s,
        buf: Vec::new(),
        session_id: 0,
        packet_id: 0,
        started,
    };
    let open = c
        .call(
            "Open",
            Pdu::Open {
                timeout: OPEN_TIMEOUT,
                id: Oid::new(&AGENT_OID),
                descr: AGENT_DESCR.to_vec(),
            },
        )
        .await?;
    c.session_id = open.session_id;
    for subtree in &agent.registrations {
        let reg = Pdu::Register {
            context: Some(Vec::new()),
            timeout: REGISTER_TIMEOUT,
            priority: REGISTER_PRIORITY,
            range_subid: 0,
            subtree: subtree.clone(),
            upper_bound: None,
        };
        // A subtree the master refuses (another subagent holds it) is left out, as
        // net-snmp does; the others are still served.
        match c.call("Register", reg).await {
            Err(SessionError::Refused { error, .. }) => {
                warn!("AgentX master agent refused to register {subtree}: error {error}")
            }
            r => {
                r?;
            }
        }
    }
    for (id, descr) in &agent.caps {
        c.call(
            "AddAgentCaps",
            Pdu::AddAgentCaps {
                context: None,
                id: id.clone(),
                descr: descr.as_bytes().to_vec(),
            },
        )
        .await?;
    }
    info!("{CONNECTED}");
    *warned = false;
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut pending_set: Option<Vec<VarBind>> = None;
    loop {
        tokio::select! {
            m = c.read() => {
                let m = m?;
                serve(&mut c, agent, asks, m, &mut pending_set).await?;
            }
            n = notifies.recv() => {
                let Some(varbinds) = n else {
                    c.request(Pdu::Close { reason: pdu::close::SHUTDOWN }).await?;
                    return Ok(());
                };
                c.request(Pdu::Notify { context: None, varbinds }).await?;
            }
            _ = ping.tick() => {
                c.request(Pdu::Ping { context: None }).await?;
            }
        }
    }
}

async fn snapshot(asks: &mpsc::UnboundedSender<Ask>) -> Tree {
    let (tx, rx) = oneshot::channel();
    if asks.send(Ask::Snapshot(tx)).is_err() {
        return Tree::new();
    }
    rx.await.unwrap_or_default()
}

async fn set(
    asks: &mpsc::UnboundedSender<Ask>,
    varbinds: Vec<VarBind>,
    commit: bool,
) -> Result<(), (u16, u16)> {
    let (reply, rx) = oneshot::channel();
    if asks
        .send(Ask::Set {
            varbinds,
            commit,
            reply,
        })
        .is_err()
    {
        return Err((pdu::error::GEN_ERR, 0));
    }
    rx.await.unwrap_or(Err((pdu::error::GEN_ERR, 0)))
}

/// One request from the master, answered.
async fn serve(
    c: &mut Conn,
    agent: &Agent,
    asks: &mpsc::UnboundedSender<Ask>,
    m: Message,
    pending_set: &mut Option<Vec<VarBind>>,
) -> Result<(), SessionError> {
    let (error, index, varbinds) = match m.pdu {
        Pdu::Get { ranges, .. } => {
            let t = snapshot(asks).await;
            let vbs = ranges.iter().map(|r| get(&t, agent, &r.start)).collect();
            (0, 0, vbs)
        }
        Pdu::GetNext { ranges, .. } => {
            let t = snapshot(asks).await;
            (0, 0, ranges.iter().map(|r| next(&t, r)).collect())
        }
        Pdu::GetBulk {
            non_repeaters,
            max_repetitions,
            ranges,
            ..
        } => {
            let t = snapshot(asks).await;
            (0, 0, bulk(&t, non_repeaters, max_repetitions, &ranges))
        }
        Pdu::TestSet { varbinds, .. } => {
            let r = set(asks, varbinds.clone(), false).await;
            *pending_set = Some(varbinds);
            match r {
                Ok(()) => (0, 0, Vec::new()),
                Err((e, i)) => (e, i, Vec::new()),
            }
        }
        Pdu::CommitSet => match pending_set.take() {
            Some(vbs) => match set(asks, vbs, true).await {
                Ok(()) => (0, 0, Vec::new()),
                Err((_, i)) => (pdu::error::COMMIT_FAILED, i, Vec::new()),
            },
            None => (pdu::error::COMMIT_FAILED, 0, Vec::new()),
        },
        Pdu::UndoSet | Pdu::CleanupSet => {
            *pending_set = None;
            if matches!(m.pdu, Pdu::CleanupSet) {
                // CleanupSet has no Response (RFC 2741 7.2.4.4).
                return Ok(());
            }
            (0, 0, Vec::new())
        }
        Pdu::Close { .. } => return Err(SessionError::Closed),
        // Responses to our notifies and pings; nothing to do.
        Pdu::Response { .. } => return Ok(()),
        _ => (pdu::error::PROCESSING_ERROR, 0, Vec::new()),
    };
    let resp = Pdu::Response {
        sys_uptime: uptime(c.started),
        error,
        index,
        varbinds,
    };
    c.send(m.transaction_id, m.packet_id, resp).await?;
    Ok(())
}

fn get(t: &Tree, agent: &Agent, name: &Oid) -> VarBind {
    let value = match t.get(name) {
        Some(v) => v.clone(),
        // The object is ours (registered) but has no such row: noSuchInstance.
        None if agent.registrations.iter().any(|r| name.starts_with(r)) => Value::NoSuchInstance,
        None => Value::NoSuchObject,
    };
    VarBind {
        name: name.clone(),
        value,
    }
}

fn next(t: &Tree, r: &SearchRange) -> VarBind {
    use std::ops::Bound;
    let lower = if r.include {
        Bound::Included(r.start.clone())
    } else {
        Bound::Excluded(r.start.clone())
    };
    let found = t
        .range((lower, Bound::Unbounded))
        .next()
        .filter(|(k, _)| r.end.is_null() || **k < r.end);
    match found {
        Some((k, v)) => VarBind {
            name: k.clone(),
            value: v.clone(),
        },
        None => VarBind {
            name: r.start.clone(),
            value: Value::EndOfMibView,
        },
    }
}

fn bulk(t: &Tree, non_repeaters: u16, max_rep: u16, ranges: &[SearchRange]) -> Vec<VarBind> {
    let n = (non_repeaters as usize).min(ranges.len());
    let mut out: Vec<VarBind> = ranges[..n].iter().map(|r| next(t, r)).collect();
    let mut cur: Vec<SearchRange> = ranges[n..].to_vec();
    for _ in 0..max_rep {
        if cur.is_empty() {
            break;
        }
        let mut all_end = true;
        for r in cur.iter_mut() {
            let vb = next(t, r);
            if vb.value != Value::EndOfMibView {
                all_end = false;
            }
            r.start = vb.name.clone();
            r.include = false;
            out.push(vb);
        }
        if all_end {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn o(s: &str) -> Oid {
        s.parse().unwrap()
    }

    fn tree() -> Tree {
        [
            ("1.3.6.1.4.1.9586.100.5.1.1.0", 1),
            ("1.3.6.1.4.1.9586.100.5.1.2.0", 2),
        ]
        .into_iter()
        .map(|(k, v)| (o(k), Value::Integer(v)))
        .collect()
    }

    /// A fake master on a unix socket: the session opens, registers (the first subtree is
    /// refused, the rest still served), answers a Get from the child's snapshot, forwards
    /// a trap, and opens again after the master drops the connection.
    #[test]
    fn session_against_a_fake_master() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("master");
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            let agent = Agent {
                registrations: vec![
                    o("1.3.6.1.4.1.9586.100.5.1.1"),
                    o("1.3.6.1.4.1.9586.100.5.1.2"),
                ],
                caps: vec![(o("1.3.6.1.4.1.9586.100.5.1"), "caps".into())],
            };
            let (ask_tx, mut ask_rx) = mpsc::unbounded_channel();
            tokio::task::spawn_local(async move {
                while let Some(Ask::Snapshot(reply)) = ask_rx.recv().await {
                    let _ = reply.send(tree());
                }
            });
            let session = Session::start(agent, Address::Unix(path.clone()), ask_tx);
            for round in 0..2 {
                let (s, _) = listener.accept().await.unwrap();
                let mut c = Conn {
                    s: Box::new(s),
                    buf: Vec::new(),
                    session_id: 7,
                    packet_id: 100,
                    started: Instant::now(),
                };
                let answer = |error: u16| Pdu::Response {
                    sys_uptime: 0,
                    error,
                    index: 0,
                    varbinds: vec![],
                };
                let open = c.read().await.unwrap();
                assert!(matches!(open.pdu, Pdu::Open { .. }), "{open:?}");
                c.send(0, open.packet_id, answer(0)).await.unwrap();
                for k in 0..2 {
                    let m = c.read().await.unwrap();
                    assert!(matches!(m.pdu, Pdu::Register { .. }), "{m:?}");
                    assert_eq!(m.session_id, 7);
                    c.send(0, m.packet_id, answer(if k == 0 { 263 } else { 0 }))
                        .await
                        .unwrap();
                }
                let caps = c.read().await.unwrap();
                assert!(matches!(caps.pdu, Pdu::AddAgentCaps { .. }), "{caps:?}");
                c.send(0, caps.packet_id, answer(0)).await.unwrap();
                let get = Pdu::Get {
                    context: None,
                    ranges: vec![SearchRange {
                        start: o("1.3.6.1.4.1.9586.100.5.1.2.0"),
                        include: false,
                        end: Oid::default(),
                    }],
                };
                c.send(5, 55, get).await.unwrap();
                let resp = c.read().await.unwrap();
                assert_eq!((resp.transaction_id, resp.packet_id), (5, 55));
                let Pdu::Response { varbinds, .. } = resp.pdu else {
                    panic!("{resp:?}")
                };
                assert_eq!(varbinds[0].value, Value::Integer(2));
                if round == 0 {
                    session
                        .notifier()
                        .notify(o("1.3.6.1.4.1.9586.100.5.2.10.0.1"), vec![]);
                    let n = c.read().await.unwrap();
                    let Pdu::Notify { varbinds, .. } = n.pdu else {
                        panic!("{n:?}")
                    };
                    assert_eq!(varbinds.len(), 2);
                }
                // Dropping the connection: the session comes back.
            }
            session.stop(Duration::from_millis(100)).await;
        });
    }

    #[test]
    fn addresses_as_net_snmp_reads_them() {
        assert_eq!(Address::parse(None), Address::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(
            Address::parse(Some("unix:/tmp/x")),
            Address::Unix("/tmp/x".into())
        );
        assert_eq!(
            Address::parse(Some("/tmp/y")),
            Address::Unix("/tmp/y".into())
        );
        assert_eq!(
            Address::parse(Some("tcp:localhost:705")),
            Address::Tcp("localhost:705".into())
        );
        assert_eq!(
            Address::parse(Some("tcp:705")),
            Address::Tcp("127.0.0.1:705".into())
        );
    }

    #[test]
    fn getnext_and_bulk_walk_the_tree_in_order() {
        let t = tree();
        let r = |s: &str, include| SearchRange {
            start: o(s),
            include,
            end: Oid::default(),
        };
        assert_eq!(
            next(&t, &r("1.3.6.1.4.1.9586", false)).name,
            o("1.3.6.1.4.1.9586.100.5.1.1.0")
        );
        assert_eq!(
            next(&t, &r("1.3.6.1.4.1.9586.100.5.1.1.0", true)).name,
            o("1.3.6.1.4.1.9586.100.5.1.1.0")
        );
        assert_eq!(
            next(&t, &r("1.3.6.1.4.1.9586.100.5.1.1.0", false)).name,
            o("1.3.6.1.4.1.9586.100.5.1.2.0")
        );
        assert_eq!(
            next(&t, &r("1.3.6.1.4.1.9586.100.5.1.2.0", false)).value,
            Value::EndOfMibView
        );
        let ended = SearchRange {
            end: o("1.3.6.1.4.1.9586.100.5.1.2"),
            ..r("1.3.6.1.4.1.9586.100.5.1.1.0", false)
        };
        assert_eq!(next(&t, &ended).value, Value::EndOfMibView);
        let b = bulk(&t, 0, 5, &[r("1.3.6.1.4.1", false)]);
        assert_eq!(b.len(), 3);
        assert_eq!(b[2].value, Value::EndOfMibView);
    }

    #[test]
    fn get_tells_missing_instances_from_missing_objects() {
        let t = tree();
        let agent = Agent {
            registrations: vec![o("1.3.6.1.4.1.9586.100.5.1.1")],
            caps: vec![],
        };
        assert_eq!(
            get(&t, &agent, &o("1.3.6.1.4.1.9586.100.5.1.1.0")).value,
            Value::Integer(1)
        );
        assert_eq!(
            get(&t, &agent, &o("1.3.6.1.4.1.9586.100.5.1.1.1")).value,
            Value::NoSuchInstance
        );
        assert_eq!(
            get(&t, &agent, &o("1.3.6.1.4.1.9586.100.5.9")).value,
            Value::NoSuchObject
        );
    }
}
