//! The OpenAI-compatible client: chat completions that must answer with a JSON object, and
//! embeddings. Servers differ in what they accept, so structured output degrades step by step
//! (a JSON schema, then JSON mode, then plain text parsed tolerantly) and the client
//! remembers the step that worked.

mod json_text;
mod retry;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use reqwest::header::{self, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

pub use retry::Backoff;

use crate::LlmError;
use crate::settings::{LlmSettings, endpoint, shown};
use crate::text::truncate_chars;

/// Larger answers are refused: a chat answer or a batch of embeddings is far smaller.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How much of a server's text may go into an error message.
const DETAIL_MAX_CHARS: usize = 200;

/// How much of an error body is read to find the reason.
const ERROR_BODY_READ_BYTES: usize = 8 * 1024;

/// How the answer is asked to be JSON, strictest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum OutputMode {
    /// `response_format: json_schema`, strict: the server constrains decoding to the schema.
    JsonSchema = 0,
    /// `response_format: json_object`: valid JSON, shape described in the prompt.
    JsonObject = 1,
    /// No `response_format`: whatever the model writes, the object found in it.
    Plain = 2,
}

impl OutputMode {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::JsonSchema,
            1 => Self::JsonObject,
            _ => Self::Plain,
        }
    }

    fn weaker(self) -> Option<Self> {
        match self {
            Self::JsonSchema => Some(Self::JsonObject),
            Self::JsonObject => Some(Self::Plain),
            Self::Plain => None,
        }
    }

    fn response_format(self, schema_name: &str, schema: &Value) -> Option<Value> {
        match self {
            Self::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": true},
            })),
            Self::JsonObject => Some(json!({"type": "json_object"})),
            Self::Plain => None,
        }
    }
}

/// A client for one server and chat model. Cheap to share behind an `Arc`; keep one for the
/// life of the process so the output mode learned on the first call is reused.
#[derive(Debug)]
pub struct LlmClient {
    settings: LlmSettings,
    chat_url: Url,
    embeddings_url: Url,
    http: reqwest::Client,
    backoff: Backoff,
    /// The [`OutputMode`] the server last accepted; calls start there.
    mode: AtomicU8,
}

/// One failed attempt.
#[derive(Debug)]
enum Failure {
    /// No answer: refused or reset connection, or no complete answer within the timeout.
    Transport { message: String, timed_out: bool },
    /// An HTTP error status.
    Status {
        status: u16,
        detail: Option<String>,
        retry_after: Option<Duration>,
        /// The server refused the `response_format` we sent, not the request as such.
        format_refused: bool,
    },
    /// An answer no retry would improve.
    Unusable(LlmError),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status {
                status,
                format_refused,
                ..
            } => !format_refused && (*status == 429 || *status >= 500),
            Self::Unusable(_) => false,
        }
    }

    fn format_refused(&self) -> bool {
        matches!(
            self,
            Self::Status {
                format_refused: true,
                ..
            }
        )
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl LlmClient {
    /// Builds its own HTTP client: no redirects followed (a redirect would carry the key
    /// elsewhere), the settings' timeout. The process must have installed its TLS crypto
    /// provider first.
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        settings.validate()?;
        // reqwest panics when it builds a client without a provider; refuse instead.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(LlmError::Config(
                "no TLS crypto provider is installed in this process".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("jobpilot/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .timeout(settings.timeout)
            .build()
            .map_err(|err| {
                LlmError::Config(format!(
                    "cannot build the HTTP client: {}",
                    error_chain(&err.without_url())
                ))
            })?;
        Self::with_http(settings, http)
    }

    /// Uses the caller's HTTP client (a shared pool, a proxy). The settings' timeout still
    /// applies to every request; redirects follow that client's policy.
    pub fn with_http(settings: LlmSettings, http: reqwest::Client) -> Result<Self, LlmError> {
        settings.validate()?;
        Ok(Self {
            chat_url: endpoint(&settings.base_url, "chat/completions")?,
            embeddings_url: endpoint(&settings.base_url, "embeddings")?,
            settings,
            http,
            backoff: Backoff::default(),
            mode: AtomicU8::new(OutputMode::JsonSchema as u8),
        })
    }

    /// Other waits between attempts (tests shorten them).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// The chat model, as reported in a document's generator.
    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// Asks the chat model for one JSON object following `schema` and returns it.
    ///
    /// The schema is sent as strict structured output where the server supports it; where it
    /// does not (a 400 or 422, or an error naming `response_format`), the call is repeated in
    /// JSON mode, then with no `response_format`, the schema then being spelt out at the end
    /// of the system message. Either way the answer's text is parsed tolerantly (Markdown
    /// fences, text around the object). The returned object is not checked against the
    /// schema: that is the caller's job, with its own rules.
    pub async fn complete_json(
        &self,
        system: &str,
        user: &str,
        schema_name: &str,
        schema: &Value,
    ) -> Result<Value, LlmError> {
        let mut mode = OutputMode::from_u8(self.mode.load(Ordering::Relaxed));
        loop {
            let body = self.chat_body(system, user, mode, schema_name, schema);
            match self
                .send(&self.chat_url, &body, mode != OutputMode::Plain)
                .await
            {
                Ok(answer) => {
                    self.mode.store(mode as u8, Ordering::Relaxed);
                    return self.content_object(&answer);
                }
                Err((failure, _)) if failure.format_refused() && mode.weaker().is_some() => {
                    let weaker = mode.weaker().unwrap_or(OutputMode::Plain);
                    tracing::info!(
                        model = %self.settings.model,
                        refused = ?mode,
                        next = ?weaker,
                        "the model server refused the output format; trying a weaker one"
                    );
                    mode = weaker;
                }
                Err((failure, attempts)) => {
                    return Err(self.error(failure, attempts, &self.chat_url));
                }
            }
        }
    }

    /// Embeds each input with `model` (`POST {base}/v1/embeddings`), in the inputs' order.
    /// Every vector has the same, non-zero length, and there is exactly one per input.
    pub async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if model.trim().is_empty() {
            return Err(LlmError::Config("the embedding model name is empty".into()));
        }
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({"model": model, "input": inputs});
        let answer = self
            .send(&self.embeddings_url, &body, false)
            .await
            .map_err(|(failure, attempts)| self.error(failure, attempts, &self.embeddings_url))?;
        embeddings_in_order(answer, inputs.len())
    }

    fn chat_body(
        &self,
        system: &str,
        user: &str,
        mode: OutputMode,
        schema_name: &str,
        schema: &Value,
    ) -> Value {
        let system = match mode {
            OutputMode::JsonSchema => system.to_owned(),
            // The server no longer enforces the shape: the model has to read it.
            OutputMode::JsonObject | OutputMode::Plain => format!(
                "{system}\n\nAnswer with only one JSON object, no other text, following this \
                 JSON Schema:\n{schema}"
            ),
        };
        let mut body = json!({
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        });
        if let Some(format) = mode.response_format(schema_name, schema) {
            body["response_format"] = format;
        }
        body
    }

    /// The JSON object in the first choice's message.
    fn content_object(&self, answer: &Value) -> Result<Value, LlmError> {
        let choice = answer
            .get("choices")
            .and_then(|choices| choices.get(0))
            .ok_or_else(|| LlmError::BadResponse("the answer has no choices".into()))?;
        let message = choice.get("message").unwrap_or(&Value::Null);
        let content = message_text(message.get("content").unwrap_or(&Value::Null));
        if content.trim().is_empty() {
            return Err(match message.get("refusal").and_then(Value::as_str) {
                Some(refusal) => {
                    LlmError::BadResponse(format!("the model refused: {}", self.quote(refusal)))
                }
                None => LlmError::BadResponse("the answer has no text".into()),
            });
        }
        json_text::extract_object(&content).ok_or_else(|| {
            let cut_off = choice.get("finish_reason").and_then(Value::as_str) == Some("length");
            LlmError::BadResponse(format!(
                "no JSON object in the model's text{}: {}",
                if cut_off {
                    " (it was cut off at the length limit)"
                } else {
                    ""
                },
                self.quote(&content)
            ))
        })
    }

    /// Sends `body`, retrying what may pass later. On failure, the last one and how many
    /// attempts were made.
    async fn send(
        &self,
        url: &Url,
        body: &Value,
        format_sent: bool,
    ) -> Result<Value, (Failure, u32)> {
        let mut attempt = 0;
        loop {
            let failure = match self.attempt(url, body, format_sent).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            if !failure.retryable() || attempt >= self.settings.max_retries {
                return Err((failure, attempt + 1));
            }
            let delay = self.backoff.delay(attempt, failure.retry_after());
            tracing::warn!(
                url = %shown(url),
                attempt = attempt + 1,
                ?delay,
                failure = ?failure,
                "language model request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, url: &Url, body: &Value, format_sent: bool) -> Result<Value, Failure> {
        let mut request = self
            .http
            .post(url.clone())
            .timeout(self.settings.timeout)
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .json(body);
        if let Some(key) = self.key() {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_failure(err))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_failure(response, format_sent).await);
        }
        let bytes = self.read_body(response).await?;
        serde_json::from_slice(&bytes).map_err(|err| {
            Failure::Unusable(LlmError::BadResponse(format!(
                "the answer is not JSON ({err}): {}",
                self.quote(&String::from_utf8_lossy(&bytes))
            )))
        })
    }

    fn key(&self) -> Option<&SecretString> {
        self.settings
            .api_key
            .as_ref()
            .filter(|key| !key.expose_secret().is_empty())
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
        let too_large = || {
            Failure::Unusable(LlmError::BadResponse(format!(
                "the answer is larger than {} MiB; refused",
                MAX_BODY_BYTES / (1024 * 1024)
            )))
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_failure(err))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn status_failure(&self, mut response: reqwest::Response, format_sent: bool) -> Failure {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::parse_retry_after(value, chrono::Utc::now()));
        // The reason, if any, is at the start of the body.
        let mut start = Vec::new();
        while start.len() < ERROR_BODY_READ_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&start);
        let format_refused = format_sent
            && match status {
                400 | 422 => true,
                401 | 403 | 429 => false,
                _ => {
                    let lower = text.to_lowercase();
                    lower.contains("response_format") || lower.contains("json_schema")
                }
            };
        Failure::Status {
            status,
            detail: self.detail(&text),
            retry_after,
            format_refused,
        }
    }

    fn transport_failure(&self, err: reqwest::Error) -> Failure {
        if err.is_timeout() {
            return Failure::Transport {
                message: String::new(),
                timed_out: true,
            };
        }
        if err.is_builder() {
            return Failure::Unusable(LlmError::Config(
                self.scrub(&error_chain(&err.without_url())),
            ));
        }
        Failure::Transport {
            message: self.scrub(&error_chain(&err.without_url())),
            timed_out: false,
        }
    }

    /// The error a caller sees for the last failure.
    fn error(&self, failure: Failure, attempts: u32, url: &Url) -> LlmError {
        let url = shown(url);
        let tries = if attempts == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{attempts} attempts")
        };
        match failure {
            Failure::Transport {
                timed_out: true, ..
            } => LlmError::Unavailable(format!(
                "{url} did not answer within {:?} ({tries})",
                self.settings.timeout
            )),
            Failure::Transport { message, .. } => {
                LlmError::Unavailable(format!("request to {url} failed: {message} ({tries})"))
            }
            Failure::Status {
                status: status @ (401 | 403),
                detail,
                ..
            } => LlmError::Unauthorized { status, detail },
            Failure::Status {
                status: 429,
                retry_after,
                ..
            } => LlmError::RateLimited { retry_after },
            Failure::Status {
                status: 404,
                detail,
                ..
            } => LlmError::Config(format!(
                "{url} answered HTTP 404{}; check the base URL and the model name",
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            )),
            Failure::Status {
                status: status @ 300..=399,
                ..
            } => LlmError::Config(format!(
                "{url} answered with a redirect (HTTP {status}); set the base URL to the final \
                 address"
            )),
            Failure::Status {
                status: status @ 500..,
                detail,
                ..
            } => LlmError::Unavailable(format!(
                "{url} answered HTTP {status}{} ({tries})",
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            )),
            Failure::Status { status, detail, .. } => LlmError::Rejected { status, detail },
            Failure::Unusable(error) => error,
        }
    }

    /// An error body's reason: an OpenAI-style `error.message` when there is one, else the
    /// text, on one line, short, without the key.
    fn detail(&self, body: &str) -> Option<String> {
        let parsed = serde_json::from_str::<Value>(body).ok();
        let message = parsed.as_ref().and_then(|value| {
            [
                value.pointer("/error/message"),
                value.get("error"),
                value.get("message"),
                value.get("detail"),
            ]
            .into_iter()
            .flatten()
            .find_map(Value::as_str)
        });
        let quoted = self.quote(message.unwrap_or(body));
        (!quoted.is_empty()).then_some(quoted)
    }

    /// Text from the server as it may appear in an error: the key blanked out, on one line,
    /// at most [`DETAIL_MAX_CHARS`] characters.
    fn quote(&self, text: &str) -> String {
        let one_line = self
            .scrub(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let clean: String = one_line.chars().filter(|c| !c.is_control()).collect();
        let short = truncate_chars(&clean, DETAIL_MAX_CHARS);
        if short.len() < clean.len() {
            format!("{short}…")
        } else {
            clean
        }
    }

    /// Blanks out the key wherever a server echoed it, and a start of it left at the very
    /// end of text that was cut off.
    fn scrub(&self, text: &str) -> String {
        const REDACTED: &str = "[REDACTED]";
        let Some(key) = self.key().map(|key| key.expose_secret()) else {
            return text.to_owned();
        };
        // Very short values would blank out ordinary words.
        if key.len() < 4 {
            return text.to_owned();
        }
        let mut scrubbed = text.replace(key, REDACTED);
        if let Some(cut) = (4..key.len())
            .rev()
            .filter(|&len| key.is_char_boundary(len))
            .find(|&len| scrubbed.ends_with(&key[..len]))
        {
            scrubbed.truncate(scrubbed.len() - cut);
            scrubbed.push_str(REDACTED);
        }
        scrubbed
    }
}

/// A message's `content`: a string, or (some servers) a list of text parts.
fn message_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
struct EmbeddingsAnswer {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    /// Servers that omit it list the vectors in input order.
    index: Option<usize>,
    embedding: Vec<f32>,
}

fn embeddings_in_order(answer: Value, expected: usize) -> Result<Vec<Vec<f32>>, LlmError> {
    let bad = |message: String| LlmError::BadResponse(message);
    let answer: EmbeddingsAnswer = serde_json::from_value(answer)
        .map_err(|err| bad(format!("the embeddings answer has the wrong shape: {err}")))?;
    if answer.data.len() != expected {
        return Err(bad(format!(
            "asked for {expected} embeddings, got {}",
            answer.data.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in answer.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            Some(Some(_)) => return Err(bad(format!("embedding index {index} given twice"))),
            None => {
                return Err(bad(format!(
                    "embedding index {index} is out of range for {expected} inputs"
                )));
            }
        }
    }
    // Every slot is filled: as many items as slots, no index twice.
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
    let dimension = vectors.first().map_or(0, Vec::len);
    if dimension == 0 {
        return Err(bad("the embeddings are empty".into()));
    }
    if let Some(odd) = vectors.iter().position(|v| v.len() != dimension) {
        return Err(bad(format!(
            "embedding {odd} has {} dimensions, the first has {dimension}",
            vectors[odd].len()
        )));
    }
    Ok(vectors)
}

/// An error and its causes on one line; the cause ("connection refused") is the useful part.
fn error_chain(err: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_ordered_by_index_and_checked() {
        let answer = json!({"data": [
            {"index": 1, "embedding": [1.0, 1.0]},
            {"index": 0, "embedding": [0.0, 0.5]},
        ]});
        assert_eq!(
            embeddings_in_order(answer, 2).unwrap(),
            vec![vec![0.0, 0.5], vec![1.0, 1.0]]
        );
        let no_index = json!({"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]});
        assert_eq!(
            embeddings_in_order(no_index, 2).unwrap(),
            vec![vec![1.0], vec![2.0]]
        );
        for (answer, why) in [
            (
                json!({"data": [{"index": 0, "embedding": [1.0]}]}),
                "asked for 2",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}),
                "twice",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}]}),
                "out of range",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]}),
                "dimensions",
            ),
            (
                json!({"data": [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}]}),
                "empty",
            ),
            (json!({"data": "nope"}), "wrong shape"),
        ] {
            let error = embeddings_in_order(answer, 2).unwrap_err();
            assert!(
                matches!(&error, LlmError::BadResponse(m) if m.contains(why)),
                "{why}: {error}"
            );
        }
    }

    #[test]
    fn message_text_joins_parts() {
        assert_eq!(message_text(&json!("a")), "a");
        assert_eq!(
            message_text(
                &json!([{"type": "text", "text": "{\"a\""}, {"type": "text", "text": ":1}"}])
            ),
            "{\"a\":1}"
        );
        assert_eq!(message_text(&Value::Null), "");
    }
}
