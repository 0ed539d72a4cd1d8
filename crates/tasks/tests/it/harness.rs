//! A fresh database per test (SQLite in a temporary directory; PostgreSQL when
//! JOBPILOT_TEST_POSTGRES_URL is set), migrated with the stores' own migrations.

use std::{future::Future, str::FromStr, time::Duration};

use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tasks::{Backoff, QueueConfig, TaskDb, WorkerConfig};
use test_support::ScratchDatabase;

pub use test_support::Db;

pub struct TestDb {
    pub db: TaskDb,
    pub url: String,
    _scratch: ScratchDatabase,
}

impl TestDb {
    /// `None` (with a note on stderr) when PostgreSQL is asked for but not configured.
    pub async fn create(kind: Db) -> Option<Self> {
        let scratch = ScratchDatabase::create(kind, "jobpilot_tasks_test").await?;
        let url = scratch.url.clone();
        let db = match kind {
            Db::Sqlite => connect_sqlite(&url, true).await,
            Db::Postgres => connect_postgres(&url).await,
        };
        match &db {
            TaskDb::Sqlite(pool) => sqlx::migrate!("../store-sqlite/migrations")
                .run(pool)
                .await
                .unwrap(),
            TaskDb::Postgres(pool) => sqlx::migrate!("../store-postgres/migrations")
                .run(pool)
                .await
                .unwrap(),
        }
        // Side-effect tables for the exactly-once tests.
        for statement in [
            "CREATE TABLE effects (key TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 1)",
            "CREATE TABLE runs (key TEXT NOT NULL)",
        ] {
            match &db {
                TaskDb::Sqlite(pool) => {
                    sqlx::query(statement).execute(pool).await.unwrap();
                }
                TaskDb::Postgres(pool) => {
                    sqlx::query(statement).execute(pool).await.unwrap();
                }
            }
        }
        Some(Self {
            db,
            url,
            _scratch: scratch,
        })
    }
}

/// Opens the database at `url` as the stores do (WAL, synchronous=FULL, busy timeout).
pub async fn connect(url: &str) -> TaskDb {
    if url.starts_with("sqlite:") {
        connect_sqlite(url, false).await
    } else {
        connect_postgres(url).await
    }
}

async fn connect_sqlite(url: &str, create: bool) -> TaskDb {
    let options = SqliteConnectOptions::from_str(url)
        .unwrap()
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .after_connect(|conn, _| Box::pin(tasks::install_sqlite_wake_hooks(conn)))
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    TaskDb::Sqlite(pool)
}

async fn connect_postgres(url: &str) -> TaskDb {
    // Pinged before lending only when idle, as jobpilot's pool is (the reconnect test cuts
    // connections in steady use).
    let pool = tasks::ping_when_idle(PgPoolOptions::new().max_connections(8))
        .connect(url)
        .await
        .unwrap();
    TaskDb::Postgres(pool)
}

/// A worker configuration with every interval tiny, so tests take milliseconds.
pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        queues: vec![QueueConfig::new(tasks::DEFAULT_QUEUE, 4)],
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(5),
        heartbeat_interval: Duration::from_millis(200),
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        rescue_interval: Duration::from_millis(100),
        prune_interval: Duration::from_secs(3600),
        cron_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// Polls `check` every 10 ms until it holds; fails the test after `within`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the task reaches `state`; returns it.
pub async fn wait_for_state(
    db: &TaskDb,
    id: tasks::TaskId,
    state: tasks::TaskState,
) -> tasks::Task {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let task = tasks::admin::get(db, id).await.unwrap();
        if task.state == state {
            return task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task never became {state}: {task:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Logs one run of `key` (every execution) in `runs`, and its side effect once in `effects`
/// (guarded by the unique key, as a real handler's would be).
pub async fn record_run(db: &TaskDb, key: &str) -> Result<(), sqlx::Error> {
    match db {
        TaskDb::Sqlite(pool) => {
            sqlx::query("INSERT INTO runs (key) VALUES (?1)")
                .bind(key)
                .execute(pool)
                .await?;
            sqlx::query("INSERT INTO effects (key) VALUES (?1) ON CONFLICT DO NOTHING")
                .bind(key)
                .execute(pool)
                .await?;
        }
        TaskDb::Postgres(pool) => {
            sqlx::query("INSERT INTO runs (key) VALUES ($1)")
                .bind(key)
                .execute(pool)
                .await?;
            sqlx::query("INSERT INTO effects (key) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(key)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// How many runs were logged (all keys when `key` is `None`).
pub async fn runs(db: &TaskDb, key: Option<&str>) -> i64 {
    match db {
        TaskDb::Sqlite(pool) => {
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE ?1 IS NULL OR key = ?1")
                .bind(key)
                .fetch_one(pool)
                .await
                .unwrap()
        }
        TaskDb::Postgres(pool) => {
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE $1::text IS NULL OR key = $1")
                .bind(key)
                .fetch_one(pool)
                .await
                .unwrap()
        }
    }
}

/// (runs logged, distinct keys run, side effects recorded)
pub async fn run_counts(db: &TaskDb) -> (i64, i64, i64) {
    let sql_runs = "SELECT count(*) FROM runs";
    let sql_distinct = "SELECT count(DISTINCT key) FROM runs";
    let sql_effects = "SELECT count(*) FROM effects";
    match db {
        TaskDb::Sqlite(pool) => (
            sqlx::query_scalar(sql_runs).fetch_one(pool).await.unwrap(),
            sqlx::query_scalar(sql_distinct)
                .fetch_one(pool)
                .await
                .unwrap(),
            sqlx::query_scalar(sql_effects)
                .fetch_one(pool)
                .await
                .unwrap(),
        ),
        TaskDb::Postgres(pool) => (
            sqlx::query_scalar(sql_runs).fetch_one(pool).await.unwrap(),
            sqlx::query_scalar(sql_distinct)
                .fetch_one(pool)
                .await
                .unwrap(),
            sqlx::query_scalar(sql_effects)
                .fetch_one(pool)
                .await
                .unwrap(),
        ),
    }
}

/// Runs a test body against SQLite and PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Db::Postgres).await
                }
            )*
        }
    };
}
