//! The one HTTP client every connector uses: polite pacing, bounded retries, a circuit
//! breaker, conditional requests and a size limit, with secrets kept out of every message.

mod breaker;
mod config;
mod redact;
pub(crate) mod retry;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use tokio::time::Instant;
use url::Url;

pub use config::HttpConfig;
pub use redact::redact_url;

use crate::SourceError;
use breaker::Breaker;
use redact::scrub;

/// How much of an error body goes into the error message.
const DETAIL_MAX_CHARS: usize = 300;

/// One GET to send.
#[derive(Debug, Clone)]
pub struct Request {
    url: Url,
    headers: HeaderMap,
    conditional: bool,
}

impl Request {
    pub fn get(url: Url) -> Self {
        Self {
            url,
            headers: HeaderMap::new(),
            conditional: false,
        }
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Send the validators (ETag, Last-Modified) remembered from the last answer for this URL,
    /// so an unchanged document costs the board a 304 and us nothing.
    pub fn conditional(mut self) -> Self {
        self.conditional = true;
        self
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// A response body, or the board's word that it did not change.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    Modified(T),
    NotModified,
}

#[derive(Debug, Clone, Default)]
struct Validators {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

/// A client for one source. Pacing and the breaker are per source, so one board's trouble
/// never slows another; create one per connector and keep it for the life of the process.
#[derive(Debug)]
pub struct HttpClient {
    source_name: String,
    config: HttpConfig,
    client: reqwest::Client,
    last_request: tokio::sync::Mutex<Option<Instant>>,
    breaker: Breaker,
    validators: Mutex<HashMap<String, Validators>>,
    secrets: Vec<SecretString>,
}

/// One failed attempt, and whether another may help.
struct Failure {
    error: SourceError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: SourceError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn transient(error: SourceError, retry_after: Option<Duration>) -> Self {
        Self {
            error,
            retryable: true,
            retry_after,
        }
    }
}

impl HttpClient {
    pub fn new(source_name: &str, config: HttpConfig) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .redirect(same_host_redirects())
            .build()
            .map_err(|err| {
                SourceError::config(
                    source_name,
                    format!("cannot build the HTTP client: {}", err.without_url()),
                )
            })?;
        Ok(Self {
            source_name: source_name.to_owned(),
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
            config,
            client,
            last_request: tokio::sync::Mutex::new(None),
            validators: Mutex::new(HashMap::new()),
            secrets: Vec::new(),
        })
    }

    /// Values to blank out of any text a board sends back into an error message.
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = SecretString>) -> Self {
        self.secrets.extend(secrets);
        self
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Sends the request, retrying transient failures, and parses the body as JSON.
    pub async fn get_json(
        &self,
        request: &Request,
    ) -> Result<Fetched<serde_json::Value>, SourceError> {
        let shown_url = redact_url(&request.url);
        let mut attempt = 0;
        loop {
            self.breaker
                .check()
                .map_err(|open| SourceError::CircuitOpen {
                    source_name: self.source_name.clone(),
                    failures: open.failures,
                    retry_in: open.retry_in,
                })?;
            self.wait_for_turn().await;
            let failure = match self.attempt(request, &shown_url).await {
                Ok(fetched) => {
                    self.breaker.record_success();
                    return Ok(fetched);
                }
                Err(failure) => failure,
            };
            if !failure.retryable {
                // The board answered (a 404, a body we cannot read): it is up, whatever the
                // trouble with this one request.
                self.breaker.record_success();
                return Err(failure.error);
            }
            if self.breaker.record_failure() {
                tracing::warn!(
                    source = %self.source_name,
                    cooldown = ?self.config.breaker_cooldown,
                    error = %failure.error,
                    "source paused after repeated failures"
                );
                return Err(failure.error);
            }
            if attempt >= self.config.max_retries {
                return Err(failure.error);
            }
            let delay = match failure.retry_after {
                Some(asked) => asked.min(self.config.retry_after_cap),
                None => retry::backoff(attempt, self.config.backoff_base, self.config.backoff_max),
            };
            tracing::warn!(
                source = %self.source_name,
                url = %shown_url,
                attempt = attempt + 1,
                ?delay,
                error = %failure.error,
                "retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Politeness: requests to one source start at least `min_interval` apart. The lock is
    /// held across the wait so concurrent callers queue up rather than all firing at once.
    async fn wait_for_turn(&self) {
        let mut last = self.last_request.lock().await;
        if let Some(previous) = *last {
            tokio::time::sleep_until(previous + self.config.min_interval).await;
        }
        *last = Some(Instant::now());
    }

    async fn attempt(
        &self,
        request: &Request,
        shown_url: &str,
    ) -> Result<Fetched<serde_json::Value>, Failure> {
        let mut headers = request.headers.clone();
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        if request.conditional {
            self.add_validators(&request.url, &mut headers);
        }
        let response = self
            .client
            .get(request.url.clone())
            .headers(headers)
            .timeout(self.config.timeout)
            .send()
            .await
            .map_err(|err| self.transport_failure(err, shown_url))?;

        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(self.status_failure(response, shown_url).await);
        }
        let validators = Validators {
            etag: response.headers().get(header::ETAG).cloned(),
            last_modified: response.headers().get(header::LAST_MODIFIED).cloned(),
        };
        let body = self.read_body(response, shown_url).await?;
        let value = self.parse_json(&body, shown_url).map_err(Failure::fatal)?;
        if request.conditional {
            self.remember_validators(&request.url, validators);
        }
        Ok(Fetched::Modified(value))
    }

    fn add_validators(&self, url: &Url, headers: &mut HeaderMap) {
        let known = self.lock_validators().get(url.as_str()).cloned();
        if let Some(known) = known {
            if let Some(etag) = known.etag {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = known.last_modified {
                headers.insert(header::IF_MODIFIED_SINCE, date);
            }
        }
    }

    fn remember_validators(&self, url: &Url, validators: Validators) {
        let mut known = self.lock_validators();
        if validators.etag.is_some() || validators.last_modified.is_some() {
            known.insert(url.as_str().to_owned(), validators);
        } else {
            known.remove(url.as_str());
        }
    }

    fn lock_validators(&self) -> std::sync::MutexGuard<'_, HashMap<String, Validators>> {
        // A cache: whatever a panicking holder left is still usable.
        self.validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn status_failure(&self, mut response: reqwest::Response, shown_url: &str) -> Failure {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, chrono::Utc::now()));
        // Only the start of the body is worth reading: it names the reason, if any.
        let mut start = Vec::new();
        while start.len() < 4 * DETAIL_MAX_CHARS {
            match response.chunk().await {
                Ok(Some(chunk)) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let error = SourceError::Status {
            source_name: self.source_name.clone(),
            url: shown_url.to_owned(),
            status: status.as_u16(),
            detail: self.detail(&start),
        };
        let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        if transient {
            Failure::transient(error, retry_after)
        } else {
            Failure::fatal(error)
        }
    }

    fn detail(&self, body: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(body);
        let collapsed: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .take(DETAIL_MAX_CHARS)
            .collect();
        (!collapsed.is_empty()).then(|| scrub(&collapsed, &self.secrets))
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        shown_url: &str,
    ) -> Result<Vec<u8>, Failure> {
        let limit = self.config.max_body_bytes;
        let too_large = || {
            Failure::fatal(SourceError::TooLarge {
                source_name: self.source_name.clone(),
                url: shown_url.to_owned(),
                limit,
            })
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_failure(err, shown_url))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn parse_json(&self, body: &[u8], shown_url: &str) -> Result<serde_json::Value, SourceError> {
        let text = std::str::from_utf8(body).map_err(|err| SourceError::InvalidUtf8 {
            source_name: self.source_name.clone(),
            url: shown_url.to_owned(),
            offset: err.valid_up_to(),
        })?;
        serde_json::from_str(text).map_err(|err| SourceError::InvalidJson {
            source_name: self.source_name.clone(),
            url: shown_url.to_owned(),
            message: err.to_string(),
        })
    }

    fn transport_failure(&self, err: reqwest::Error, shown_url: &str) -> Failure {
        if err.is_timeout() {
            return Failure::transient(
                SourceError::Timeout {
                    source_name: self.source_name.clone(),
                    url: shown_url.to_owned(),
                    timeout: self.config.timeout,
                },
                None,
            );
        }
        let retryable = err.is_connect() || err.is_request() || err.is_body();
        // reqwest puts the full URL, secrets included, into its messages: drop it.
        let message = scrub(&error_chain(&err.without_url()), &self.secrets);
        let error = SourceError::Transport {
            source_name: self.source_name.clone(),
            url: shown_url.to_owned(),
            message,
        };
        if retryable {
            Failure::transient(error, None)
        } else {
            Failure::fatal(error)
        }
    }
}

/// An error and all its causes on one line, since the cause is usually the useful part
/// ("connection refused").
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

/// Boards redirect within their own host (http → https, old paths); a redirect elsewhere, or
/// from https down to http, is not followed, so a compromised or misconfigured board cannot
/// send us, and our credentials, to another host or onto an open wire.
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt.previous().first().is_some_and(|first| {
            first.host_str() == attempt.url().host_str()
                && !(first.scheme() == "https" && attempt.url().scheme() == "http")
        });
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if same_host {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}
