//! E-mail over SMTP (lettre, rustls with ring). One connection per mail: connect, EHLO,
//! STARTTLS or implicit TLS, AUTH, MAIL/RCPT/DATA, QUIT.

mod error;
mod message;
mod settings;

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::ExposeSecret as _;

pub use error::MailError;
pub use message::{Attachment, MAX_MESSAGE_BYTES, Outgoing};
pub use settings::{SmtpSecurity, SmtpSettings};

/// Extra time allowed per byte of message, so a large attachment on a slow link is not cut off
/// by a timeout sized for the handshake: 256 KiB/s, i.e. 80 s more for a 20 MiB mail.
const MIN_TRANSFER_BYTES_PER_SEC: u64 = 256 * 1024;

/// Sends mail through one SMTP server. Cloning is cheap (the settings are shared).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    security: SmtpSecurity,
    timeout: Duration,
}

/// A mail the server accepted for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The Message-ID header the mail carried ([`Outgoing::message_id`]).
    pub message_id: String,
    /// The server's reply to the end of DATA, e.g. `250 2.0.0 OK queued as 4F2A`.
    pub response: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the settings and prepares the transport; connects to nothing yet.
    ///
    /// Refuses ([`MailError::Config`]) plain text to a host that is not loopback unless
    /// `allow_plain` is set, a username without a password (or the reverse), an empty host,
    /// port 0 or a zero timeout; a bad `from` is [`MailError::InvalidAddress`].
    pub fn new(settings: SmtpSettings) -> Result<Self, MailError> {
        let host = settings.host.trim();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MailError::config(format!(
                "SMTP host {host:?} is not a host name"
            )));
        }
        if settings.port == 0 {
            return Err(MailError::config("SMTP port 0"));
        }
        if settings.timeout.is_zero() {
            return Err(MailError::config("SMTP timeout of zero"));
        }
        if settings.security == SmtpSecurity::None
            && !settings.allow_plain
            && !settings::is_loopback_host(host)
        {
            return Err(MailError::config(format!(
                "plain-text SMTP to {host} would send mail and passwords readable over the \
                 network; use STARTTLS or TLS, or allow plain text explicitly"
            )));
        }
        let from = message::parse_mailbox("from", &settings.from)?;

        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some(name) = &settings.hello_name {
            builder = builder.hello_name(client_id(name)?);
        }
        match (settings.username, &settings.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    username,
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => return Err(MailError::config("SMTP username and password go together")),
        }

        Ok(Self {
            transport: builder.build(),
            from,
            server: format!("{host}:{}", settings.port),
            security: settings.security,
            timeout: settings.timeout,
        })
    }

    /// Sends one mail over a fresh connection.
    ///
    /// The whole exchange must finish within the settings' timeout plus one second per
    /// 256 KiB of message; past that it is abandoned as [`MailError::Unavailable`]. Invalid
    /// input is refused before connecting. A retry with the same [`Outgoing`] sends the same
    /// Message-ID.
    pub async fn send(&self, mail: &Outgoing) -> Result<Sent, MailError> {
        let (envelope, bytes) = message::build(&self.from, mail)?;
        let allowance = Duration::from_secs(bytes.len() as u64 / MIN_TRANSFER_BYTES_PER_SEC);
        let deadline = self.timeout + allowance;
        let response = tokio::time::timeout(deadline, self.transport.send_raw(&envelope, &bytes))
            .await
            .map_err(|_| {
                MailError::Unavailable(format!(
                    "{} did not finish the exchange within {deadline:?}",
                    self.server
                ))
            })?
            .map_err(|e| MailError::from_smtp(&e))?;

        let mut reply = error::smtp_code(response.code()).to_string();
        for line in response.message() {
            reply.push(' ');
            reply.push_str(line);
        }
        Ok(Sent {
            message_id: mail.message_id.clone(),
            response: error::clip(&reply),
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, MailError> {
    TlsParameters::new_rustls(host.to_owned())
        .map_err(|e| MailError::config(format!("TLS for {host}: {e}")))
}

/// The EHLO argument: a domain, or an address literal for an IP.
fn client_id(name: &str) -> Result<ClientId, MailError> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MailError::config(format!(
            "EHLO name {name:?} is not a host name"
        )));
    }
    Ok(match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ClientId::Ipv4(ip),
        Ok(IpAddr::V6(ip)) => ClientId::Ipv6(ip),
        Err(_) => ClientId::Domain(name.to_owned()),
    })
}
