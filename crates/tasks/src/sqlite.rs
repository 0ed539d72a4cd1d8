//! The queue's SQL for SQLite. Times are Unix epoch milliseconds from this process's clock (one
//! machine holds the file, so there is one clock); JSON is TEXT.
//!
//! Every write here is a single statement in its own implicit transaction, or a short explicit
//! one that starts with a write: SQLite takes the write lock at the start of such a statement (as
//! `BEGIN IMMEDIATE` would), so the busy timeout applies and no stale snapshot can fail it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool, sqlite::SqliteRow};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    admin::{ListFilter, StateCount},
    db::{Error, Result},
    task::{AttemptError, NewTask, Task, TaskId, TaskState},
    worker::Finish,
};

/// Wakes this process's SQLite workers when a transaction that enqueued ready work commits.
/// One signal for every SQLite database of the process: a wake-up meant for another database
/// costs one empty claim.
pub(crate) static WAKE: Notify = Notify::const_new();

macro_rules! columns {
    () => {
        "id, queue, kind, args, state, priority, attempt, max_attempts, scheduled_at, \
         attempted_at, lease_owner, lease_expires_at, errors, unique_key, user_id, meta, \
         inserted_at, finished_at"
    };
}

pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(column: &str, value: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value)
        .ok_or_else(|| Error::Corrupt(format!("tasks.{column}: {value} is out of range")))
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn json_column(row: &SqliteRow, column: &str) -> Result<serde_json::Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("tasks.{column}: {e}")))
}

fn task_from_row(row: &SqliteRow) -> Result<Task> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|v| from_ms(column, v))
            .transpose()
    };
    let errors: Vec<AttemptError> = serde_json::from_value(json_column(row, "errors")?)
        .map_err(|e| Error::Corrupt(format!("tasks.errors: {e}")))?;
    let user_id = row
        .try_get::<Option<String>, _>("user_id")?
        .map(|v| Uuid::parse_str(&v))
        .transpose()
        .map_err(|e| Error::Corrupt(format!("tasks.user_id: {e}")))?;
    Ok(Task {
        id: id
            .parse()
            .map_err(|e| Error::Corrupt(format!("tasks.id: {e}")))?,
        queue: row.try_get("queue")?,
        kind: row.try_get("kind")?,
        args: json_column(row, "args")?,
        state: state.parse().map_err(Error::Corrupt)?,
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempt")?,
        max_attempts: row.try_get("max_attempts")?,
        scheduled_at: from_ms("scheduled_at", row.try_get("scheduled_at")?)?,
        attempted_at: optional_time("attempted_at")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: optional_time("lease_expires_at")?,
        errors,
        unique_key: row.try_get("unique_key")?,
        user_id,
        meta: json_column(row, "meta")?,
        inserted_at: from_ms("inserted_at", row.try_get("inserted_at")?)?,
        finished_at: optional_time("finished_at")?,
    })
}

/// One writer at a time per SQLite database, queued in this process. Without it, a writer
/// that finds the database locked waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, …
/// ms between tries: under contention the queue turns into tail latency. Every write of the
/// queue and of the store's busiest transactions holds it for the whole transaction; code
/// holding it never awaits another gated write.
///
/// Writers serving a request go first: a background writer (one inside [`background`], as
/// the workers' loops and handlers are) joins the queue only once no request's writer waits,
/// or after [`BACKGROUND_YIELD_MAX`], so background work is delayed, never starved.
pub fn write_gate(pool: &SqlitePool) -> Arc<SqliteWriteGate> {
    use std::{
        collections::HashMap,
        sync::{LazyLock, Mutex, PoisonError, Weak},
    };
    static GATES: LazyLock<Mutex<HashMap<String, Weak<SqliteWriteGate>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let key = pool
        .connect_options()
        .get_filename()
        .to_string_lossy()
        .into_owned();
    let mut gates = GATES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(gate) = gates.get(&key).and_then(Weak::upgrade) {
        return gate;
    }
    gates.retain(|_, gate| gate.strong_count() > 0);
    let gate = Arc::new(SqliteWriteGate::default());
    gates.insert(key, Arc::downgrade(&gate));
    gate
}

/// The longest a background writer stands aside for requests' writers.
pub const BACKGROUND_YIELD_MAX: std::time::Duration = std::time::Duration::from_millis(50);

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs a future as background work: its SQLite writes let requests' writes go first.
pub fn background<F: std::future::Future>(work: F) -> impl std::future::Future<Output = F::Output> {
    BACKGROUND.scope((), work)
}

/// Whether the caller runs inside [`background`].
pub fn in_background() -> bool {
    BACKGROUND.try_with(|_| ()).is_ok()
}

/// The lock of [`SqliteWriteGate::lock_owned`], held until dropped. It keeps its gate alive:
/// holding only the lock, the registry's entry could lapse during the write, and the next
/// writer would get a fresh gate with a lock of its own, and write beside this one.
#[derive(Debug)]
pub struct OwnedWriteGuard {
    // Fields drop in order: the lock goes before the gate.
    _held: tokio::sync::OwnedMutexGuard<()>,
    _gate: Arc<SqliteWriteGate>,
}

/// See [`write_gate`].
#[derive(Debug, Default)]
pub struct SqliteWriteGate {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Requests' writers waiting for the lock.
    urgent: AtomicUsize,
    /// Told when no request's writer waits any more.
    clear: tokio::sync::Notify,
}

/// Lets background writers in again when the last waiting request's writer got the lock.
struct Urgent<'a>(&'a SqliteWriteGate);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.clear.notify_waiters();
        }
    }
}

impl SqliteWriteGate {
    /// Waits for the lock; held until the guard drops.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        if in_background() {
            self.stand_aside().await;
            return self.lock.lock().await;
        }
        self.urgent.fetch_add(1, Ordering::AcqRel);
        let _waiting = Urgent(self);
        self.lock.lock().await
    }

    /// [`SqliteWriteGate::lock`], for a guard that outlives the borrow of the gate.
    pub async fn lock_owned(self: Arc<Self>) -> OwnedWriteGuard {
        let held = if in_background() {
            self.stand_aside().await;
            self.lock.clone().lock_owned().await
        } else {
            self.urgent.fetch_add(1, Ordering::AcqRel);
            let _waiting = Urgent(&self);
            self.lock.clone().lock_owned().await
        };
        OwnedWriteGuard {
            _held: held,
            _gate: self,
        }
    }

    /// Waits while requests' writers wait, up to [`BACKGROUND_YIELD_MAX`].
    async fn stand_aside(&self) {
        let deadline = tokio::time::Instant::now() + BACKGROUND_YIELD_MAX;
        loop {
            let notified = self.clear.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.urgent.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

/// Installs, once per connection, the hooks that fire [`WAKE`] when a transaction that
/// inserted tasks commits (and not when it rolls back), so an enqueue costs no round trip of its
/// own to arrange the wake-up. Every pool whose connections enqueue tasks calls it from
/// `after_connect` (the SQLite store's does); on a connection without it, workers find new
/// tasks at their next poll.
pub async fn install_wake_hooks(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    let inserted = Arc::new(AtomicBool::new(false));
    let (on_insert, on_commit, on_rollback) = (inserted.clone(), inserted.clone(), inserted);
    let mut handle = conn.lock_handle().await?;
    handle.set_update_hook(move |change| {
        if matches!(change.operation, sqlx::sqlite::SqliteOperation::Insert)
            && change.table == "tasks"
        {
            on_insert.store(true, Ordering::Release);
        }
    });
    handle.set_commit_hook(move || {
        if on_commit.swap(false, Ordering::AcqRel) {
            WAKE.notify_waiters();
        }
        true
    });
    handle.set_rollback_hook(move || on_rollback.store(false, Ordering::Release));
    Ok(())
}

pub(crate) async fn insert(conn: &mut SqliteConnection, tasks: &[NewTask]) -> Result<Vec<TaskId>> {
    let now = Utc::now();
    let now_ms = ms(now);
    let traceparent = crate::trace::current_traceparent();
    let mut rows = Vec::with_capacity(tasks.len());
    let mut ids = Vec::with_capacity(tasks.len());
    for task in tasks {
        let id = TaskId::new();
        let scheduled_at = task.scheduled_at.map_or(now_ms, ms);
        rows.push(serde_json::json!({
            "id": id.to_string(),
            "queue": task.queue,
            "kind": task.kind,
            "args": task.args,
            "priority": task.priority,
            "max_attempts": task.stored_max_attempts(),
            "scheduled_at": scheduled_at,
            "unique_key": task.stored_unique_key(now),
            "user_id": task.user_id.map(|u| u.to_string()),
            "meta": task.stored_meta(traceparent.as_deref()),
        }));
        ids.push(id);
    }
    // One statement for the whole batch; `WHERE true` lets SQLite tell the upsert clause from a
    // join constraint.
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO tasks (id, queue, kind, args, state, priority, max_attempts, scheduled_at,
                            unique_key, user_id, meta, inserted_at)
         SELECT value ->> 'id', value ->> 'queue', value ->> 'kind', value -> 'args',
                CASE WHEN value ->> 'scheduled_at' <= ?2 THEN 'available' ELSE 'scheduled' END,
                value ->> 'priority', value ->> 'max_attempts', value ->> 'scheduled_at',
                value ->> 'unique_key', value ->> 'user_id', value -> 'meta', ?2
         FROM json_each(?1) WHERE true
         ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await?;
    if inserted.len() == ids.len() {
        return Ok(ids);
    }
    // Some keys were taken: those tasks are the existing ones.
    let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
    let mut resolved = Vec::with_capacity(ids.len());
    for (id, task) in ids.into_iter().zip(tasks) {
        if inserted.contains(&id.to_string()) {
            resolved.push(id);
            continue;
        }
        let key = task.stored_unique_key(now);
        let existing: String = sqlx::query_scalar("SELECT id FROM tasks WHERE unique_key = ?1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        resolved.push(
            existing
                .parse()
                .map_err(|e| Error::Corrupt(format!("tasks.id: {e}")))?,
        );
    }
    Ok(resolved)
}

/// Claims up to `limit` ready tasks of the `kinds` (a JSON array). A task enqueued without its
/// own max attempts gets its kind's default from `attempts` (a JSON object of kind → attempts).
pub(crate) async fn claim(
    pool: &SqlitePool,
    queue: &str,
    kinds: &str,
    attempts: &str,
    owner: &str,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Task>> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let now = ms(Utc::now());
    // Every expression of SET reads the row as it was: `attempt + 1` is the attempt starting.
    let rows = sqlx::query(concat!(
        "UPDATE tasks SET state = 'executing', attempt = attempt + 1, attempted_at = ?1,
                          lease_owner = ?2, lease_expires_at = ?3,
                          max_attempts = coalesce(
                              CASE WHEN json_type(meta) = 'object'
                                        AND json_type(meta, '$.' || ?8) IS NULL
                                   THEN max((SELECT value FROM json_each(?7) WHERE key = kind),
                                            attempt + 1)
                              END,
                              max_attempts)
         WHERE id IN (SELECT id FROM tasks
                      WHERE queue = ?4 AND state IN ('available', 'scheduled', 'retryable')
                        AND scheduled_at <= ?1 AND kind IN (SELECT value FROM json_each(?5))
                      ORDER BY priority DESC, scheduled_at, id
                      LIMIT ?6)
         RETURNING ",
        columns!()
    ))
    .bind(now)
    .bind(owner)
    .bind(now + duration_ms(lease))
    .bind(queue)
    .bind(kinds)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(attempts)
    .bind(crate::task::EXPLICIT_ATTEMPTS)
    .fetch_all(pool)
    .await?;
    rows.iter().map(task_from_row).collect()
}

/// Completes a batch of `(id, attempt)`: only the attempt this worker still holds.
pub(crate) async fn complete(
    pool: &SqlitePool,
    owner: &str,
    attempts: &[(TaskId, i32)],
) -> Result<u64> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let ids: Vec<String> = attempts.iter().map(|(id, _)| id.to_string()).collect();
    let keys: Vec<String> = attempts
        .iter()
        .map(|(id, attempt)| format!("{id}:{attempt}"))
        .collect();
    // Both lists become ephemeral indexes: the ids drive the primary-key lookups, the keys check
    // each row's attempt.
    let done = sqlx::query(
        "UPDATE tasks SET state = 'completed', finished_at = ?1, lease_owner = NULL,
                          lease_expires_at = NULL
         WHERE state = 'executing' AND lease_owner = ?2
           AND id IN (SELECT value FROM json_each(?3))
           AND id || ':' || attempt IN (SELECT value FROM json_each(?4))",
    )
    .bind(ms(Utc::now()))
    .bind(owner)
    .bind(serde_json::to_string(&ids)?)
    .bind(serde_json::to_string(&keys)?)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn finish(
    pool: &SqlitePool,
    owner: &str,
    id: TaskId,
    attempt: i32,
    finish: &Finish,
) -> Result<bool> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let now = Utc::now();
    let error = finish
        .error
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let done = sqlx::query(
        "UPDATE tasks SET state = ?1,
                          scheduled_at = coalesce(?2, scheduled_at),
                          finished_at = ?3,
                          errors = CASE WHEN ?4 IS NULL THEN errors
                                        ELSE json_insert(errors, '$[#]', json(?4)) END,
                          attempt = attempt - ?5,
                          lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?6 AND lease_owner = ?7 AND state = 'executing' AND attempt = ?8",
    )
    .bind(finish.state.as_str())
    .bind(finish.run_after.map(|d| ms(now) + duration_ms(d)))
    .bind(finish.state.is_final().then(|| ms(now)))
    .bind(error)
    .bind(i32::from(finish.give_back_attempt))
    .bind(id.to_string())
    .bind(owner)
    .bind(attempt)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn heartbeat(pool: &SqlitePool, owner: &str, lease: Duration) -> Result<u64> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let done = sqlx::query(
        "UPDATE tasks SET lease_expires_at = ?1 WHERE lease_owner = ?2 AND state = 'executing'",
    )
    .bind(ms(Utc::now()) + duration_ms(lease))
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn release(pool: &SqlitePool, owner: &str) -> Result<u64> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let released: Vec<String> = sqlx::query_scalar(
        "UPDATE tasks SET state = 'available', attempt = attempt - 1, scheduled_at = ?1,
                          lease_owner = NULL, lease_expires_at = NULL
         WHERE lease_owner = ?2 AND state = 'executing'
         RETURNING id",
    )
    .bind(ms(Utc::now()))
    .bind(owner)
    .fetch_all(pool)
    .await?;
    changed(&released)
}

/// After a statement that changed these tasks: wakes workers (some may be ready again) and the
/// tasks' watchers; returns how many changed.
fn changed(ids: &[String]) -> Result<u64> {
    if !ids.is_empty() {
        WAKE.notify_waiters();
        crate::changes::announce(ids.iter().filter_map(|id| id.parse().ok()));
    }
    Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
}

pub(crate) async fn rescue(pool: &SqlitePool, message: &str) -> Result<u64> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let now = Utc::now();
    let rescued: Vec<String> = sqlx::query_scalar(
        "UPDATE tasks SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
             finished_at = CASE WHEN attempt >= max_attempts THEN ?1 END,
             scheduled_at = ?1,
             errors = json_insert(errors, '$[#]', json_object(
                 'attempt', attempt, 'at', ?2, 'kind', 'lease_expired', 'message', ?3)),
             lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 'executing' AND lease_expires_at < ?1
         RETURNING id",
    )
    .bind(ms(now))
    .bind(now.to_rfc3339())
    .bind(message)
    .fetch_all(pool)
    .await?;
    changed(&rescued)
}

/// Deletes up to `batch` finished tasks and cron fires older than `before`; returns how many.
pub(crate) async fn prune(pool: &SqlitePool, before: DateTime<Utc>, batch: i64) -> Result<u64> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let tasks = sqlx::query(
        "DELETE FROM tasks WHERE id IN
             (SELECT id FROM tasks WHERE finished_at < ?1 LIMIT ?2)",
    )
    .bind(ms(before))
    .bind(batch)
    .execute(pool)
    .await?;
    let fires = sqlx::query(
        "DELETE FROM task_cron_fires WHERE rowid IN
             (SELECT rowid FROM task_cron_fires WHERE fire_at < ?1 LIMIT ?2)",
    )
    .bind(ms(before))
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(tasks.rows_affected() + fires.rows_affected())
}

/// Records a cron fire and enqueues its task in one transaction; `None` when another worker
/// already fired it.
pub(crate) async fn fire_cron(
    pool: &SqlitePool,
    schedule: &str,
    fire_at: DateTime<Utc>,
    task: &NewTask,
) -> Result<Option<TaskId>> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let mut tx = pool.begin().await?;
    let id = TaskId::new();
    let fired = sqlx::query(
        "INSERT INTO task_cron_fires (schedule, fire_at, task_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )
    .bind(schedule)
    .bind(ms(fire_at))
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    if fired.rows_affected() == 0 {
        return Ok(None);
    }
    let ids = insert(&mut tx, std::slice::from_ref(task)).await?;
    sqlx::query("UPDATE task_cron_fires SET task_id = ?1 WHERE schedule = ?2 AND fire_at = ?3")
        .bind(ids.first().map(ToString::to_string))
        .bind(schedule)
        .bind(ms(fire_at))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.first().copied())
}

pub(crate) async fn get(pool: &SqlitePool, id: TaskId) -> Result<Option<Task>> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM tasks WHERE id = ?1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task_from_row).transpose()
}

pub(crate) async fn list(pool: &SqlitePool, filter: &ListFilter, limit: i64) -> Result<Vec<Task>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tasks
          WHERE (?1 IS NULL OR queue = ?1) AND (?2 IS NULL OR kind = ?2)
            AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR user_id = ?4)
            AND (?5 IS NULL OR id < ?5)
          ORDER BY id DESC
          LIMIT ?6"
    ))
    .bind(filter.queue.as_deref())
    .bind(filter.kind.as_deref())
    .bind(filter.state.map(TaskState::as_str))
    .bind(filter.user_id.map(|u| u.to_string()))
    .bind(filter.before.map(|id| id.to_string()))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(task_from_row).collect()
}

/// Moves a task from one of `from` to `to`; returns whether it moved.
pub(crate) async fn set_state(
    pool: &SqlitePool,
    id: TaskId,
    from: &[TaskState],
    to: TaskState,
    note: Option<&AttemptError>,
) -> Result<bool> {
    let gate = write_gate(pool);
    let _writing = gate.lock().await;
    let now = ms(Utc::now());
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let note = note.map(serde_json::to_string).transpose()?;
    let done = sqlx::query(
        "UPDATE tasks SET
             state = ?1,
             finished_at = CASE WHEN ?1 IN ('completed', 'discarded', 'cancelled') THEN ?2 END,
             scheduled_at = CASE WHEN ?1 = 'available' THEN ?2 ELSE scheduled_at END,
             max_attempts = CASE WHEN ?1 = 'available' THEN max(max_attempts, attempt + 1)
                                 ELSE max_attempts END,
             errors = CASE WHEN ?3 IS NULL THEN errors
                           ELSE json_insert(errors, '$[#]', json(?3)) END,
             lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?4 AND state IN (SELECT value FROM json_each(?5))",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(note)
    .bind(id.to_string())
    .bind(serde_json::to_string(&from)?)
    .execute(pool)
    .await?;
    if to == TaskState::Available && done.rows_affected() > 0 {
        WAKE.notify_waiters();
    }
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn stats(pool: &SqlitePool) -> Result<Vec<StateCount>> {
    let rows = sqlx::query(
        "SELECT queue, state, count(*) AS n FROM tasks GROUP BY queue, state ORDER BY queue, state",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            Ok(StateCount {
                queue: row.try_get("queue")?,
                state: state.parse().map_err(Error::Corrupt)?,
                count: row.try_get("n")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod gate_tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{SqliteWriteGate, background};

    /// Takes the gate, notes `name`, and lets go.
    fn writer(
        gate: &Arc<SqliteWriteGate>,
        order: &Arc<Mutex<Vec<&'static str>>>,
        name: &'static str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (gate, order) = (gate.clone(), order.clone());
        async move {
            let _held = gate.lock().await;
            order.lock().unwrap().push(name);
        }
    }

    #[tokio::test]
    async fn requests_writers_go_before_a_waiting_background_writer() {
        let gate = Arc::new(SqliteWriteGate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = gate.clone().lock_owned().await;
        let settle = || tokio::time::sleep(Duration::from_millis(20));
        let first = tokio::spawn(writer(&gate, &order, "request 1"));
        settle().await;
        let worker = tokio::spawn(background(writer(&gate, &order, "background")));
        settle().await;
        let second = tokio::spawn(writer(&gate, &order, "request 2"));
        settle().await;
        drop(held);
        for joined in [first, worker, second] {
            joined.await.unwrap();
        }
        // First come, first served would be request 1, background, request 2.
        assert_eq!(
            *order.lock().unwrap(),
            ["request 1", "request 2", "background"]
        );
    }

    #[tokio::test]
    async fn an_owned_guard_keeps_its_gate_the_one_for_its_database() {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlx::sqlite::SqlitePoolOptions::new().connect_lazy_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("gate.db")),
        );
        // The guard is all that is left of the gate it came from.
        let held = super::write_gate(&pool).lock_owned().await;
        let again = super::write_gate(&pool);
        assert!(
            again.lock.try_lock().is_err(),
            "a second writer got a lock of its own while the first one writes"
        );
        drop(held);
        assert!(again.lock.try_lock().is_ok());
    }

    #[tokio::test]
    async fn a_background_writer_is_delayed_not_starved() {
        let gate = Arc::new(SqliteWriteGate::default());
        // Requests' writers that never stop coming: one always counts as waiting.
        gate.urgent
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let started = tokio::time::Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(background(writer(&gate, &order, "background")))
            .await
            .unwrap();
        assert_eq!(*order.lock().unwrap(), ["background"]);
        let waited = started.elapsed();
        assert!(waited >= super::BACKGROUND_YIELD_MAX, "{waited:?}");
    }
}
