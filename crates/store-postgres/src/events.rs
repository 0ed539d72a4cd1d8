//! The per-user event log on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use sqlx::{PgConnection, Row, postgres::PgRow};
use store::{
    StoreError, StoreResult,
    events::{UserEvent, UserEventStore},
    sql::db_error,
};

use crate::PostgresStore;

/// Appends an event inside the caller's transaction.
pub(crate) async fn append(
    conn: &mut PgConnection,
    user: UserId,
    kind: &str,
    data: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_events (user_id, kind, data, created_at) VALUES ($1, $2, $3::jsonb, $4)",
    )
    .bind(user.as_uuid())
    .bind(kind)
    .bind(data.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    // Delivered at commit, to every replica's listener.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The channel appends announce themselves on.
const CHANNEL: &str = "jobpilot_user_events";

/// Listens for other replicas' announcements from the first follower on, on one connection
/// of the pool (given back by [`Listener::stop`]).
#[derive(Debug)]
pub(crate) struct Listener {
    signal: tokio::sync::watch::Sender<u64>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl Default for Listener {
    fn default() -> Self {
        Self {
            signal: tokio::sync::watch::channel(0).0,
            task: std::sync::Mutex::new(None),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Listener {
    fn subscribe(&self, pool: &sqlx::PgPool) -> tokio::sync::watch::Receiver<u64> {
        let mut task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if task.is_none() && !self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            *task = Some(tokio::spawn(listen(pool.clone(), self.signal.clone())));
        }
        self.signal.subscribe()
    }

    pub(crate) async fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn listen(pool: sqlx::PgPool, signal: tokio::sync::watch::Sender<u64>) {
    const PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
    let mut listener = loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match connected {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(%error, "listening for user events failed; followers poll meanwhile");
                tokio::time::sleep(PAUSE).await;
            }
        }
    };
    loop {
        // `recv` reconnects by itself; announcements missed meanwhile reach followers by polling.
        match listener.recv().await {
            Ok(_) => signal.send_modify(|n| *n = n.wrapping_add(1)),
            Err(error) => {
                tracing::warn!(%error, "user event announcements interrupted");
                tokio::time::sleep(PAUSE).await;
            }
        }
    }
}

fn event_from_row(row: &PgRow) -> StoreResult<UserEvent> {
    let data: String = row.try_get("data").map_err(db_error)?;
    Ok(UserEvent {
        seq: row.try_get("seq").map_err(db_error)?,
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        kind: row.try_get("kind").map_err(db_error)?,
        data: serde_json::from_str(&data)
            .map_err(|e| StoreError::Corrupt(format!("user_events.data: {e}")))?,
        at: row.try_get("created_at").map_err(db_error)?,
    })
}

#[async_trait]
impl UserEventStore for PostgresStore {
    async fn user_events_after(
        &self,
        user: UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>> {
        sqlx::query(
            "SELECT seq, user_id, kind, data::text AS data, created_at FROM user_events \
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user.as_uuid())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn recent_user_events(
        &self,
        after: i64,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>> {
        // Concurrent writers take sequence numbers in one order and may commit in another:
        // the window by time catches a lower number that committed late.
        sqlx::query(
            "SELECT seq, user_id, kind, data::text AS data, created_at FROM user_events \
             WHERE seq > $1 OR created_at >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn last_user_event_seq(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::bigint FROM user_events")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    fn user_event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.user_events.subscribe(&self.pool)
    }

    async fn stop_user_event_signal(&self) {
        self.user_events.stop().await;
    }

    async fn prune_user_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sqlx::query("DELETE FROM user_events WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db_error)
    }
}
