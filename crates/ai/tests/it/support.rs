//! A stand-in OpenAI-compatible server: an axum app on 127.0.0.1:0 that answers each request
//! as its script says and remembers what it was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai::{Backoff, LlmClient, LlmSettings};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use url::Url;

pub const API_KEY: &str = "sk-test-7d1f0c9a2b";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Recorded {
    /// The `type` of the `response_format` sent, if any.
    pub fn format(&self) -> Option<&str> {
        self.body.pointer("/response_format/type")?.as_str()
    }

    pub fn message(&self, role: &str) -> &str {
        self.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == role)
            .and_then(|m| m["content"].as_str())
            .unwrap()
    }
}

type Log = Arc<Mutex<Vec<Recorded>>>;

pub struct Stub {
    pub base: String,
    log: Log,
}

impl Stub {
    /// Answers request n (from 0) with `respond(n, request)`, whatever the path.
    pub async fn scripted<F>(respond: F) -> Self
    where
        F: Fn(usize, &Recorded) -> Response + Send + Sync + 'static,
    {
        let log = Log::default();
        let respond = Arc::new(respond);
        let app = {
            let log = log.clone();
            Router::new().fallback(move |request: Request| {
                let log = log.clone();
                let respond = respond.clone();
                async move {
                    let (n, recorded) = record(&log, request).await;
                    respond(n, &recorded)
                }
            })
        };
        Self::serve(app, log).await
    }

    /// Records each request and never answers it.
    pub async fn hanging() -> Self {
        let log = Log::default();
        let app = {
            let log = log.clone();
            Router::new().fallback(move |request: Request| {
                let log = log.clone();
                async move {
                    record(&log, request).await;
                    std::future::pending::<Response>().await
                }
            })
        };
        Self::serve(app, log).await
    }

    async fn serve(app: Router, log: Log) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base: format!("http://{address}"),
            log,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn settings(&self) -> LlmSettings {
        settings(&self.base)
    }

    pub fn client(&self) -> LlmClient {
        client(self.settings())
    }
}

async fn record(log: &Log, request: Request) -> (usize, Recorded) {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let recorded = Recorded {
        path,
        headers,
        body,
    };
    let mut log = log.lock().unwrap();
    log.push(recorded.clone());
    (log.len() - 1, recorded)
}

/// The process installs one TLS provider at start; tests do the same before any client.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn settings(base: &str) -> LlmSettings {
    let mut settings = LlmSettings::new(Url::parse(base).unwrap(), "test-model");
    settings.timeout = Duration::from_secs(3);
    settings.max_retries = 2;
    settings
}

/// Short waits between attempts so the suite runs in seconds.
pub fn client(settings: LlmSettings) -> LlmClient {
    install_crypto();
    LlmClient::new(settings).unwrap().with_backoff(Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(40),
        retry_after_cap: Duration::from_secs(2),
    })
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A chat completion whose message says `content`.
pub fn chat_answer(content: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "test-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
        }),
    )
}

pub fn error_answer(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error"}}),
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["answer"],
        "properties": {"answer": {"type": "string"}},
    })
}
