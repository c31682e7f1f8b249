//! The `org.keepalived.Vrrp1` D-Bus service of the VRRP child (`enable_dbus`), as keepalived
//! 2.2.7 serves it on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` honoured): a `.Vrrp` object
//! (PrintData, PrintStats, PrintStatsClear, ReloadConfig; VrrpStarted, VrrpReloaded,
//! VrrpStopped) and one `.Instance` object per instance (SendGarp; VrrpStatusChange; Name,
//! State), described by contrib/dbus/*.xml.
//!
//! The bus runs on its own task and never holds the engine: it asks the service for what
//! it needs ([`Ask`], answered by a task of `service.rs`) and the runner for the dumps
//! ([`crate::service::Request`]); state changes reach it through an unbounded channel
//! ([`Link`]), so a dead or slow bus never delays an advert. Method calls are answered by
//! hand (zbus's connection, not its object server) so that every object, intermediate node
//! and property value is what keepalived's GDBus serves, `Name`'s `(s)` value included.
//! Unlike keepalived (whose GDBus system connection exits when the bus goes away), a lost
//! bus is reconnected every second and the name owned again.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tracing::info;
use zbus::message::{Message, Type as MessageType};
use zbus::zvariant::{StructureBuilder, Value};
use zbus::{Connection, MessageStream};

use super::machine::State;
use crate::config::model::vrrp::instance::{self as model, Family};
use crate::notify::NotifyState;
use crate::service::{Ask as RunnerAsk, Request};

/// The bus name keepalived owns unless `dbus_service_name` says otherwise.
pub const SERVICE_NAME: &str = "org.keepalived.Vrrp1";
pub const VRRP_INTERFACE: &str = "org.keepalived.Vrrp1.Vrrp";
pub const INSTANCE_INTERFACE: &str = "org.keepalived.Vrrp1.Instance";
const OBJECT_ROOT: &str = "/org/keepalived/Vrrp1";
/// keepalived names an instance without an interface so.
const NO_INTERFACE: &str = "none";
/// How long a method call waits for the service before failing.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);
/// Between two connection attempts.
const RECONNECT: Duration = Duration::from_secs(1);
/// keepalived waits that long for its D-Bus thread at stop.
const STOP_LIMIT: Duration = Duration::from_secs(1);

const ERR_INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
const ERR_UNKNOWN_METHOD: &str = "org.freedesktop.DBus.Error.UnknownMethod";
const ERR_UNKNOWN_OBJECT: &str = "org.freedesktop.DBus.Error.UnknownObject";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const INTROSPECTABLE: &str = "org.freedesktop.DBus.Introspectable";
const PEER: &str = "org.freedesktop.DBus.Peer";

/// One path element as keepalived writes it: every character but A-Z, a-z, 0-9 becomes `_`.
pub fn path_element(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The object paths: `/org/keepalived/Vrrp1[/<net_namespace>][/<instance>]/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    base: String,
}

impl Paths {
    pub fn new(net_namespace: Option<&str>, instance: Option<&str>) -> Paths {
        let mut base = OBJECT_ROOT.to_owned();
        for part in [net_namespace, instance].into_iter().flatten() {
            base.push('/');
            base.push_str(part);
        }
        Paths { base }
    }

    /// The `.Vrrp` object.
    pub fn vrrp(&self) -> String {
        format!("{}/Vrrp", self.base)
    }

    /// An instance's object: `.../Instance/<interface>/<vrid>/<IPv4|IPv6>`.
    pub fn instance(&self, ifname: Option<&str>, vrid: u8, family: Family) -> String {
        let family = match family {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        };
        format!(
            "{}/Instance/{}/{vrid}/{family}",
            self.base,
            path_element(ifname.unwrap_or(NO_INTERFACE))
        )
    }

    /// The object of a configured instance (its configured interface, not its VMAC).
    pub fn of(&self, cfg: &model::Instance) -> String {
        self.instance(cfg.interface.as_deref(), cfg.vrid.unwrap_or(0), cfg.family)
    }
}

/// The number a state has in VrrpStatusChange and the State property (keepalived's
/// VRRP_STATE_* values).
pub fn state_code(s: NotifyState) -> u32 {
    match s {
        NotifyState::Backup => 1,
        NotifyState::Master => 2,
        NotifyState::Fault => 3,
        NotifyState::Deleted => 97,
        NotifyState::Stop => 98,
    }
}

/// The State property: (code, name).
pub fn state_value(s: State) -> (u32, &'static str) {
    match s {
        State::Init => (0, "Init"),
        State::Backup => (1, "Backup"),
        State::Master => (2, "Master"),
        State::Fault => (3, "Fault"),
        State::Stop => (98, "Stop"),
    }
}

/// An instance as the bus shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub path: String,
    pub name: String,
    pub state: State,
}

/// What the bus asks of the VRRP child's engine.
#[derive(Debug)]
pub enum Ask {
    /// Every instance.
    Objects(oneshot::Sender<Vec<Object>>),
    /// The instance at a path, if any.
    Instance {
        path: String,
        reply: oneshot::Sender<Option<Object>>,
    },
    /// SendGarp: one GARP/NA per VIP of the instance at a path; its name if it exists.
    SendGarp {
        path: String,
        reply: oneshot::Sender<Option<String>>,
    },
}

/// What the VRRP child tells the bus, in order.
#[derive(Debug)]
enum Out {
    Status { path: String, code: u32 },
    Reloaded,
    Stop(oneshot::Sender<()>),
}

/// The engine's side of the bus: state changes go out through it (never blocking). Empty
/// while the bus is not enabled.
#[derive(Clone, Default)]
pub struct Link(Rc<RefCell<Option<Sender>>>);

struct Sender {
    paths: Paths,
    tx: mpsc::UnboundedSender<Out>,
    /// During a reload: the instance paths from before, and the states of new instances,
    /// held until VrrpReloaded (keepalived creates their objects and starts them after).
    held: Option<(BTreeSet<String>, Vec<Out>)>,
}

impl Link {
    /// An instance's notify: VrrpStatusChange, as keepalived sends with its notifies.
    pub fn status(&self, cfg: &model::Instance, state: NotifyState) {
        if let Ok(mut l) = self.0.try_borrow_mut() {
            if let Some(s) = l.as_mut() {
                let path = s.paths.of(cfg);
                let new = s
                    .held
                    .as_ref()
                    .is_some_and(|(before, _)| !before.contains(&path));
                let o = Out::Status {
                    path,
                    code: state_code(state),
                };
                match &mut s.held {
                    Some((_, held)) if new => held.push(o),
                    _ => {
                        let _ = s.tx.send(o);
                    }
                }
            }
        }
    }

    /// Before a reload: `before` are the instances' paths now.
    pub fn hold(&self, before: impl IntoIterator<Item = String>) {
        if let Ok(mut l) = self.0.try_borrow_mut() {
            if let Some(s) = l.as_mut() {
                s.held = Some((before.into_iter().collect(), Vec::new()));
            }
        }
    }

    fn send(&self, o: Out) {
        if let Ok(l) = self.0.try_borrow() {
            if let Some(s) = l.as_ref() {
                let _ = s.tx.send(o);
            }
        }
    }

    /// VrrpReloaded, then the held states.
    fn reloaded(&self) {
        if let Ok(mut l) = self.0.try_borrow_mut() {
            if let Some(s) = l.as_mut() {
                let held = s.held.take().map(|h| h.1).unwrap_or_default();
                for o in std::iter::once(Out::Reloaded).chain(held) {
                    let _ = s.tx.send(o);
                }
            }
        }
    }
}

/// The running bus task.
pub struct Bus {
    link: Link,
    paths: Paths,
    task: tokio::task::JoinHandle<()>,
}

impl Bus {
    /// Starts owning `name` on the system bus; `link` starts carrying state changes.
    pub fn start(
        name: &str,
        paths: Paths,
        link: Link,
        asks: mpsc::UnboundedSender<Ask>,
        runner: mpsc::UnboundedSender<Request>,
    ) -> Bus {
        let (tx, rx) = mpsc::unbounded_channel();
        *link.0.borrow_mut() = Some(Sender {
            paths: paths.clone(),
            tx,
            held: None,
        });
        let server = Server {
            name: name.to_owned(),
            vrrp_path: paths.vrrp(),
            asks,
            runner,
            objects: BTreeMap::new(),
        };
        let task = tokio::task::spawn_local(server.run(rx));
        Bus { link, paths, task }
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// After a reload: objects follow the instances, then VrrpReloaded and the new
    /// instances' states held since [`Link::hold`].
    pub fn reloaded(&self) {
        self.link.reloaded();
    }

    /// Removes the objects, sends VrrpStopped and leaves the bus (bounded).
    pub async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        self.link.send(Out::Stop(tx));
        *self.link.0.borrow_mut() = None;
        if tokio::time::timeout(STOP_LIMIT, rx).await.is_err() {
            info!("DBus thread termination timed out");
        }
        self.task.abort();
    }
}

/// The bus task's state.
struct Server {
    name: String,
    /// The `.Vrrp` object's path.
    vrrp_path: String,
    asks: mpsc::UnboundedSender<Ask>,
    runner: mpsc::UnboundedSender<Request>,
    /// The registered instance objects: path -> instance name.
    objects: BTreeMap<String, String>,
}

/// Why the serving loop ended.
enum End {
    Stopped,
    Lost,
}

impl Server {
    async fn run(mut self, mut out: mpsc::UnboundedReceiver<Out>) {
        if zbus::names::WellKnownName::try_from(self.name.as_str()).is_err() {
            // keepalived's GDBus refuses such a name and never reaches the bus.
            info!("DBus service name {} is not a valid bus name", self.name);
            while let Some(o) = out.recv().await {
                if let Out::Stop(done) = o {
                    let _ = done.send(());
                    return;
                }
            }
            return;
        }
        // "Lost the name" is said once per loss, not at every failed attempt.
        let mut logged = false;
        loop {
            match Connection::system().await {
                Ok(conn) => match self.serve(&conn, &mut out).await {
                    End::Stopped => return,
                    End::Lost => {
                        info!("Lost the name {} on the session bus", self.name);
                        self.objects.clear();
                        logged = true;
                    }
                },
                Err(e) => {
                    // keepalived's words when its GDBus finds no bus (then it never retries).
                    if !logged {
                        info!("Lost the name {} on the session bus", self.name);
                        logged = true;
                    }
                    tracing::debug!("DBus system bus: {e}");
                }
            }
            // Disconnected: state changes are dropped (keepalived drops them too before
            // the bus is acquired); a stop ends the task.
            let pause = tokio::time::sleep(RECONNECT);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    _ = &mut pause => break,
                    o = out.recv() => match o {
                        Some(Out::Stop(done)) => {
                            info!("Released DBus");
                            let _ = done.send(());
                            return;
                        }
                        Some(_) => {}
                        None => return,
                    }
                }
            }
        }
    }

    /// Registers the objects, announces them, owns the name and answers calls until the
    /// bus goes away or the child stops.
    async fn serve(&mut self, conn: &Connection, out: &mut mpsc::UnboundedReceiver<Out>) -> End {
        let mut stream = MessageStream::from(conn);
        info!("Acquired DBus bus {}", self.name);
        let objects = self.ask_objects().await;
        self.objects = objects
            .iter()
            .map(|o| (o.path.clone(), o.name.clone()))
            .collect();
        // keepalived: no instance, no VrrpStarted and no states (the Vrrp object still is).
        if !objects.is_empty() {
            emit(conn, &self.vrrp_path, VRRP_INTERFACE, "VrrpStarted", &()).await;
            for o in &objects {
                let code = state_value(o.state).0;
                emit(conn, &o.path, INSTANCE_INTERFACE, "VrrpStatusChange", &code).await;
            }
        }
        match request_name(conn, &self.name).await {
            Ok(true) => info!("Acquired the name {} on the session bus", self.name),
            // Queued behind another owner, or refused by the bus policy: GDBus reports
            // both so and keeps its connection (no retry loop).
            Ok(false) | Err(zbus::Error::MethodError(..)) => {
                info!("Lost the name {} on the session bus", self.name)
            }
            Err(_) => return End::Lost,
        }
        loop {
            tokio::select! {
                m = stream.next() => match m {
                    Some(Ok(m)) => {
                        if m.message_type() == MessageType::MethodCall {
                            self.call(conn, &m).await;
                        }
                    }
                    Some(Err(_)) | None => return End::Lost,
                },
                o = out.recv() => match o {
                    Some(Out::Status { path, code }) => {
                        emit(conn, &path, INSTANCE_INTERFACE, "VrrpStatusChange", &code).await;
                    }
                    Some(Out::Reloaded) => {
                        self.reload().await;
                        emit(conn, &self.vrrp_path, VRRP_INTERFACE, "VrrpReloaded", &()).await;
                    }
                    Some(Out::Stop(done)) => {
                        self.objects.clear();
                        emit(conn, &self.vrrp_path, VRRP_INTERFACE, "VrrpStopped", &()).await;
                        info!("Released DBus");
                        let _ = done.send(());
                        return End::Stopped;
                    }
                    None => return End::Stopped,
                }
            }
        }
    }

    async fn ask_objects(&self) -> Vec<Object> {
        let (tx, rx) = oneshot::channel();
        if self.asks.send(Ask::Objects(tx)).is_err() {
            return Vec::new();
        }
        tokio::time::timeout(ANSWER_LIMIT, rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// Objects follow the instances: a removed one is logged as keepalived does.
    async fn reload(&mut self) {
        let now: BTreeMap<String, String> = self
            .ask_objects()
            .await
            .into_iter()
            .map(|o| (o.path, o.name))
            .collect();
        for (path, name) in &self.objects {
            if !now.contains_key(path) {
                info!("Deleted DBus object for instance {name}");
            }
        }
        self.objects = now;
    }

    /// Every path served: the Vrrp object and the instances.
    fn registered(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.vrrp_path.as_str()).chain(self.objects.keys().map(String::as_str))
    }

    async fn call(&self, conn: &Connection, m: &Message) {
        let h = m.header();
        let (Some(path), Some(member)) = (h.path(), h.member()) else {
            return;
        };
        let path = path.as_str().to_owned();
        let member = member.as_str().to_owned();
        let iface = h.interface().map(|i| i.as_str().to_owned());
        let kind = if path == self.vrrp_path {
            Kind::Vrrp
        } else if self.objects.contains_key(&path) {
            Kind::Instance
        } else {
            Kind::Node
        };
        let reply = match (iface.as_deref(), member.as_str()) {
            (Some(PEER) | None, "Ping") => Reply::Empty,
            (Some(PEER) | None, "GetMachineId") => Reply::Text(machine_id()),
            (Some(INTROSPECTABLE) | None, "Introspect") => {
                Reply::Text(introspect(kind, &children(self.registered(), &path)))
            }
            (Some(PROPERTIES), _) if kind != Kind::Node => {
                self.properties(kind, &path, &member, m).await
            }
            (Some(VRRP_INTERFACE) | None, _) if kind == Kind::Vrrp => {
                self.vrrp_method(&member).await
            }
            (Some(INSTANCE_INTERFACE) | None, "SendGarp") if kind == Kind::Instance => {
                self.send_garp(&path).await
            }
            (_, _) if kind == Kind::Node => Reply::Error(
                ERR_UNKNOWN_OBJECT,
                format!("Object does not exist at path “{path}”"),
            ),
            (i, _) => Reply::Error(
                ERR_UNKNOWN_METHOD,
                match i {
                    Some(i) if known_interface(kind, i) => format!("No such method “{member}”"),
                    Some(i) => format!("No such interface “{i}” on object at path {path}"),
                    None => format!("No such method “{member}”"),
                },
            ),
        };
        let sent = match reply {
            Reply::Empty => conn.reply(&h, &()).await,
            Reply::Text(t) => conn.reply(&h, &t).await,
            Reply::Value(v) => conn.reply(&h, &v).await,
            Reply::Dict(d) => conn.reply(&h, &d).await,
            Reply::Error(name, text) => conn.reply_error(&h, name, &text).await,
        };
        if let Err(e) = sent {
            tracing::debug!("DBus reply failed: {e}");
        }
        if kind == Kind::Vrrp && member == "ReloadConfig" {
            // keepalived's parent reloads every child on SIGHUP.
            let _ =
                nix::sys::signal::kill(nix::unistd::getppid(), nix::sys::signal::Signal::SIGHUP);
        }
    }

    async fn vrrp_method(&self, member: &str) -> Reply {
        let ask = match member {
            "PrintData" => {
                info!("Printing VRRP data on DBus request");
                RunnerAsk::DataDump
            }
            "PrintStats" => {
                info!("Printing VRRP stats on DBus request");
                RunnerAsk::StatsDump { clear: false }
            }
            "PrintStatsClear" => {
                info!("Printing and clearing VRRP stats on DBus request");
                RunnerAsk::StatsDump { clear: true }
            }
            "ReloadConfig" => return Reply::Empty,
            _ => return Reply::Error(ERR_UNKNOWN_METHOD, format!("No such method “{member}”")),
        };
        // Like keepalived, the reply comes once the file is written.
        let (done, wait) = oneshot::channel();
        if self.runner.send(Request { ask, done }).is_ok() {
            let _ = tokio::time::timeout(ANSWER_LIMIT, wait).await;
        }
        Reply::Empty
    }

    async fn send_garp(&self, path: &str) -> Reply {
        let (reply, rx) = oneshot::channel();
        let _ = self.asks.send(Ask::SendGarp {
            path: path.to_owned(),
            reply,
        });
        match tokio::time::timeout(ANSWER_LIMIT, rx).await {
            Ok(Ok(Some(_))) => Reply::Empty,
            _ => Reply::Error(ERR_INVALID_ARGS, not_found(path)),
        }
    }

    async fn instance(&self, path: &str) -> Option<Object> {
        let (reply, rx) = oneshot::channel();
        self.asks
            .send(Ask::Instance {
                path: path.to_owned(),
                reply,
            })
            .ok()?;
        tokio::time::timeout(ANSWER_LIMIT, rx).await.ok()?.ok()?
    }

    /// org.freedesktop.DBus.Properties on the Vrrp object (none) or an instance.
    async fn properties(&self, kind: Kind, path: &str, member: &str, m: &Message) -> Reply {
        let own = match kind {
            Kind::Vrrp => VRRP_INTERFACE,
            _ => INSTANCE_INTERFACE,
        };
        match member {
            "Get" => {
                let Ok((iface, prop)) = m.body().deserialize::<(String, String)>() else {
                    return Reply::Error(
                        ERR_INVALID_ARGS,
                        "Type of message, “()”, does not match expected type “(ss)”".into(),
                    );
                };
                if iface != own {
                    return Reply::Error(ERR_INVALID_ARGS, format!("No such interface “{iface}”"));
                }
                if kind == Kind::Vrrp || !matches!(prop.as_str(), "Name" | "State") {
                    return Reply::Error(ERR_INVALID_ARGS, format!("No such property “{prop}”"));
                }
                let Some(o) = self.instance(path).await else {
                    return Reply::Error(ERR_INVALID_ARGS, not_found(path));
                };
                match property(&o, &prop) {
                    Some(v) => Reply::Value(v),
                    None => Reply::Error(ERR_INVALID_ARGS, not_found(path)),
                }
            }
            "GetAll" => {
                let Ok(iface) = m.body().deserialize::<String>() else {
                    return Reply::Error(
                        ERR_INVALID_ARGS,
                        "Type of message, “()”, does not match expected type “(s)”".into(),
                    );
                };
                if iface != own {
                    return Reply::Error(ERR_INVALID_ARGS, format!("No such interface “{iface}”"));
                }
                // in the interface's order (Name, State), as GDBus lists them
                let mut all = BTreeMap::new();
                if kind == Kind::Instance {
                    let Some(o) = self.instance(path).await else {
                        return Reply::Error(ERR_INVALID_ARGS, not_found(path));
                    };
                    for p in ["Name", "State"] {
                        if let Some(v) = property(&o, p) {
                            all.insert(p.to_owned(), v);
                        }
                    }
                }
                Reply::Dict(all)
            }
            "Set" => Reply::Error(
                ERR_INVALID_ARGS,
                "No such property or property not writable".into(),
            ),
            _ => Reply::Error(ERR_UNKNOWN_METHOD, format!("No such method “{member}”")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vrrp,
    Instance,
    /// An intermediate node (or nothing): only introspection.
    Node,
}

enum Reply {
    Empty,
    Text(String),
    Value(Value<'static>),
    Dict(BTreeMap<String, Value<'static>>),
    Error(&'static str, String),
}

fn known_interface(kind: Kind, i: &str) -> bool {
    matches!(i, PEER | INTROSPECTABLE | PROPERTIES)
        || (kind == Kind::Vrrp && i == VRRP_INTERFACE)
        || (kind == Kind::Instance && i == INSTANCE_INTERFACE)
}

/// keepalived's error for an instance that went away: `Instance 'eth0/1/IPv4' not found`.
fn not_found(path: &str) -> String {
    let tail: Vec<&str> = path.rsplitn(4, '/').take(3).collect();
    let ids: Vec<&str> = tail.into_iter().rev().collect();
    format!("Instance '{}' not found", ids.join("/"))
}

/// A property's value as keepalived's GDBus returns it: Name is `(s)` (its handler wraps
/// the string in a tuple although the interface says `s`), State `(us)`.
fn property(o: &Object, name: &str) -> Option<Value<'static>> {
    let s = match name {
        "Name" => StructureBuilder::new().add_field(o.name.clone()).build(),
        "State" => {
            let (code, text) = state_value(o.state);
            StructureBuilder::new()
                .add_field(code)
                .add_field(text.to_owned())
                .build()
        }
        _ => return None,
    };
    s.ok().map(Value::Structure)
}

/// The names of the nodes directly below `path` among the served paths.
fn children<'a>(served: impl Iterator<Item = &'a str>, path: &str) -> Vec<String> {
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    let set: BTreeSet<String> = served
        .filter_map(|p| p.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    set.into_iter().collect()
}

fn machine_id() -> String {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

const STANDARD_INTERFACES: &str = r#"  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="s" name="property_name" direction="in"/>
      <arg type="v" name="value" direction="out"/>
    </method>
    <method name="GetAll">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="a{sv}" name="properties" direction="out"/>
    </method>
    <method name="Set">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="s" name="property_name" direction="in"/>
      <arg type="v" name="value" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg type="s" name="interface_name"/>
      <arg type="a{sv}" name="changed_properties"/>
      <arg type="as" name="invalidated_properties"/>
    </signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg type="s" name="xml_data" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId">
      <arg type="s" name="machine_uuid" direction="out"/>
    </method>
  </interface>
"#;

const VRRP_XML: &str = r#"  <interface name="org.keepalived.Vrrp1.Vrrp">
    <method name="PrintData"/>
    <method name="PrintStats"/>
    <method name="PrintStatsClear"/>
    <method name="ReloadConfig"/>
    <signal name="VrrpStarted"/>
    <signal name="VrrpReloaded"/>
    <signal name="VrrpStopped"/>
  </interface>
"#;

const INSTANCE_XML: &str = r#"  <interface name="org.keepalived.Vrrp1.Instance">
    <method name="SendGarp"/>
    <signal name="VrrpStatusChange">
      <arg type="u" name="status"/>
    </signal>
    <property type="s" name="Name" access="read"/>
    <property type="(us)" name="State" access="read"/>
  </interface>
"#;

/// The introspection XML of a node: an object's interfaces (as GDBus lists them), or an
/// intermediate node's children only.
fn introspect(kind: Kind, children: &[String]) -> String {
    let mut x = String::from(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n\
         \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n",
    );
    match kind {
        Kind::Vrrp => {
            x.push_str(STANDARD_INTERFACES);
            x.push_str(VRRP_XML);
        }
        Kind::Instance => {
            x.push_str(STANDARD_INTERFACES);
            x.push_str(INSTANCE_XML);
        }
        Kind::Node => {}
    }
    for c in children {
        let _ = writeln!(x, "  <node name=\"{c}\"/>");
    }
    x.push_str("</node>\n");
    x
}

/// RequestName without flags (GDBus's G_BUS_NAME_OWNER_FLAGS_NONE): whether we are the
/// primary owner (else queued).
async fn request_name(conn: &Connection, name: &str) -> zbus::Result<bool> {
    let reply = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "RequestName",
            &(name, 0u32),
        )
        .await?;
    let code: u32 = reply.body().deserialize()?;
    Ok(code == 1 || code == 4)
}

async fn emit<B>(conn: &Connection, path: &str, iface: &str, member: &str, body: &B)
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    if let Err(e) = conn
        .emit_signal(None::<&str>, path, iface, member, body)
        .await
    {
        info!("Emitting DBus signal {iface}.{member} on {path} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_elements_keep_only_alphanumerics() {
        assert_eq!(path_element("eth0"), "eth0");
        assert_eq!(path_element("eth0.100"), "eth0_100");
        assert_eq!(path_element("br-lan_1"), "br_lan_1");
    }

    #[test]
    fn paths_follow_keepalived() {
        let p = Paths::new(None, None);
        assert_eq!(p.vrrp(), "/org/keepalived/Vrrp1/Vrrp");
        assert_eq!(
            p.instance(Some("eth0.5"), 51, Family::V4),
            "/org/keepalived/Vrrp1/Instance/eth0_5/51/IPv4"
        );
        assert_eq!(
            p.instance(None, 7, Family::V6),
            "/org/keepalived/Vrrp1/Instance/none/7/IPv6"
        );
        let p = Paths::new(Some("blue"), Some("lb1"));
        assert_eq!(p.vrrp(), "/org/keepalived/Vrrp1/blue/lb1/Vrrp");
        assert_eq!(
            p.instance(Some("eth1"), 1, Family::V4),
            "/org/keepalived/Vrrp1/blue/lb1/Instance/eth1/1/IPv4"
        );
    }

    #[test]
    fn states_have_keepalived_numbers() {
        assert_eq!(state_value(State::Init), (0, "Init"));
        assert_eq!(state_value(State::Backup), (1, "Backup"));
        assert_eq!(state_value(State::Master), (2, "Master"));
        assert_eq!(state_value(State::Fault), (3, "Fault"));
        assert_eq!(state_value(State::Stop), (98, "Stop"));
        assert_eq!(state_code(NotifyState::Deleted), 97);
        assert_eq!(state_code(NotifyState::Stop), 98);
        assert_eq!(
            state_code(NotifyState::Master),
            state_value(State::Master).0
        );
    }

    #[test]
    fn intermediate_nodes_list_their_children() {
        let served = [
            "/org/keepalived/Vrrp1/Vrrp",
            "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4",
            "/org/keepalived/Vrrp1/Instance/eth0/52/IPv6",
        ];
        assert_eq!(children(served.into_iter(), "/"), ["org"]);
        assert_eq!(
            children(served.into_iter(), "/org/keepalived/Vrrp1"),
            ["Instance", "Vrrp"]
        );
        assert_eq!(
            children(served.into_iter(), "/org/keepalived/Vrrp1/Instance/eth0"),
            ["51", "52"]
        );
        assert!(children(served.into_iter(), "/org/keepalived/Vrrp1/Vrrp").is_empty());
    }

    #[test]
    fn missing_instance_error_names_its_ids() {
        assert_eq!(
            not_found("/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"),
            "Instance 'eth0/51/IPv4' not found"
        );
    }

    #[test]
    fn name_is_a_one_string_tuple_and_state_a_pair() {
        let o = Object {
            path: String::new(),
            name: "VI_1".into(),
            state: State::Master,
        };
        let name = property(&o, "Name").unwrap();
        assert_eq!(name.value_signature().to_string(), "(s)");
        let state = property(&o, "State").unwrap();
        assert_eq!(state.value_signature().to_string(), "(us)");
        assert!(property(&o, "Nope").is_none());
    }
}
