//! What can go wrong talking to a board. Every message names the source and the address (with
//! secrets redacted), so a sync report says where to look without leaking credentials.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{source_name}: {url} answered HTTP {status}{}", detail_suffix(.detail))]
    Status {
        source_name: String,
        url: String,
        status: u16,
        /// The start of the body, for boards (like HH) that explain refusals there.
        detail: Option<String>,
    },
    #[error("{source_name}: {url} did not answer within {timeout:?}")]
    Timeout {
        source_name: String,
        url: String,
        timeout: Duration,
    },
    #[error("{source_name}: request to {url} failed: {message}")]
    Transport {
        source_name: String,
        url: String,
        message: String,
    },
    #[error("{source_name}: {url} sent more than {limit} bytes; refusing the response")]
    TooLarge {
        source_name: String,
        url: String,
        limit: usize,
    },
    #[error(
        "{source_name}: {url} sent a body that is not valid UTF-8 (bad byte at offset {offset})"
    )]
    InvalidUtf8 {
        source_name: String,
        url: String,
        offset: usize,
    },
    #[error("{source_name}: {url} did not send the expected JSON: {message}")]
    InvalidJson {
        source_name: String,
        url: String,
        message: String,
    },
    #[error(
        "{source_name}: paused after {failures} consecutive failures; next try in {}s",
        retry_in.as_secs_f64().ceil()
    )]
    CircuitOpen {
        source_name: String,
        failures: u32,
        retry_in: Duration,
    },
    #[error("{source_name}: configuration: {message}")]
    Config {
        source_name: String,
        message: String,
    },
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl SourceError {
    pub(crate) fn config(source_name: &str, message: impl Into<String>) -> Self {
        Self::Config {
            source_name: source_name.to_owned(),
            message: message.into(),
        }
    }

    /// The HTTP status, when the board answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
