//! Putting tasks in the queue, inside the caller's transaction or on their own.

use std::future::Future;

use sqlx::{PgConnection, SqliteConnection};

use crate::{
    db::{Result, TaskDb},
    postgres, sqlite,
    task::{NewTask, TaskId},
};

/// A connection tasks can be enqueued on: a SQLite or PostgreSQL connection, or a transaction
/// (pass `&mut *tx`). Sealed: the queue's SQL exists for these two only.
pub trait Connection: sealed::Sealed + Send {
    #[doc(hidden)]
    fn insert_tasks(
        &mut self,
        tasks: &[NewTask],
    ) -> impl Future<Output = Result<Vec<TaskId>>> + Send;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::SqliteConnection {}
    impl Sealed for sqlx::PgConnection {}
}

impl Connection for SqliteConnection {
    fn insert_tasks(
        &mut self,
        tasks: &[NewTask],
    ) -> impl Future<Output = Result<Vec<TaskId>>> + Send {
        sqlite::insert(self, tasks)
    }
}

impl Connection for PgConnection {
    fn insert_tasks(
        &mut self,
        tasks: &[NewTask],
    ) -> impl Future<Output = Result<Vec<TaskId>>> + Send {
        postgres::insert(self, tasks)
    }
}

/// Enqueues a task on the caller's connection or transaction, so it commits (and wakes workers)
/// together with the caller's other writes, or not at all.
///
/// With a unique key that is already taken, nothing is inserted and the existing task's id is
/// returned.
///
/// ```no_run
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// use tasks::NewTask;
///
/// let mut tx = pool.begin().await?;
/// sqlx::query("UPDATE resumes SET state = 'uploaded' WHERE id = $1")
///     .bind(7_i64)
///     .execute(&mut *tx)
///     .await?;
/// let task = NewTask::new("resume.parse", serde_json::json!({ "resume_id": 7 }));
/// tasks::enqueue(&mut *tx, task).await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
pub async fn enqueue<C: Connection + ?Sized>(conn: &mut C, task: NewTask) -> Result<TaskId> {
    let ids = conn.insert_tasks(std::slice::from_ref(&task)).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| crate::Error::Corrupt("an enqueue returned no id".to_owned()))
}

/// Enqueues many tasks in one statement; returns their ids in the same order.
pub async fn enqueue_many<C: Connection + ?Sized>(
    conn: &mut C,
    tasks: &[NewTask],
) -> Result<Vec<TaskId>> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    conn.insert_tasks(tasks).await
}

/// Enqueues on a pool, each call its own transaction: for work that has no domain write to go
/// with.
#[derive(Debug, Clone)]
pub struct Queue {
    db: TaskDb,
}

impl Queue {
    pub fn new(db: TaskDb) -> Self {
        Self { db }
    }

    pub async fn enqueue(&self, task: NewTask) -> Result<TaskId> {
        match &self.db {
            TaskDb::Sqlite(pool) => {
                let gate = crate::sqlite::write_gate(pool);
                let _writing = gate.lock().await;
                enqueue(&mut *pool.acquire().await?, task).await
            }
            TaskDb::Postgres(pool) => enqueue(&mut *pool.acquire().await?, task).await,
        }
    }

    pub async fn enqueue_many(&self, tasks: &[NewTask]) -> Result<Vec<TaskId>> {
        match &self.db {
            TaskDb::Sqlite(pool) => {
                let gate = crate::sqlite::write_gate(pool);
                let _writing = gate.lock().await;
                enqueue_many(&mut *pool.acquire().await?, tasks).await
            }
            TaskDb::Postgres(pool) => enqueue_many(&mut *pool.acquire().await?, tasks).await,
        }
    }
}
