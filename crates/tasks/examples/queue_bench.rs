//! Task queue benchmark: no-op tasks, enqueued then completed, on SQLite and PostgreSQL.
//!
//! Run through `bench/tasks/run` (see bench/README.md). Prints one JSON line per database:
//! - `throughput_tasks_per_s`: N tasks enqueued in batches (one transaction each) while one
//!   worker runs them; the clock runs from the first enqueue to the last completion recorded;
//! - `enqueue_idle_*_ms`: single-task enqueues, each its own transaction (`Queue::enqueue`), one
//!   after the other, no worker running;
//! - `enqueue_busy_*_ms`: the same while the worker runs what is enqueued (they share 2 cores).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sqlx::{
    Connection as _, PgConnection,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tasks::{
    Handlers, NewTask, Outcome, Queue, QueueConfig, TaskContext, TaskDb, TaskState, Worker,
    WorkerConfig, admin,
};

struct Options {
    databases: Vec<String>,
    tasks: usize,
    batch: usize,
    concurrency: usize,
    latency_samples: usize,
    postgres_url: String,
}

fn options() -> Options {
    let mut options = Options {
        databases: vec!["sqlite".into(), "postgres".into()],
        tasks: 50_000,
        batch: 1_000,
        concurrency: 100,
        latency_samples: 2_000,
        postgres_url: std::env::var("JOBPILOT_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match arg.as_str() {
            "--db" => options.databases = value().split(',').map(str::to_owned).collect(),
            "--tasks" => options.tasks = value().parse().expect("a number"),
            "--batch" => options.batch = value().parse().expect("a number"),
            "--concurrency" => options.concurrency = value().parse().expect("a number"),
            "--latency-samples" => options.latency_samples = value().parse().expect("a number"),
            "--postgres-url" => options.postgres_url = value(),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

#[tokio::main]
async fn main() {
    // The queue's warnings (failed claims, lost outcomes) would explain a bad run.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JOBPILOT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = options();
    for database in &options.databases {
        let (db, _guard) = match database.as_str() {
            "sqlite" => sqlite().await,
            "postgres" => postgres(&options.postgres_url).await,
            other => panic!("unknown database {other}"),
        };
        let result = bench(&db, &options).await;
        println!(
            "{}",
            json!({
                "database": database,
                "tasks": options.tasks,
                "batch": options.batch,
                "concurrency": options.concurrency,
                "throughput_tasks_per_s": result.throughput.round(),
                "enqueue_samples": options.latency_samples,
                "enqueue_idle_p50_ms": ms(result.idle_p50),
                "enqueue_idle_p99_ms": ms(result.idle_p99),
                "enqueue_busy_p50_ms": ms(result.busy_p50),
                "enqueue_busy_p99_ms": ms(result.busy_p99),
            })
        );
        match db {
            TaskDb::Sqlite(pool) => pool.close().await,
            TaskDb::Postgres(pool) => pool.close().await,
        }
    }
}

fn ms(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

struct Figures {
    throughput: f64,
    idle_p50: f64,
    idle_p99: f64,
    busy_p50: f64,
    busy_p99: f64,
}

/// Single-task enqueues, each its own transaction, one after the other.
async fn enqueue_latencies(queue: &Queue, samples: usize) -> (f64, f64) {
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let task = NewTask::new("noop", json!({ "i": i }));
        let t = Instant::now();
        queue.enqueue(task).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (at(0.50), at(0.99))
}

async fn bench(db: &TaskDb, options: &Options) -> Figures {
    // Enqueue latency with no worker running: the enqueue alone.
    let queue = Queue::new(db.clone());
    let (idle_p50, idle_p99) = enqueue_latencies(&queue, options.latency_samples).await;

    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let mut handlers = Handlers::new();
    handlers.add_fn(
        "noop",
        Duration::from_secs(60),
        move |_: TaskContext, _: Value| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { Ok(Outcome::Complete) }
        },
    );
    let config = WorkerConfig {
        queues: vec![QueueConfig::new(tasks::DEFAULT_QUEUE, options.concurrency)],
        max_batch: options.concurrency,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.clone(), handlers, config).start();
    // The worker first runs the tasks of the idle latency phase.
    wait_completed(db, &done, options.latency_samples as i64).await;

    // Throughput: enqueue and run N tasks.
    let started = Instant::now();
    let mut left = options.tasks;
    while left > 0 {
        let n = left.min(options.batch);
        let batch: Vec<NewTask> = (0..n)
            .map(|i| NewTask::new("noop", json!({ "i": i })))
            .collect();
        queue.enqueue_many(&batch).await.unwrap();
        left -= n;
    }
    wait_completed(db, &done, (options.tasks + options.latency_samples) as i64).await;
    let throughput = options.tasks as f64 / started.elapsed().as_secs_f64();

    // Enqueue latency while the worker runs what is enqueued.
    let (busy_p50, busy_p99) = enqueue_latencies(&queue, options.latency_samples).await;
    wait_completed(
        db,
        &done,
        (options.tasks + 2 * options.latency_samples) as i64,
    )
    .await;
    worker.shutdown().await.unwrap();
    Figures {
        throughput,
        idle_p50,
        idle_p99,
        busy_p50,
        busy_p99,
    }
}

/// Waits until `n` handlers ran (no database load), then until their completions are recorded.
async fn wait_completed(db: &TaskDb, ran: &AtomicU64, n: i64) {
    while (ran.load(Ordering::Relaxed) as i64) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    loop {
        let completed: i64 = admin::stats(db)
            .await
            .unwrap()
            .iter()
            .filter(|s| s.state == TaskState::Completed)
            .map(|s| s.count)
            .sum();
        if completed >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Holds what must outlive the run (the SQLite file's directory, the PostgreSQL database).
enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database { admin_url: String, name: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Database { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await
                        .unwrap();
                    });
            })
            .join();
        }
    }
}

/// As the SQLite store opens its file: WAL, synchronous=FULL, busy timeout.
async fn sqlite() -> (TaskDb, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(10)
        .after_connect(|conn, _| Box::pin(tasks::install_sqlite_wake_hooks(conn)))
        .connect_with(options)
        .await
        .unwrap();
    sqlx::migrate!("../store-sqlite/migrations")
        .run(&pool)
        .await
        .unwrap();
    (TaskDb::Sqlite(pool), Guard::Dir(dir))
}

async fn postgres(admin_url: &str) -> (TaskDb, Guard) {
    let name = format!("jobpilot_tasks_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(admin_url);
    // Pinged before lending only when idle, as the store's pool is.
    let pool = tasks::ping_when_idle(PgPoolOptions::new().max_connections(10))
        .connect(&format!("{base}/{name}"))
        .await
        .unwrap();
    sqlx::migrate!("../store-postgres/migrations")
        .run(&pool)
        .await
        .unwrap();
    (
        TaskDb::Postgres(pool),
        Guard::Database {
            admin_url: admin_url.to_owned(),
            name,
        },
    )
}
