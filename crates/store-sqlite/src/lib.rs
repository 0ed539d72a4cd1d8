//! jobpilot's store on SQLite: the embedded default.
//!
//! One file under the data directory, in WAL mode with `synchronous=FULL` (the queue and the
//! account tables must survive a power cut), foreign keys on and a busy timeout so writers queue
//! instead of failing.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Email, NewUser, User, UserId};
use sqlx::{
    Row,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};
use store::{Backend, PoolStats, Readiness, Store, StoreError, StoreResult, user_from_columns};
use uuid::Uuid;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to open a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    pub url: String,
    /// Create the file when it is missing. Off unless the operator asked for it (`?mode=rwc`) or
    /// this is the first run on the default path, so a typo in a path never starts an empty
    /// database silently.
    pub create_if_missing: bool,
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(settings: &SqliteSettings) -> StoreResult<Self> {
        let mut options = SqliteConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if settings.create_if_missing {
            options = options.create_if_missing(true);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self { pool })
    }

    /// The pool, for crates (such as the task queue) that keep their own tables in this database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(error))
        }
        _ => StoreError::Other(Box::new(error)),
    }
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let id: String = row.try_get("id").map_err(db_error)?;
    let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("users.id: {e}")))?;
    user_from_columns(
        id,
        row.try_get("email").map_err(db_error)?,
        row.try_get("password_hash").map_err(db_error)?,
        row.try_get("role").map_err(db_error)?,
        row.try_get::<DateTime<Utc>, _>("created_at")
            .map_err(db_error)?,
        row.try_get::<DateTime<Utc>, _>("updated_at")
            .map_err(db_error)?,
    )
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }

    async fn readiness(&self) -> StoreResult<Readiness> {
        let has_table: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let applied: Vec<i64> = if has_table == 0 {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?
        };
        Ok(Readiness::compare(
            MIGRATOR
                .iter()
                .filter(|m| !m.migration_type.is_down_migration())
                .map(|m| m.version),
            &applied,
        ))
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max_size: self.pool.options().get_max_connections(),
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let now = Utc::now();
        let id = UserId::new();
        let result = sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.as_uuid().hyphenated().to_string())
        .bind(new.email.as_str())
        .bind(new.password_hash.as_deref())
        .bind(new.role.as_str())
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(User {
                id,
                email: new.email,
                password_hash: new.password_hash,
                role: new.role,
                created_at: now,
                updated_at: now,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("users.email"))
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query(
            "SELECT id, email, password_hash, role, created_at, updated_at FROM users WHERE id = ?",
        )
        .bind(id.as_uuid().hyphenated().to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        sqlx::query(
            "SELECT id, email, password_hash, role, created_at, updated_at FROM users \
             WHERE lower(email) = lower(?)",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
