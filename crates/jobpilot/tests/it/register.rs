//! Registration end to end, on both databases.

use serde_json::json;

use crate::harness::{Db, TestApp, assert_error};

const REGISTER: &str = "/api/v1/auth/register";

async fn registers_a_seeker_with_a_normalised_email(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let response = app
        .post_json(
            REGISTER,
            &json!({"email": "  Ada.Lovelace@Example.ORG ", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ada.lovelace@example.org");
    assert_eq!(body["role"], "seeker");
    assert!(body.get("password_hash").is_none());
    assert!(!body.to_string().contains("argon2"));
    let stored = app
        .store
        .user_by_email(&domain::Email::parse("ADA.LOVELACE@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id.to_string(), body["id"].as_str().unwrap());
    assert!(
        stored
            .password_hash
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
}

async fn the_same_address_in_another_case_is_a_conflict(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let first = app
        .post_json(
            REGISTER,
            &json!({"email": "ada@example.org", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(first.status(), 201);
    let second = app
        .post_json(
            REGISTER,
            &json!({"email": "ADA@EXAMPLE.ORG", "password": "another long password"}),
        )
        .await;
    assert_error(second, 409, "email_taken").await;
    assert_eq!(app.store.count_users().await.unwrap(), 1);
}

async fn concurrent_registrations_of_one_address_create_one_account(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = app.client.clone();
        let url = app.url(REGISTER);
        let email = if i % 2 == 0 {
            "race@example.org"
        } else {
            "RACE@example.org"
        };
        attempts.spawn(async move {
            client
                .post(url)
                .json(&json!({"email": email, "password": "correct horse battery"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = attempts.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.store.count_users().await.unwrap(), 1);
}

async fn invalid_fields_are_all_reported(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let body = assert_error(
        app.post_json(
            REGISTER,
            &json!({"email": "not-an-email", "password": "short"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let targets: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["email", "password"]);
    assert_eq!(app.store.count_users().await.unwrap(), 0);
}

crate::on_both_databases!(
    registers_a_seeker_with_a_normalised_email,
    the_same_address_in_another_case_is_a_conflict,
    concurrent_registrations_of_one_address_create_one_account,
    invalid_fields_are_all_reported,
);

#[tokio::test]
async fn an_overlong_password_is_rejected_before_hashing() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let body = assert_error(
        app.post_json(
            REGISTER,
            &json!({"email": "ada@example.org", "password": "p".repeat(100_000)}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"][0]["target"], "password");
    assert!(
        !body.to_string().contains("pppppppp"),
        "the password is echoed"
    );
    assert_eq!(app.store.count_users().await.unwrap(), 0);
}
