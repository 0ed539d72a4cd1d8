//! What the SQL stores share, whatever their dialect.

use sqlx::{Database, Pool, migrate::Migrator};

use crate::{PoolStats, StoreError};

/// Sorts a driver error: connection trouble is `Unavailable` (the caller may retry later),
/// everything else is `Other`.
pub fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(error))
        }
        _ => StoreError::Other(Box::new(error)),
    }
}

/// A task-queue failure inside a store transaction, sorted like the store's own errors.
pub fn task_error(error: tasks::Error) -> StoreError {
    match error {
        tasks::Error::Database(e) => db_error(e),
        other => StoreError::Other(Box::new(other)),
    }
}

/// Is this the database refusing a duplicate?
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

pub fn pool_stats<DB: Database>(pool: &Pool<DB>) -> PoolStats {
    PoolStats {
        size: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max_size: pool.options().get_max_connections(),
    }
}

/// The versions of the (up) migrations a binary carries.
pub fn known_migrations(migrator: &Migrator) -> impl Iterator<Item = i64> + '_ {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
}

pub async fn migrate<DB: Database>(migrator: &Migrator, pool: &Pool<DB>) -> Result<(), StoreError>
where
    <DB as Database>::Connection: sqlx::migrate::Migrate,
{
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Other(Box::new(e)))
}
