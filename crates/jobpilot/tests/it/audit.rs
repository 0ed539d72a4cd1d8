//! The audit log end to end: a hash chain that verification walks, that names the first edited,
//! deleted or reordered entry, that survives pruning through a sealed checkpoint; queries and
//! exports for administrators.

use serde_json::Value;
use test_support::execute_raw;

use crate::harness::{Db, TestApp, Tokens, assert_error};

/// Lifts the database's own guard against changes, as an attacker with database access would.
fn unguard(db: Db) -> &'static [&'static str] {
    match db {
        Db::Sqlite => &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
        ],
        Db::Postgres => &["ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard"],
    }
}

async fn verify(app: &TestApp, admin: &Tokens) -> reqwest::Response {
    app.get_as("/api/v1/admin/audit/verify", &admin.access)
        .await
}

/// Verification refuses the log, and its message names `what`.
async fn assert_tampered(app: &TestApp, admin: &Tokens, what: &str) {
    let body = assert_error(verify(app, admin).await, 409, "audit_tampered").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains(what),
        "{body}"
    );
}

/// An app with an administrator and a few audited events (registrations and sign-ins).
async fn app_with_history(db: Db) -> Option<(TestApp, Tokens)> {
    let app = TestApp::spawn(db).await?;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    for name in ["ada", "grace", "edsger"] {
        app.register(&format!("{name}@example.org")).await;
        app.login_ok(&format!("{name}@example.org")).await;
    }
    assert_eq!(
        app.login("ada@example.org", "wrong password!!")
            .await
            .status(),
        401
    );
    Some((app, admin))
}

async fn an_intact_chain_verifies_and_every_edit_is_named(db: Db) {
    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    let report: Value = verify(&app, &admin).await.json().await.unwrap();
    let entries = report["checked"].as_u64().unwrap();
    assert!(entries >= 8, "{report}");
    assert_eq!(report["head"].as_u64().unwrap(), entries);

    // Editing one entry's address breaks it (and everything after it).
    let mut statements = unguard(db).to_vec();
    statements.push("UPDATE audit_events SET ip = '203.0.113.66' WHERE seq = 3");
    execute_raw(&app.db_url, &statements).await;
    assert_tampered(&app, &admin, "audit entry 3").await;
}

async fn deletions_reordering_and_a_removed_tail_are_detected(db: Db) {
    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    let mut statements = unguard(db).to_vec();
    statements.push("DELETE FROM audit_events WHERE seq = 4");
    execute_raw(&app.db_url, &statements).await;
    assert_tampered(&app, &admin, "audit entry 5").await;

    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    // Two entries swap places (their sequence numbers exchanged).
    let mut statements = unguard(db).to_vec();
    statements.extend([
        "UPDATE audit_events SET seq = -1 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = -1",
    ]);
    execute_raw(&app.db_url, &statements).await;
    assert_tampered(&app, &admin, "audit entry 5").await;

    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    // The newest entries removed: the chain is intact but shorter than its recorded head.
    let mut statements = unguard(db).to_vec();
    statements.push("DELETE FROM audit_events WHERE seq > 5");
    execute_raw(&app.db_url, &statements).await;
    assert_tampered(&app, &admin, "removed").await;
}

async fn pruning_leaves_a_sealed_checkpoint(db: Db) {
    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    // Without direct access the log cannot be changed: the database refuses.
    let store = app.store.clone();
    let before = store.audit_head().await.unwrap();
    let pruned = web::audit::prune(
        store.as_ref(),
        app.state.key_ring(),
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(pruned as i64, before.seq);
    assert!(store.audit_entries(0, 10).await.unwrap().is_empty());
    // New entries chain on from the checkpoint, and the whole verifies.
    app.login_ok("ada@example.org").await;
    let report: Value = verify(&app, &admin).await.json().await.unwrap();
    assert_eq!(
        report["starts_after"].as_i64().unwrap(),
        before.seq,
        "{report}"
    );
    assert!(report["checked"].as_u64().unwrap() >= 1);

    // A forged checkpoint (pointing the chain's start elsewhere) is refused.
    execute_raw(
        &app.db_url,
        &["UPDATE audit_checkpoints SET seal = hash WHERE seq > 0"],
    )
    .await;
    assert_tampered(&app, &admin, "checkpoint").await;
}

async fn administrators_query_and_export_the_log(db: Db) {
    let Some((app, admin)) = app_with_history(db).await else {
        return;
    };
    let failures: Value = app
        .get_as(
            "/api/v1/admin/audit?action=auth.login&outcome=failure",
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = failures["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failures}");
    assert_eq!(items[0]["details"]["reason"], "wrong_password");
    assert!(items[0]["ip"].is_string() && items[0]["hash"].is_string());

    // Pages follow the cursor without overlap.
    let first: Value = app
        .get_as("/api/v1/admin/audit?limit=3", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_i64().unwrap();
    let second: Value = app
        .get_as(
            &format!("/api/v1/admin/audit?limit=3&cursor={cursor}"),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(second["items"][0]["seq"].as_i64().unwrap() < cursor);

    let csv = app
        .get_as(
            "/api/v1/admin/audit/export?format=csv&action=auth.register",
            &admin.access,
        )
        .await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("seq,at,actor_id,action"), "{text}");
    assert_eq!(text.lines().count(), 1 + 4, "{text}");
    let jsonl = app
        .get_as("/api/v1/admin/audit/export", &admin.access)
        .await
        .text()
        .await
        .unwrap();
    for line in jsonl.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert!(entry["seq"].is_i64());
    }

    let bad = app
        .get_as("/api/v1/admin/audit?outcome=maybe", &admin.access)
        .await;
    assert_error(bad, 422, "validation_failed").await;
    let seeker = app.login_ok("ada@example.org").await;
    assert_error(
        app.get_as("/api/v1/admin/audit", &seeker.access).await,
        403,
        "forbidden",
    )
    .await;
}

crate::on_both_databases!(
    an_intact_chain_verifies_and_every_edit_is_named,
    deletions_reordering_and_a_removed_tail_are_detected,
    pruning_leaves_a_sealed_checkpoint,
    administrators_query_and_export_the_log,
);

#[tokio::test]
async fn the_database_refuses_changes_to_the_log() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    app.register("ada@example.org").await;
    let url = app.db_url.clone();
    let result = tokio::spawn(async move {
        execute_raw(&url, &["UPDATE audit_events SET ip = 'x' WHERE seq = 1"]).await;
    })
    .await;
    assert!(
        result.is_err(),
        "the append-only guard let an update through"
    );
}
