//! Crash recovery, heartbeats, graceful shutdown and lost connections.

use std::time::Duration;

use serde_json::{Value, json};
use tasks::{
    FailureKind, Handlers, NewTask, Outcome, Queue, QueueConfig, TaskContext, TaskDb, TaskState,
    Worker, admin, maintenance,
};

use crate::{
    harness::{Db, TestDb, fast_config, record_run, run_counts, wait_for_state, wait_until},
    on_both_databases,
};

const LONG: Duration = Duration::from_secs(60);

fn hanging_handlers() -> Handlers {
    let mut handlers = Handlers::new();
    handlers.add_fn("work", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, &ctx.id.to_string()).await?;
        std::future::pending::<()>().await;
        Ok(Outcome::Complete)
    });
    handlers
}

fn working_handlers() -> Handlers {
    let mut handlers = Handlers::new();
    handlers.add_fn("work", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, &ctx.id.to_string()).await?;
        Ok(Outcome::Complete)
    });
    handlers
}

async fn a_dead_workers_task_is_rescued_after_its_lease_expires(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut config = fast_config();
    config.lease = Duration::from_millis(1000);
    config.heartbeat_interval = Duration::from_millis(100);
    config.rescue_interval = Duration::from_secs(3600);
    let doomed = Worker::new(test.db.clone(), hanging_handlers(), config.clone()).start();
    let doomed_id = doomed.id().to_owned();
    let id = Queue::new(test.db.clone())
        .enqueue(NewTask::new("work", json!({})))
        .await
        .unwrap();
    let task = wait_for_state(&test.db, id, TaskState::Executing).await;
    assert_eq!(task.lease_owner.as_deref(), Some(doomed_id.as_str()));

    // While the worker lives, heartbeats keep its lease fresh however long the task runs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(maintenance::rescue(&test.db).await.unwrap(), 0);
    let renewed = admin::get(&test.db, id).await.unwrap();
    assert!(renewed.lease_expires_at > task.lease_expires_at);

    // The worker dies without a word: the task stays leased until the lease runs out.
    doomed.kill();
    assert_eq!(maintenance::rescue(&test.db).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    config.rescue_interval = Duration::from_millis(50);
    let rescuer = Worker::new(test.db.clone(), working_handlers(), config).start();
    let task = wait_for_state(&test.db, id, TaskState::Completed).await;
    assert_eq!(task.attempt, 2);
    assert_eq!(task.errors.len(), 1);
    assert_eq!(task.errors[0].kind, FailureKind::LeaseExpired);
    assert_eq!(task.errors[0].attempt, 1);
    let (runs, distinct, effects) = run_counts(&test.db).await;
    assert_eq!(
        (runs, distinct, effects),
        (2, 1, 1),
        "ran twice, side effect once"
    );
    rescuer.shutdown().await.unwrap();
}

async fn a_rescued_task_on_its_last_attempt_is_discarded(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut config = fast_config();
    config.lease = Duration::from_millis(200);
    config.rescue_interval = Duration::from_secs(3600);
    let doomed = Worker::new(test.db.clone(), hanging_handlers(), config).start();
    let id = Queue::new(test.db.clone())
        .enqueue(NewTask::new("work", json!({})).with_max_attempts(1))
        .await
        .unwrap();
    wait_for_state(&test.db, id, TaskState::Executing).await;
    doomed.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(maintenance::rescue(&test.db).await.unwrap(), 1);
    let task = admin::get(&test.db, id).await.unwrap();
    assert_eq!(task.state, TaskState::Discarded);
    assert_eq!(task.errors[0].kind, FailureKind::LeaseExpired);
    assert!(task.lease_owner.is_none());
}

async fn shutdown_lets_quick_tasks_finish_and_releases_the_rest(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn("slow", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, "slow").await?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Outcome::Complete)
    });
    handlers.add_fn("quick", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, "quick").await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(Outcome::Complete)
    });
    let mut config = fast_config();
    config.shutdown_grace = Duration::from_millis(700);
    config.queues = vec![QueueConfig::new(tasks::DEFAULT_QUEUE, 2)];
    let worker = Worker::new(test.db.clone(), handlers, config).start();
    let queue = Queue::new(test.db.clone());
    let slow = queue
        .enqueue(NewTask::new("slow", json!({})))
        .await
        .unwrap();
    let quick = queue
        .enqueue(NewTask::new("quick", json!({})))
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), "both tasks run", || async {
        run_counts(&test.db).await.0 == 2
    })
    .await;

    let started = std::time::Instant::now();
    let report = worker.shutdown().await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.released, 1);
    assert!(
        took >= Duration::from_millis(600),
        "waited the grace: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "did not wait for the slow task: {took:?}"
    );

    let quick = admin::get(&test.db, quick).await.unwrap();
    assert_eq!(
        quick.state,
        TaskState::Completed,
        "finished within the grace"
    );
    let slow_task = admin::get(&test.db, slow).await.unwrap();
    assert_eq!(slow_task.state, TaskState::Available, "handed back");
    assert_eq!(
        slow_task.attempt, 0,
        "the interrupted attempt does not count"
    );
    assert!(slow_task.errors.is_empty());
    assert!(slow_task.lease_owner.is_none());

    // Another worker picks it up.
    let mut handlers = Handlers::new();
    handlers.add_fn("slow", LONG, |_: TaskContext, _: Value| async move {
        Ok(Outcome::Complete)
    });
    let next = Worker::new(test.db.clone(), handlers, fast_config()).start();
    wait_for_state(&test.db, slow, TaskState::Completed).await;
    next.shutdown().await.unwrap();
}

async fn a_handler_sees_shutdown_coming(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let mut handlers = Handlers::new();
    handlers.add_fn("long", LONG, |ctx: TaskContext, _: Value| async move {
        record_run(&ctx.db, "long").await?;
        ctx.shutting_down().await;
        Ok(Outcome::Snooze(Duration::from_secs(1)))
    });
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let id = Queue::new(test.db.clone())
        .enqueue(NewTask::new("long", json!({})))
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), "the task runs", || async {
        run_counts(&test.db).await.0 == 1
    })
    .await;
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.released, 0);
    let task = admin::get(&test.db, id).await.unwrap();
    assert_eq!(task.state, TaskState::Scheduled, "{task:#?}");
}

on_both_databases!(
    a_dead_workers_task_is_rescued_after_its_lease_expires,
    a_rescued_task_on_its_last_attempt_is_discarded,
    shutdown_lets_quick_tasks_finish_and_releases_the_rest,
    a_handler_sees_shutdown_coming,
);

/// PostgreSQL only: every connection of the worker (pool and listener) is cut; it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_workers_reconnect_after_losing_their_connections() {
    let Some(test) = TestDb::create(Db::Postgres).await else {
        return;
    };
    let worker = Worker::new(test.db.clone(), working_handlers(), fast_config()).start();
    let queue = Queue::new(test.db.clone());
    let first = queue
        .enqueue(NewTask::new("work", json!({})))
        .await
        .unwrap();
    wait_for_state(&test.db, first, TaskState::Completed).await;

    let TaskDb::Postgres(pool) = &test.db else {
        unreachable!()
    };
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(cut >= 1, "the worker's connections were cut");

    let mut ids = Vec::new();
    for _ in 0..5 {
        // The enqueue's own connection may be a dead one from the pool: retry as a caller would.
        loop {
            match queue.enqueue(NewTask::new("work", json!({}))).await {
                Ok(id) => {
                    ids.push(id);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    for id in ids {
        wait_for_state(&test.db, id, TaskState::Completed).await;
    }
    worker.shutdown().await.unwrap();
}
