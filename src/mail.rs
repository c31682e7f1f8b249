//! SMTP alerts: subjects and bodies as keepalived writes them,
//! sent from a spawned task with an overall timeout so a dead SMTP server never blocks
//! VRRP or the checkers.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::model::global::{GlobalDefs, SmtpServer};
use crate::notify::NotifyState;

/// Everything needed to send alerts, resolved from `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub server: SmtpServer,
    pub helo: String,
    pub from: String,
    pub to: Vec<String>,
    pub router_id: String,
    pub connect_timeout: Duration,
}

impl MailConfig {
    /// `None` unless `notification_email` is non-empty and `smtp_server` is set.
    /// Defaults as keepalived: router_id and HELO name = host name, from =
    /// `keepalived@<host name>`.
    pub fn from_global(g: &GlobalDefs) -> Option<MailConfig> {
        let server = g.smtp_server.clone()?;
        if g.notification_email.is_empty() {
            return None;
        }
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| String::from("localhost"));
        Some(MailConfig {
            server,
            helo: g.smtp_helo_name.clone().unwrap_or_else(|| host.clone()),
            from: g
                .notification_email_from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host}")),
            to: g.notification_email.clone(),
            router_id: g.router_id.clone().unwrap_or(host),
            connect_timeout: g.smtp_connect_timeout,
        })
    }

    /// The server as keepalived prints it: `[ip]:port`.
    pub fn server_text(&self) -> String {
        match &self.server {
            SmtpServer::Addr(a) => format!("[{}]:{}", a.ip(), a.port()),
            SmtpServer::Host { name, port } => format!("[{name}]:{port}"),
        }
    }
}

/// An alert: subject and one-line body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: String,
}

/// A VRRP instance changed state.
pub fn instance_alert(router_id: &str, name: &str, state: NotifyState) -> Alert {
    let (what, body) = match state {
        NotifyState::Master => (
            "Entering MASTER state",
            "=> VRRP Instance is now owning VRRP VIPs <=",
        ),
        NotifyState::Backup => (
            "Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        NotifyState::Fault => (
            "Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        NotifyState::Stop => ("Stopping", "=> VRRP Instance stopping <="),
        NotifyState::Deleted => ("Deleted", "=> VRRP Deleted at reload <="),
    };
    Alert {
        subject: format!("[{router_id}] VRRP Instance {name} - {what}"),
        body: body.to_owned(),
    }
}

/// A sync group changed state.
pub fn group_alert(router_id: &str, name: &str, state: NotifyState) -> Alert {
    let (what, body) = match state {
        NotifyState::Stop | NotifyState::Deleted => (
            String::from("Stopping"),
            String::from("=> All VRRP group instances are now stopping <="),
        ),
        s => (
            format!("Entering {} state", s.as_str()),
            format!(
                "=> All VRRP group instances are now in {} state <=",
                s.as_str()
            ),
        ),
    };
    Alert {
        subject: format!("[{router_id}] VRRP Group {name} - {what}"),
        body,
    }
}

/// A real server went up or down; `rs` is `[ip]:proto:port`, `body` the checker's line
/// (e.g. `=> TCP CHECK succeed on service <=`).
pub fn realserver_alert(router_id: &str, rs: &str, vs: &str, up: bool, body: &str) -> Alert {
    Alert {
        subject: format!(
            "[{router_id}] Realserver {rs} of virtual server {vs} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body: body.to_owned(),
    }
}

/// A virtual server gained or lost quorum; `body` e.g. `=> Gained quorum 1+0=1 <= 1 <=`.
pub fn virtualserver_alert(router_id: &str, vs: &str, up: bool, body: &str) -> Alert {
    Alert {
        subject: format!(
            "[{router_id}] Virtualserver {vs} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body: body.to_owned(),
    }
}

/// Decides which state changes of one instance or group are emailed:
/// only when the state differs from the last emailed one, and FAULT not at all with
/// `no_email_faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailGate {
    last: Option<NotifyState>,
    no_email_faults: bool,
}

impl MailGate {
    pub fn new(no_email_faults: bool) -> Self {
        MailGate {
            last: None,
            no_email_faults,
        }
    }

    /// Whether to send an alert for entering `state`; records it when sending.
    pub fn should_send(&mut self, state: NotifyState) -> bool {
        if self.last == Some(state) || (self.no_email_faults && state == NotifyState::Fault) {
            return false;
        }
        self.last = Some(state);
        true
    }
}

/// Builds the message: From, To (all recipients), Subject, X-Mailer: Keepalived, Date.
pub fn build_message(cfg: &MailConfig, alert: &Alert) -> Result<Message, String> {
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| format!("Invalid email_from {}: {e}", cfg.from))?;
    let mut b = Message::builder()
        .from(from)
        .subject(alert.subject.clone())
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Mailer"),
            String::from("Keepalived"),
        ));
    for to in &cfg.to {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| format!("Invalid notification_email {to}: {e}"))?;
        b = b.to(mb);
    }
    b.body(format!("{}\r\n", alert.body))
        .map_err(|e| format!("Cannot build SMTP alert: {e}"))
}

/// How a send ended (also logged with keepalived's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// `Timeout connecting SMTP server [ip]:port.`
    Timeout,
    /// `SMTP connection ERROR to [ip]:port.` (or a message that could not be built).
    Error(String),
}

/// Sends one alert, logging as keepalived does: `Timeout connecting SMTP server
/// [ip]:port.` / `SMTP connection ERROR to [ip]:port.` when the TCP connection fails,
/// `Remote SMTP server [ip]:port connected.` when it succeeds, then `Timeout reading data
/// to remote SMTP server [ip]:port.` if the server goes silent (observed with keepalived
/// 2.2.7 against a server that accepts and never answers). The connection and the
/// greeting each get `connect_timeout`; the rest of the dialogue 3× that.
pub async fn send(cfg: &MailConfig, alert: &Alert) -> SendOutcome {
    let srv = cfg.server_text();
    let msg = match build_message(cfg, alert) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("{e}");
            return SendOutcome::Error(e);
        }
    };
    let t = cfg.connect_timeout;
    let connect = match &cfg.server {
        SmtpServer::Addr(a) => tokio::time::timeout(t, TcpStream::connect(*a)).await,
        SmtpServer::Host { name, port } => {
            tokio::time::timeout(t, TcpStream::connect((name.as_str(), *port))).await
        }
    };
    let stream = match connect {
        Err(_) => {
            tracing::warn!("Timeout connecting SMTP server {srv}.");
            return SendOutcome::Timeout;
        }
        Ok(Err(e)) => {
            tracing::warn!("SMTP connection ERROR to {srv}.");
            return SendOutcome::Error(e.to_string());
        }
        Ok(Ok(s)) => s,
    };
    // Like the success line, keepalived logs this only with -D (observed).
    if crate::log::detail() > 0 {
        tracing::info!("Remote SMTP server {srv} connected.");
    }
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    match tokio::time::timeout(t, reply(&mut rd)).await {
        Err(_) => {
            tracing::warn!("Timeout reading data to remote SMTP server {srv}.");
            return SendOutcome::Timeout;
        }
        Ok(Ok(220)) => {}
        Ok(r) => {
            tracing::warn!("Error reading data from remote SMTP server {srv}.");
            return SendOutcome::Error(format!("greeting: {r:?}"));
        }
    }
    let dialogue = async {
        // keepalived's dialogue: HELO, not EHLO.
        let mut steps = vec![(format!("HELO {}\r\n", cfg.helo), 250)];
        steps.push((format!("MAIL FROM:<{}>\r\n", cfg.from), 250));
        for to in &cfg.to {
            steps.push((format!("RCPT TO:<{to}>\r\n"), 250));
        }
        steps.push((String::from("DATA\r\n"), 354));
        steps.push((dot_stuffed(&msg.formatted()), 250));
        for (cmd, want) in steps {
            wr.write_all(cmd.as_bytes()).await?;
            let got = reply(&mut rd).await?;
            if got != want {
                return Err(std::io::Error::other(format!(
                    "{} -> {got}",
                    cmd.trim_end()
                )));
            }
        }
        wr.write_all(b"QUIT\r\n").await?;
        let _ = reply(&mut rd).await;
        Ok(())
    };
    match tokio::time::timeout(t.saturating_mul(3), dialogue).await {
        Ok(Ok(())) => {
            // keepalived logs this only with -D.
            if crate::log::detail() > 0 {
                tracing::info!("SMTP alert successfully sent.");
            }
            SendOutcome::Sent
        }
        Err(_) => {
            tracing::warn!("Timeout reading data to remote SMTP server {srv}.");
            SendOutcome::Timeout
        }
        Ok(Err(e)) => {
            tracing::warn!("Error reading data from remote SMTP server {srv}.");
            SendOutcome::Error(e.to_string())
        }
    }
}

/// Reads one SMTP reply (continuation lines `NNN-...` then `NNN ...`) and returns its code.
/// Lines are read at most 4 KiB at a time, so a hostile server cannot grow memory.
async fn reply<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<u16> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut *r).take(4096).read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.get(3) == Some(&b'-') && line.ends_with(b"\n") {
            continue;
        }
        return line
            .get(..3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("malformed SMTP reply"));
    }
}

/// The DATA payload: the message with leading dots doubled (RFC 5321), then `.`.
fn dot_stuffed(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Sends an alert in its own task; the caller never waits.
pub fn spawn_send(cfg: MailConfig, alert: Alert) -> tokio::task::JoinHandle<SendOutcome> {
    tokio::spawn(async move { send(&cfg, &alert).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_are_read_to_their_last_line() {
        let mut r: &[u8] = b"250-a.example\r\n250-SIZE 1\r\n250 OK\r\n354 go\r\nxyz\r\n";
        assert_eq!(reply(&mut r).await.ok(), Some(250));
        assert_eq!(reply(&mut r).await.ok(), Some(354));
        assert!(reply(&mut r).await.is_err());
        assert!(reply(&mut r).await.is_err());
    }

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        assert_eq!(
            dot_stuffed(b"A: b\r\n\r\n.x\r\n"),
            "A: b\r\n\r\n..x\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b"x"), "x\r\n.\r\n");
    }

    #[test]
    fn subjects_and_bodies() {
        let a = instance_alert("R1", "VI_1", NotifyState::Master);
        assert_eq!(a.subject, "[R1] VRRP Instance VI_1 - Entering MASTER state");
        assert_eq!(a.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let a = instance_alert("R1", "VI_1", NotifyState::Fault);
        assert_eq!(a.subject, "[R1] VRRP Instance VI_1 - Entering FAULT state");
        assert_eq!(a.body, "=> VRRP Instance is no longer owning VRRP VIPs <=");
        let a = instance_alert("R1", "VI_1", NotifyState::Stop);
        assert_eq!(a.subject, "[R1] VRRP Instance VI_1 - Stopping");
        assert_eq!(a.body, "=> VRRP Instance stopping <=");
        let a = instance_alert("R1", "VI_1", NotifyState::Deleted);
        assert_eq!(a.subject, "[R1] VRRP Instance VI_1 - Deleted");
        assert_eq!(a.body, "=> VRRP Deleted at reload <=");
        let a = group_alert("R1", "G1", NotifyState::Backup);
        assert_eq!(a.subject, "[R1] VRRP Group G1 - Entering BACKUP state");
        assert_eq!(
            a.body,
            "=> All VRRP group instances are now in BACKUP state <="
        );
        let a = group_alert("R1", "G1", NotifyState::Stop);
        assert_eq!(a.body, "=> All VRRP group instances are now stopping <=");
        let a = realserver_alert(
            "R1",
            "[192.0.2.1]:tcp:80",
            "[192.0.2.100]:tcp:80",
            false,
            "=> TCP CHECK failed on service <=",
        );
        assert_eq!(
            a.subject,
            "[R1] Realserver [192.0.2.1]:tcp:80 of virtual server [192.0.2.100]:tcp:80 - DOWN"
        );
        let a = virtualserver_alert("R1", "[192.0.2.100]:tcp:80", true, "=> x <=");
        assert_eq!(a.subject, "[R1] Virtualserver [192.0.2.100]:tcp:80 - UP");
    }

    #[test]
    fn message_headers() {
        let cfg = MailConfig {
            server: SmtpServer::Addr("192.0.2.1:25".parse().unwrap()),
            helo: "h".into(),
            from: "ka@example.org".into(),
            to: vec!["a@example.org".into(), "b@example.org".into()],
            router_id: "R1".into(),
            connect_timeout: Duration::from_secs(1),
        };
        assert_eq!(cfg.server_text(), "[192.0.2.1]:25");
        let m = build_message(&cfg, &instance_alert("R1", "VI_1", NotifyState::Master)).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("From: ka@example.org\r\n"), "{text}");
        assert!(
            text.contains("To: a@example.org, b@example.org\r\n"),
            "{text}"
        );
        assert!(text.contains("X-Mailer: Keepalived\r\n"), "{text}");
        assert!(text.contains("Date: "), "{text}");
        assert!(text.contains("Subject: [R1] VRRP Instance VI_1 - Entering MASTER state\r\n"));
        let bad = MailConfig {
            to: vec!["not an address".into()],
            ..cfg
        };
        assert!(build_message(&bad, &instance_alert("R1", "x", NotifyState::Stop)).is_err());
    }

    #[test]
    fn gate_sends_each_new_state_once() {
        let mut g = MailGate::new(true);
        assert!(g.should_send(NotifyState::Backup));
        assert!(!g.should_send(NotifyState::Backup));
        assert!(!g.should_send(NotifyState::Fault));
        assert!(g.should_send(NotifyState::Master));
        assert!(g.should_send(NotifyState::Backup));
        let mut g = MailGate::new(false);
        assert!(g.should_send(NotifyState::Fault));
    }
}
