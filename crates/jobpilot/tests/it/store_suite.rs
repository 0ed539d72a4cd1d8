//! The store contract: every store passes the same suite.

use std::sync::Arc;

use domain::{Email, NewUser, Role};
use store::{Store, StoreError};

use crate::harness::{Db, TestDb};

async fn open(db: Db, migrate: bool) -> Option<(Arc<dyn Store>, TestDb)> {
    let test_db = TestDb::create(db).await?;
    let dir = tempfile::tempdir().unwrap();
    let config = jobpilot::config::Config::from_sources(
        [
            ("JOBPILOT_DATABASE_URL".to_owned(), test_db.url.clone()),
            (
                "JOBPILOT_DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
        ],
        None,
    )
    .unwrap();
    let store = jobpilot::app::open_store(&config).await.unwrap();
    if migrate {
        store.migrate().await.unwrap();
    }
    Some((store, test_db))
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        role,
    }
}

async fn migrations_are_tracked_and_idempotent(db: Db) {
    let Some((store, _db)) = open(db, false).await else {
        return;
    };
    let before = store.readiness().await.unwrap();
    assert!(!before.is_ready());
    assert!(!before.pending_migrations.is_empty());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let after = store.readiness().await.unwrap();
    assert!(after.is_ready(), "{after:?}");
    assert!(after.unknown_migrations.is_empty());
}

async fn users_round_trip(db: Db) {
    let Some((store, _db)) = open(db, true).await else {
        return;
    };
    let created = store
        .create_user(new_user("Grace@Example.org", Role::Recruiter))
        .await
        .unwrap();
    assert_eq!(created.email.as_str(), "grace@example.org");
    let by_id = store.user_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(by_id, created);
    let by_email = store
        .user_by_email(&Email::parse("GRACE@example.ORG").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.id, created.id);
    assert_eq!(by_email.role, Role::Recruiter);
    assert!(
        store
            .user_by_id(domain::UserId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .user_by_email(&Email::parse("nobody@example.org").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn emails_are_unique_in_any_case(db: Db) {
    let Some((store, _db)) = open(db, true).await else {
        return;
    };
    store
        .create_user(new_user("linus@example.org", Role::Seeker))
        .await
        .unwrap();
    let error = store
        .create_user(new_user("LINUS@example.org", Role::Admin))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("users.email")),
        "{error:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn concurrent_creates_have_one_winner(db: Db) {
    let Some((store, _db)) = open(db, true).await else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .create_user(new_user("same@example.org", Role::Seeker))
                .await
        });
    }
    let results = tasks.join_all().await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict(_))),
        "{results:?}"
    );
}

async fn pool_stats_reflect_configuration(db: Db) {
    let Some((store, _db)) = open(db, true).await else {
        return;
    };
    let stats = store.pool_stats();
    let expected = match db {
        Db::Sqlite => 8,
        Db::Postgres => 20,
    };
    assert_eq!(stats.max_size, expected);
    assert!(stats.size >= 1);
}

crate::on_both_databases!(
    migrations_are_tracked_and_idempotent,
    users_round_trip,
    emails_are_unique_in_any_case,
    concurrent_creates_have_one_winner,
    pool_stats_reflect_configuration,
);
