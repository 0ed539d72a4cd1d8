//! What an operator (the admin API, the CLI, the dashboard) can read and do.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    db::{Error, Result, TaskDb},
    postgres, sqlite,
    task::{AttemptError, FailureKind, Task, TaskId, TaskState},
    telemetry,
};

/// The most tasks one page lists.
pub const MAX_PAGE: i64 = 500;

/// Which tasks to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub queue: Option<String>,
    pub kind: Option<String>,
    pub state: Option<TaskState>,
    pub user_id: Option<Uuid>,
    /// The cursor: tasks created before this one (the previous page's `next`).
    pub before: Option<TaskId>,
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Pass as [`ListFilter::before`] for the next page; `None` on the last one.
    pub next: Option<TaskId>,
}

/// How many tasks one queue has in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCount {
    pub queue: String,
    pub state: TaskState,
    pub count: i64,
}

pub async fn get(db: &TaskDb, id: TaskId) -> Result<Task> {
    let task = match db {
        TaskDb::Sqlite(pool) => sqlite::get(pool, id).await?,
        TaskDb::Postgres(pool) => postgres::get(pool, id).await?,
    };
    task.ok_or(Error::NotFound(id))
}

pub async fn list(db: &TaskDb, filter: &ListFilter, limit: i64) -> Result<Page> {
    let limit = limit.clamp(1, MAX_PAGE);
    // One more than asked tells whether another page exists.
    let mut tasks = match db {
        TaskDb::Sqlite(pool) => sqlite::list(pool, filter, limit + 1).await?,
        TaskDb::Postgres(pool) => postgres::list(pool, filter, limit + 1).await?,
    };
    let more = tasks.len() as i64 > limit;
    tasks.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more {
        tasks.last().map(|t| t.id)
    } else {
        None
    };
    Ok(Page { tasks, next })
}

/// Runs a waiting, failed, discarded or cancelled task again now, with one more attempt if it
/// had used them all.
pub async fn retry(db: &TaskDb, id: TaskId) -> Result<()> {
    use TaskState::*;
    move_task(
        db,
        id,
        &[Scheduled, Retryable, Discarded, Cancelled],
        Available,
        None,
    )
    .await
}

/// Cancels a task that has not finished. A running handler is not interrupted, but its outcome
/// is ignored.
pub async fn cancel(db: &TaskDb, id: TaskId) -> Result<()> {
    let note = note(FailureKind::Cancelled, "cancelled by an operator");
    use TaskState::*;
    move_task(
        db,
        id,
        &[Scheduled, Available, Executing, Retryable],
        Cancelled,
        Some(&note),
    )
    .await
}

/// Moves a task that has not finished to the dead letter.
pub async fn discard(db: &TaskDb, id: TaskId) -> Result<()> {
    let note = note(FailureKind::Discarded, "discarded by an operator");
    use TaskState::*;
    move_task(
        db,
        id,
        &[Scheduled, Available, Executing, Retryable],
        Discarded,
        Some(&note),
    )
    .await
}

/// Deletes the tasks started on a user's behalf (their arguments may hold personal data) when
/// the account is deleted; a task running right now finishes, then is pruned with the rest.
/// Returns how many were deleted.
pub async fn forget_user(db: &TaskDb, user_id: uuid::Uuid) -> Result<u64> {
    let deleted = match db {
        TaskDb::Sqlite(pool) => {
            sqlx::query("DELETE FROM tasks WHERE user_id = ?1 AND state <> 'executing'")
                .bind(user_id.hyphenated().to_string())
                .execute(pool)
                .await?
                .rows_affected()
        }
        TaskDb::Postgres(pool) => {
            sqlx::query("DELETE FROM tasks WHERE user_id = $1 AND state <> 'executing'")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        }
    };
    Ok(deleted)
}

fn note(kind: FailureKind, message: &str) -> AttemptError {
    AttemptError {
        attempt: 0,
        at: Utc::now(),
        kind,
        message: message.to_owned(),
    }
}

async fn move_task(
    db: &TaskDb,
    id: TaskId,
    from: &[TaskState],
    to: TaskState,
    note: Option<&AttemptError>,
) -> Result<()> {
    let moved = match db {
        TaskDb::Sqlite(pool) => sqlite::set_state(pool, id, from, to, note).await?,
        TaskDb::Postgres(pool) => postgres::set_state(pool, id, from, to, note).await?,
    };
    if moved {
        crate::changes::announce([id]);
        return Ok(());
    }
    let task = get(db, id).await?;
    Err(Error::WrongState {
        id,
        state: task.state,
    })
}

/// Task counts by queue and state (states with no task are left out).
pub async fn stats(db: &TaskDb) -> Result<Vec<StateCount>> {
    match db {
        TaskDb::Sqlite(pool) => sqlite::stats(pool).await,
        TaskDb::Postgres(pool) => postgres::stats(pool).await,
    }
}

/// Sets the `tasks{queue,state}` gauges from the database: call it when metrics are scraped (or
/// on a timer). Every state of every queue seen gets a value, zero included, so a gauge falls
/// back to zero when its tasks are gone.
pub async fn record_gauges(db: &TaskDb) -> Result<Vec<StateCount>> {
    // Queues reported before: when all their tasks are pruned they drop out of the counts, and
    // their gauges must fall to zero instead of keeping their last value.
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let counts = stats(db).await?;
    let mut by_queue: BTreeMap<String, BTreeMap<&'static str, i64>> = BTreeMap::new();
    if let Ok(seen) = SEEN.lock() {
        for queue in seen.iter() {
            by_queue.entry(queue.clone()).or_default();
        }
    }
    for row in &counts {
        by_queue
            .entry(row.queue.clone())
            .or_default()
            .insert(row.state.as_str(), row.count);
    }
    for (queue, states) in &by_queue {
        for state in TaskState::ALL {
            let count = states.get(state.as_str()).copied().unwrap_or(0);
            ::metrics::gauge!(telemetry::TASKS, "queue" => queue.clone(), "state" => state.as_str())
                .set(count as f64);
        }
    }
    if let Ok(mut seen) = SEEN.lock() {
        seen.extend(by_queue.into_keys());
    }
    Ok(counts)
}
