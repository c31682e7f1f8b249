//! Which parts of keepalived a configuration has, from its root statements: the parent
//! starts the VRRP child only for VRRP content and the checker only for `virtual_server`
//! and the status file lists the instance names.
//!
//! This is a light scan of the preprocessed lines (braces and first words at depth 0), so
//! the process model does not depend on the typed model of every block.
#![forbid(unsafe_code)]

use serde::Serialize;

/// Root keywords that make keepalived start its VRRP child.
const VRRP_ROOTS: &[&str] = &[
    "vrrp_instance",
    "vrrp_sync_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
];

/// What the configuration holds, by section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sections {
    pub vrrp: bool,
    pub checker: bool,
    /// A `bfd_instance`: keepalived starts its BFD child.
    pub bfd: bool,
    pub vrrp_instances: Vec<String>,
    pub sync_groups: Vec<String>,
    /// `virtual_server` arguments joined by a space (`192.0.2.1 80`, `fwmark 1`, `group G`).
    pub virtual_servers: Vec<String>,
}

impl Sections {
    /// Scans preprocessed lines.
    pub fn scan<'a>(lines: impl IntoIterator<Item = &'a str>) -> Sections {
        let mut s = Sections::default();
        let mut depth = 0usize;
        for line in lines {
            // Inside a block, a line without braces can neither hold a root statement nor
            // change the depth (most lines of a large configuration).
            if depth > 0 && !line.contains(['{', '}']) {
                continue;
            }
            // A statement starts at the beginning of each line and after each brace.
            let mut stmt: Vec<String> = Vec::new();
            let flush = |stmt: &mut Vec<String>, depth: usize, s: &mut Sections| {
                if depth == 0 {
                    s.root(stmt);
                }
                stmt.clear();
            };
            for tok in words(line) {
                match tok.as_str() {
                    "{" => {
                        flush(&mut stmt, depth, &mut s);
                        depth += 1;
                    }
                    "}" => {
                        flush(&mut stmt, depth, &mut s);
                        depth = depth.saturating_sub(1);
                    }
                    _ => stmt.push(tok),
                }
            }
            flush(&mut stmt, depth, &mut s);
        }
        s
    }

    fn root(&mut self, stmt: &[String]) {
        let Some((kw, args)) = stmt.split_first() else {
            return;
        };
        if VRRP_ROOTS.contains(&kw.as_str()) {
            self.vrrp = true;
        }
        let name = args.join(" ");
        match kw.as_str() {
            "vrrp_instance" if !name.is_empty() => self.vrrp_instances.push(name),
            "vrrp_sync_group" if !name.is_empty() => self.sync_groups.push(name),
            "bfd_instance" => self.bfd = true,
            "virtual_server" => {
                self.checker = true;
                if !name.is_empty() {
                    self.virtual_servers.push(name);
                }
            }
            _ => {}
        }
    }
}

/// Words of a line: `{` and `}` are words of their own, `#` and `!` start a comment,
/// double quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut started = false;
    for c in line.chars() {
        if in_quote {
            if c == '"' {
                in_quote = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                started = true;
            }
            '#' | '!' => break,
            '{' | '}' => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_roots_only() {
        let text = r#"
global_defs { router_id r1 }
# vrrp_instance COMMENTED {
vrrp_instance VI_1 {
    state MASTER
    track_script { vrrp_instance }
    virtual_ipaddress {
        192.0.2.1/24
    }
} vrrp_instance "VI 2"
{
}
virtual_server 192.0.2.10 80 { real_server 192.0.2.20 80 { TCP_CHECK { } } }
"#;
        let s = Sections::scan(text.lines());
        assert!(s.vrrp && s.checker);
        assert_eq!(s.vrrp_instances, ["VI_1", "VI 2"]);
        assert_eq!(s.virtual_servers, ["192.0.2.10 80"]);
    }

    #[test]
    fn static_and_empty() {
        let s = Sections::scan(["static_ipaddress {", "192.0.2.1/24 dev eth0", "}"]);
        assert!(s.vrrp && !s.checker);
        let s = Sections::scan(["global_defs {", "}", "! vrrp_instance X {"]);
        assert_eq!(s, Sections::default());
    }
}
