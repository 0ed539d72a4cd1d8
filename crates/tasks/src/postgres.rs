//! The queue's SQL for PostgreSQL. Times come from the database's clock (`now()`), so replicas
//! with skewed clocks still agree on leases and schedules.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    admin::{ListFilter, StateCount},
    db::{Error, Result},
    task::{AttemptError, NewTask, Task, TaskId, TaskState},
    worker::Finish,
};

/// The channel enqueues notify (payload: the queue's name) and workers listen on.
pub(crate) const CHANNEL: &str = "jobpilot_tasks";

/// A statement's CTE named `changes_notified` that sends `NOTIFY` on the changes channel for the
/// rows of the CTE `$from` (which returns `id` and `user_id`), up to 100 ids per notification (a
/// payload holds at most 8000 bytes). Reference it, or PostgreSQL skips it.
///
/// Only tasks started on a user's behalf are announced this way, the ones their owners follow:
/// a transaction that notifies takes a cluster-wide lock when it commits, and the bulk of system
/// tasks should not pay for it. Other replicas' watchers of the rest (administrators) see their
/// changes at their next poll.
macro_rules! notify_changes {
    ($from:literal) => {
        concat!(
            "changes_notified AS (
                 SELECT pg_notify('jobpilot_task_changes', string_agg(id::text, ','))
                 FROM (SELECT id, (row_number() OVER () - 1) / 100 AS chunk
                       FROM ",
            $from,
            " WHERE user_id IS NOT NULL) AS changed
                 GROUP BY chunk
             )"
        )
    };
}

/// A statement's CTE named `unsynced` that lets its transaction commit without waiting for the
/// log to reach the disk (`synchronous_commit = off` for this transaction only). Reference it,
/// or PostgreSQL skips it.
///
/// The workers' own bookkeeping (claims, outcomes, lease renewals) uses it. Were the server to
/// crash, the last fraction of a second of these commits may be undone, never half done: a
/// claim undone leaves the task ready again, an outcome undone leaves it executing until its
/// lease runs out and the rescuer retries it. Either way the task runs again, as delivery is at
/// least once already. What it saves is a disk flush per statement, which every enqueue and
/// every other durable commit otherwise queues behind while workers are busy. Enqueues and
/// handlers' own transactions keep the durable default.
macro_rules! unsynced {
    () => {
        "unsynced AS (SELECT set_config('synchronous_commit', 'off', true) AS off)"
    };
}

/// The condition that makes PostgreSQL run [`unsynced!`]'s CTE (true once it has).
macro_rules! commits_unsynced {
    () => {
        "(SELECT off FROM unsynced) = 'off'"
    };
}

macro_rules! columns {
    () => {
        "id, queue, kind, args, state, priority, attempt, max_attempts, scheduled_at, \
         attempted_at, lease_owner, lease_expires_at, errors, unique_key, user_id, meta, \
         inserted_at, finished_at"
    };
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn task_from_row(row: &PgRow) -> Result<Task> {
    let state: String = row.try_get("state")?;
    let errors: serde_json::Value = row.try_get("errors")?;
    let errors: Vec<AttemptError> =
        serde_json::from_value(errors).map_err(|e| Error::Corrupt(format!("tasks.errors: {e}")))?;
    Ok(Task {
        id: TaskId(row.try_get("id")?),
        queue: row.try_get("queue")?,
        kind: row.try_get("kind")?,
        args: row.try_get("args")?,
        state: state.parse().map_err(Error::Corrupt)?,
        priority: row.try_get("priority")?,
        attempt: row.try_get("attempt")?,
        max_attempts: row.try_get("max_attempts")?,
        scheduled_at: row.try_get("scheduled_at")?,
        attempted_at: row.try_get("attempted_at")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        errors,
        unique_key: row.try_get("unique_key")?,
        user_id: row.try_get("user_id")?,
        meta: row.try_get("meta")?,
        inserted_at: row.try_get("inserted_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

pub(crate) async fn insert(conn: &mut PgConnection, tasks: &[NewTask]) -> Result<Vec<TaskId>> {
    let now = Utc::now();
    let traceparent = crate::trace::current_traceparent();
    let ids: Vec<Uuid> = tasks.iter().map(|_| Uuid::now_v7()).collect();
    let unique_keys: Vec<Option<String>> = tasks.iter().map(|t| t.stored_unique_key(now)).collect();
    // One statement for the whole batch. NOTIFY is transactional: listeners hear it when (and
    // only if) the caller's transaction commits, once per queue however many tasks it enqueued.
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "WITH input AS (
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::smallint[],
                                  $6::int[], $7::timestamptz[], $8::text[], $9::uuid[], $10::jsonb[])
                 AS t(id, queue, kind, args, priority, max_attempts, scheduled_at, unique_key,
                      user_id, meta)
         ), inserted AS (
             INSERT INTO tasks (id, queue, kind, args, state, priority, max_attempts,
                                scheduled_at, unique_key, user_id, meta, inserted_at)
             SELECT id, queue, kind, args,
                    CASE WHEN coalesce(scheduled_at, now()) <= now() THEN 'available'
                         ELSE 'scheduled' END,
                    priority, max_attempts, coalesce(scheduled_at, now()), unique_key, user_id,
                    meta, now()
             FROM input
             ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
             RETURNING id, queue, state
         ), notified AS (
             SELECT pg_notify($11, queue)
             FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS ready
         )
         SELECT id FROM inserted WHERE (SELECT count(*) FROM notified) >= 0",
    )
    .bind(&ids)
    .bind(tasks.iter().map(|t| t.queue.clone()).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.kind.clone()).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.args.clone()).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.priority).collect::<Vec<_>>())
    .bind(tasks.iter().map(NewTask::stored_max_attempts).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.scheduled_at).collect::<Vec<_>>())
    .bind(&unique_keys)
    .bind(tasks.iter().map(|t| t.user_id).collect::<Vec<_>>())
    .bind(
        tasks
            .iter()
            .map(|t| t.stored_meta(traceparent.as_deref()))
            .collect::<Vec<_>>(),
    )
    .bind(CHANNEL)
    .fetch_all(&mut *conn)
    .await?;
    if inserted.len() == ids.len() {
        return Ok(ids.into_iter().map(TaskId).collect());
    }
    // Some keys were taken: those tasks are the existing ones.
    let inserted: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
    let mut resolved = Vec::with_capacity(ids.len());
    for (id, key) in ids.into_iter().zip(unique_keys) {
        if inserted.contains(&id) {
            resolved.push(TaskId(id));
            continue;
        }
        let existing: Uuid = sqlx::query_scalar("SELECT id FROM tasks WHERE unique_key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        resolved.push(TaskId(existing));
    }
    Ok(resolved)
}

/// Claims up to `limit` ready tasks of the `kinds`. A task enqueued without its own max attempts
/// gets its kind's default from `attempts` (a JSON object of kind → attempts).
pub(crate) async fn claim(
    db: impl sqlx::PgExecutor<'_>,
    queue: &str,
    kinds: &[String],
    attempts: &serde_json::Value,
    owner: &str,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Task>> {
    // SKIP LOCKED: concurrent workers each take different rows instead of waiting for each other.
    // Every expression of SET reads the row as it was: `attempt + 1` is the attempt starting.
    let rows = sqlx::query(concat!(
        "WITH claimed AS (
             UPDATE tasks SET state = 'executing', attempt = attempt + 1, attempted_at = now(),
                              lease_owner = $1,
                              lease_expires_at = now() + make_interval(secs => $2),
                              max_attempts = CASE
                                  WHEN jsonb_typeof(meta) = 'object' AND meta -> $7 IS NULL
                                       AND $6::jsonb -> kind IS NOT NULL
                                  THEN greatest(($6::jsonb ->> kind)::int, attempt + 1)
                                  ELSE max_attempts END
             WHERE id IN (SELECT id FROM tasks
                          WHERE queue = $3 AND state IN ('available', 'scheduled', 'retryable')
                            AND scheduled_at <= now() AND kind = ANY($4)
                          ORDER BY priority DESC, scheduled_at, id
                          LIMIT $5
                          FOR UPDATE SKIP LOCKED)
             RETURNING ",
        columns!(),
        "
         ), ",
        notify_changes!("claimed"),
        ", ",
        unsynced!(),
        "
         SELECT ",
        columns!(),
        " FROM claimed WHERE (SELECT count(*) FROM changes_notified) >= 0 AND ",
        commits_unsynced!()
    ))
    .bind(owner)
    .bind(seconds(lease))
    .bind(queue)
    .bind(kinds)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(attempts)
    .bind(crate::task::EXPLICIT_ATTEMPTS)
    .fetch_all(db)
    .await?;
    rows.iter().map(task_from_row).collect()
}

/// Completes a batch of `(id, attempt)`: only the attempt this worker still holds.
pub(crate) async fn complete(
    db: impl sqlx::PgExecutor<'_>,
    owner: &str,
    attempts: &[(TaskId, i32)],
) -> Result<u64> {
    let ids: Vec<Uuid> = attempts.iter().map(|(id, _)| id.0).collect();
    let keys: Vec<String> = attempts
        .iter()
        .map(|(id, attempt)| format!("{id}:{attempt}"))
        .collect();
    // `id = ANY(…)` keeps the plan an index scan whatever the statistics say (a join with
    // UNNEST could turn into a sequential scan per batch); the keys check each row's attempt.
    let done: i64 = sqlx::query_scalar(concat!(
        "WITH done AS (
             UPDATE tasks SET state = 'completed', finished_at = now(), lease_owner = NULL,
                              lease_expires_at = NULL
             WHERE state = 'executing' AND lease_owner = $1 AND id = ANY($2)
               AND id::text || ':' || attempt = ANY($3)
             RETURNING id, user_id
         ), ",
        notify_changes!("done"),
        ", ",
        unsynced!(),
        "
         SELECT count(*) FROM done WHERE (SELECT count(*) FROM changes_notified) >= 0 AND ",
        commits_unsynced!()
    ))
    .bind(owner)
    .bind(ids)
    .bind(keys)
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(done).unwrap_or(0))
}

pub(crate) async fn finish(
    db: impl sqlx::PgExecutor<'_>,
    owner: &str,
    id: TaskId,
    attempt: i32,
    finish: &Finish,
) -> Result<bool> {
    let error = finish
        .error
        .as_ref()
        .map(serde_json::to_value)
        .transpose()?;
    let done: i64 = sqlx::query_scalar(concat!(
        "WITH done AS (
             UPDATE tasks SET state = $1,
                              scheduled_at = CASE WHEN $2::float8 IS NULL THEN scheduled_at
                                                  ELSE now() + make_interval(secs => $2) END,
                              finished_at = CASE WHEN $3 THEN now() END,
                              errors = CASE WHEN $4::jsonb IS NULL THEN errors
                                            ELSE errors || jsonb_build_array($4::jsonb) END,
                              attempt = attempt - $5,
                              lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $6 AND lease_owner = $7 AND state = 'executing' AND attempt = $8
             RETURNING id, user_id
         ), ",
        notify_changes!("done"),
        ", ",
        unsynced!(),
        "
         SELECT count(*) FROM done WHERE (SELECT count(*) FROM changes_notified) >= 0 AND ",
        commits_unsynced!()
    ))
    .bind(finish.state.as_str())
    .bind(finish.run_after.map(seconds))
    .bind(finish.state.is_final())
    .bind(error)
    .bind(i32::from(finish.give_back_attempt))
    .bind(id.0)
    .bind(owner)
    .bind(attempt)
    .fetch_one(db)
    .await?;
    Ok(done == 1)
}

pub(crate) async fn heartbeat(
    db: impl sqlx::PgExecutor<'_>,
    owner: &str,
    lease: Duration,
) -> Result<u64> {
    let done = sqlx::query(concat!(
        "WITH ",
        unsynced!(),
        // SKIP LOCKED: a row being completed right now needs no renewal, and waiting for it
        // while holding other rows could deadlock with the completer's batch.
        "
         UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $1)
         WHERE id IN (SELECT id FROM tasks WHERE lease_owner = $2 AND state = 'executing'
                      FOR UPDATE SKIP LOCKED) AND ",
        commits_unsynced!()
    ))
    .bind(seconds(lease))
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn release(pool: &PgPool, owner: &str) -> Result<u64> {
    let done = sqlx::query(concat!(
        "WITH released AS (
             UPDATE tasks SET state = 'available', attempt = attempt - 1, scheduled_at = now(),
                              lease_owner = NULL, lease_expires_at = NULL
             WHERE lease_owner = $1 AND state = 'executing'
             RETURNING id, user_id, queue
         ), notified AS (
             SELECT pg_notify($2, queue) FROM (SELECT DISTINCT queue FROM released) AS q
         ), ",
        notify_changes!("released"),
        "
         SELECT count(*) FROM released
         WHERE (SELECT count(*) FROM notified) >= 0
           AND (SELECT count(*) FROM changes_notified) >= 0"
    ))
    .bind(owner)
    .bind(CHANNEL)
    .fetch_one(pool)
    .await?;
    let count: i64 = done.try_get(0)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(crate) async fn rescue(pool: &PgPool, message: &str) -> Result<u64> {
    let done = sqlx::query(concat!(
        "WITH rescued AS (
             UPDATE tasks SET
                 state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
                 finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
                 scheduled_at = now(),
                 errors = errors || jsonb_build_array(jsonb_build_object(
                     'attempt', attempt, 'at', now(), 'kind', 'lease_expired', 'message', $1::text)),
                 lease_owner = NULL, lease_expires_at = NULL
             WHERE id IN (SELECT id FROM tasks
                          WHERE state = 'executing' AND lease_expires_at < now()
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, user_id, queue, state
         ), notified AS (
             SELECT pg_notify($2, queue)
             FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'retryable') AS q
         ), ",
        notify_changes!("rescued"),
        "
         SELECT count(*) FROM rescued
         WHERE (SELECT count(*) FROM notified) >= 0
           AND (SELECT count(*) FROM changes_notified) >= 0"
    ))
    .bind(message)
    .bind(CHANNEL)
    .fetch_one(pool)
    .await?;
    let count: i64 = done.try_get(0)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Deletes up to `batch` finished tasks and cron fires older than `before`; returns how many.
pub(crate) async fn prune(pool: &PgPool, before: DateTime<Utc>, batch: i64) -> Result<u64> {
    let tasks = sqlx::query(
        "DELETE FROM tasks WHERE id IN
             (SELECT id FROM tasks WHERE finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await?;
    let fires = sqlx::query(
        "DELETE FROM task_cron_fires WHERE (schedule, fire_at) IN
             (SELECT schedule, fire_at FROM task_cron_fires WHERE fire_at < $1 LIMIT $2
              FOR UPDATE SKIP LOCKED)",
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(tasks.rows_affected() + fires.rows_affected())
}

/// Records a cron fire and enqueues its task in one transaction; `None` when another replica
/// already fired it (a concurrent insert of the same row waits for the first to commit).
pub(crate) async fn fire_cron(
    pool: &PgPool,
    schedule: &str,
    fire_at: DateTime<Utc>,
    task: &NewTask,
) -> Result<Option<TaskId>> {
    let mut tx = pool.begin().await?;
    let placeholder = Uuid::nil();
    let fired = sqlx::query(
        "INSERT INTO task_cron_fires (schedule, fire_at, task_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(schedule)
    .bind(fire_at)
    .bind(placeholder)
    .execute(&mut *tx)
    .await?;
    if fired.rows_affected() == 0 {
        return Ok(None);
    }
    let ids = insert(&mut tx, std::slice::from_ref(task)).await?;
    let id = ids.first().copied();
    sqlx::query("UPDATE task_cron_fires SET task_id = $1 WHERE schedule = $2 AND fire_at = $3")
        .bind(id.map(|id| id.0))
        .bind(schedule)
        .bind(fire_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn get(pool: &PgPool, id: TaskId) -> Result<Option<Task>> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM tasks WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task_from_row).transpose()
}

pub(crate) async fn list(pool: &PgPool, filter: &ListFilter, limit: i64) -> Result<Vec<Task>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tasks
          WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR kind = $2)
            AND ($3::text IS NULL OR state = $3) AND ($4::uuid IS NULL OR user_id = $4)
            AND ($5::uuid IS NULL OR id < $5)
          ORDER BY id DESC
          LIMIT $6"
    ))
    .bind(filter.queue.as_deref())
    .bind(filter.kind.as_deref())
    .bind(filter.state.map(TaskState::as_str))
    .bind(filter.user_id)
    .bind(filter.before.map(|id| id.0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(task_from_row).collect()
}

/// Moves a task from one of `from` to `to`; returns whether it moved.
pub(crate) async fn set_state(
    pool: &PgPool,
    id: TaskId,
    from: &[TaskState],
    to: TaskState,
    note: Option<&AttemptError>,
) -> Result<bool> {
    let from: Vec<String> = from.iter().map(|s| s.as_str().to_owned()).collect();
    let note = note.map(serde_json::to_value).transpose()?;
    let done = sqlx::query(concat!(
        "WITH moved AS (
             UPDATE tasks SET
                 state = $1,
                 finished_at = CASE WHEN $1 IN ('completed', 'discarded', 'cancelled') THEN now()
                               END,
                 scheduled_at = CASE WHEN $1 = 'available' THEN now() ELSE scheduled_at END,
                 max_attempts = CASE WHEN $1 = 'available'
                                     THEN greatest(max_attempts, attempt + 1)
                                     ELSE max_attempts END,
                 errors = CASE WHEN $2::jsonb IS NULL THEN errors
                               ELSE errors || jsonb_build_array($2::jsonb) END,
                 lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $3 AND state = ANY($4)
             RETURNING id, user_id, queue, state
         ), notified AS (
             SELECT pg_notify($5, queue) FROM moved WHERE state = 'available'
         ), ",
        notify_changes!("moved"),
        "
         SELECT count(*) FROM moved
         WHERE (SELECT count(*) FROM notified) >= 0
           AND (SELECT count(*) FROM changes_notified) >= 0"
    ))
    .bind(to.as_str())
    .bind(note)
    .bind(id.0)
    .bind(from)
    .bind(CHANNEL)
    .fetch_one(pool)
    .await?;
    let count: i64 = done.try_get(0)?;
    Ok(count == 1)
}

pub(crate) async fn stats(pool: &PgPool) -> Result<Vec<StateCount>> {
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

/// A pooled connection idle longer than this is pinged before it is lent, as it may have
/// outlived a database restart; one in steady use is lent at once.
pub const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Pings a pooled connection before lending it only when it sat idle over
/// [`PING_IF_IDLE_FOR`]. sqlx's default pings every time: a second round trip for each
/// single-statement write such as an enqueue, and under load each round trip waits for a core.
/// A connection that died while in steady use fails its statement instead; the pool then
/// drops it, and the caller (a worker's loop, a client's retry) goes on with another.
pub fn ping_when_idle(options: sqlx::postgres::PgPoolOptions) -> sqlx::postgres::PgPoolOptions {
    options
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_notifications_go_to_the_channel_watchers_listen_on() {
        let channel = format!("'{}'", crate::changes::CHANNEL);
        assert!(notify_changes!("changed").contains(&channel));
    }

    /// How the open transaction will commit: `on` waits for the log to reach the disk.
    async fn commit_mode(conn: &mut PgConnection) -> String {
        sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    /// Runs `step` in a transaction, then says how that transaction commits.
    async fn commits<T>(
        pool: &PgPool,
        step: impl AsyncFnOnce(&mut PgConnection) -> T,
    ) -> (T, String) {
        let mut tx = pool.begin().await.unwrap();
        let out = step(&mut tx).await;
        let mode = commit_mode(&mut tx).await;
        tx.commit().await.unwrap();
        (out, mode)
    }

    #[tokio::test]
    async fn workers_bookkeeping_commits_unsynced_and_enqueues_durably() {
        let Some(scratch) =
            test_support::ScratchDatabase::create(test_support::Db::Postgres, "jobpilot_unsynced")
                .await
        else {
            return;
        };
        let pool = PgPool::connect(&scratch.url).await.unwrap();
        sqlx::migrate!("../store-postgres/migrations")
            .run(&pool)
            .await
            .unwrap();
        let kinds = ["noop".to_owned()];
        let lease = Duration::from_secs(60);
        let (ids, mode) = commits(&pool, async |conn| {
            crate::enqueue_many(
                conn,
                &[
                    NewTask::new("noop", serde_json::json!({})),
                    NewTask::new("noop", serde_json::json!({})),
                ],
            )
            .await
            .unwrap()
        })
        .await;
        assert_eq!(
            (ids.len(), mode.as_str()),
            (2, "on"),
            "an enqueue is durable"
        );

        let (claimed, mode) = commits(&pool, async |conn| {
            let attempts = serde_json::json!({});
            claim(conn, "default", &kinds, &attempts, "w", lease, 10)
                .await
                .unwrap()
        })
        .await;
        assert_eq!((claimed.len(), mode.as_str()), (2, "off"), "claim");
        let (renewed, mode) = commits(&pool, async |conn| {
            heartbeat(conn, "w", lease).await.unwrap()
        })
        .await;
        assert_eq!((renewed, mode.as_str()), (2, "off"), "lease renewal");
        let (done, mode) = commits(&pool, async |conn| {
            complete(conn, "w", &[(claimed[0].id, claimed[0].attempt)])
                .await
                .unwrap()
        })
        .await;
        assert_eq!((done, mode.as_str()), (1, "off"), "completion");
        let discard = Finish {
            state: TaskState::Discarded,
            run_after: None,
            error: None,
            give_back_attempt: false,
        };
        let (finished, mode) = commits(&pool, async |conn| {
            finish(conn, "w", claimed[1].id, claimed[1].attempt, &discard)
                .await
                .unwrap()
        })
        .await;
        assert_eq!((finished, mode.as_str()), (true, "off"), "other outcome");

        let mut states = Vec::new();
        for task in &claimed {
            let state: String = sqlx::query_scalar("SELECT state FROM tasks WHERE id = $1")
                .bind(task.id.0)
                .fetch_one(&pool)
                .await
                .unwrap();
            states.push(state);
        }
        assert_eq!(states, ["completed", "discarded"], "the changes committed");
        pool.close().await;
    }
}
