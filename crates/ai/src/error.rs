//! What can go wrong asking a language model. Messages quote at most the start of what the
//! server said, with the API key blanked out, so they can go into a task's error column and
//! the logs as they are.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// No usable answer after the retries: connection refused, timeouts or 5xx answers.
    #[error("the language model server is unavailable: {0}")]
    Unavailable(String),
    /// 401 or 403: the key is missing, wrong or lacks access. Retrying cannot help.
    #[error("the language model server refused our credentials (HTTP {status}){}", detail_suffix(.detail))]
    Unauthorized { status: u16, detail: Option<String> },
    /// Still 429 after the retries; `retry_after` is the server's last word on when to return.
    #[error("the language model server is rate limiting us{}", retry_after_suffix(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// The server refused this request (a 4xx other than 401/403/404/429), for instance a prompt
    /// over the model's context length. The same request would be refused again.
    #[error("the language model server rejected the request (HTTP {status}){}", detail_suffix(.detail))]
    Rejected { status: u16, detail: Option<String> },
    /// An answer we cannot use: not JSON, no JSON object in the text, the wrong shape, too large.
    #[error("the language model sent an unusable answer: {0}")]
    BadResponse(String),
    /// Settings that cannot work: a bad base URL, an unknown model (404), a redirect.
    #[error("language model configuration: {0}")]
    Config(String),
}

impl LlmError {
    /// Whether the same call may succeed later unchanged: the server was down, slow or busy.
    /// A task retries these with its own backoff; everything else needs a change first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited { .. })
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn retry_after_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|wait| format!("; it asks us to wait {}s", wait.as_secs()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outages_and_rate_limits_are_retryable() {
        assert!(LlmError::Unavailable("down".into()).is_retryable());
        assert!(LlmError::RateLimited { retry_after: None }.is_retryable());
        assert!(
            !LlmError::Unauthorized {
                status: 401,
                detail: None
            }
            .is_retryable()
        );
        assert!(!LlmError::BadResponse("x".into()).is_retryable());
        assert!(!LlmError::Config("x".into()).is_retryable());
        assert!(
            !LlmError::Rejected {
                status: 400,
                detail: None
            }
            .is_retryable()
        );
    }

    #[test]
    fn messages_include_the_detail_and_the_wait() {
        let error = LlmError::Unauthorized {
            status: 401,
            detail: Some("invalid key".into()),
        };
        assert_eq!(
            error.to_string(),
            "the language model server refused our credentials (HTTP 401): invalid key"
        );
        let error = LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(20)),
        };
        assert!(error.to_string().ends_with("wait 20s"), "{error}");
    }
}
