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
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
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

    async fn prune_user_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sqlx::query("DELETE FROM user_events WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db_error)
    }
}
