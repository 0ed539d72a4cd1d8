//! The hash-chained audit log on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuditEvent, StoredAuditEvent, UserId};
use sqlx::{Row, sqlite::SqliteRow};
use store::{
    AuditCheckpoint, AuditFilter, AuditStore, StoreError, StoreResult,
    audit::{ChainStart, hash_new, hash_stored, stored_time},
    audit_details_json,
    sql::db_error,
};

use crate::{SqliteStore, parse_id, text_id};

const COLUMNS: &str =
    "seq, at, actor_id, action, outcome, subject_id, ip, user_agent, details, hash";

fn hash_column(row: &SqliteRow, column: &str) -> StoreResult<Option<[u8; 32]>> {
    let bytes: Option<Vec<u8>> = row.try_get(column).map_err(db_error)?;
    bytes
        .map(|b| {
            b.try_into()
                .map_err(|_| StoreError::Corrupt(format!("audit {column}: not 32 bytes")))
        })
        .transpose()
}

fn entry_from_row(row: &SqliteRow) -> StoreResult<StoredAuditEvent> {
    let user = |column: &str| -> StoreResult<Option<UserId>> {
        let text: Option<String> = row.try_get(column).map_err(db_error)?;
        text.map(|t| parse_id(column, &t).map(UserId::from_uuid))
            .transpose()
    };
    Ok(StoredAuditEvent {
        seq: row.try_get("seq").map_err(db_error)?,
        at: row.try_get("at").map_err(db_error)?,
        actor_id: user("actor_id")?,
        action: row.try_get("action").map_err(db_error)?,
        outcome: row.try_get("outcome").map_err(db_error)?,
        subject_id: user("subject_id")?,
        ip: row.try_get("ip").map_err(db_error)?,
        user_agent: row.try_get("user_agent").map_err(db_error)?,
        details: row.try_get("details").map_err(db_error)?,
        hash: hash_column(row, "hash")?,
    })
}

/// Takes the chain's head (and with it the write lock) and moves it on by `count` entries.
async fn take_head(conn: &mut sqlx::SqliteConnection, count: i64) -> StoreResult<(i64, [u8; 32])> {
    let row = sqlx::query(
        "UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq - ? AS seq, hash",
    )
    .bind(count)
    .bind(count)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    let seq: i64 = row.try_get("seq").map_err(db_error)?;
    let hash = hash_column(&row, "hash")?
        .ok_or_else(|| StoreError::Corrupt("audit_head.hash is missing".into()))?;
    Ok((seq, hash))
}

/// Appends events to the chain inside the caller's transaction (which then holds the head
/// until it ends). Nothing to do for no events.
pub(crate) async fn append_in(
    conn: &mut sqlx::SqliteConnection,
    events: &[AuditEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let (mut seq, mut previous) = take_head(&mut *conn, count).await?;
    for (i, event) in events.iter().enumerate() {
        seq += 1;
        let details = audit_details_json(&event.details);
        let hash = hash_new(&previous, seq, event, &details);
        // The last entry moves the head's hash in the same call (one round trip fewer).
        let last = i + 1 == events.len();
        let sql = if last {
            "INSERT INTO audit_events \
               (seq, at, actor_id, action, outcome, subject_id, ip, user_agent, details, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10); \
             UPDATE audit_head SET hash = ?10 WHERE id = 1"
        } else {
            "INSERT INTO audit_events \
               (seq, at, actor_id, action, outcome, subject_id, ip, user_agent, details, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        };
        sqlx::query(sql)
            .bind(seq)
            .bind(stored_time(event.at))
            .bind(event.actor_id.map(|id| text_id(id.as_uuid())))
            .bind(event.action)
            .bind(event.outcome.as_str())
            .bind(event.subject_id.map(|id| text_id(id.as_uuid())))
            .bind(event.ip.as_deref())
            .bind(event.user_agent.as_deref())
            .bind(&details)
            .bind(&hash[..])
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        previous = hash;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let gate = tasks::sqlite_write_gate(&self.pool);
        let _writing = gate.lock().await;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        append_in(&mut tx, events).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredAuditEvent>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"
        )))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    async fn query_audit(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<StoredAuditEvent>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_events \
             WHERE (?1 IS NULL OR actor_id = ?1) AND (?2 IS NULL OR action = ?2) \
               AND (?3 IS NULL OR outcome = ?3) AND (?4 IS NULL OR at >= ?4) \
               AND (?5 IS NULL OR at < ?5) AND (?6 IS NULL OR seq < ?6) \
             ORDER BY seq DESC LIMIT ?7"
        )))
        .bind(filter.actor_id.map(|id| text_id(id.as_uuid())))
        .bind(&filter.action)
        .bind(&filter.outcome)
        .bind(filter.from)
        .bind(filter.to)
        .bind(before_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    async fn seal_unchained_audit(&self) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let (head_seq, mut previous) = take_head(&mut tx, 0).await?;
        let unchained: Vec<StoredAuditEvent> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_events WHERE hash IS NULL ORDER BY seq"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<_>>()?;
        let mut last = head_seq;
        for entry in &unchained {
            if entry.seq <= last {
                return Err(StoreError::Corrupt(format!(
                    "audit entry {} has no hash but comes before the chain's head {last}",
                    entry.seq
                )));
            }
            let hash = hash_stored(&previous, entry);
            sqlx::query("UPDATE audit_events SET hash = ? WHERE seq = ?")
                .bind(&hash[..])
                .bind(entry.seq)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            previous = hash;
            last = entry.seq;
        }
        sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
            .bind(last)
            .bind(&previous[..])
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(unchained.len() as u64)
    }

    async fn audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        let Some(row) = sqlx::query(
            "SELECT seq, hash, pruned, pruned_at, seal FROM audit_checkpoints \
             ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(AuditCheckpoint {
            seq: row.try_get("seq").map_err(db_error)?,
            hash: hash_column(&row, "hash")?
                .ok_or_else(|| StoreError::Corrupt("audit_checkpoints.hash".into()))?,
            pruned: row.try_get("pruned").map_err(db_error)?,
            pruned_at: row.try_get("pruned_at").map_err(db_error)?,
            seal: domain::Sealed::from_stored(row.try_get("seal").map_err(db_error)?),
        }))
    }

    async fn audit_head(&self) -> StoreResult<ChainStart> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(ChainStart {
            seq: row.try_get("seq").map_err(db_error)?,
            hash: hash_column(&row, "hash")?
                .ok_or_else(|| StoreError::Corrupt("audit_head.hash is missing".into()))?,
        })
    }

    async fn audit_prune_point(&self, before: DateTime<Utc>) -> StoreResult<Option<ChainStart>> {
        let Some(row) = sqlx::query(
            "SELECT seq, hash FROM audit_events WHERE at < ? AND hash IS NOT NULL \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(ChainStart {
            seq: row.try_get("seq").map_err(db_error)?,
            hash: hash_column(&row, "hash")?.unwrap_or_default(),
        }))
    }

    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("UPDATE audit_prune_mark SET below = ? WHERE id = 1")
            .bind(checkpoint.seq)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("DELETE FROM audit_events WHERE seq <= ?")
            .bind(checkpoint.seq)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, pruned, pruned_at, seal) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(checkpoint.seq)
        .bind(&checkpoint.hash[..])
        .bind(checkpoint.pruned)
        .bind(checkpoint.pruned_at)
        .bind(checkpoint.seal.as_bytes())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }
}
