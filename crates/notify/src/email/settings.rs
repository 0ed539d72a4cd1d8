//! Where and how to reach the SMTP server.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text. Allowed to a loopback host (a local relay), elsewhere only with
    /// [`SmtpSettings::allow_plain`], since credentials and mail would cross the network readable.
    None,
    /// Plain connect, then STARTTLS, which is required: a server that does not offer it is an error
    /// (usually port 587).
    StartTls,
    /// TLS from the first byte (implicit TLS, usually port 465).
    Tls,
}

/// Everything [`crate::Mailer::new`] needs. `Debug` shows the password as redacted.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server name or IP address; with TLS, the certificate must be valid for it.
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Set together with `password` to log in (AUTH PLAIN or LOGIN).
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, `Name <addr@example.com>` or `addr@example.com`.
    pub from: String,
    /// Connecting and the whole exchange for one mail must finish within this (plus a
    /// per-byte allowance for large messages, see [`crate::Mailer::send`]).
    pub timeout: Duration,
    /// The name sent in EHLO; this machine's public host name. lettre's default, `localhost`,
    /// when unset, which some relays score as spam.
    pub hello_name: Option<String>,
    /// Permits [`SmtpSecurity::None`] to a host that is not loopback (a relay on a trusted
    /// private network).
    pub allow_plain: bool,
}

impl SmtpSettings {
    /// Settings with no login, a 30 s timeout and no EHLO name; fill in the rest as needed.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        security: SmtpSecurity,
        from: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            security,
            username: None,
            password: None,
            from: from.into(),
            timeout: Duration::from_secs(30),
            hello_name: None,
            allow_plain: false,
        }
    }
}

/// `localhost`, `127.x.y.z`, `::1` (bracketed or not): a server on this machine, where plain
/// text never crosses a network.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "smtp.example.com",
            "10.0.0.1",
            "0.0.0.0",
            "localhost.evil.com",
            "::",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
