//! What the process model asks of a child's work (the VRRP engine, the checkers): the
//! [`Service`] contract, the configuration it is handed and how it fails. A leaf: the
//! services implement it and the daemon runs them, without either naming the other.

use std::future::Future;

use crate::config::sections::Sections;
use crate::config::Loaded;

/// Exit statuses.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FATAL: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const MISSING_PERMISSION: i32 = 4;
}

/// The version keepalived 2.2.7 reports (banner, SNMP version object, status file).
pub const VERSION_BANNER: &str = "Keepalived v2.2.7 (01/16,2022)";

/// The configuration handed to a service.
pub struct ChildConfig {
    pub loaded: Loaded,
    pub sections: Sections,
}

/// A service failure that ends the child; `status` tells the parent whether to respawn
/// (1 fatal, 2 config, 4 missing permission are permanent:).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: i32,
    pub message: String,
}

impl ServiceError {
    pub fn config(message: impl Into<String>) -> Self {
        ServiceError {
            status: exit::CONFIG,
            message: message.into(),
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        ServiceError {
            status: exit::FATAL,
            message: message.into(),
        }
    }
}

/// Work a service asks of the process running it outside any signal (the D-Bus PrintData
/// method): the runner does it as for the signal, then fires `done`.
#[derive(Debug)]
pub struct Request {
    pub ask: Ask,
    pub done: tokio::sync::oneshot::Sender<()>,
}

/// What a [`Request`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The data dump, as SIGUSR1 writes it.
    DataDump,
    /// The stats dump, as SIGUSR2 (or, clearing, SIGRTMAX-1) writes it.
    StatsDump { clear: bool },
}

/// What a child runs. Methods run on the child's current-thread runtime inside a
/// `LocalSet`, so `tokio::task::spawn_local` is available.
pub trait Service {
    /// Takes the first configuration and starts working.
    fn start(&mut self, cfg: &ChildConfig) -> impl Future<Output = Result<(), ServiceError>>;
    /// Applies a new configuration, keeping the state of what still exists.
    fn reload(&mut self, cfg: &ChildConfig) -> impl Future<Output = Result<(), ServiceError>>;
    /// SIGTERM's first step, before any logging or file writing: what peers must see at
    /// once (VRRP: the MASTERs' priority-0 adverts).
    fn stop_first(&mut self) {}
    /// SIGTERM: release what the service holds (unless `-V`/`-I`).
    fn shutdown(&mut self) -> impl Future<Output = ()>;
    /// SIGUSR1 (`keepalived.data` / `keepalived_check.data`).
    fn data_dump(&self) -> String;
    /// SIGUSR2 / SIGRTMAX-1 (`keepalived.stats`), zeroing the counters if `clear`.
    fn stats_dump(&mut self, clear: bool) -> String;
    /// SIGRTMIN+2 (`keepalived.json`).
    fn json_dump(&self) -> serde_json::Value;
    /// This process's `detail` in the status file.
    fn status(&self) -> serde_json::Value;
    /// A cheap fingerprint of [`Service::status`]: equal keys mean an equal detail for
    /// the same configuration. `None`: the status itself is compared at every refresh
    /// (built only to be thrown away most of the time: 5,000 real servers).
    fn status_key(&self) -> Option<Vec<u64>> {
        None
    }
    /// The next [`Request`] of the service (never, by default). Cancel-safe: the runner
    /// polls it in a `select!`.
    fn request(&mut self) -> impl Future<Output = Request> {
        std::future::pending()
    }
}
