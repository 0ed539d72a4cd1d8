//! A user's own data: the export holds everything about them, deletion removes it and keeps
//! the audit trail (by an id that no longer names anyone).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Db, PASSWORD, TestApp, assert_error};

async fn export_then_delete_an_account(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let ada = app.user("ada@example.org", domain::Role::Seeker).await;
    let other = app.user("other@example.org", domain::Role::Seeker).await;
    let key: Value = app
        .send_as(
            Method::POST,
            "/api/v1/me/api-keys",
            &ada.access,
            Some(&json!({"name": "laptop", "scopes": ["account:read"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap().to_owned();

    let response = app.get_as("/api/v1/me/export", &ada.access).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["account"]["email"], "ada@example.org");
    assert_eq!(export["has_password"], true);
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["api_keys"][0]["name"], "laptop");
    assert!(
        export["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "auth.login")
    );
    let text = export.to_string();
    assert!(
        !text.contains("other@example.org"),
        "another user's data leaked"
    );
    assert!(
        !text.contains("argon2"),
        "the password hash must not be exported"
    );
    assert!(!text.contains(&secret), "the API key must not be exported");
    // An API key cannot export the account.
    assert_error(
        app.client
            .get(app.url("/api/v1/me/export"))
            .header("x-api-key", &secret)
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;

    // Deleting needs the password.
    let wrong = app
        .send_as(
            Method::DELETE,
            "/api/v1/me",
            &ada.access,
            Some(&json!({"password": "not the password"})),
        )
        .await;
    assert_error(wrong, 403, "reauthentication_required").await;
    let deleted = app
        .send_as(
            Method::DELETE,
            "/api/v1/me",
            &ada.access,
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status(), 204);

    // Gone: the session, the key, the sign-in; the other account is untouched.
    assert_eq!(app.get_as("/api/v1/me", &ada.access).await.status(), 401);
    assert_eq!(
        app.client
            .get(app.url("/api/v1/me"))
            .header("x-api-key", &secret)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(app.login("ada@example.org", PASSWORD).await.status(), 401);
    assert_eq!(app.get_as("/api/v1/me", &other.access).await.status(), 200);
    let email = domain::Email::parse("ada@example.org").unwrap();
    assert!(app.store.user_by_email(&email).await.unwrap().is_none());
    // The audit trail stays, and still verifies.
    let audit = app.store.recent_audit(50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "account.delete" && e.outcome == "success")
    );
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    assert_eq!(
        app.get_as("/api/v1/admin/audit/verify", &admin.access)
            .await
            .status(),
        200
    );
    // The address is free again.
    app.register("ada@example.org").await;
}

crate::on_both_databases!(export_then_delete_an_account);
