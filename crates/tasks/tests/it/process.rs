//! Workers in another process: `kill -9` recovery, and exactly-once across processes.
//!
//! The child is this same test binary, re-run on the ignored test `process::child_worker` with
//! the database URL in the environment.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use tasks::{
    FailureKind, Handlers, NewTask, Outcome, Queue, QueueConfig, TaskContext, TaskState, Worker,
    WorkerConfig, admin,
};

use crate::{
    harness::{Db, TestDb, connect, fast_config, record_run, run_counts, wait_until},
    on_both_databases,
};

const CHILD_URL: &str = "TASKS_IT_CHILD_DATABASE_URL";
const CHILD_MODE: &str = "TASKS_IT_CHILD_MODE";
const LEASE: Duration = Duration::from_millis(600);

fn spawn_child(url: &str, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "process::child_worker",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, url)
        .env(CHILD_MODE, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Short leases where a crash is staged (so recovery is quick), the default otherwise (so a busy
/// machine's late heartbeat cannot pass for a crash).
fn child_config(hang: bool) -> WorkerConfig {
    WorkerConfig {
        queues: vec![QueueConfig::new(tasks::DEFAULT_QUEUE, 32)],
        lease: if hang { LEASE } else { fast_config().lease },
        heartbeat_interval: Duration::from_millis(150),
        ..fast_config()
    }
}

/// Not a test on its own: the worker process the tests below start and kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a helper process for the kill -9 tests"]
async fn child_worker() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let db = connect(&url).await;
    let hang = std::env::var(CHILD_MODE).as_deref() == Ok("hang");
    let mut workers = Vec::new();
    for _ in 0..2 {
        let mut handlers = Handlers::new();
        handlers.add_fn(
            "effect",
            Duration::from_secs(60),
            move |ctx: TaskContext, _: Value| async move {
                record_run(&ctx.db, &ctx.id.to_string()).await?;
                if hang {
                    // Side effect done, outcome not yet recorded: the worst moment to die.
                    std::future::pending::<()>().await;
                }
                Ok(Outcome::Complete)
            },
        );
        workers.push(Worker::new(db.clone(), handlers, child_config(hang)).start());
    }
    // Runs until the parent kills this process.
    std::future::pending::<()>().await;
}

fn effect_handlers() -> Handlers {
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "effect",
        Duration::from_secs(60),
        |ctx: TaskContext, _: Value| async move {
            record_run(&ctx.db, &ctx.id.to_string()).await?;
            Ok(Outcome::Complete)
        },
    );
    handlers
}

async fn count_in_state(test: &TestDb, state: TaskState) -> i64 {
    admin::stats(&test.db)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.state == state)
        .map(|s| s.count)
        .sum()
}

async fn a_worker_process_killed_mid_task_loses_nothing(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    const N: usize = 20;
    let tasks: Vec<NewTask> = (0..N).map(|_| NewTask::new("effect", json!({}))).collect();
    Queue::new(test.db.clone())
        .enqueue_many(&tasks)
        .await
        .unwrap();

    let mut child = spawn_child(&test.url, "hang");
    wait_until(
        Duration::from_secs(20),
        "the child process runs every task",
        || async { run_counts(&test.db).await.0 == N as i64 },
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(count_in_state(&test, TaskState::Executing).await, N as i64);

    // A restarted worker takes the tasks back once their leases expire, and finishes them.
    let mut config = child_config(true);
    config.rescue_interval = Duration::from_millis(50);
    let worker = Worker::new(test.db.clone(), effect_handlers(), config).start();
    wait_until(Duration::from_secs(20), "every task completes", || async {
        count_in_state(&test, TaskState::Completed).await == N as i64
    })
    .await;
    worker.shutdown().await.unwrap();

    let (runs, distinct, effects) = run_counts(&test.db).await;
    assert_eq!(effects, N as i64, "each side effect happened once");
    assert_eq!(distinct, N as i64);
    assert_eq!(runs, 2 * N as i64, "every task ran again after the crash");
    let page = admin::list(&test.db, &admin::ListFilter::default(), 100)
        .await
        .unwrap();
    for task in page.tasks {
        assert_eq!(task.attempt, 2);
        assert_eq!(task.errors.len(), 1);
        assert_eq!(task.errors[0].kind, FailureKind::LeaseExpired);
    }
}

async fn four_workers_in_two_processes_run_each_task_exactly_once(kind: Db) {
    let Some(test) = TestDb::create(kind).await else {
        return;
    };
    const N: usize = 10_000;
    let mut child = spawn_child(&test.url, "work");
    let own_pool = connect(&test.url).await;
    let workers: Vec<_> = [test.db.clone(), own_pool]
        .into_iter()
        .map(|db| Worker::new(db, effect_handlers(), child_config(false)).start())
        .collect();
    let queue = Queue::new(test.db.clone());
    for chunk in (0..N).collect::<Vec<_>>().chunks(250) {
        let batch: Vec<NewTask> = chunk
            .iter()
            .map(|i| NewTask::new("effect", json!({ "i": i })))
            .collect();
        queue.enqueue_many(&batch).await.unwrap();
    }
    // Generous: the suite runs its tests side by side on two cores.
    wait_until(Duration::from_secs(180), "every task completes", || async {
        count_in_state(&test, TaskState::Completed).await == N as i64
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    for worker in workers {
        worker.shutdown().await.unwrap();
    }
    let (runs, distinct, effects) = run_counts(&test.db).await;
    assert_eq!((runs, distinct, effects), (N as i64, N as i64, N as i64));
}

on_both_databases!(
    a_worker_process_killed_mid_task_loses_nothing,
    four_workers_in_two_processes_run_each_task_exactly_once,
);
