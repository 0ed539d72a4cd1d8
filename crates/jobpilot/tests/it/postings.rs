//! Postings recruiters publish on jobpilot itself: published, searched, rewritten, closed and
//! reopened by their recruiter only; refused when malformed or hostile; closed with the
//! account that published them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Db, PASSWORD, TestApp, assert_error};
use crate::resumes::{INTERNAL_KEY, app_taking_pushed_jobs, job, push_jobs};

fn posting(title: &str) -> Value {
    json!({
        "title": title,
        "company": "Quokka Labs",
        "url": "https://careers.quokka.example/rust",
        "locations": ["Berlin"],
        "remote": "hybrid",
        "employment_type": "full_time",
        "seniority": "senior",
        "salary": {"min": 70000, "max": 90000, "currency": "EUR", "period": "year"},
        "description_html": "<p>We build with Rust and PostgreSQL on Kubernetes.</p>\
            <script>alert(1)</script><a href=\"javascript:alert(2)\" onclick=\"steal()\">more</a>\
            <p>Apply: jobs@quokka.example</p>",
    })
}

async fn publish(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.send_as(Method::POST, "/api/v1/jobs", token, Some(body))
        .await
}

/// The ids a search finds, once the index has caught up with `expected` of them.
async fn search_until(app: &TestApp, token: &str, query: &str, expected: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = app
            .get_as(&format!("/api/v1/jobs?{query}"), token)
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect();
        if ids.len() == expected {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "the index never showed {expected}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn own(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app.get_as(&format!("/api/v1/me/jobs?{query}"), token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn recruiters_publish_edit_close_and_reopen_their_postings(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let recruiter = app.user("rec@example.org", domain::Role::Recruiter).await;
    let rival = app.user("rival@example.org", domain::Role::Recruiter).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;

    // Seekers read postings but do not publish them.
    assert_error(
        publish(&app, &seeker.access, &posting("Rust Engineer")).await,
        403,
        "forbidden",
    )
    .await;

    let created = publish(&app, &recruiter.access, &posting("Staff Rust Engineer")).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["source"], "jobpilot");
    assert_eq!(created["title"], "Staff Rust Engineer");
    assert!(created["published_at"].is_string());
    assert!(created["closed_at"].is_null());
    let html = created["description_html"].as_str().unwrap();
    assert!(html.contains("Rust and PostgreSQL"), "{html}");
    for hostile in ["<script", "alert(1)", "javascript:", "onclick"] {
        assert!(!html.contains(hostile), "{hostile} survived: {html}");
    }
    let skills: Vec<&str> = created["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for skill in ["Rust", "PostgreSQL", "Kubernetes"] {
        assert!(skills.contains(&skill), "{skills:?}");
    }

    // Searchable by everyone, like a board's posting.
    assert_eq!(
        search_until(&app, &seeker.access, "q=quokka", 1).await,
        vec![id.clone()]
    );
    let read: Value = app
        .get_as(&format!("/api/v1/jobs/{id}"), &seeker.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["title"], "Staff Rust Engineer");

    // The recruiter's own list; nobody else's.
    let mine = own(&app, &recruiter.access, "").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], id.as_str());
    assert!(own(&app, &rival.access, "").await.is_empty());
    assert_error(
        app.get_as("/api/v1/me/jobs", &seeker.access).await,
        403,
        "forbidden",
    )
    .await;

    // Only its recruiter (or an administrator) changes it; a board's posting changes only
    // through its source.
    let path = format!("/api/v1/jobs/{id}");
    let mut edit = posting("Principal Rust Engineer");
    edit["description_text"] = json!("Rust, PostgreSQL and Kafka at Quokka Labs.");
    edit.as_object_mut().unwrap().remove("description_html");
    for who in [&rival, &seeker] {
        assert_error(
            app.send_as(Method::PUT, &path, &who.access, Some(&edit))
                .await,
            403,
            "forbidden",
        )
        .await;
        assert_error(
            app.send_as(Method::POST, &format!("{path}/close"), &who.access, None)
                .await,
            403,
            "forbidden",
        )
        .await;
    }
    push_jobs(
        &app,
        &json!([job("board-1", "Rust Engineer", &["Rust"], None)]),
    )
    .await;
    let board: Value = app
        .get_as("/api/v1/jobs?source=jobspy", &recruiter.access)
        .await
        .json()
        .await
        .unwrap();
    let board_id = board["items"][0]["id"].as_str().unwrap();
    assert_error(
        app.send_as(
            Method::PUT,
            &format!("/api/v1/jobs/{board_id}"),
            &admin.access,
            Some(&edit),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let unknown = format!("/api/v1/jobs/{}", uuid::Uuid::now_v7());
    assert_error(
        app.send_as(Method::PUT, &unknown, &recruiter.access, Some(&edit))
            .await,
        404,
        "not_found",
    )
    .await;

    let edited = app
        .send_as(Method::PUT, &path, &recruiter.access, Some(&edit))
        .await;
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["id"], id.as_str());
    assert_eq!(edited["title"], "Principal Rust Engineer");
    assert_eq!(edited["external_id"], created["external_id"]);
    assert_eq!(edited["published_at"], created["published_at"]);
    assert!(
        edited["description_html"].is_null(),
        "fields left out are emptied"
    );
    assert!(
        edited["skills"]
            .as_array()
            .unwrap()
            .contains(&json!("Apache Kafka"))
    );
    assert_eq!(
        search_until(&app, &seeker.access, "q=principal", 1).await,
        vec![id.clone()]
    );
    // An administrator may edit a recruiter's posting too.
    let mut moderated = edit.clone();
    moderated["title"] = json!("Principal Rust Engineer (Berlin)");
    let by_admin = app
        .send_as(Method::PUT, &path, &admin.access, Some(&moderated))
        .await;
    assert_eq!(by_admin.status(), 200);
    assert_eq!(own(&app, &recruiter.access, "").await.len(), 1);

    // A scraper cannot push postings under the reserved source, nor overwrite this one.
    let hijack = json!([{
        "source": "jobpilot", "external_id": created["external_id"],
        "url": "https://evil.example/", "title": "Send us your passwords",
    }]);
    let pushed: Value = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("x-internal-api-key", INTERNAL_KEY)
        .json(&hijack)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pushed["items"][0]["status"], "error", "{pushed}");
    assert_eq!(
        pushed["items"][0]["errors"][0]["field"], "source",
        "{pushed}"
    );
    let after: Value = app
        .get_as(&path, &seeker.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["title"], "Principal Rust Engineer (Berlin)");

    // Closed: out of search and of the default list, kept for applications; no edits.
    let closed = app
        .send_as(
            Method::POST,
            &format!("{path}/close"),
            &recruiter.access,
            None,
        )
        .await;
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    assert!(closed["closed_at"].is_string());
    search_until(&app, &seeker.access, "q=quokka", 0).await;
    assert!(own(&app, &recruiter.access, "").await.is_empty());
    assert_eq!(
        own(&app, &recruiter.access, "include_closed=true")
            .await
            .len(),
        1
    );
    assert_error(
        app.send_as(Method::PUT, &path, &recruiter.access, Some(&edit))
            .await,
        409,
        "posting_closed",
    )
    .await;
    let again: Value = app
        .send_as(
            Method::POST,
            &format!("{path}/close"),
            &recruiter.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["closed_at"], closed["closed_at"],
        "closing twice changes nothing"
    );

    // Reopened as it was.
    let reopened = app
        .send_as(
            Method::POST,
            &format!("{path}/reopen"),
            &recruiter.access,
            None,
        )
        .await;
    assert_eq!(reopened.status(), 200);
    let reopened: Value = reopened.json().await.unwrap();
    assert!(reopened["closed_at"].is_null());
    assert_eq!(reopened["title"], "Principal Rust Engineer (Berlin)");
    assert_eq!(
        search_until(&app, &seeker.access, "q=quokka", 1).await,
        vec![id.clone()]
    );

    // Every change is in the audit log, the administrator's naming the recruiter.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log: Value = app
            .get_as("/api/v1/admin/audit?limit=500", &admin.access)
            .await
            .json()
            .await
            .unwrap();
        let actions: Vec<&str> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .filter(|a| a.starts_with("jobs.") && *a != "jobs.push")
            .collect();
        let expected = ["jobs.publish", "jobs.update", "jobs.close", "jobs.reopen"];
        if expected.iter().all(|a| actions.contains(a)) {
            assert_eq!(actions.iter().filter(|a| **a == "jobs.update").count(), 2);
            assert_eq!(actions.iter().filter(|a| **a == "jobs.close").count(), 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "audit entries missing: {actions:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn malformed_and_concurrent_postings(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let recruiter = app.user("rec@example.org", domain::Role::Recruiter).await;
    let field_of = |body: Value| body["details"][0]["target"].as_str().unwrap().to_owned();
    for (change, field) in [
        (json!({"url": "ftp://files.example/job"}), "url"),
        (json!({"title": "   "}), "title"),
        (
            json!({"salary": {"min": 9, "max": 1, "currency": "EUR", "period": "year"}}),
            "salary",
        ),
        (
            json!({"salary": {"min": 1, "max": 9, "currency": "XXQ", "period": "year"}}),
            "salary.currency",
        ),
        (
            json!({"description_text": "x".repeat(1_000_000)}),
            "description_text",
        ),
        (json!({"source": "hh"}), "source"),
        (json!({"remote": "sometimes"}), "remote"),
    ] {
        let mut body = posting("Rust Engineer");
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = publish(&app, &recruiter.access, &body).await;
        assert_eq!(response.status(), 422, "{change}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        assert!(
            field_of(body["error"].clone()).starts_with(field),
            "{change}: {body}"
        );
    }
    let mut no_url = posting("Rust Engineer");
    no_url.as_object_mut().unwrap().remove("url");
    assert_eq!(
        publish(&app, &recruiter.access, &no_url).await.status(),
        422
    );
    let malformed = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(&recruiter.access)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "malformed_json").await;
    assert!(
        own(&app, &recruiter.access, "include_closed=true")
            .await
            .is_empty()
    );

    // Many at once: each stored once, under its own id.
    let bodies: Vec<Value> = (0..12)
        .map(|i| posting(&format!("Rust Engineer {i}")))
        .collect();
    let responses =
        futures_util::future::join_all(bodies.iter().map(|b| publish(&app, &recruiter.access, b)))
            .await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 12);
    let listed = own(&app, &recruiter.access, "limit=100").await;
    assert_eq!(listed.len(), 12);
    // Paged with the cursor.
    let first: Value = app
        .get_as("/api/v1/me/jobs?limit=5", &recruiter.access)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = own(
        &app,
        &recruiter.access,
        &format!("limit=100&cursor={cursor}"),
    )
    .await;
    assert_eq!(second.len(), 7);
    assert_error(
        app.get_as("/api/v1/me/jobs?limit=0", &recruiter.access)
            .await,
        422,
        "validation_failed",
    )
    .await;
}

async fn keys_need_the_jobs_write_scope_and_deleted_accounts_close_their_postings(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let recruiter = app.user("rec@example.org", domain::Role::Recruiter).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let key = |tokens: &crate::harness::Tokens, scopes: Value| {
        let token = tokens.access.clone();
        let app = &app;
        async move {
            app.send_as(
                Method::POST,
                "/api/v1/me/api-keys",
                &token,
                Some(&json!({"name": "ats", "scopes": scopes})),
            )
            .await
        }
    };
    assert_error(key(&seeker, json!(["jobs:write"])).await, 403, "forbidden").await;
    let read_only: Value = key(&recruiter, json!(["jobs:read"]))
        .await
        .json()
        .await
        .unwrap();
    let writer: Value = key(&recruiter, json!(["jobs:write"]))
        .await
        .json()
        .await
        .unwrap();
    let with_key = |secret: &str| {
        app.client
            .post(app.url("/api/v1/jobs"))
            .header("x-api-key", secret)
            .json(&posting("Rust Engineer"))
    };
    let refused = with_key(read_only["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "forbidden").await;
    let published = with_key(writer["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201);
    let id = published.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    search_until(&app, &seeker.access, "q=quokka", 1).await;

    // The recruiter's data export lists what they published.
    let export: Value = app
        .get_as("/api/v1/me/export", &recruiter.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["published_jobs"][0]["id"], id.as_str(), "{export}");
    let theirs: Value = app
        .get_as("/api/v1/me/export", &seeker.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["published_jobs"], json!([]));

    let deleted = app
        .send_as(
            Method::DELETE,
            "/api/v1/me",
            &recruiter.access,
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let job: Value = app
        .get_as(&format!("/api/v1/jobs/{id}"), &seeker.access)
        .await
        .json()
        .await
        .unwrap();
    assert!(job["closed_at"].is_string(), "{job}");
    search_until(&app, &seeker.access, "q=quokka", 0).await;
    // With its owner gone, nobody reopens it.
    assert_error(
        app.send_as(
            Method::POST,
            &format!("/api/v1/jobs/{id}/reopen"),
            &admin.access,
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

async fn a_recruiter_has_at_most_the_configured_open_postings(db: Db) {
    let Some(app) = TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_MAX_OPEN_POSTINGS", "2")
        .spawn()
        .await
    else {
        return;
    };
    let recruiter = app.user("rec@example.org", domain::Role::Recruiter).await;
    let other = app.user("other@example.org", domain::Role::Recruiter).await;
    let mut ids = Vec::new();
    for title in ["Rust Engineer", "Go Engineer"] {
        let created = publish(&app, &recruiter.access, &posting(title)).await;
        assert_eq!(created.status(), 201);
        ids.push(
            created.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_error(
        publish(&app, &recruiter.access, &posting("Java Engineer")).await,
        409,
        "too_many_postings",
    )
    .await;
    // Another recruiter's count is their own.
    assert_eq!(
        publish(&app, &other.access, &posting("Java Engineer"))
            .await
            .status(),
        201
    );
    // Closing one makes room; reopening it past the limit is refused.
    let close = |id: &str| format!("/api/v1/jobs/{id}/close");
    let closed = app
        .send_as(Method::POST, &close(&ids[0]), &recruiter.access, None)
        .await;
    assert_eq!(closed.status(), 200);
    assert_eq!(
        publish(&app, &recruiter.access, &posting("Java Engineer"))
            .await
            .status(),
        201
    );
    assert_error(
        app.send_as(
            Method::POST,
            &format!("/api/v1/jobs/{}/reopen", ids[0]),
            &recruiter.access,
            None,
        )
        .await,
        409,
        "too_many_postings",
    )
    .await;
}

crate::on_both_databases!(
    recruiters_publish_edit_close_and_reopen_their_postings,
    malformed_and_concurrent_postings,
    keys_need_the_jobs_write_scope_and_deleted_accounts_close_their_postings,
    a_recruiter_has_at_most_the_configured_open_postings
);
