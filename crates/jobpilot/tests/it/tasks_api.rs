//! The task queue over HTTP: owners follow their tasks, administrators steer the queue.

use std::{sync::Arc, time::Duration};

use reqwest::Method;
use serde_json::json;

use crate::harness::{Db, TestApp, assert_error};

async fn enqueue(app: &TestApp, kind: &str, owner: Option<uuid::Uuid>) -> uuid::Uuid {
    let mut task = tasks::NewTask::new(kind, json!({"n": 1}));
    task.user_id = owner;
    tasks::Queue::new(app.state.tasks().clone())
        .enqueue(task)
        .await
        .unwrap()
        .0
}

async fn user_id(app: &TestApp, token: &str) -> uuid::Uuid {
    let me: serde_json::Value = app.get_as("/api/v1/me", token).await.json().await.unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

async fn owners_and_admins_see_tasks_and_admins_steer_them(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let owner = app.user("owner@example.org", domain::Role::Seeker).await;
    let stranger = app.user("stranger@example.org", domain::Role::Seeker).await;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let owner_id = user_id(&app, &owner.access).await;
    let id = enqueue(&app, "resume.parse", Some(owner_id)).await;
    let path = format!("/api/v1/tasks/{id}");

    let seen: serde_json::Value = app.get_as(&path, &owner.access).await.json().await.unwrap();
    assert_eq!(seen["state"], "available");
    assert_eq!(seen["kind"], "resume.parse");
    assert_eq!(seen["args"], json!({"n": 1}));
    assert_error(app.get_as(&path, &stranger.access).await, 404, "not_found").await;
    assert_eq!(app.get_as(&path, &admin.access).await.status(), 200);
    assert_error(app.get(&path).await, 401, "unauthorized").await;
    assert_error(
        app.get_as("/api/v1/tasks/not-a-uuid", &owner.access).await,
        404,
        "not_found",
    )
    .await;

    // The queue, filtered and paged.
    for _ in 0..3 {
        enqueue(&app, "alerts.evaluate", None).await;
    }
    let page: serde_json::Value = app
        .get_as(
            "/api/v1/admin/tasks?kind=alerts.evaluate&limit=2",
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: serde_json::Value = app
        .get_as(
            &format!("/api/v1/admin/tasks?kind=alerts.evaluate&limit=2&before={cursor}"),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_error(
        app.get_as("/api/v1/admin/tasks?state=sleeping", &admin.access)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/admin/tasks", &owner.access).await,
        403,
        "forbidden",
    )
    .await;
    let stats: serde_json::Value = app
        .get_as("/api/v1/admin/tasks/stats", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let available: i64 = stats
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "available")
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(available, 4);

    // Cancel, retry, discard; a state that does not allow an action is a 409.
    let act = |action: &str| {
        let path = format!("/api/v1/admin/tasks/{id}/{action}");
        let token = admin.access.clone();
        let app = &app;
        async move { app.send_as(Method::POST, &path, &token, None).await }
    };
    let cancelled: serde_json::Value = act("cancel").await.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    assert_error(act("cancel").await, 409, "task_state").await;
    let retried: serde_json::Value = act("retry").await.json().await.unwrap();
    assert_eq!(retried["state"], "available");
    let discarded: serde_json::Value = act("discard").await.json().await.unwrap();
    assert_eq!(discarded["state"], "discarded");
    assert_error(act("explode").await, 404, "not_found").await;
    assert_error(
        app.send_as(
            Method::POST,
            &format!("/api/v1/admin/tasks/{}/retry", uuid::Uuid::now_v7()),
            &admin.access,
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.send_as(
            Method::POST,
            &format!("/api/v1/admin/tasks/{id}/retry"),
            &owner.access,
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let audit = app.store.recent_audit(20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "admin.task_cancel"));

    // Queue gauges reach the metrics.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tasks{") && l.contains(r#"state="available""#)),
        "{metrics}"
    );
}

#[tokio::test]
async fn queue_gauges_fall_to_zero_when_a_queue_empties() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let queue = format!("gauge-{}", uuid::Uuid::new_v4().simple());
    let task = tasks::NewTask::new("noop", json!({})).with_queue(&queue);
    let id = tasks::Queue::new(app.state.tasks().clone())
        .enqueue(task)
        .await
        .unwrap();
    let gauge = |text: &str, state: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("tasks{")
                    && l.contains(&format!(r#"queue="{queue}""#))
                    && l.contains(&format!(r#"state="{state}""#))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    let before = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        gauge(&before, "available").as_deref(),
        Some("1"),
        "{before}"
    );
    tasks::admin::cancel(app.state.tasks(), id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    tasks::maintenance::prune(app.state.tasks(), std::time::Duration::ZERO)
        .await
        .unwrap();
    let after = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(gauge(&after, "available").as_deref(), Some("0"), "{after}");
    assert_eq!(gauge(&after, "cancelled").as_deref(), Some("0"), "{after}");
}

/// One event of a Server-Sent Events stream.
#[derive(Debug)]
struct SseEvent {
    event: String,
    id: String,
    data: serde_json::Value,
}

/// Reads a `text/event-stream` response event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; `None` when the server closed the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: String::new(),
                    id: String::new(),
                    data: serde_json::Value::Null,
                };
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event.event = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("id:") {
                        event.id = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                event.data = serde_json::from_str(&data).unwrap();
                return Some(event);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event or the end within 10 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// A worker running only the test's kind: each attempt waits for a permit; the first fails.
fn gated_worker(
    app: &TestApp,
    kind: &'static str,
) -> (tasks::WorkerHandle, Arc<tokio::sync::Semaphore>) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let permits = gate.clone();
    let mut handlers = tasks::Handlers::new();
    handlers.add_fn(
        kind,
        Duration::from_secs(60),
        move |ctx: tasks::TaskContext, _: serde_json::Value| {
            let permits = permits.clone();
            async move {
                permits.acquire().await?.forget();
                if ctx.attempt == 1 {
                    return Err(tasks::TaskError::retry("the first attempt fails"));
                }
                Ok(tasks::Outcome::Complete)
            }
        },
    );
    let config = tasks::WorkerConfig {
        // Long enough that "retryable" is seen before the next attempt.
        backoff: tasks::Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_millis(500),
        },
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(1),
        ..tasks::WorkerConfig::default()
    };
    (
        tasks::Worker::new(app.state.tasks().clone(), handlers, config).start(),
        gate,
    )
}

async fn a_task_streams_its_states_to_its_owner_until_it_finishes(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let owner = app.user("owner@example.org", domain::Role::Seeker).await;
    let stranger = app.user("stranger@example.org", domain::Role::Seeker).await;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let owner_id = user_id(&app, &owner.access).await;
    let id = enqueue(&app, "test.streamed", Some(owner_id)).await;
    let path = format!("/api/v1/tasks/{id}/events");

    // Errors before the stream starts have the one error shape.
    assert_error(app.get(&path).await, 401, "unauthorized").await;
    assert_error(app.get_as(&path, &stranger.access).await, 404, "not_found").await;
    assert_error(
        app.get_as(
            &format!("/api/v1/tasks/{}/events", uuid::Uuid::now_v7()),
            &owner.access,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/tasks/not-a-uuid/events", &owner.access)
            .await,
        404,
        "not_found",
    )
    .await;

    let mut stream = EventStream::new(app.get_as(&path, &owner.access).await);
    let mut admins = EventStream::new(app.get_as(&path, &admin.access).await);
    let first = stream.next().await.unwrap();
    assert_eq!(first.event, "task");
    assert_eq!(first.id, "0:available");
    assert_eq!(first.data["id"], id.to_string());
    assert_eq!(first.data["state"], "available");
    assert_eq!(first.data["args"], json!({"n": 1}));
    assert_eq!(admins.next().await.unwrap().data["state"], "available");
    drop(admins);

    // Each step waits for the test, so every state is seen, in order.
    let (worker, gate) = gated_worker(&app, "test.streamed");
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        let state = event.data["state"].as_str().unwrap().to_owned();
        let attempt = event.data["attempt"].as_i64().unwrap();
        assert_eq!(event.id, format!("{attempt}:{state}"));
        if state == "executing" {
            gate.add_permits(1);
        }
        seen.push((state, attempt));
    }
    let expected = [
        ("executing", 1),
        ("retryable", 1),
        ("executing", 2),
        ("completed", 2),
    ];
    assert_eq!(
        seen,
        expected.map(|(s, a)| (s.to_owned(), a)),
        "the stream closes after the final state"
    );
    worker.shutdown().await.unwrap();

    // A finished task: its final state at once, then the end; a reconnect that already has it
    // is told there is nothing more (204 stops EventSource).
    let mut again = EventStream::new(app.get_as(&path, &owner.access).await);
    assert_eq!(again.next().await.unwrap().id, "2:completed");
    assert!(again.next().await.is_none());
    let reconnect = app
        .client
        .get(app.url(&path))
        .bearer_auth(&owner.access)
        .header("last-event-id", "2:completed")
        .send()
        .await
        .unwrap();
    assert_eq!(reconnect.status(), 204);
}

/// What a browser's EventSource does: the session cookie, no token, no CSRF header.
async fn a_browser_follows_its_task_with_the_session_cookie(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let owner = app.user("browser@example.org", domain::Role::Seeker).await;
    let owner_id = user_id(&app, &owner.access).await;
    let id = enqueue(&app, "test.browser", Some(owner_id)).await;
    let login = app
        .post_json(
            "/api/v1/auth/web/login",
            &json!({"email": "browser@example.org", "password": crate::harness::PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let access = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().unwrap().strip_prefix("jp_access="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .unwrap();
    let mut stream = EventStream::new(
        app.client
            .get(app.url(&format!("/api/v1/tasks/{id}/events")))
            .header("cookie", format!("jp_access={access}"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(stream.next().await.unwrap().data["state"], "available");
    let cancelled_at = std::time::Instant::now();
    tasks::admin::cancel(app.state.tasks(), tasks::TaskId(id))
        .await
        .unwrap();
    let cancelled = stream.next().await.unwrap();
    assert_eq!(cancelled.data["state"], "cancelled");
    assert!(
        cancelled_at.elapsed() < web::routes::task_events::POLL - Duration::from_millis(500),
        "the change was announced, not found by the slow poll"
    );
    assert!(stream.next().await.is_none());
}

/// The end of a task started on a user's behalf lands in that user's event log (and so on the
/// socket) from the statement that ends it; system tasks and tasks of erased users write
/// nothing, and ending them still works.
async fn a_users_task_that_ends_is_in_their_event_log(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let owner = app.user("ends@example.org", domain::Role::Seeker).await;
    let owner_id = user_id(&app, &owner.access).await;
    let cancelled = enqueue(&app, "test.cancelled", Some(owner_id)).await;
    let discarded = enqueue(&app, "test.discarded", Some(owner_id)).await;
    let system = enqueue(&app, "test.system", None).await;
    let erased = enqueue(&app, "test.erased", Some(uuid::Uuid::now_v7())).await;
    let db = app.state.tasks();
    tasks::admin::cancel(db, tasks::TaskId(cancelled))
        .await
        .unwrap();
    tasks::admin::discard(db, tasks::TaskId(discarded))
        .await
        .unwrap();
    tasks::admin::cancel(db, tasks::TaskId(system))
        .await
        .unwrap();
    tasks::admin::cancel(db, tasks::TaskId(erased))
        .await
        .unwrap();
    // A task run again (a retry) tells nothing until it ends again.
    tasks::admin::retry(db, tasks::TaskId(cancelled))
        .await
        .unwrap();
    tasks::admin::cancel(db, tasks::TaskId(cancelled))
        .await
        .unwrap();

    let owner = domain::UserId::from_uuid(owner_id);
    let events = app
        .state
        .store()
        .user_events_after(owner, 0, 100)
        .await
        .unwrap();
    let ended: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e.kind == "task.finished")
        .map(|e| {
            (
                e.data["task_id"].as_str().unwrap().to_owned(),
                e.data["kind"].as_str().unwrap().to_owned(),
                e.data["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ended,
        [
            (
                cancelled.to_string(),
                "test.cancelled".into(),
                "cancelled".into()
            ),
            (
                discarded.to_string(),
                "test.discarded".into(),
                "discarded".into()
            ),
            (
                cancelled.to_string(),
                "test.cancelled".into(),
                "cancelled".into()
            ),
        ]
    );
    assert!(events.iter().all(|e| e.user_id == owner));
    // Nothing was written for the system task or the erased user's.
    let all = app
        .state
        .store()
        .recent_user_events(0, chrono::Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), events.len(), "{all:?}");
}

crate::on_both_databases!(
    owners_and_admins_see_tasks_and_admins_steer_them,
    a_task_streams_its_states_to_its_owner_until_it_finishes,
    a_browser_follows_its_task_with_the_session_cookie,
    a_users_task_that_ends_is_in_their_event_log,
);
