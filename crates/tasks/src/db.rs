//! The database the queue lives in, and its errors.

use sqlx::{PgPool, SqlitePool};

use crate::task::{TaskId, TaskState};

/// The application's database, as the queue sees it. Built by the binary from the store's pool;
/// the task tables come with the store's migrations.
#[derive(Debug, Clone)]
pub enum TaskDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl TaskDb {
    pub fn backend(&self) -> &'static str {
        match self {
            TaskDb::Sqlite(_) => "sqlite",
            TaskDb::Postgres(_) => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("task database error")]
    Database(#[from] sqlx::Error),
    #[error("task {0} not found")]
    NotFound(TaskId),
    #[error("task {id} is {state}, which does not allow this")]
    WrongState { id: TaskId, state: TaskState },
    #[error("invalid cron schedule {name:?}: {reason}")]
    InvalidSchedule { name: String, reason: String },
    #[error("the task table holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("task arguments could not be encoded")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
