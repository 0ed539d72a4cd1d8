//! Jobs end to end: boards synced by the task queue from a local server replaying their recorded
//! formats, cross-board deduplication, change detection, closing, resuming; pushed batches; the
//! import/export commands.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, Tokens, assert_error};

fn fixture(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sources/tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[derive(Default)]
struct BoardState {
    greenhouse: Value,
    lever: Value,
    /// Lever answers 500 to requests with this `skip`.
    lever_fails_at_skip: Option<u64>,
    lever_requests: Vec<String>,
}

type Boards = Arc<Mutex<BoardState>>;

async fn greenhouse(State(boards): State<Boards>, Path(board): Path<String>) -> Response {
    if board != "acme" {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(boards.lock().unwrap().greenhouse.clone()).into_response()
}

async fn lever(
    State(boards): State<Boards>,
    Path(site): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut boards = boards.lock().unwrap();
    assert_eq!(site, "northwind");
    let skip: u64 = query.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    boards.lever_requests.push(format!("skip={skip}"));
    if boards.lever_fails_at_skip == Some(skip) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream down").into_response();
    }
    let limit: usize = query
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let all = boards.lever.as_array().unwrap();
    let page: Vec<Value> = all
        .iter()
        .skip(skip as usize)
        .take(limit)
        .cloned()
        .collect();
    Json(Value::Array(page)).into_response()
}

/// A local stand-in for Greenhouse and Lever, and a sources file pointing at it.
struct BoardServer {
    state: Boards,
    config: tempfile::NamedTempFile,
}

impl BoardServer {
    async fn start(lever_page_size: Option<u32>) -> Self {
        let state = Arc::new(Mutex::new(BoardState {
            greenhouse: fixture("greenhouse/acme_jobs_content.json"),
            lever: fixture("lever/northwind_postings.json"),
            ..BoardState::default()
        }));
        let router = Router::new()
            .route("/v1/boards/{board}/jobs", get(greenhouse))
            .route("/v0/postings/{site}", get(lever))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let http = "http = { min_interval_ms = 0, max_retries = 0, timeout_ms = 5000 }";
        let page_size = lever_page_size
            .map(|n| format!("page_size = {n}\n"))
            .unwrap_or_default();
        let toml = format!(
            "[greenhouse]\nbase_url = \"{base}\"\nboards = [\"acme\"]\n{http}\n\n\
             [lever]\nbase_url = \"{base}\"\n{page_size}\
             companies = [{{ site = \"northwind\", name = \"Northwind Robotics\" }}]\n{http}\n"
        );
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(config.path(), toml).unwrap();
        Self { state, config }
    }

    fn path(&self) -> String {
        self.config.path().display().to_string()
    }
}

async fn admin(app: &TestApp) -> Tokens {
    app.user("admin@example.org", domain::Role::Admin).await
}

/// Starts a sync through the admin API and waits for its task to finish.
async fn sync_through_api(app: &TestApp, token: &str, source: &str) {
    let started = app
        .send_as(
            Method::POST,
            &format!("/api/v1/admin/sources/{source}/sync"),
            token,
            None,
        )
        .await;
    assert_eq!(started.status(), 202);
    let task_id = started.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task: Value = app
            .get_as(&format!("/api/v1/tasks/{task_id}"), token)
            .await
            .json()
            .await
            .unwrap();
        match task["state"].as_str().unwrap() {
            "completed" => return,
            "discarded" | "cancelled" | "retryable" => panic!("sync failed: {task}"),
            _ if Instant::now() > deadline => panic!("sync did not finish: {task}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn jobs(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app
        .get_as(&format!("/api/v1/jobs?limit=100{query}"), token)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

fn by_external_id<'a>(jobs: &'a [Value], id: &str) -> &'a Value {
    jobs.iter()
        .find(|j| j["external_id"] == id)
        .unwrap_or_else(|| panic!("no job {id}"))
}

async fn boards_sync_dedupe_detect_changes_and_close(db: Db) {
    let boards = BoardServer::start(None).await;
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_SOURCES_CONFIG", &boards.path())
        .with_workers()
        .spawn()
        .await
    else {
        return;
    };
    let admin = admin(&app).await;
    sync_through_api(&app, &admin.access, "greenhouse").await;
    sync_through_api(&app, &admin.access, "lever").await;

    // The same position on both boards is listed once; the other posting points at it.
    let all = jobs(&app, &admin.access, "&include_duplicates=true").await;
    assert_eq!(all.len(), 7);
    let shown = jobs(&app, &admin.access, "").await;
    assert_eq!(shown.len(), 6);
    let greenhouse_rust = by_external_id(&all, "7781204003");
    let lever_rust = by_external_id(&all, "3f9c2b7e-1d4a-4e8b-9c61-7a5d0e2f4b18");
    assert_eq!(lever_rust["duplicate_of"], greenhouse_rust["id"]);
    assert_eq!(greenhouse_rust["duplicate_of"], Value::Null);
    assert_eq!(greenhouse_rust["company"], "Northwind Robotics");
    let html = greenhouse_rust["description_html"].as_str().unwrap();
    assert!(
        html.contains("<p>") && !html.contains("&lt;p&gt;"),
        "{html}"
    );

    let status: Value = app
        .get_as("/api/v1/admin/sources", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let greenhouse_status = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "greenhouse")
        .unwrap();
    assert_eq!(greenhouse_status["configured"], true);
    assert_eq!(greenhouse_status["last_run"]["state"], "succeeded");
    assert_eq!(greenhouse_status["last_run"]["created"], 4);

    // A second sync of an unchanged board rewrites nothing.
    let id = domain::JobId::from_uuid(greenhouse_rust["id"].as_str().unwrap().parse().unwrap());
    let before = app.store.job(id).await.unwrap().unwrap();
    sync_through_api(&app, &admin.access, "greenhouse").await;
    let run = app.store.source_run("greenhouse").await.unwrap().unwrap();
    assert_eq!((run.created, run.updated, run.unchanged), (0, 0, 4));
    let after = app.store.job(id).await.unwrap().unwrap();
    assert_eq!(after.change_seq, before.change_seq);
    assert_eq!(after.updated_at, before.updated_at);

    // A changed posting is rewritten; one the board dropped is closed, not deleted.
    {
        let mut state = boards.state.lock().unwrap();
        let jobs = state.greenhouse["jobs"].as_array_mut().unwrap();
        jobs.retain(|j| j["id"] != 7762290003u64);
        jobs[0]["title"] = json!("Senior Rust Engineer (Fleet)");
    }
    sync_through_api(&app, &admin.access, "greenhouse").await;
    let run = app.store.source_run("greenhouse").await.unwrap().unwrap();
    assert_eq!((run.updated, run.unchanged, run.closed), (1, 2, 1));
    let all = jobs(
        &app,
        &admin.access,
        "&include_duplicates=true&include_closed=true",
    )
    .await;
    let dropped = by_external_id(&all, "7762290003");
    assert!(dropped["closed_at"].is_string());
    assert!(
        !jobs(&app, &admin.access, "")
            .await
            .iter()
            .any(|j| j["external_id"] == "7762290003")
    );
    assert_eq!(
        by_external_id(&all, "7781204003")["title"],
        "Senior Rust Engineer (Fleet)"
    );

    // Only administrators see sources and start syncs; unknown sources are 404.
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    assert_error(
        app.get_as("/api/v1/admin/sources", &seeker.access).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.send_as(
            Method::POST,
            "/api/v1/admin/sources/nope/sync",
            &admin.access,
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // Seekers read jobs.
    assert_eq!(jobs(&app, &seeker.access, "").await.len(), 5);

    // The canonical posting closes on its board: the same job on the other board takes its
    // place, so it stays listed (and searchable) once.
    {
        let mut state = boards.state.lock().unwrap();
        let jobs = state.greenhouse["jobs"].as_array_mut().unwrap();
        jobs.retain(|j| j["id"] != 7781204003u64);
    }
    sync_through_api(&app, &admin.access, "greenhouse").await;
    let shown = jobs(&app, &seeker.access, "").await;
    assert_eq!(shown.len(), 5);
    let promoted = by_external_id(&shown, "3f9c2b7e-1d4a-4e8b-9c61-7a5d0e2f4b18");
    assert_eq!(promoted["duplicate_of"], Value::Null);
    // The index follows the database within its poll interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = jobs(&app, &seeker.access, "&q=rust").await;
        if found.iter().any(|j| j["id"] == promoted["id"]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the promoted posting is never found: {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Retention deletes postings closed before the cut-off, and nothing open, and nothing a
    // user applied to (their application keeps pointing at it).
    let everything = "&include_duplicates=true&include_closed=true";
    let all = jobs(&app, &admin.access, everything).await;
    assert_eq!(all.len(), 7);
    let closed: Vec<&Value> = all.iter().filter(|j| !j["closed_at"].is_null()).collect();
    assert_eq!(closed.len(), 2);
    let applied = app
        .send_as(
            Method::POST,
            "/api/v1/applications",
            &seeker.access,
            Some(&json!({ "job_id": closed[0]["id"], "status": "applied" })),
        )
        .await;
    assert_eq!(applied.status(), 201);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(app.store.prune_closed_jobs(later, 100).await.unwrap(), 1);
    assert_eq!(app.store.prune_closed_jobs(later, 100).await.unwrap(), 0);
    let left = jobs(&app, &admin.access, everything).await;
    assert_eq!(left.len(), 6);
    let still_closed: Vec<&Value> = left.iter().filter(|j| !j["closed_at"].is_null()).collect();
    assert_eq!(still_closed.len(), 1);
    assert_eq!(still_closed[0]["id"], closed[0]["id"]);
}

async fn an_interrupted_sync_resumes_from_its_last_page(db: Db) {
    let boards = BoardServer::start(Some(1)).await;
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_SOURCES_CONFIG", &boards.path())
        .spawn()
        .await
    else {
        return;
    };
    let config = jobpilot::config::Config::from_sources(
        [("JOBPILOT_SOURCES_CONFIG".to_owned(), boards.path())],
        None,
    )
    .unwrap();
    let catalog = config.sources.build().unwrap();
    let lever = catalog.get("lever").unwrap();
    let quiet = |_: &store::SourceRun| {};

    boards.state.lock().unwrap().lever_fails_at_skip = Some(1);
    let error = sources::sync::run(lever.as_ref(), app.store.as_ref(), &quiet)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("500"), "{error}");
    let run = app.store.source_run("lever").await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.pages, run.created),
        ("running", 1, 1)
    );
    assert!(run.last_error.is_some());

    boards.state.lock().unwrap().lever_fails_at_skip = None;
    let run = sources::sync::run(lever.as_ref(), app.store.as_ref(), &quiet)
        .await
        .unwrap();
    assert_eq!((run.state.as_str(), run.created), ("succeeded", 3));
    // The first page was not fetched again; a resumed run closes nothing it did not see.
    let requests = boards.state.lock().unwrap().lever_requests.clone();
    assert_eq!(requests[..4], ["skip=0", "skip=1", "skip=1", "skip=2"]);
    assert_eq!(requests.iter().filter(|r| *r == "skip=0").count(), 1);
    assert_eq!(run.closed, 0);
}

fn posting(id: &str) -> Value {
    json!({
        "source": "jobspy", "external_id": id, "url": format!("https://jobs.example.org/{id}"),
        "title": format!("Backend Engineer {id}"), "company": "Example GmbH",
        "locations": ["Berlin"], "remote": "hybrid",
        "salary": {"min": 60000, "max": 80000, "currency": "EUR", "period": "year"},
        "description_html": "<p>Rust and <b>PostgreSQL</b></p>",
    })
}

async fn push(
    app: &TestApp,
    key: Option<&str>,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = key {
        request = request.header("x-internal-api-key", key);
    }
    request.send().await.unwrap()
}

const INTERNAL_KEY: &str = "internal-key-for-tests-0123456789abcdef";

async fn pushed_batches_report_each_posting(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
    else {
        return;
    };
    let key = Some(INTERNAL_KEY);
    let json = "application/json";

    // Wrong key, no credentials, a seeker: refused.
    let batch = json!([posting("1")]).to_string();
    assert_error(
        push(&app, Some("wrong"), json, batch.clone()).await,
        401,
        "invalid_internal_key",
    )
    .await;
    assert_error(
        push(&app, None, json, batch.clone()).await,
        401,
        "unauthorized",
    )
    .await;

    // A mixed batch: the good postings are stored, each bad one says why.
    let mut hostile = posting("2");
    hostile["description_html"] = json!(
        r#"<p onclick="steal()">Hi</p><script>alert(1)</script><a href="javascript:x()">x</a>"#
    );
    let mut wrong_type = posting("3");
    wrong_type["title"] = json!(42);
    let mut absurd = posting("4");
    absurd["salary"] = json!({"min": 90000, "max": 10, "currency": "EUR", "period": "year"});
    let mut negative = posting("5");
    negative["salary"] = json!({"min": -5, "currency": "EUR", "period": "year"});
    let mut currency = posting("6");
    currency["salary"] = json!({"min": 5, "currency": "XYZ", "period": "year"});
    let mut huge = posting("7");
    huge["description_html"] = json!(format!("<p>{}</p>", "x".repeat(10 * 1024 * 1024)));
    let mut missing = posting("8");
    missing.as_object_mut().unwrap().remove("url");
    let batch = json!([
        posting("1"),
        hostile,
        wrong_type,
        absurd,
        negative,
        currency,
        huge,
        missing
    ]);
    let response = push(&app, key, json, batch.to_string()).await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["counts"]["created"], 2, "{report}");
    assert_eq!(report["counts"]["failed"], 6);
    let items = report["items"].as_array().unwrap();
    let statuses: Vec<&str> = items
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "created", "created", "error", "error", "error", "error", "error", "error"
        ]
    );
    for (index, field) in [
        (2, "title"),
        (3, "salary"),
        (4, "salary.min"),
        (5, "salary.currency"),
        (6, "description_html"),
        (7, "url"),
    ] {
        let errors = items[index]["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"].as_str().unwrap().starts_with(field)),
            "item {index}: {errors:?}"
        );
    }
    let stored = app
        .store
        .job(domain::JobId::from_uuid(
            items[1]["id"].as_str().unwrap().parse().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    let html = stored.posting.description_html.unwrap();
    for forbidden in ["script", "onclick", "javascript:"] {
        assert!(!html.contains(forbidden), "{html}");
    }

    // Sent again: unchanged; edited: updated; as JSON Lines with a broken line.
    let mut edited = posting("2");
    edited["title"] = json!("Backend Engineer, edited");
    let lines = format!("{}\n{}\n{{\"source\": \n", posting("1"), edited);
    let report: Value = push(&app, key, "application/x-ndjson", lines)
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["unchanged", "updated", "error"]);
    assert_eq!(report["items"][2]["errors"][0]["field"], "line 3");

    // Whole-body problems: nothing is stored.
    let truncated = r#"[{"source":"jobspy","external_id":"9","url":"https://e.org/9","ti"#;
    assert_error(
        push(&app, key, json, truncated.to_owned()).await,
        400,
        "malformed_body",
    )
    .await;
    assert_error(
        push(&app, key, "text/csv", "a,b".to_owned()).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"source": "x", "external_id": i.to_string()}))
        .collect();
    assert_error(
        push(&app, key, json, Value::Array(too_many).to_string()).await,
        413,
        "batch_too_large",
    )
    .await;
    let admin = admin(&app).await;
    assert_eq!(jobs(&app, &admin.access, "").await.len(), 2);

    // An administrator's API key may push too; a seeker may read but not push.
    let created: Value = app
        .send_as(
            Method::POST,
            "/api/v1/me/api-keys",
            &admin.access,
            Some(&json!({"name": "scraper", "scopes": ["admin"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin_key = created["secret"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("x-api-key", admin_key)
        .json(&json!([posting("10")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seeker = app.user("reader@example.org", domain::Role::Seeker).await;
    let response = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .bearer_auth(&seeker.access)
        .json(&json!([posting("11")]))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden").await;
    let listed = jobs(&app, &seeker.access, "").await;
    assert_eq!(listed.len(), 3);
    let one = app
        .get_as(
            &format!("/api/v1/jobs/{}", listed[0]["id"].as_str().unwrap()),
            &seeker.access,
        )
        .await;
    assert_eq!(one.status(), 200);
    assert_error(
        app.get_as(
            &format!("/api/v1/jobs/{}", uuid::Uuid::now_v7()),
            &seeker.access,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

/// A canonical posting closes (its duplicate is promoted) and is then seen again: it joins the
/// cluster that stands now instead of making a second canonical; when nothing of its cluster
/// is open any more, it leads again.
async fn a_reopened_posting_rejoins_its_cluster(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
    else {
        return;
    };
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let same_job = |source: &str| {
        let mut job = posting("rust-1");
        job["source"] = json!(source);
        job["title"] = json!("Senior Rust Engineer");
        job["description_html"] = json!(
            "<p>We build a distributed database in Rust: storage engine, replication, query \
             planning. You know PostgreSQL internals, Kubernetes and on-call duty.</p>"
        );
        job
    };
    let push_one = |job: Value| {
        let app = &app;
        async move {
            let report: Value = push(
                app,
                Some(INTERNAL_KEY),
                "application/json",
                json!([job]).to_string(),
            )
            .await
            .json()
            .await
            .unwrap();
            report["items"][0].clone()
        }
    };
    let first = push_one(same_job("board-a")).await;
    let second = push_one(same_job("board-b")).await;
    assert_eq!(second["duplicate_of"], first["id"], "{second}");
    let listed_once = |jobs: Vec<Value>| {
        let rust: Vec<Value> = jobs
            .into_iter()
            .filter(|j| j["title"] == "Senior Rust Engineer")
            .collect();
        assert_eq!(rust.len(), 1, "{rust:?}");
        rust[0]["id"].clone()
    };

    // Board A drops it: B leads.
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let closed = app
        .store
        .close_unseen_jobs("board-a", later, later)
        .await
        .unwrap();
    assert_eq!(closed, 1);
    assert_eq!(
        listed_once(jobs(&app, &admin.access, "").await),
        second["id"]
    );

    // Board A shows it again: it reopens as a duplicate of B, and one posting is listed.
    let reopened = push_one(same_job("board-a")).await;
    assert_eq!(reopened["status"], "updated", "{reopened}");
    assert_eq!(reopened["duplicate_of"], second["id"], "{reopened}");
    assert_eq!(
        listed_once(jobs(&app, &admin.access, "").await),
        second["id"]
    );

    // Both boards drop it, then A shows it again: nothing of its cluster is open, it leads.
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    for board in ["board-a", "board-b"] {
        app.store
            .close_unseen_jobs(board, later, later)
            .await
            .unwrap();
    }
    let alone = push_one(same_job("board-a")).await;
    assert_eq!(alone["duplicate_of"], Value::Null, "{alone}");
    assert_eq!(
        listed_once(jobs(&app, &admin.access, "").await),
        first["id"]
    );
}

crate::on_both_databases!(
    boards_sync_dedupe_detect_changes_and_close,
    an_interrupted_sync_resumes_from_its_last_page,
    pushed_batches_report_each_posting,
    a_reopened_posting_rejoins_its_cluster,
);

#[test]
fn import_and_export_round_trip_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // Enough postings for several statements per batch, and batches of uneven sizes.
    let mut lines: Vec<String> = (0..1234)
        .map(|i| posting(&i.to_string()).to_string())
        .collect();
    lines.push("{broken".to_owned());
    let mut bytes = lines.join("\r\n").into_bytes();
    // A line that is not UTF-8 is refused alone; the rest of its batch is stored.
    let mut not_utf8 = posting("not-utf8").to_string().into_bytes();
    let title = not_utf8.windows(5).position(|w| w == b"Rust ").unwrap();
    not_utf8[title] = 0xff;
    bytes.extend(b"\n\n");
    bytes.extend(not_utf8);
    bytes.extend(b"\n");
    bytes.extend(posting("after").to_string().into_bytes());
    std::fs::write(&input, bytes).unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_jobpilot"))
            .env_clear()
            .env("JOBPILOT_DATA_DIR", dir.path())
            .env("JOBPILOT_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) =
        run(&["jobs", "import", "--batch", "700", input.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (summary["created"].as_u64(), summary["failed"].as_u64()),
        (Some(1235), Some(2))
    );
    assert!(stderr.contains("line 1235: not JSON"), "{stderr}");
    assert!(
        stderr.contains("line 1237: not JSON: invalid unicode"),
        "{stderr}"
    );

    let exported = dir.path().join("out.jsonl");
    let (code, _, stderr) = run(&["jobs", "export", "--out", exported.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap().lines().count(),
        1235
    );
    let (code, stdout, _) = run(&["jobs", "import", exported.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        summary["unchanged"], 1235,
        "an exported posting imports unchanged"
    );

    let (code, stdout, stderr) = run(&["search", "reindex"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout_status, _) = run(&["search", "status"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout_status.contains("searchable jobs: 1235") && stdout_status.contains("up to date"),
        "{stdout}{stdout_status}"
    );

    let (code, stdout, _) = run(&["sources", "status"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("no source has synced yet"), "{stdout}");
    let (code, _, stderr) = run(&["sources", "sync"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no source is configured"), "{stderr}");
}
