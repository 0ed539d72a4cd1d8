//! Match alerts on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ResumeId, UserId};
use sqlx::{Row, sqlite::SqliteRow};
use store::{
    StoreResult,
    alerts::{AlertHit, AlertStore, MatchAlert, hits_event},
    sql::db_error,
};

use crate::{SqliteStore, parse_id, text_id};

const ALERT_COLUMNS: &str = "resume_id, user_id, min_score, created_at, updated_at, checked_at";

fn alert_from_row(row: &SqliteRow) -> StoreResult<MatchAlert> {
    let resume: String = row.try_get("resume_id").map_err(db_error)?;
    let user: String = row.try_get("user_id").map_err(db_error)?;
    Ok(MatchAlert {
        resume_id: ResumeId::from_uuid(parse_id("match_alerts.resume_id", &resume)?),
        user_id: UserId::from_uuid(parse_id("match_alerts.user_id", &user)?),
        min_score: row.try_get("min_score").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        checked_at: row.try_get("checked_at").map_err(db_error)?,
    })
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn set_match_alert(
        &self,
        user: UserId,
        resume: ResumeId,
        min_score: f32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MatchAlert>> {
        // `WHERE true` lets SQLite tell the upsert clause from a join's ON.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO match_alerts ({ALERT_COLUMNS}) \
             SELECT id, user_id, ?1, ?2, ?2, ?2 FROM resumes WHERE id = ?3 AND user_id = ?4 AND true \
             ON CONFLICT (resume_id) DO UPDATE SET min_score = excluded.min_score, \
             updated_at = excluded.updated_at \
             RETURNING {ALERT_COLUMNS}"
        )))
        .bind(min_score)
        .bind(now)
        .bind(text_id(resume.as_uuid()))
        .bind(text_id(user.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
    }

    async fn match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<Option<MatchAlert>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM match_alerts WHERE resume_id = ?1 AND user_id = ?2"
        )))
        .bind(text_id(resume.as_uuid()))
        .bind(text_id(user.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
    }

    async fn delete_match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM match_alerts WHERE resume_id = ?1 AND user_id = ?2")
            .bind(text_id(resume.as_uuid()))
            .bind(text_id(user.as_uuid()))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn match_alerts(
        &self,
        after: Option<ResumeId>,
        limit: u32,
    ) -> StoreResult<Vec<MatchAlert>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM match_alerts WHERE resume_id > ?1 \
             ORDER BY resume_id LIMIT ?2"
        )))
        .bind(after.map_or_else(String::new, |id| text_id(id.as_uuid())))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(alert_from_row)
        .collect()
    }

    async fn record_alert_hits(
        &self,
        alert: &MatchAlert,
        hits: &[AlertHit],
        checked: DateTime<Utc>,
    ) -> StoreResult<Vec<AlertHit>> {
        let resume = text_id(alert.resume_id.as_uuid());
        let gate = tasks::sqlite_write_gate(&self.pool);
        let _writing = gate.lock().await;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The same alert still (not one turned off and on again meanwhile); the check time
        // only moves on.
        let moved = sqlx::query(
            "UPDATE match_alerts SET checked_at = CASE WHEN checked_at < ?1 THEN ?1 \
             ELSE checked_at END WHERE resume_id = ?2 AND created_at = ?3",
        )
        .bind(checked)
        .bind(&resume)
        .bind(alert.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if moved.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let mut fresh = Vec::new();
        for hit in hits {
            let inserted = sqlx::query(
                "INSERT INTO match_alert_hits (resume_id, job_id, score, created_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )
            .bind(&resume)
            .bind(text_id(hit.job_id.as_uuid()))
            .bind(hit.score)
            .bind(checked)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if inserted.rows_affected() == 1 {
                fresh.push(hit.clone());
            }
        }
        if !fresh.is_empty() {
            let data = hits_event(alert.resume_id, &fresh);
            crate::events::append(&mut tx, alert.user_id, "matches.new", &data, checked).await?;
        }
        tx.commit().await.map_err(db_error)?;
        if !fresh.is_empty() {
            store::events::appended();
        }
        Ok(fresh)
    }

    async fn prune_alert_hits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sqlx::query("DELETE FROM match_alert_hits WHERE created_at < ?1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db_error)
    }
}
