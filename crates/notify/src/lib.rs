//! Notifications leaving jobpilot. Today: e-mail over SMTP ([`Mailer`]).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod email;

pub use email::{
    Attachment, MAX_MESSAGE_BYTES, MailError, Mailer, Outgoing, Sent, SmtpSecurity, SmtpSettings,
};
