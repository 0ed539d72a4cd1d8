//! The storage interface the rest of jobpilot talks to.
//!
//! One trait, one implementation per database (`store-sqlite`, `store-postgres`), each with its own
//! migrations; the database URL's scheme picks the implementation. Every read of user data takes
//! the caller's identity, so tenant isolation is enforced here and not only in handlers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Email, NewUser, User, UserId};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; names the rule (e.g. `users.email`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back into a domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the readiness probe reports about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Migrations this binary knows that the database has not applied.
    pub pending_migrations: Vec<i64>,
    /// Migrations the database has applied that this binary does not know (a newer version ran).
    pub unknown_migrations: Vec<i64>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.pending_migrations.is_empty()
    }
}

/// Connection-pool figures for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max_size: u32,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    fn backend(&self) -> Backend;

    /// Applies the migrations this binary carries. Idempotent.
    async fn migrate(&self) -> StoreResult<()>;

    /// Answers whether the database is reachable and fully migrated.
    async fn readiness(&self) -> StoreResult<Readiness>;

    fn pool_stats(&self) -> PoolStats;

    /// Waits for in-flight queries and closes every connection.
    async fn close(&self);

    /// Creates a user; `Conflict("users.email")` if the address is taken in any letter case.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;

    async fn count_users(&self) -> StoreResult<u64>;
}

impl Readiness {
    /// Compares the migrations a binary carries with those a database has applied.
    pub fn compare(known: impl IntoIterator<Item = i64>, applied: &[i64]) -> Self {
        let known: Vec<i64> = known.into_iter().collect();
        Readiness {
            pending_migrations: known
                .iter()
                .copied()
                .filter(|v| !applied.contains(v))
                .collect(),
            unknown_migrations: applied
                .iter()
                .copied()
                .filter(|v| !known.contains(v))
                .collect(),
        }
    }
}

/// Rebuilds a [`User`] from the columns every store keeps, checking what the database cannot.
pub fn user_from_columns(
    id: uuid::Uuid,
    email: &str,
    password_hash: Option<String>,
    role: &str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> StoreResult<User> {
    Ok(User {
        id: UserId::from_uuid(id),
        email: Email::parse(email).map_err(|e| StoreError::Corrupt(format!("users.email: {e}")))?,
        password_hash,
        role: role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("users.role: {e}")))?,
        created_at,
        updated_at,
    })
}
