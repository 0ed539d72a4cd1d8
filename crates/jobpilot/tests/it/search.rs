//! Job search end to end: postings pushed in reach the index through the change follower and
//! are found by words (stemmed, English and Russian), filters and facets, with highlights and
//! paging; bad queries get the one error shape.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Db, TestApp, assert_error};

const INTERNAL_KEY: &str = "internal-key-for-tests-0123456789abcdef";

fn postings() -> Value {
    let mut items = vec![
        json!({
            "source": "jobspy", "external_id": "rust-1", "url": "https://jobs.example.org/rust-1",
            "title": "Senior Rust Developer", "company": "Ferrous GmbH", "locations": ["Berlin"],
            "remote": "hybrid", "seniority": "senior", "skills": ["Rust", "PostgreSQL"],
            "salary": {"min": 80000, "max": 100000, "currency": "EUR", "period": "year"},
            "description_html": "<p>Building databases in Rust.</p><script>alert(1)</script>",
            "published_at": "2026-11-20T00:00:00Z",
        }),
        json!({
            "source": "hh", "external_id": "py-1", "url": "https://hh.example.org/py-1",
            "title": "Разработчик Python", "company": "Яндекс", "locations": ["Москва"],
            "remote": "no", "skills": ["Python"],
            "salary": {"min": 250000, "currency": "RUB", "period": "month"},
            "description_html": "<p>Ищем разработчиков для работы с данными.</p>",
            "published_at": "2026-11-25T00:00:00Z",
        }),
    ];
    // Enough similar postings to page through.
    for i in 0..23 {
        items.push(json!({
            "source": "jobspy", "external_id": format!("data-{i}"),
            "url": format!("https://jobs.example.org/data-{i}"),
            "title": format!("Data Engineer {i}"), "company": format!("Streamly {i}"),
            "remote": "yes", "skills": ["Python", "Kafka"],
            "description_html": format!("<p>Pipelines number {i} in Python.</p>"),
            "published_at": "2026-11-10T00:00:00Z",
        }));
    }
    Value::Array(items)
}

async fn search(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.get_as(&format!("/api/v1/jobs?{query}"), token).await
}

/// Pushes [`postings`] in through the internal ingestion API.
async fn push_postings(app: &TestApp) {
    let pushed = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("x-internal-api-key", INTERNAL_KEY)
        .json(&postings())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
}

/// The index follows the database within about a second; wait for it rather than sleep.
async fn wait_until_indexed(app: &TestApp, token: &str, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = search(app, token, "sort=newest&limit=1")
            .await
            .json()
            .await
            .unwrap();
        if body["total"].as_u64() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "never indexed: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn searching_jobs(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
    else {
        return;
    };
    push_postings(&app).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    wait_until_indexed(&app, token, 25).await;

    // Stemmed words in both languages; the title weighs most; matched words highlighted and
    // the posting's own markup escaped.
    let body: Value = search(&app, token, "q=developers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 1);
    let hit = &body["items"][0];
    assert_eq!(hit["external_id"], "rust-1");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert_eq!(hit["highlights"]["title"], "Senior Rust <b>Developer</b>");
    let body: Value = search(
        &app,
        token,
        "q=%D1%80%D0%B0%D0%B7%D1%80%D0%B0%D0%B1%D0%BE%D1%82%D1%87%D0%B8%D0%BA",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["items"][0]["external_id"], "py-1", "{body}");
    let body: Value = search(&app, token, "q=rust").await.json().await.unwrap();
    let text = body["items"][0]["highlights"]["text"].as_str().unwrap();
    assert!(
        text.contains("<b>Rust</b>") && !text.contains("<script"),
        "{text}"
    );

    // Filters and facets.
    let body: Value = search(
        &app,
        token,
        "skills=python&remote=no,hybrid&facets=source,skill",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["external_id"], "py-1");
    let body: Value = search(&app, token, "q=python&facets=skill,remote")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 24);
    assert_eq!(
        body["facets"]["skill"][0],
        json!({"value": "Python", "count": 24})
    );
    assert_eq!(
        body["facets"]["skill"][1],
        json!({"value": "Apache Kafka", "count": 23})
    );
    assert_eq!(
        body["facets"]["remote"][0],
        json!({"value": "yes", "count": 23})
    );
    // 80–100k EUR a year clears 60k USD a year; 250k RUB a month does not.
    let body: Value = search(&app, token, "salary_min=60000&currency=USD")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["external_id"], "rust-1");
    let body: Value = search(
        &app,
        token,
        "location=moscow%20OR%20berlin&source=hh,jobspy",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["total"], 0, "location words are not query syntax");
    let body: Value = search(&app, token, "published_after=2026-11-15T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    let newest: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(newest, ["py-1", "rust-1"]);

    // Paging: every data posting once, then no cursor.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("q=pipelines&limit=10&cursor={c}"),
            None => "q=pipelines&limit=10".to_owned(),
        };
        let body: Value = search(&app, token, &query).await.json().await.unwrap();
        for item in body["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()));
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);

    // Bad input: the one error shape, never a 500.
    let body = assert_error(
        search(&app, token, "q=title:(rust").await,
        400,
        "invalid_query",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{body}"
    );
    assert_error(
        search(&app, token, "q=salary:5").await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(
        search(&app, token, "facets=colour").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        search(&app, token, "remote=sometimes").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        search(&app, token, "q=rust&cursor=bogus").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        search(&app, token, "salary_min=-5").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        search(&app, token, "salary_min=5&currency=XAF").await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        search(&app, token, "q=rust&include_closed=true").await,
        422,
        "validation_failed",
    )
    .await;
    // The documented maximum lengths hold on the plain listing too (multi-byte characters
    // count once).
    for query in [
        format!("source={}", "%C3%A9".repeat(201)),
        format!("cursor={}", "x".repeat(201)),
        format!("q=rust&source={}", "s".repeat(201)),
    ] {
        assert_error(search(&app, token, &query).await, 422, "validation_failed").await;
    }
    assert_eq!(
        search(&app, token, &format!("source={}", "%C3%A9".repeat(200)))
            .await
            .status(),
        200
    );
    let long = "a%20".repeat(1_001);
    assert_error(
        search(&app, token, &format!("q={long}")).await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(app.get("/api/v1/jobs?q=rust").await, 401, "unauthorized").await;

    // A change reaches the index: the posting closes, search no longer finds it.
    let mut changed = postings()[0].clone();
    changed["title"] = json!("Senior Go Developer");
    let pushed = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("x-internal-api-key", INTERNAL_KEY)
        .json(&json!([changed]))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = search(&app, token, "q=title:go")
            .await
            .json()
            .await
            .unwrap();
        if body["total"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change never reached the index"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

crate::on_both_databases!(searching_jobs);

/// Readiness calls the index current and a search does not call itself partial.
async fn assert_index_whole(app: &TestApp, token: &str) {
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["search_index"],
        "current"
    );
    let body: Value = search(app, token, "q=python").await.json().await.unwrap();
    assert!(body.get("partial").is_none(), "{body}");
}

/// While the index is rebuilt from the database, searches say their answer is partial, the
/// metrics and the readiness body say so, and (when asked to) readiness waits for the rebuild.
#[tokio::test]
async fn a_rebuilding_index_is_reported_and_can_hold_readiness() {
    const ESTIMATE: &str = "/api/v1/salary-estimate?role=data%20engineer";
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env("JOBPILOT_READY_WAITS_FOR_SEARCH_INDEX", "true")
        .spawn()
        .await
        .unwrap();
    push_postings(&app).await;
    let seeker = app.user("rebuild@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    wait_until_indexed(&app, token, 25).await;
    assert_index_whole(&app, token).await;

    // Emptied, as a version change does: the follower rebuilds it at its next poll (about a
    // second), so the checks right after the emptying see the rebuild. A round that the
    // follower overtook is tried again.
    let index = std::sync::Arc::clone(app.state.search());
    let mut seen = false;
    for _ in 0..5 {
        let clearing = std::sync::Arc::clone(&index);
        tokio::task::spawn_blocking(move || clearing.clear())
            .await
            .unwrap()
            .unwrap();
        let ready = app.get("/health/ready").await;
        let body: Value = search(&app, token, "q=python").await.json().await.unwrap();
        let metrics = app.get("/metrics").await.text().await.unwrap();
        // None of the data engineer postings states a salary: too few to estimate from, but
        // during a rebuild that may only mean "not indexed yet".
        let estimate = app.get_as(ESTIMATE, token).await;
        if !index.is_rebuilding() {
            continue;
        }
        let retry_after = estimate.headers().get("retry-after").cloned();
        assert_error(estimate, 503, "search_index_rebuilding").await;
        assert_eq!(retry_after.unwrap(), "10");
        let problem = assert_error(ready, 503, "not_ready").await;
        assert_eq!(problem["error"]["details"][0]["target"], "search_index");
        assert_eq!(body["partial"], true, "{body}");
        assert!(
            metrics
                .lines()
                .any(|line| line == "search_index_rebuilding 1"),
            "{metrics}"
        );
        seen = true;
        break;
    }
    assert!(
        seen,
        "the follower finished every rebuild before it could be seen"
    );

    // Once caught up, everything is whole again.
    wait_until_indexed(&app, token, 25).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while index.is_rebuilding() {
        assert!(Instant::now() < deadline, "the rebuild never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_index_whole(&app, token).await;
    assert_error(app.get_as(ESTIMATE, token).await, 422, "too_few_postings").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line == "search_index_rebuilding 0")
    );
    assert!(
        metrics
            .lines()
            .any(|line| line == "search_index_documents 25")
    );
}
