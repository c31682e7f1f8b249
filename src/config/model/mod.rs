//! The typed configuration, built from the generic tree.
//!
//! Each block type has a keyword table (`&[Kw<T>]`): one entry per keyword keepalived 2.2
//! knows in that block, with the function that stores its value. [`apply_block`] walks a
//! block's statements through the table, so unknown keywords, "did you mean" hints and
//! deprecated spellings are handled in one place. Value errors are reported through
//! [`Ctx`] with the class keepalived gives them and, as keepalived does, the keyword is
//! then ignored (the default stays).
#![forbid(unsafe_code)]

pub mod addr;
pub mod check;
pub mod global;
pub mod registry;
pub mod script;
pub mod statics;
#[cfg(test)]
pub(crate) mod testutil;
pub mod vrrp;

use std::net::IpAddr;
use std::time::Duration;

use super::diagnostic::{suggest, Diagnostic, Diagnostics, KaClass, Severity, Span};
use super::env::{self, HostEnv};
use super::tree::{Node, Token};

pub use script::Script;

/// The whole typed configuration.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Config {
    pub global: global::GlobalDefs,
    pub root: global::RootOptions,
    pub vrrp: vrrp::VrrpConfig,
    pub check: check::CheckConfig,
    pub statics: statics::StaticConfig,
}

/// One keyword of a block: its name and what to do with a statement that uses it.
pub struct Kw<T: 'static> {
    pub name: &'static str,
    pub apply: fn(&mut T, &Node, &mut Ctx),
    /// `Some(new)` for an old spelling that is still accepted with a deprecation warning.
    pub deprecated_for: Option<&'static str>,
    pub effect: Effect,
}

/// Whether the daemon acts on a keyword it accepts. Keywords we accept but do not act on
/// are never silent: `-t` and the daemon warn at each use (see `tests/keyword_guard.rs`,
/// which also checks that every applied keyword has an effect test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Applied,
    /// Accepted for compatibility, no effect yet; the text says why.
    NotImplemented(&'static str),
}

impl<T> Kw<T> {
    pub const fn new(name: &'static str, apply: fn(&mut T, &Node, &mut Ctx)) -> Self {
        Kw {
            name,
            apply,
            deprecated_for: None,
            effect: Effect::Applied,
        }
    }

    pub const fn deprecated(
        name: &'static str,
        replacement: &'static str,
        apply: fn(&mut T, &Node, &mut Ctx),
    ) -> Self {
        Kw {
            name,
            apply,
            deprecated_for: Some(replacement),
            effect: Effect::Applied,
        }
    }

    /// A keyword accepted without effect; `why` is shown to the user at each use.
    pub const fn unimplemented(
        name: &'static str,
        why: &'static str,
        apply: fn(&mut T, &Node, &mut Ctx),
    ) -> Self {
        Kw {
            name,
            apply,
            deprecated_for: None,
            effect: Effect::NotImplemented(why),
        }
    }

    /// Marks an entry built by a macro as accepted but without effect.
    pub const fn not_implemented(self, why: &'static str) -> Self {
        Kw {
            name: self.name,
            apply: self.apply,
            deprecated_for: self.deprecated_for,
            effect: Effect::NotImplemented(why),
        }
    }

    /// Applies one statement: the deprecation and "not implemented" warnings, then the
    /// keyword's own handler (which still validates the value as keepalived does).
    pub fn run(&self, target: &mut T, node: &Node, ctx: &mut Ctx) {
        if let Some(new) = self.deprecated_for {
            ctx.deprecated(node, new);
        }
        if let Effect::NotImplemented(why) = self.effect {
            ctx.not_implemented(node, why);
        }
        (self.apply)(target, node, ctx);
    }
}

/// Applies each statement of `nodes` to `target` through `table`. Unknown keywords are
/// reported as keepalived does (`Unknown keyword 'X'`) with a suggestion when one is close.
pub fn apply_block<T>(target: &mut T, nodes: &[Node], table: &[Kw<T>], ctx: &mut Ctx) {
    for node in nodes {
        match table.iter().find(|k| k.name == node.name()) {
            Some(kw) => kw.run(target, node, ctx),
            None => ctx.unknown_keyword(node, table.iter().map(|k| k.name)),
        }
    }
}

/// The context of a model build: where diagnostics go, the machine keepalived would ask
/// while parsing, plus value parsers that report problems the way keepalived classifies them.
pub struct Ctx<'a> {
    pub diags: &'a mut Diagnostics,
    pub host: &'a dyn HostEnv,
}

impl<'a> Ctx<'a> {
    /// A context on the fixed host of `env::FixedHost::default` (tests).
    pub fn new(diags: &'a mut Diagnostics) -> Self {
        Self::with_host(diags, env::fixed())
    }

    pub fn with_host(diags: &'a mut Diagnostics, host: &'a dyn HostEnv) -> Self {
        Ctx { diags, host }
    }

    /// A configuration error (keepalived's CONFIG_GENERAL_ERROR): `-t` exits 5.
    pub fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.error(KaClass::GeneralError, Some(span), msg);
    }

    /// An error of a given keepalived class.
    pub fn error_class(&mut self, class: KaClass, span: Span, msg: impl Into<String>) {
        self.diags.error(class, Some(span), msg);
    }

    /// A warning keepalived also reports (its CONFIG_WARNING): `-t` exits 5.
    pub fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.warning(KaClass::Warning, Some(span), msg);
    }

    /// A warning only we give: never changes the `-t` verdict.
    pub fn lint(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.lint(Some(span), msg);
    }

    /// A line keepalived logs while reading the file (not a config error): `-t`'s verdict is
    /// unchanged.
    pub fn note(&mut self, span: Span, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(Severity::Note, None, msg).at(span));
    }

    /// A keyword we accept without acting on it: a warning naming it, at its place, that
    /// leaves `-t`'s verdict as keepalived's (no keepalived class).
    pub fn not_implemented(&mut self, node: &Node, why: &str) {
        self.not_implemented_at(node.span(), node.name(), why);
    }

    /// The same for a word inside a statement (an option of an address, route or rule).
    pub fn not_implemented_at(&mut self, span: Span, word: &str, why: &str) {
        self.diags.lint(
            Some(span),
            format!("'{word}' is accepted but not implemented: {why}; it has no effect"),
        );
    }

    /// An old spelling, accepted. keepalived itself rejects spellings it dropped
    /// (`Unknown keyword`), so this is our lint and does not change the verdict; spellings
    /// keepalived still accepts as deprecated are reported by their handlers with
    /// [`Ctx::ka_deprecated`].
    pub fn deprecated(&mut self, node: &Node, replacement: &str) {
        self.diags.push(
            Diagnostic::new(
                Severity::Warning,
                None,
                format!(
                    "keyword '{}' is deprecated, use '{}' instead",
                    node.name(),
                    replacement
                ),
            )
            .at(node.span()),
        );
    }

    /// A keyword keepalived 2.2.8 added: applied as 2.2.8 does, but keepalived 2.2.7
    /// rejects it (`Unknown keyword`), so `-t` says so without changing its verdict.
    pub fn added_in_228(&mut self, node: &Node) {
        self.diags.push(
            Diagnostic::new(
                Severity::Note,
                None,
                format!(
                    "'{}' was added in keepalived 2.2.8; keepalived 2.2.7 rejects it",
                    node.name()
                ),
            )
            .at(node.span()),
        );
    }

    /// A deprecation keepalived reports too (CONFIG_DEPRECATED).
    pub fn ka_deprecated(&mut self, node: &Node, msg: impl Into<String>) {
        self.diags
            .warning(KaClass::Deprecated, Some(node.span()), msg.into());
    }

    pub fn unknown_keyword<'k>(&mut self, node: &Node, known: impl IntoIterator<Item = &'k str>) {
        let mut d = Diagnostic::new(
            Severity::Error,
            Some(KaClass::UnknownKeyword),
            format!("Unknown keyword '{}'", node.name()),
        )
        .at(node.span());
        if let Some(s) = suggest(node.name(), known) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
    }

    /// keepalived's fatal "missing a parameter" (word position is 1-based as it prints it).
    pub fn missing_param(&mut self, node: &Node, position: usize) {
        self.diags.error(
            KaClass::MissingParameter,
            Some(node.span()),
            format!(
                "*** Configuration line starting '{}' is missing a parameter after keyword '{}' at word position {}",
                node.name(),
                node.name(),
                position + 1
            ),
        );
    }

    /// keepalived's fatal "missing a parameter" for word `i` (0-based, the keyword being
    /// word 0) of a line of options (addresses, routes, rules, `lvs_sync_daemon`); it
    /// names the word before the missing one.
    pub fn missing_word(&mut self, node: &Node, i: usize) {
        let after = match i {
            0 => "",
            1 => node.name(),
            _ => node.arg(i - 2).map_or("", |t| t.text.as_str()),
        };
        self.diags.error(
            KaClass::MissingParameter,
            Some(node.span()),
            format!(
                "*** Configuration line starting `{}` is missing a parameter after keyword `{}` at word position {}",
                node.name(),
                after,
                i + 1
            ),
        );
    }

    /// Argument `i` (0-based, after the keyword), reporting a missing parameter if absent.
    pub fn need<'n>(&mut self, node: &'n Node, i: usize) -> Option<&'n Token> {
        let t = node.arg(i);
        if t.is_none() {
            self.missing_param(node, i + 1);
        }
        t
    }

    /// The first argument as a string (required).
    pub fn string(&mut self, node: &Node) -> Option<String> {
        self.need(node, 0).map(|t| t.text.clone())
    }

    /// An integer argument within `[min, max]`; reported as keepalived words it otherwise.
    pub fn int(&mut self, node: &Node, i: usize, min: i64, max: i64) -> Option<i64> {
        let t = self.need(node, i)?;
        self.int_token(t, min, max)
    }

    pub fn int_token(&mut self, t: &Token, min: i64, max: i64) -> Option<i64> {
        match parse_int(&t.text) {
            Some(v) if (min..=max).contains(&v) => Some(v),
            Some(_) => {
                self.error(
                    t.span,
                    format!("number '{}' outside range [{}, {}]", t.text, min, max),
                );
                None
            }
            None => {
                self.error(t.span, format!("invalid number '{}'", t.text));
                None
            }
        }
    }

    /// An optional boolean (`on|true|yes`, `off|false|no`); a bare keyword means true.
    pub fn bool_opt(&mut self, node: &Node) -> Option<bool> {
        match node.arg(0) {
            None => Some(true),
            Some(t) => match parse_bool(&t.text) {
                Some(b) => Some(b),
                None => {
                    self.error(t.span, format!("invalid boolean '{}'", t.text));
                    None
                }
            },
        }
    }

    /// A `<TIMER>`: seconds with up to 6 decimals, within `[min, max]` seconds.
    pub fn timer(&mut self, node: &Node, i: usize, min: f64, max: f64) -> Option<Duration> {
        let t = self.need(node, i)?;
        self.timer_token(t, min, max)
    }

    pub fn timer_token(&mut self, t: &Token, min: f64, max: f64) -> Option<Duration> {
        match parse_timer(&t.text) {
            Ok(d) => {
                let s = d.as_secs_f64();
                if s < min || s > max {
                    self.error(
                        t.span,
                        format!("number '{}' outside range [{}, {}]", t.text, min, max),
                    );
                    None
                } else {
                    Some(d)
                }
            }
            Err(TimerError::TooManyDecimals(d)) => {
                self.error(
                    t.span,
                    format!("number '{}' has too many decimal places", t.text),
                );
                Some(d)
            }
            Err(TimerError::Invalid) => {
                self.error(t.span, format!("invalid number '{}'", t.text));
                None
            }
        }
    }

    /// An IPv4 or IPv6 address argument.
    pub fn ip(&mut self, node: &Node, i: usize) -> Option<IpAddr> {
        let t = self.need(node, i)?;
        self.ip_token(t)
    }

    pub fn ip_token(&mut self, t: &Token) -> Option<IpAddr> {
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(t.span, format!("invalid address '{}'", t.text));
                None
            }
        }
    }

    /// A script keyword: `KEYWORD "program args..." [user [group]]`.
    pub fn script(&mut self, node: &Node) -> Option<Script> {
        let t = self.need(node, 0)?;
        let argv = script::split_command(&t.text);
        if argv.is_empty() {
            self.error(t.span, format!("empty script for '{}'", node.name()));
            return None;
        }
        Some(Script {
            argv,
            text: t.text.clone(),
            user: node.arg(1).map(|u| u.text.clone()),
            group: node.arg(2).map(|g| g.text.clone()),
            span: node.span(),
        })
    }
}

/// An address as keepalived's `inet_stosockaddr` reads it: anything from the first `-`
/// (a range) or else the first `/` (a mask) on is ignored, so `192.0.2.1/33` is accepted
/// as 192.0.2.1 (observed with keepalived 2.2.7 -t).
pub fn parse_sockaddr_ip(s: &str) -> Option<IpAddr> {
    let end = s.find('-').or_else(|| s.find('/')).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

/// keepalived's integer syntax: decimal, optional sign.
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `strtol(s, &end, 0)` for non-negative values: `0x..` hex, `0..` octal, else decimal.
pub fn parse_c_ulong(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerError {
    Invalid,
    /// More than 6 decimals: keepalived rounds and reports an error.
    TooManyDecimals(Duration),
}

/// Seconds with up to 6 decimal places (µs resolution), non-negative.
pub fn parse_timer(s: &str) -> Result<Duration, TimerError> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let int = if int.is_empty() && !frac.is_empty() {
        "0"
    } else {
        int
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(TimerError::Invalid);
    }
    let secs: u64 = int.parse().map_err(|_| TimerError::Invalid)?;
    let mut micros: u64 = 0;
    for (i, b) in frac.bytes().take(6).enumerate() {
        micros += u64::from(b - b'0') * 10u64.pow(5 - i as u32);
    }
    if frac.len() > 6 {
        // round on the 7th decimal, as keepalived does
        if frac.as_bytes()[6] >= b'5' {
            micros += 1;
        }
        let d = Duration::from_secs(secs) + Duration::from_micros(micros);
        return Err(TimerError::TooManyDecimals(d));
    }
    Ok(Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// Builds the typed configuration from the root statements, then runs the cross-checks;
/// what keepalived reads from the machine meanwhile is asked of `host`.
pub fn build(nodes: &[Node], host: &dyn HostEnv, diags: &mut Diagnostics) -> Config {
    let mut cfg = Config::default();
    // Sized once: growing a vector of ~2 kB instances by doubling touches (and page-faults)
    // twice the memory, a large part of the time of `-t` on hundreds of instances.
    cfg.vrrp
        .instances
        .reserve(nodes.iter().filter(|n| n.name() == "vrrp_instance").count());
    let mut ctx = Ctx::with_host(diags, host);
    let tables: [&[Kw<Config>]; 3] = [global::ROOT, vrrp::ROOT, check::ROOT];
    for node in nodes {
        match tables
            .iter()
            .flat_map(|t| t.iter())
            .find(|k| k.name == node.name())
        {
            Some(kw) => kw.run(&mut cfg, node, &mut ctx),
            None => ctx.unknown_keyword(node, tables.iter().flat_map(|t| t.iter().map(|k| k.name))),
        }
    }
    global::finish(&mut cfg, &mut ctx);
    vrrp::finish(&mut cfg, &mut ctx);
    check::finish(&mut cfg, &mut ctx);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(parse_timer("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_timer("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timer(".25"), Ok(Duration::from_millis(250)));
        assert_eq!(
            parse_timer("1.000001"),
            Ok(Duration::from_micros(1_000_001))
        );
        assert!(matches!(
            parse_timer("1.0000005"),
            Err(TimerError::TooManyDecimals(_))
        ));
        assert_eq!(parse_timer("x"), Err(TimerError::Invalid));
        assert_eq!(parse_timer("-1"), Err(TimerError::Invalid));
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_int("255"), Some(255));
        assert_eq!(parse_int("-20"), Some(-20));
        assert_eq!(parse_int("0x10"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn not_implemented_keywords_warn_and_still_validate() {
        static TABLE: &[Kw<Option<String>>] =
            &[Kw::unimplemented("later", "not built yet", |t, n, _| {
                *t = n.arg(0).map(|a| a.text.clone())
            })];
        let span = Span::new(crate::config::diagnostic::FileId(0), 3, 5, 5);
        let tok = |text: &str| crate::config::tree::Token {
            text: text.into(),
            span,
            quoted: false,
        };
        let node = Node {
            keyword: tok("later"),
            args: vec![tok("x")],
            raw_args: "x".into(),
            block: None,
        };
        let mut diags = Diagnostics::new();
        let mut target = None;
        apply_block(&mut target, &[node], TABLE, &mut Ctx::new(&mut diags));
        assert_eq!(target.as_deref(), Some("x"), "the handler still runs");
        let [d] = diags.items.as_slice() else {
            panic!("{:?}", diags.items)
        };
        assert_eq!(
            d.class, None,
            "ours only: -t's exit code stays keepalived's"
        );
        assert_eq!(d.span, Some(span));
        assert_eq!(
            d.message,
            "'later' is accepted but not implemented: not built yet; it has no effect"
        );
    }
}
