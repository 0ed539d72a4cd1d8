//! The per-user event log on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use store::{
    StoreError, StoreResult,
    events::{UserEvent, UserEventStore},
    sql::db_error,
};

use crate::{SqliteStore, parse_id, text_id};

/// Appends an event inside the caller's transaction.
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    user: UserId,
    kind: &str,
    data: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_events (user_id, kind, data, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(text_id(user.as_uuid()))
    .bind(kind)
    .bind(data.to_string())
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

fn event_from_row(row: &SqliteRow) -> StoreResult<UserEvent> {
    let user: String = row.try_get("user_id").map_err(db_error)?;
    let data: String = row.try_get("data").map_err(db_error)?;
    Ok(UserEvent {
        seq: row.try_get("seq").map_err(db_error)?,
        user_id: UserId::from_uuid(parse_id("user_events.user_id", &user)?),
        kind: row.try_get("kind").map_err(db_error)?,
        data: serde_json::from_str(&data)
            .map_err(|e| StoreError::Corrupt(format!("user_events.data: {e}")))?,
        at: row.try_get("created_at").map_err(db_error)?,
    })
}

#[async_trait]
impl UserEventStore for SqliteStore {
    async fn user_events_after(
        &self,
        user: UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>> {
        sqlx::query(
            "SELECT seq, user_id, kind, data, created_at FROM user_events \
             WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(text_id(user.as_uuid()))
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
        // SQLite has one writer at a time: sequence numbers commit in order, and `after` is enough.
        let _ = since;
        sqlx::query(
            "SELECT seq, user_id, kind, data, created_at FROM user_events \
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn last_user_event_seq(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM user_events")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn prune_user_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sqlx::query("DELETE FROM user_events WHERE created_at < ?1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db_error)
    }
}
