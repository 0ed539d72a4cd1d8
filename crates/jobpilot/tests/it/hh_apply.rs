//! Applying through HH.ru (`JOBPILOT_HH_APPLY`), against a local server replaying HH.ru's
//! recorded formats: connecting the account (OAuth2 code flow bound to the signed-in user),
//! tokens sealed at rest and refreshed when HH says they expired, the user's HH.ru resumes,
//! and each documented outcome of `POST /negotiations` as a clear submission state.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    applications::submission_in,
    harness::{Db, TestApp, assert_error},
    resumes::{INTERNAL_KEY, job, push_jobs},
};

const VACANCY: &str = "154820397";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../sources/tests/fixtures/hh/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the stub was sent, and what it answers next to `POST /negotiations`.
#[derive(Default)]
struct Seen {
    negotiations: Vec<(String, String)>,
    refreshes: usize,
    script: VecDeque<(u16, Option<String>)>,
}

struct HhStub {
    base: String,
    seen: Arc<Mutex<Seen>>,
}

const REFRESHED: &str = "USERREFRESHEDTOKEN0000000000000000000000000000000000000000000001";

impl HhStub {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let token_seen = seen.clone();
        let negotiations_seen = seen.clone();
        let router = Router::new()
            .route(
                "/token",
                post(move |body: Bytes| {
                    let seen = token_seen.clone();
                    async move {
                        let form = String::from_utf8_lossy(&body).into_owned();
                        let json = |status: StatusCode, body: String| {
                            (status, [(header::CONTENT_TYPE, "application/json")], body)
                                .into_response()
                        };
                        if form.contains("grant_type=authorization_code")
                            && form.contains("code=good-code")
                            && form.contains("client_secret=hh-secret")
                        {
                            json(StatusCode::OK, fixture("oauth_token.json"))
                        } else if form.contains("grant_type=refresh_token") {
                            seen.lock().unwrap().refreshes += 1;
                            let mut tokens: Value =
                                serde_json::from_str(&fixture("oauth_token.json")).unwrap();
                            tokens["access_token"] = json!(REFRESHED);
                            json(StatusCode::OK, tokens.to_string())
                        } else {
                            json(
                                StatusCode::BAD_REQUEST,
                                json!({"error": "invalid_grant", "error_description": "code not found"})
                                    .to_string(),
                            )
                        }
                    }
                }),
            )
            .route(
                "/resumes/mine",
                get(|headers: HeaderMap| async move {
                    if headers.get("hh-user-agent").is_none() {
                        return StatusCode::BAD_REQUEST.into_response();
                    }
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        fixture("resumes_mine.json"),
                    )
                        .into_response()
                }),
            )
            .route(
                "/negotiations",
                post(move |headers: HeaderMap, body: Bytes| {
                    let seen = negotiations_seen.clone();
                    async move {
                        let auth = headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let mut seen = seen.lock().unwrap();
                        seen.negotiations
                            .push((auth, String::from_utf8_lossy(&body).into_owned()));
                        match seen.script.pop_front() {
                            Some((status, Some(name))) => Response::builder()
                                .status(status)
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(fixture(&name).into())
                                .unwrap(),
                            Some((status, None)) => Response::builder()
                                .status(status)
                                .body(axum::body::Body::empty())
                                .unwrap(),
                            None => Response::builder()
                                .status(201)
                                .header(header::LOCATION, "/negotiations/4815162342")
                                .body(axum::body::Body::empty())
                                .unwrap(),
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        HhStub { base, seen }
    }

    fn script(&self, answers: &[(u16, Option<&str>)]) {
        self.seen.lock().unwrap().script = answers
            .iter()
            .map(|(status, name)| (*status, name.map(str::to_owned)))
            .collect();
    }
}

async fn app(db: Db, hh: &HhStub) -> Option<TestApp> {
    TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env("JOBPILOT_HH_APPLY", "true")
        .env("JOBPILOT_HH_CLIENT_ID", "hh-client")
        .env("JOBPILOT_HH_CLIENT_SECRET", "hh-secret")
        .env("JOBPILOT_HH_API_BASE", &hh.base)
        .env(
            "JOBPILOT_HH_AUTHORIZE_URL",
            &format!("{}/oauth/authorize", hh.base),
        )
        .env(
            "JOBPILOT_HH_USER_AGENT",
            "jobpilot-tests/1.0 (tests@example.org)",
        )
        .spawn()
        .await
}

/// An HH.ru posting and a saved application for it; returns the application id.
async fn hh_application(app: &TestApp, token: &str, vacancy: &str) -> String {
    let mut posting = job(vacancy, "Rust Engineer", &["Rust"], None);
    posting["source"] = json!("hh");
    push_jobs(app, &json!([posting])).await;
    let listed: Value = app
        .get_as("/api/v1/jobs?source=hh&limit=100", token)
        .await
        .json()
        .await
        .unwrap();
    let job = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["external_id"] == vacancy)
        .unwrap()["id"]
        .clone();
    let created = app
        .send_as(
            Method::POST,
            "/api/v1/applications",
            token,
            Some(&json!({ "job_id": job })),
        )
        .await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn connect(app: &TestApp, token: &str) -> String {
    let started: Value = app
        .send_as(Method::POST, "/api/v1/hh/connect", token, None)
        .await
        .json()
        .await
        .unwrap();
    let url = url::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "hh-client");
    query["state"].clone()
}

async fn callback(app: &TestApp, token: &str, code: &str, state: &str) -> reqwest::Response {
    let mut url = url::Url::parse(&app.url("/api/v1/hh/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", state);
    app.client.get(url).bearer_auth(token).send().await.unwrap()
}

async fn submit(app: &TestApp, token: &str, id: &str, resume: &str) -> reqwest::Response {
    app.send_as(
        Method::POST,
        &format!("/api/v1/applications/{id}/submit"),
        token,
        Some(&json!({ "channel": "hh", "confirm": true, "hh_resume_id": resume })),
    )
    .await
}

async fn a_connected_account_applies_and_refreshes_its_token(db: Db) {
    let hh = HhStub::start().await;
    let Some(app) = app(db, &hh).await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let other = app.user("other@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let id = hh_application(&app, token, VACANCY).await;

    // Not connected yet.
    assert_error(
        submit(&app, token, &id, "abc").await,
        409,
        "hh_not_connected",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/hh/resumes", token).await,
        409,
        "hh_not_connected",
    )
    .await;

    // The flow is bound to the user who started it, and a bad code is refused.
    let state = connect(&app, token).await;
    assert_error(
        callback(&app, &other.access, "good-code", &state).await,
        400,
        "hh_flow_invalid",
    )
    .await;
    assert_error(
        callback(&app, token, "good-code", "forged").await,
        400,
        "hh_flow_invalid",
    )
    .await;
    assert_error(
        callback(&app, token, "bad-code", &state).await,
        502,
        "hh_refused",
    )
    .await;
    let connected = callback(&app, token, "good-code", &state).await;
    assert_eq!(connected.status(), 200);
    assert_eq!(connected.json::<Value>().await.unwrap()["connected"], true);

    // The tokens are sealed at rest.
    let me: Value = app.get_as("/api/v1/me", token).await.json().await.unwrap();
    let user = domain::UserId::from_uuid(me["id"].as_str().unwrap().parse().unwrap());
    let stored = app.store.hh_connection(user).await.unwrap().unwrap();
    let plain: Value = serde_json::from_str(&fixture("oauth_token.json")).unwrap();
    let access = plain["access_token"].as_str().unwrap().as_bytes();
    assert!(
        !stored
            .access_sealed
            .windows(access.len())
            .any(|w| w == access)
    );

    let resumes: Value = app
        .get_as("/api/v1/hh/resumes", token)
        .await
        .json()
        .await
        .unwrap();
    let resume = resumes[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(resumes.as_array().unwrap().len(), 2);

    // Only HH.ru postings go through HH.ru, and only with a sane resume id.
    assert_error(
        submit(&app, token, &id, "../etc").await,
        422,
        "validation_failed",
    )
    .await;

    // HH.ru says the token expired: refreshed once, then the application goes.
    hh.script(&[(403, Some("error_token_expired.json"))]);
    let response = submit(&app, token, &id, &resume).await;
    assert_eq!(response.status(), 202);
    let sent = submission_in(&app, token, &id, &["sent", "failed"]).await;
    assert_eq!(sent["submission"]["state"], "sent", "{sent}");
    assert_eq!(sent["submission"]["external_id"], "4815162342");
    assert_eq!(sent["status"], "applied");
    {
        let seen = hh.seen.lock().unwrap();
        assert_eq!(seen.refreshes, 1);
        assert_eq!(seen.negotiations.len(), 2);
        assert!(seen.negotiations[1].0.ends_with(REFRESHED));
        let form = &seen.negotiations[1].1;
        assert!(form.contains(&format!("vacancy_id={VACANCY}")), "{form}");
        assert!(form.contains(&format!("resume_id={resume}")), "{form}");
        assert!(form.contains("message="), "{form}");
    }

    // Disconnecting forgets the tokens.
    let gone = app
        .send_as(Method::DELETE, "/api/v1/hh/connection", token, None)
        .await;
    assert_eq!(gone.status(), 204);
    assert!(app.store.hh_connection(user).await.unwrap().is_none());
    app.stop().await.unwrap();
}

async fn each_refusal_is_a_clear_state(db: Db) {
    let hh = HhStub::start().await;
    let Some(app) = app(db, &hh).await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let state = connect(&app, token).await;
    assert_eq!(
        callback(&app, token, "good-code", &state).await.status(),
        200
    );
    let cases = [
        ("1001", 403, "error_test_required.json", "failed", "test"),
        (
            "1002",
            403,
            "error_vacancy_archived.json",
            "failed",
            "archived",
        ),
        ("1003", 403, "error_already_applied.json", "sent", "already"),
        (
            "1004",
            403,
            "error_bad_authorization.json",
            "failed",
            "connect HH.ru again",
        ),
    ];
    for (vacancy, status, body, state, says) in cases {
        let id = hh_application(&app, token, vacancy).await;
        hh.script(&[(status, Some(body))]);
        assert_eq!(submit(&app, token, &id, "r1").await.status(), 202);
        let done = submission_in(&app, token, &id, &["failed", "sent"]).await;
        assert_eq!(done["submission"]["state"], state, "{body}: {done}");
        let error = done["submission"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{body}: {error}");
    }
    // The daily limit: the submission waits for tomorrow, nothing dropped.
    let id = hh_application(&app, token, "1005").await;
    hh.script(&[(400, Some("error_limit_exceeded.json"))]);
    let response = submit(&app, token, &id, "r1").await;
    let task = response.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let task: Value = app
            .get_as(&format!("/api/v1/tasks/{task}"), token)
            .await
            .json()
            .await
            .unwrap();
        if task["state"] == "scheduled" && hh.seen.lock().unwrap().negotiations.len() == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never waited: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let waiting = submission_in(&app, token, &id, &["queued"]).await;
    assert!(
        waiting["submission"]["error"]
            .as_str()
            .unwrap()
            .contains("daily application limit")
    );
    app.stop().await.unwrap();
}

async fn an_interrupted_send_is_retried_and_hh_tells_the_repeat(db: Db) {
    let hh = HhStub::start().await;
    let Some(app) = app(db, &hh).await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let state = connect(&app, token).await;
    assert_eq!(
        callback(&app, token, "good-code", &state).await.status(),
        200
    );
    let id = hh_application(&app, token, VACANCY).await;
    let me: Value = app.get_as("/api/v1/me", token).await.json().await.unwrap();
    let user = domain::UserId::from_uuid(me["id"].as_str().unwrap().parse().unwrap());
    let application = domain::ApplicationId::from_uuid(id.parse().unwrap());
    // The first attempt reached HH.ru and the process died before recording it: the
    // submission is left "sending", with a task that never runs.
    let parked = tasks::NewTask::new("test.parked", json!({}))
        .with_scheduled_at(chrono::Utc::now() + chrono::Duration::days(30));
    let now = chrono::Utc::now();
    app.store
        .submit_application(
            user,
            application,
            &store::applications::NewSubmission {
                channel: domain::ApplyChannel::Hh,
                to_address: None,
                apply_url: None,
                hh_resume_id: Some("r1".into()),
                now,
                audit: None,
            },
            parked,
        )
        .await
        .unwrap();
    app.store
        .update_submission(
            user,
            application,
            &[domain::SubmissionState::Queued],
            &store::applications::SubmissionUpdate::to(domain::SubmissionState::Sending, now),
        )
        .await
        .unwrap()
        .unwrap();
    // The redelivered task sends again; HH.ru answers that the application exists.
    hh.script(&[(403, Some("error_already_applied.json"))]);
    let task = tasks::Queue::new(app.state.tasks().clone())
        .enqueue(web::applications::submit_task(user, application))
        .await
        .unwrap();
    app.wait_for_task(&task.to_string(), token).await;
    let done = submission_in(&app, token, &id, &["sent", "failed", "unknown"]).await;
    assert_eq!(done["submission"]["state"], "sent", "{done}");
    assert_eq!(done["status"], "applied");
    assert_eq!(hh.seen.lock().unwrap().negotiations.len(), 1);
    app.stop().await.unwrap();
}

crate::on_both_databases!(
    a_connected_account_applies_and_refreshes_its_token,
    each_refusal_is_a_clear_state,
    an_interrupted_send_is_retried_and_hh_tells_the_repeat,
);
