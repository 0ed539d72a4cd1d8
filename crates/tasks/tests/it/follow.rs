//! Following a task: watchers woken as it changes, and its trace continued from the enqueuer.

use std::{sync::Arc, time::Duration};

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use serde_json::{Value, json};
use tasks::{Changes, Handlers, NewTask, Outcome, Queue, TaskContext, TaskDb, TaskState, Worker};
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::{
    harness::{Db, TestDb, fast_config, wait_for_state},
    on_both_databases,
};

const LONG: Duration = Duration::from_secs(60);
const SOON: Duration = Duration::from_secs(5);

async fn state_of(db: &TaskDb, id: tasks::TaskId) -> TaskState {
    tasks::admin::get(db, id).await.unwrap().state
}

async fn watchers_are_woken_as_the_worker_and_operators_move_a_task(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    // The handler waits for the test's go-ahead, so "executing" can be seen.
    let go = Arc::new(Semaphore::new(0));
    let mut handlers = Handlers::new();
    let gate = go.clone();
    handlers.add_fn("gated", LONG, move |_: TaskContext, _: Value| {
        let gate = gate.clone();
        async move {
            gate.acquire().await?.forget();
            Ok(Outcome::Complete)
        }
    });
    let changes = Changes::new(test.db.clone());
    let queue = Queue::new(test.db.clone());
    let id = queue
        .enqueue(NewTask::new("gated", json!({})))
        .await
        .unwrap();
    let mut watch = changes.watch(id);
    // Poll far slower than the test waits: a wake-up must come from the announcement.
    let config = tasks::WorkerConfig {
        poll_interval: Duration::from_secs(30),
        ..fast_config()
    };
    let worker = Worker::new(test.db.clone(), handlers, config).start();

    tokio::time::timeout(SOON, watch.changed())
        .await
        .expect("woken when claimed");
    assert_eq!(state_of(&test.db, id).await, TaskState::Executing);
    go.add_permits(1);
    // On PostgreSQL a change may wake twice (announced here, then heard back over NOTIFY).
    loop {
        tokio::time::timeout(SOON, watch.changed())
            .await
            .expect("woken when completed");
        if state_of(&test.db, id).await == TaskState::Completed {
            break;
        }
    }

    // An operator's action wakes the watchers of that task, and only them.
    let waiting = queue
        .enqueue(NewTask::new("other.kind", json!({})))
        .await
        .unwrap();
    let mut other = changes.watch(waiting);
    let mut bystander = changes.watch(tasks::TaskId::new());
    tasks::admin::cancel(&test.db, waiting).await.unwrap();
    tokio::time::timeout(SOON, other.changed())
        .await
        .expect("woken when cancelled");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), bystander.changed())
            .await
            .is_err(),
        "a watcher of another task was woken"
    );
    worker.shutdown().await.unwrap();
}

/// On PostgreSQL every state change is also a NOTIFY, and a `Changes` turns notifications
/// (from any replica) into wake-ups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_other_replicas_through_notify() {
    let Some(test) = TestDb::create(Db::Postgres).await else {
        return;
    };
    let TaskDb::Postgres(pool) = &test.db else {
        unreachable!()
    };
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener.listen("jobpilot_task_changes").await.unwrap();
    let queue = Queue::new(test.db.clone());
    // Only the changes of tasks started for a user are notified (those their owners follow).
    let system = queue
        .enqueue(NewTask::new("noop", json!({})))
        .await
        .unwrap();
    let users = queue
        .enqueue(NewTask::new("noop", json!({})).with_user(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    tasks::admin::cancel(&test.db, system).await.unwrap();
    tasks::admin::cancel(&test.db, users).await.unwrap();
    let heard = tokio::time::timeout(SOON, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard.payload(), users.to_string());

    // A notification sent by another replica wakes the watcher here.
    let changes = Changes::new(test.db.clone());
    let other = tasks::TaskId::new();
    let mut watch = changes.watch(other);
    let notify = async {
        // The listener connects in the background: repeat until it hears one.
        loop {
            sqlx::query("SELECT pg_notify('jobpilot_task_changes', $1)")
                .bind(format!("{},{other}", tasks::TaskId::new()))
                .execute(pool)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        () = watch.changed() => {}
        () = notify => unreachable!(),
        () = tokio::time::sleep(SOON) => panic!("the notification never woke the watcher"),
    }

    // Stopping hands the listening connection back, so closing the pool (which waits for every
    // connection) finishes; the watch still exists, and no listener starts again.
    drop(listener);
    changes.stop().await;
    let _again = changes.watch(other);
    tokio::time::timeout(SOON, pool.close())
        .await
        .expect("the pool closes once the listener has stopped");
}

on_both_databases!(watchers_are_woken_as_the_worker_and_operators_move_a_task);

/// A tracer that keeps its spans in memory (nothing is exported), as the subscriber of the
/// current thread.
fn trace_in_memory() -> tracing::subscriber::DefaultGuard {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_default(subscriber)
}

/// Runs on one thread, so the worker's tasks see the test's subscriber.
async fn the_handler_span_continues_the_enqueuers_trace(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    let _tracing = trace_in_memory();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut handlers = Handlers::new();
    handlers.add_fn("traced", LONG, move |ctx: TaskContext, _: Value| {
        let seen = seen_tx.clone();
        async move {
            let context = tracing::Span::current().context();
            let trace_id = context.span().span_context().trace_id();
            let _ = seen.send((ctx.id, trace_id));
            Ok(Outcome::Complete)
        }
    });
    let queue = Queue::new(test.db.clone());

    let request = tracing::info_span!("request");
    let request_context = request.context();
    let request_span = request_context.span().span_context().clone();
    let traced = queue
        .enqueue(NewTask::new("traced", json!({})))
        .instrument(request.clone())
        .await
        .unwrap();
    let untraced = queue
        .enqueue(NewTask::new("traced", json!({})))
        .await
        .unwrap();
    let chosen = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let kept = queue
        .enqueue(NewTask::new("traced", json!({})).with_meta(json!({ "traceparent": chosen })))
        .instrument(request)
        .await
        .unwrap();

    let meta = |id| {
        let db = test.db.clone();
        async move { tasks::admin::get(&db, id).await.unwrap().meta }
    };
    assert_eq!(
        meta(traced).await["traceparent"],
        format!(
            "00-{}-{}-01",
            request_span.trace_id(),
            request_span.span_id()
        )
    );
    assert_eq!(meta(untraced).await.get("traceparent"), None);
    assert_eq!(meta(kept).await["traceparent"], chosen);

    // Other tests' threads (without this subscriber) may have registered the worker's span
    // callsites first and cached "not interested"; ask every callsite again now that this
    // thread's subscriber is in place.
    tracing::callsite::rebuild_interest_cache();
    let worker = Worker::new(test.db.clone(), handlers, fast_config()).start();
    let mut trace_ids = std::collections::HashMap::new();
    while trace_ids.len() < 3 {
        let (id, trace_id) = tokio::time::timeout(SOON, seen.recv())
            .await
            .expect("every task ran")
            .unwrap();
        trace_ids.insert(id, trace_id);
    }
    assert_eq!(trace_ids[&traced], request_span.trace_id());
    assert_eq!(
        trace_ids[&kept].to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_ne!(trace_ids[&untraced], request_span.trace_id());
    assert!(trace_ids[&untraced] != opentelemetry::trace::TraceId::INVALID);
    wait_for_state(&test.db, untraced, TaskState::Completed).await;
    worker.shutdown().await.unwrap();
}

mod single_thread {
    #[tokio::test]
    async fn the_handler_span_continues_the_enqueuers_trace_sqlite() {
        super::the_handler_span_continues_the_enqueuers_trace(super::Db::Sqlite).await
    }

    #[tokio::test]
    async fn the_handler_span_continues_the_enqueuers_trace_postgres() {
        super::the_handler_span_continues_the_enqueuers_trace(super::Db::Postgres).await
    }
}
