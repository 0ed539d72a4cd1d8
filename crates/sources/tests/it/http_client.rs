//! The shared client against a misbehaving board.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sources::SourceError;
use sources::http::{Fetched, HttpClient, HttpConfig, Request};
use url::Url;

use crate::support::{Board, fast_http, json, status_json};

/// A board whose `/doc` answers with `respond(n)` on its n-th call (counted from 0).
async fn scripted<F>(respond: F) -> (Board, Url)
where
    F: Fn(usize) -> Response + Clone + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let board = Board::start(Router::new().route(
        "/doc",
        get(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let respond = respond.clone();
            async move { respond(n) }
        }),
    ))
    .await;
    let url = Url::parse(&format!("{}/doc?q=rust", board.base)).unwrap();
    (board, url)
}

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new("testboard", config).unwrap()
}

async fn get_json(client: &HttpClient, url: &Url) -> Result<serde_json::Value, SourceError> {
    match client.get_json(&Request::get(url.clone())).await? {
        Fetched::Modified(value) => Ok(value),
        Fetched::NotModified => panic!("unexpected 304"),
    }
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let (board, url) = scripted(|n| match n {
        0 => status_json(StatusCode::INTERNAL_SERVER_ERROR, "oops"),
        _ => json(r#"{"ok":true}"#),
    })
    .await;
    let value = get_json(&client(fast_http()), &url).await.unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(board.count(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (board, url) = scripted(|n| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response(),
        _ => json("[]"),
    })
    .await;
    let started = Instant::now();
    get_json(&client(fast_http()), &url).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(board.count(), 2);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let (_board, url) = scripted(|n| match n {
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "3600")],
            "",
        )
            .into_response(),
        _ => json("[]"),
    })
    .await;
    let config = HttpConfig {
        retry_after_cap: Duration::from_millis(100),
        ..fast_http()
    };
    let started = Instant::now();
    get_json(&client(config), &url).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_board_times_out_after_the_retries() {
    let board = Board::start(Router::new().route(
        "/doc",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            json("[]")
        }),
    ))
    .await;
    let config = HttpConfig {
        timeout: Duration::from_millis(150),
        max_retries: 1,
        ..fast_http()
    };
    let url = Url::parse(&format!("{}/doc", board.base)).unwrap();
    let err = get_json(&client(config), &url).await.unwrap_err();
    assert!(matches!(err, SourceError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().starts_with("testboard: http://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(board.count(), 2);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_clear_errors_and_not_retried() {
    let cases: [(Response, &str); 3] = [
        (json(r#"{"items": [{"id": "1", "na"#), "EOF while parsing"),
        (
            (
                [(header::CONTENT_TYPE, "text/html")],
                "<html>Bad Gateway</html>",
            )
                .into_response(),
            "expected value at line 1 column 1",
        ),
        (
            (
                [(header::CONTENT_TYPE, "application/json")],
                b"{\"name\": \"caf\xe9\"}".to_vec(),
            )
                .into_response(),
            "not valid UTF-8 (bad byte at offset 13)",
        ),
    ];
    for (response, expected) in cases {
        let response = Arc::new(std::sync::Mutex::new(Some(response)));
        let (board, url) = scripted(move |_| response.lock().unwrap().take().unwrap()).await;
        let err = get_json(&client(fast_http()), &url).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(
            message.contains("testboard") && message.contains("/doc?q=rust"),
            "{message}"
        );
        assert_eq!(
            board.count(),
            1,
            "a bad body does not get better by asking again"
        );
    }
}

#[tokio::test]
async fn oversized_responses_are_refused() {
    let (_board, url) = scripted(|_| json(format!("[\"{}\"]", "x".repeat(64 * 1024)))).await;
    let config = HttpConfig {
        max_body_bytes: 16 * 1024,
        ..fast_http()
    };
    let err = get_json(&client(config), &url).await.unwrap_err();
    assert!(
        matches!(err, SourceError::TooLarge { limit: 16384, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_half_opens_later() {
    let (board, url) = scripted(|_| status_json(StatusCode::BAD_GATEWAY, "down")).await;
    let config = HttpConfig {
        max_retries: 0,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(300),
        ..fast_http()
    };
    let client = client(config);
    for _ in 0..3 {
        let err = get_json(&client, &url).await.unwrap_err();
        assert_eq!(err.status(), Some(502));
    }
    let started = Instant::now();
    let err = get_json(&client, &url).await.unwrap_err();
    assert!(
        matches!(err, SourceError::CircuitOpen { failures: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("testboard: paused after 3 consecutive failures")
    );
    assert!(started.elapsed() < Duration::from_millis(50), "fails fast");
    assert_eq!(board.count(), 3, "the open breaker sent nothing");

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        get_json(&client, &url).await.unwrap_err().status(),
        Some(502)
    );
    assert_eq!(board.count(), 4, "one trial after the cool-down");
    let err = get_json(&client, &url).await.unwrap_err();
    assert!(
        matches!(err, SourceError::CircuitOpen { .. }),
        "the failed trial re-opened it"
    );
}

#[tokio::test]
async fn last_modified_is_sent_back_and_304_is_not_modified() {
    const STAMP: &str = "Wed, 18 Nov 2026 10:00:00 GMT";
    let board = Board::start(Router::new().route(
        "/doc",
        get(|headers: HeaderMap| async move {
            if headers
                .get(header::IF_MODIFIED_SINCE)
                .is_some_and(|v| v == STAMP)
            {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            ([(header::LAST_MODIFIED, STAMP)], json("[1]")).into_response()
        }),
    ))
    .await;
    let client = client(fast_http());
    let request = Request::get(Url::parse(&format!("{}/doc", board.base)).unwrap()).conditional();
    assert_eq!(
        client.get_json(&request).await.unwrap(),
        Fetched::Modified(serde_json::json!([1]))
    );
    assert_eq!(
        client.get_json(&request).await.unwrap(),
        Fetched::NotModified
    );
}

#[tokio::test]
async fn requests_to_one_source_are_spaced() {
    let (_board, url) = scripted(|_| json("[]")).await;
    let config = HttpConfig {
        min_interval: Duration::from_millis(200),
        ..fast_http()
    };
    let client = client(config);
    let started = Instant::now();
    for _ in 0..3 {
        get_json(&client, &url).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redirects_to_another_host_are_not_followed() {
    let (board, url) = scripted(|_| {
        (
            StatusCode::FOUND,
            [(header::LOCATION, "http://attacker.invalid/steal")],
        )
            .into_response()
    })
    .await;
    let err = get_json(&client(fast_http()), &url).await.unwrap_err();
    assert_eq!(err.status(), Some(302));
    assert_eq!(board.count(), 1);
}
