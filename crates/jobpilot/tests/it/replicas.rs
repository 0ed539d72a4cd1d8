//! Two replicas on one database and one Redis: limits and revocations are shared.

use reqwest::Method;

use crate::harness::{Db, TestApp, assert_error};

pub const REDIS_ENV: &str = "JOBPILOT_TEST_REDIS_URL";
const SECRET: &str = "replica-secret-0123456789-0123456789-0123";

/// Two apps sharing a database, a Redis key prefix and a signing key; `None` without Redis.
async fn replicas(auth_limit: &str) -> Option<(TestApp, TestApp)> {
    let Ok(redis) = std::env::var(REDIS_ENV) else {
        eprintln!("skipped: {REDIS_ENV} is not set, so this Redis test did not run");
        return None;
    };
    let prefix = format!("jobpilot-test-{}", uuid::Uuid::new_v4().simple());
    let configure = |builder: crate::harness::Builder| {
        builder
            .env("JOBPILOT_REDIS_URL", &redis)
            .env("JOBPILOT_REDIS_PREFIX", &prefix)
            .env("JOBPILOT_JWT_SECRET", SECRET)
            .env("JOBPILOT_AUTH_RATE_LIMIT", auth_limit)
    };
    let first = configure(TestApp::builder(Db::Sqlite)).spawn().await?;
    let second = configure(TestApp::builder(Db::Sqlite).share_database(&first))
        .spawn()
        .await?;
    Some((first, second))
}

#[tokio::test]
async fn rate_limits_are_shared_by_replicas() {
    let Some((a, b)) = replicas("3").await else {
        return;
    };
    for app in [&a, &b, &a] {
        assert_error(
            app.login("x@example.org", "wrong password!").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // The fourth attempt, on the other replica, is over the shared allowance.
    let limited = b.login("x@example.org", "wrong password!").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_sign_out_on_one_replica_is_honoured_by_the_other_at_once() {
    let Some((a, b)) = replicas("100000").await else {
        return;
    };
    let tokens = a.user("shared@example.org", domain::Role::Seeker).await;
    // The second replica has the session cached as open.
    assert_eq!(b.get_as("/api/v1/me", &tokens.access).await.status(), 200);
    let out = a
        .send_as(Method::POST, "/api/v1/auth/logout", &tokens.access, None)
        .await;
    assert_eq!(out.status(), 204);
    // Well within the 5-second session cache: only the Redis message can explain a refusal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let status = b.get_as("/api/v1/me", &tokens.access).await.status();
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replica b still accepts the token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
