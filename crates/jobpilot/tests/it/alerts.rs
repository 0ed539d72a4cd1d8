//! Match alerts: a seeker turns on the alert of a resume; postings first seen afterwards that
//! match it well enough arrive on the event socket as `matches.new`, each once; older postings,
//! weak matches and other users' alerts stay silent; bad input gets the error shape.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    events_socket::{next, open, quiet},
    harness::{Db, TestApp, assert_error},
    resumes::{app_taking_pushed_jobs, job, push_jobs, upload_parsed},
};

const RESUME: &str = "Sam Roe, Backend Engineer\n\
    Five years of Rust and PostgreSQL services on Kubernetes.\n";

/// Runs the alert evaluation as the schedule would, and waits for it to finish.
async fn evaluate(app: &TestApp, admin: &str) {
    let task = tasks::Queue::new(app.state.tasks().clone())
        .enqueue(tasks::NewTask::new(web::alerts::EVALUATE_TASK, json!({})))
        .await
        .unwrap();
    app.wait_for_task(&task.0.to_string(), admin).await;
}

/// Waits until the index holds the posting with this external id.
async fn indexed(app: &TestApp, token: &str, external_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found: Value = app
            .get_as(&format!("/api/v1/jobs?q={external_id}"), token)
            .await
            .json()
            .await
            .unwrap();
        let items = found["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|j| j["external_id"] == external_id) {
            return;
        }
        assert!(Instant::now() < deadline, "{external_id} never indexed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn put_alert(app: &TestApp, token: &str, resume: &str, body: Value) -> reqwest::Response {
    app.send_as(
        Method::PUT,
        &format!("/api/v1/resumes/{resume}/alert"),
        token,
        Some(&body),
    )
    .await
}

async fn new_matching_postings_are_announced_once(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let other = app.user("other@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    // Seen before the alert exists: never announced.
    push_jobs(
        &app,
        &json!([job(
            "oldrust",
            "Rust Engineer",
            &["Rust", "PostgreSQL"],
            None
        )]),
    )
    .await;
    let resume = upload_parsed(&app, token, "cv.txt", RESUME.as_bytes().to_vec()).await;
    let id = resume["id"].as_str().unwrap();
    indexed(&app, token, "oldrust").await;

    // No alert yet; bad thresholds and other users' resumes are refused.
    let alert_path = format!("/api/v1/resumes/{id}/alert");
    assert_error(app.get_as(&alert_path, token).await, 404, "not_found").await;
    for bad in [json!({"min_score": 1.5}), json!({"min_score": -0.1})] {
        assert_error(
            put_alert(&app, token, id, bad).await,
            422,
            "validation_failed",
        )
        .await;
    }
    assert_error(
        put_alert(&app, token, id, json!({"min_score": "high"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        put_alert(&app, token, id, json!({"min_score": 0.5, "extra": 1})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        put_alert(&app, &other.access, id, json!({})).await,
        404,
        "not_found",
    )
    .await;

    let created = put_alert(&app, token, id, json!({})).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["resume_id"], id);
    assert!((created["min_score"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    let changed: Value = put_alert(&app, token, id, json!({"min_score": 0.2}))
        .await
        .json()
        .await
        .unwrap();
    assert!((changed["min_score"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(changed["created_at"], created["created_at"]);
    assert_error(
        app.get_as(&alert_path, &other.access).await,
        404,
        "not_found",
    )
    .await;

    let mut mine = open(&app, token, "").await;
    let mut theirs = open(&app, &other.access, "").await;
    assert_eq!(next(&mut mine).await["type"], "hello");
    assert_eq!(next(&mut theirs).await["type"], "hello");

    // New postings: a strong match, a posting sharing no skill.
    push_jobs(
        &app,
        &json!([
            job(
                "newrust",
                "Rust Engineer",
                &["Rust", "PostgreSQL", "Kubernetes"],
                None
            ),
            job("chef", "Chef", &["Cooking"], None),
        ]),
    )
    .await;
    indexed(&app, token, "newrust").await;
    indexed(&app, token, "chef").await;
    evaluate(&app, &admin.access).await;
    // A socket opened moments after other events (the resume's parsing) may be handed them
    // too: they come before the alert's.
    let event = loop {
        let event = next(&mut mine).await;
        if event["kind"] == "matches.new" {
            break event;
        }
        assert!(
            ["resume.parsed", "task.finished"].contains(&event["kind"].as_str().unwrap()),
            "{event}"
        );
    };
    assert_eq!(event["data"]["resume_id"], id);
    let matches = event["data"]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{event}");
    assert_eq!(matches[0]["title"], "Rust Engineer");
    assert_eq!(matches[0]["company"], "Company newrust");
    assert!(matches[0]["score"].as_f64().unwrap() >= 0.2);
    let job_id = matches[0]["job_id"].as_str().unwrap();
    let posting: Value = app
        .get_as(&format!("/api/v1/jobs/{job_id}"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(posting["external_id"], "newrust");
    // The task that evaluated alerts is nobody's: no task.finished for anyone.
    quiet(&mut theirs).await;
    quiet(&mut mine).await;

    // Evaluated again: nothing new, nothing repeated.
    evaluate(&app, &admin.access).await;
    quiet(&mut mine).await;
    let checked: Value = app.get_as(&alert_path, token).await.json().await.unwrap();
    assert!(checked["checked_at"].as_str().unwrap() > created["checked_at"].as_str().unwrap());

    // Above the threshold only.
    put_alert(&app, token, id, json!({"min_score": 1.0})).await;
    push_jobs(
        &app,
        &json!([job(
            "rustonly",
            "Engineer",
            &["Rust", "Go", "Java", "Scala"],
            None
        )]),
    )
    .await;
    indexed(&app, token, "rustonly").await;
    evaluate(&app, &admin.access).await;
    quiet(&mut mine).await;

    // The owner's export holds the alert.
    let export: Value = app
        .get_as("/api/v1/me/export", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["match_alerts"][0]["resume_id"], id, "{export}");
    assert!((export["match_alerts"][0]["min_score"].as_f64().unwrap() - 1.0).abs() < 1e-6);

    // Turned off: nothing more, and a second delete finds nothing.
    let deleted = app.send_as(Method::DELETE, &alert_path, token, None).await;
    assert_eq!(deleted.status(), 204);
    assert_error(
        app.send_as(Method::DELETE, &alert_path, token, None).await,
        404,
        "not_found",
    )
    .await;
    push_jobs(
        &app,
        &json!([job(
            "newrust2",
            "Rust Engineer",
            &["Rust", "PostgreSQL"],
            None
        )]),
    )
    .await;
    indexed(&app, token, "newrust2").await;
    evaluate(&app, &admin.access).await;
    quiet(&mut mine).await;
    app.stop().await.unwrap();
}

crate::on_both_databases!(new_matching_postings_are_announced_once);
