//! Health, headers, metrics, CORS, compression and docs, as a client sees them.

use crate::harness::{Db, TestApp, assert_error};

async fn health_reports_ready_with_backend(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(
        live.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
}

async fn not_ready_until_migrated(db: Db) {
    let Some(app) = TestApp::builder(db).unmigrated().spawn().await else {
        return;
    };
    let body = assert_error(app.get("/health/ready").await, 503, "not_ready").await;
    assert_eq!(
        body["error"]["details"][0]["target"], "migrations",
        "{body}"
    );
    assert_eq!(app.get("/health/live").await.status(), 200);
    app.store.migrate().await.unwrap();
    // The result is cached for up to a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

crate::on_both_databases!(health_reports_ready_with_backend, not_ready_until_migrated);

#[tokio::test]
async fn readiness_turns_false_when_shutting_down() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.state.begin_shutdown();
    let body = assert_error(app.get("/health/ready").await, 503, "not_ready").await;
    assert_eq!(body["error"]["details"][0]["target"], "shutdown");
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn not_ready_when_the_database_is_gone() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.store.close().await;
    let body = assert_error(app.get("/health/ready").await, 503, "not_ready").await;
    assert_eq!(body["error"]["details"][0]["target"], "database", "{body}");
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    for path in ["/health/live", "/nope"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers.get("strict-transport-security").is_none());
    }
    let hsts = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_HSTS", "true")
        .spawn()
        .await
        .unwrap();
    let response = hsts.get("/health/live").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

#[tokio::test]
async fn docs_are_served_offline_with_their_own_csp() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let response = app.get("/api/docs/").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // The page's assets come from this server, not a CDN.
    assert!(!html.contains("https://"), "{html}");
    let initializer = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    assert!(
        initializer
            .text()
            .await
            .unwrap()
            .contains("/api/openapi.json")
    );
}

#[tokio::test]
async fn metrics_use_route_templates_not_raw_paths() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.get("/health/live").await;
    app.get("/secret-token-in-path-4242").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains(r#"route="/health/live""#)
            && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(!text.contains("secret-token-in-path-4242"));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(
        text.contains(r#"db_pool_max_connections{database="sqlite"} 4"#),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_token_is_enforced_when_configured() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_METRICS_TOKEN", "scrape-token-0123456789")
        .spawn()
        .await
        .unwrap();
    assert_error(app.get("/metrics").await, 401, "unauthorized").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-012345678X")
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_CORS_ORIGINS", "https://app.example.org")
        .spawn()
        .await
        .unwrap();
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/register"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example.org").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Without configured origins there is no CORS at all.
    let plain = TestApp::spawn(Db::Sqlite).await.unwrap();
    let response = plain
        .client
        .get(plain.url("/health/live"))
        .header("origin", "https://app.example.org")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    // A client that leaves the body compressed, so the header stays visible.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw
        .get(app.url("/api/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn graceful_stop_finishes_and_closes_the_store() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let store = app.store.clone();
    assert_eq!(app.get("/health/live").await.status(), 200);
    app.stop().await.unwrap();
    assert!(
        store.readiness().await.is_err(),
        "the pool should be closed"
    );
}
