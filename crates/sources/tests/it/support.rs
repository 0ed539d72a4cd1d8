//! A local stand-in for the job boards: an axum server on 127.0.0.1:0 that replays the recorded
//! fixtures and remembers every request it got.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use domain::NewJob;
use sources::http::HttpConfig;
use sources::{ItemError, ItemResult};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

type Log = Arc<Mutex<Vec<Recorded>>>;

pub struct Board {
    pub base: String,
    log: Log,
}

impl Board {
    pub async fn start(router: Router) -> Self {
        install_crypto();
        let log = Log::default();
        let app = router.layer(middleware::from_fn_with_state(log.clone(), record));
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
}

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    log.lock().unwrap().push(Recorded {
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        headers: request.headers().clone(),
    });
    next.run(request).await
}

/// The process installs one TLS provider at start; tests do the same before any client.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Recorded-format board answers (invented values), kept with the tests; see its README.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(relative: &str) -> String {
    let path = fixtures_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

pub fn fixture_json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(relative)).unwrap()
}

pub fn json(body: impl Into<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

pub fn status_json(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// Short timeouts and backoffs so the whole suite runs in seconds.
pub fn fast_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_millis(1_500),
        connect_timeout: Duration::from_millis(500),
        min_interval: Duration::ZERO,
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        retry_after_cap: Duration::from_secs(2),
        breaker_threshold: 100,
        breaker_cooldown: Duration::from_secs(1),
        ..HttpConfig::default()
    }
}

pub fn oks(items: &[ItemResult]) -> Vec<&NewJob> {
    items.iter().filter_map(|item| item.as_ref().ok()).collect()
}

pub fn errs(items: &[ItemResult]) -> Vec<&ItemError> {
    items
        .iter()
        .filter_map(|item| item.as_ref().err())
        .collect()
}

pub fn job<'a>(items: &'a [ItemResult], external_id: &str) -> &'a NewJob {
    oks(items)
        .into_iter()
        .find(|job| job.external_id == external_id)
        .unwrap_or_else(|| panic!("no valid job {external_id} in {items:#?}"))
}

pub fn utc(rfc3339: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&chrono::Utc),
    )
}
