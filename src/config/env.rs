//! What typing the configuration needs to know about the machine: keepalived resolves users,
//! iproute2 table names, protocol names and host names while it parses, and takes defaults
//! from the host name and the effective user. The model asks a [`HostEnv`] given from
//! outside: the daemon and `-t` give the real machine (`config::host::SystemHost`), tests
//! a [`FixedHost`], so their results do not depend on the machine they run on.
#![forbid(unsafe_code)]

/// The user keepalived runs scripts as when `script_user` is not set.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// The machine as the configuration model sees it.
pub trait HostEnv: std::fmt::Debug + Send + Sync {
    /// The host name (default `router_id`, mail sender and HELO name).
    fn hostname(&self) -> String;
    /// The name of the effective user, if it has one (default mail sender).
    fn user_name(&self) -> Option<String>;
    /// Whether the user database knows `name`.
    fn user_exists(&self, name: &str) -> bool;
    /// Whether the group database knows `name`.
    fn group_exists(&self, name: &str) -> bool;
    /// The number of `name` in iproute2's table file `file` (`rt_tables`, `rt_protos`,
    /// `rt_scopes`, `rt_realms`, `rt_dsfield`, `group`).
    fn iproute2_id(&self, file: &str, name: &str) -> Option<u32>;
    /// The number of an IP protocol name or alias (getprotobyname).
    fn ip_protocol(&self, name: &str) -> Option<u8>;
    /// Whether a host name resolves to at least one address (getaddrinfo).
    fn resolves(&self, name: &str, port: u16) -> bool;
}

/// A host described by values: the same answers on every machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedHost {
    pub hostname: String,
    pub user_name: Option<String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// `(file, name, number)` entries of iproute2's table files.
    pub iproute2: Vec<(String, String, u32)>,
    /// `(name or alias, number)` of IP protocols.
    pub protocols: Vec<(String, u8)>,
    /// Host names that resolve.
    pub resolvable: Vec<String>,
}

impl Default for FixedHost {
    /// `testhost`, run by `root`; users `root` and `nobody`, groups `root` and `nogroup`
    /// (no `keepalived_script`); no iproute2 table files; the protocols `ip`, `icmp`, `tcp`
    /// and `udp`; only `localhost` resolves.
    fn default() -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        FixedHost {
            hostname: "testhost".into(),
            user_name: Some("root".into()),
            users: strings(&["root", "nobody"]),
            groups: strings(&["root", "nogroup"]),
            iproute2: Vec::new(),
            protocols: [("ip", 0), ("icmp", 1), ("tcp", 6), ("udp", 17)]
                .iter()
                .map(|(n, p)| ((*n).to_owned(), *p))
                .collect(),
            resolvable: strings(&["localhost"]),
        }
    }
}

impl HostEnv for FixedHost {
    fn hostname(&self) -> String {
        self.hostname.clone()
    }

    fn user_name(&self) -> Option<String> {
        self.user_name.clone()
    }

    fn user_exists(&self, name: &str) -> bool {
        self.users.iter().any(|u| u == name)
    }

    fn group_exists(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g == name)
    }

    fn iproute2_id(&self, file: &str, name: &str) -> Option<u32> {
        self.iproute2
            .iter()
            .find(|(f, n, _)| f == file && n == name)
            .map(|e| e.2)
    }

    fn ip_protocol(&self, name: &str) -> Option<u8> {
        self.protocols.iter().find(|(n, _)| n == name).map(|e| e.1)
    }

    fn resolves(&self, name: &str, _port: u16) -> bool {
        self.resolvable.iter().any(|h| h == name)
    }
}

/// The fixed host shared by tests that do not set one (see [`FixedHost::default`]).
pub fn fixed() -> &'static FixedHost {
    static FIXED: std::sync::OnceLock<FixedHost> = std::sync::OnceLock::new();
    FIXED.get_or_init(FixedHost::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_host_answers_from_its_values() {
        let mut h = FixedHost::default();
        h.iproute2.push(("rt_tables".into(), "custom".into(), 100));
        assert_eq!(h.iproute2_id("rt_tables", "custom"), Some(100));
        assert_eq!(h.iproute2_id("rt_protos", "custom"), None);
        assert_eq!(h.ip_protocol("tcp"), Some(6));
        assert!(h.user_exists("nobody") && !h.user_exists(DEFAULT_SCRIPT_USER));
        assert!(h.group_exists("nogroup") && !h.group_exists("nobody"));
        assert!(h.resolves("localhost", 25) && !h.resolves("example.org", 25));
        assert_eq!(h.hostname(), "testhost");
    }
}
