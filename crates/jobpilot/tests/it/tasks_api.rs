//! The task queue over HTTP: owners follow their tasks, administrators steer the queue.

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

crate::on_both_databases!(owners_and_admins_see_tasks_and_admins_steer_them);

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
