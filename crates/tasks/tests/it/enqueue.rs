//! Enqueueing: in the caller's transaction, unique keys, batches.

use std::time::Duration;

use serde_json::json;
use tasks::{NewTask, Queue, TaskDb, TaskState, admin};

use crate::{
    harness::{Db, TestDb},
    on_both_databases,
};

async fn count_tasks(db: &TaskDb) -> i64 {
    admin::stats(db)
        .await
        .unwrap()
        .iter()
        .map(|s| s.count)
        .sum()
}

async fn a_rolled_back_transaction_leaves_no_task(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let db = &test.db;
    match db {
        TaskDb::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO effects (key) VALUES ('domain write')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tasks::enqueue(&mut *tx, NewTask::new("noop", json!({})))
                .await
                .unwrap();
            tx.rollback().await.unwrap();

            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO effects (key) VALUES ('kept')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tasks::enqueue(&mut *tx, NewTask::new("noop", json!({"kept": true})))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        TaskDb::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO effects (key) VALUES ('domain write')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tasks::enqueue(&mut *tx, NewTask::new("noop", json!({})))
                .await
                .unwrap();
            tx.rollback().await.unwrap();

            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO effects (key) VALUES ('kept')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tasks::enqueue(&mut *tx, NewTask::new("noop", json!({"kept": true})))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }
    // Only the committed transaction's task and domain row exist.
    assert_eq!(count_tasks(db).await, 1);
    let page = admin::list(db, &admin::ListFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(page.tasks[0].args, json!({"kept": true}));
    assert_eq!(page.tasks[0].state, TaskState::Available);
    assert_eq!(page.tasks[0].attempt, 0);
    assert_eq!(page.tasks[0].max_attempts, 3);
    assert_eq!(crate::harness::run_counts(db).await.2, 1, "one domain row");
}

async fn a_unique_key_enqueues_once(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    let first = queue
        .enqueue(NewTask::new("apply", json!({"job": 1})).with_unique_key("apply:user1:job1"))
        .await
        .unwrap();
    let again = queue
        .enqueue(NewTask::new("apply", json!({"job": 1})).with_unique_key("apply:user1:job1"))
        .await
        .unwrap();
    assert_eq!(first, again, "the second enqueue returns the existing task");
    let other = queue
        .enqueue(NewTask::new("apply", json!({"job": 2})).with_unique_key("apply:user1:job2"))
        .await
        .unwrap();
    assert_ne!(first, other);

    // Within a period: once per period, and a batch with the same key twice inserts one task.
    let hour = Duration::from_secs(3600);
    let batch = queue
        .enqueue_many(&[
            NewTask::new("sync", json!({})).with_unique_key_within("sync:hh", hour),
            NewTask::new("noop", json!({})),
            NewTask::new("sync", json!({})).with_unique_key_within("sync:hh", hour),
        ])
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0], batch[2]);
    assert_ne!(batch[0], batch[1]);
    let later = queue
        .enqueue(NewTask::new("sync", json!({})).with_unique_key_within("sync:hh", hour))
        .await
        .unwrap();
    assert_eq!(later, batch[0]);
    assert_eq!(count_tasks(&test.db).await, 4);
}

async fn delayed_and_prioritised_tasks_are_stored_as_asked(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let queue = Queue::new(test.db.clone());
    let user = uuid::Uuid::now_v7();
    let id = queue
        .enqueue(
            NewTask::new("email.send", json!({"to": "a@example.com"}))
                .with_queue("mail")
                .with_priority(5)
                .with_max_attempts(7)
                .with_delay(Duration::from_secs(3600))
                .with_user(user)
                .with_meta(json!({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})),
        )
        .await
        .unwrap();
    let task = admin::get(&test.db, id).await.unwrap();
    assert_eq!(task.state, TaskState::Scheduled);
    assert_eq!(task.queue, "mail");
    assert_eq!(task.priority, 5);
    assert_eq!(task.max_attempts, 7);
    assert_eq!(task.user_id, Some(user));
    assert!(task.scheduled_at > chrono::Utc::now() + chrono::Duration::minutes(59));
    assert!(task.meta["traceparent"].as_str().is_some());
    assert!(task.errors.is_empty());
}

/// With polling all but off, only the wake-up (LISTEN/NOTIFY, or SQLite's commit hook) can get
/// the task run this quickly.
async fn a_commit_wakes_an_idle_worker_at_once(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = tasks::Handlers::new();
    handlers.add_fn(
        "noop",
        Duration::from_secs(60),
        |_: tasks::TaskContext, _: serde_json::Value| async move { Ok(tasks::Outcome::Complete) },
    );
    let mut config = crate::harness::fast_config();
    config.poll_interval = Duration::from_secs(600);
    let worker = tasks::Worker::new(test.db.clone(), handlers, config).start();
    // Once the worker listens, a notified enqueue runs at once; until then, nothing would run it
    // for ten minutes. Enqueue until one runs.
    let queue = tasks::Queue::new(test.db.clone());
    crate::harness::wait_until(Duration::from_secs(10), "the worker listens", || async {
        let id = queue
            .enqueue(NewTask::new("noop", json!({})))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        admin::get(&test.db, id).await.unwrap().state == TaskState::Completed
    })
    .await;
    for round in 0..3 {
        let id = match &test.db {
            TaskDb::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                let id = tasks::enqueue(&mut *tx, NewTask::new("noop", json!({ "round": round })))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                id
            }
            TaskDb::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                let id = tasks::enqueue(&mut *tx, NewTask::new("noop", json!({ "round": round })))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                id
            }
        };
        let started = std::time::Instant::now();
        crate::harness::wait_until(Duration::from_secs(3), "the task completes", || async {
            admin::get(&test.db, id).await.unwrap().state == TaskState::Completed
        })
        .await;
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    worker.shutdown().await.unwrap();
}

on_both_databases!(
    a_rolled_back_transaction_leaves_no_task,
    a_commit_wakes_an_idle_worker_at_once,
    a_unique_key_enqueues_once,
    delayed_and_prioritised_tasks_are_stored_as_asked,
);
