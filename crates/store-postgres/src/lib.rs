//! jobpilot's store on PostgreSQL: the scale-out choice, shared by any number of stateless
//! replicas.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Email, NewUser, User, UserId};
use sqlx::{
    Row,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow},
};
use store::{Backend, PoolStats, Readiness, Store, StoreError, StoreResult, user_from_columns};
use uuid::Uuid;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds every statement so a stuck query cannot hold a connection for ever.
const STATEMENT_TIMEOUT: &str = "30s";

/// How to reach a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(settings: &PostgresSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            .application_name("jobpilot")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self { pool })
    }

    /// The pool, for crates (such as the task queue) that keep their own tables in this database.
    pub fn pool(&self) -> &PgPool {
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

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    user_from_columns(
        row.try_get::<Uuid, _>("id").map_err(db_error)?,
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
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock, so replicas starting together migrate once.
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }

    async fn readiness(&self) -> StoreResult<Readiness> {
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?
        } else {
            Vec::new()
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
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.as_uuid())
        .bind(new.email.as_str())
        .bind(new.password_hash.as_deref())
        .bind(new.role.as_str())
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(User {
                id,
                email: new.email,
                password_hash: new.password_hash,
                role: new.role,
                // What PostgreSQL keeps: microseconds.
                created_at: truncate_to_micros(now),
                updated_at: truncate_to_micros(now),
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("users.email"))
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query(
            "SELECT id, email, password_hash, role, created_at, updated_at FROM users WHERE id = $1",
        )
        .bind(id.as_uuid())
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
             WHERE lower(email) = lower($1)",
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

fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
