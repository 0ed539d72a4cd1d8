//! What can go wrong sending a mail, sorted by what the caller should do next.

use std::error::Error as _;

/// The longest server reply (or transport error text) kept in an error; replies are the
/// server's words and can be long or chatty.
pub(crate) const MAX_REASON_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail itself is unusable: a bad to/from/reply-to address, a header that would let
    /// text break out of its line (CR/LF), a malformed Message-ID or content type. Nothing was sent.
    #[error("invalid mail: {0}")]
    InvalidAddress(String),
    /// The formatted message is bigger than the limit. Nothing was sent.
    #[error("mail is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// The server refused for good (5xx): sending the same mail again will fail again.
    #[error("rejected by the mail server ({code}): {reason}")]
    Rejected { code: u16, reason: String },
    /// The server refused for now (4xx): retry later.
    #[error("mail server asked to retry later ({code}): {reason}")]
    Temporary { code: u16, reason: String },
    /// The server could not be reached or stopped answering: connect, TLS or timeout.
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
    /// The settings cannot work (plain text to a remote host, no usable AUTH mechanism,
    /// STARTTLS not offered…): fix the configuration, retrying will not help.
    #[error("mail settings: {0}")]
    Config(String),
}

impl MailError {
    /// Whether the same mail may go through if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Temporary { .. } | Self::Unavailable(_))
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Self::InvalidAddress(what.into())
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Self::Config(what.into())
    }

    /// Sorts lettre's SMTP error. lettre never puts credentials into its errors; what it carries
    /// is the server's reply or an I/O error.
    pub(crate) fn from_smtp(error: &lettre::transport::smtp::Error) -> Self {
        let reason = error
            .source()
            .map(ToString::to_string)
            .unwrap_or_else(|| error.to_string());
        let reason = clip(&reason);
        if let Some(code) = error.status() {
            let code = smtp_code(code);
            if error.is_permanent() {
                return Self::Rejected { code, reason };
            }
            if error.is_transient() {
                return Self::Temporary { code, reason };
            }
        }
        if error.is_client() {
            // lettre refused locally: no AUTH mechanism in common, STARTTLS not offered,
            // non-ASCII addresses without SMTPUTF8. Only a change of settings helps.
            return Self::Config(clip(&error.to_string()));
        }
        Self::Unavailable(clip(&error.to_string()))
    }
}

pub(crate) fn smtp_code(code: lettre::transport::smtp::response::Code) -> u16 {
    u16::from(code.severity as u8) * 100
        + u16::from(code.category as u8) * 10
        + u16::from(code.detail as u8)
}

/// Trims surrounding whitespace and keeps at most [`MAX_REASON_CHARS`] characters.
pub(crate) fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_clipped_on_a_char_boundary() {
        let long = "я".repeat(1000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_REASON_CHARS + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("  250 OK \r\n"), "250 OK");
    }

    #[test]
    fn only_temporary_and_unavailable_are_retryable() {
        let code = 450;
        let reason = String::new();
        assert!(
            MailError::Temporary {
                code,
                reason: reason.clone()
            }
            .is_retryable()
        );
        assert!(MailError::Unavailable(reason.clone()).is_retryable());
        assert!(
            !MailError::Rejected {
                code: 550,
                reason: reason.clone()
            }
            .is_retryable()
        );
        assert!(!MailError::InvalidAddress(reason.clone()).is_retryable());
        assert!(!MailError::Config(reason).is_retryable());
        assert!(!MailError::TooLarge { size: 2, limit: 1 }.is_retryable());
    }
}
