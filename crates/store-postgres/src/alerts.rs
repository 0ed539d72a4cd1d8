//! Match alerts on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ResumeId, UserId};
use sqlx::{Row, postgres::PgRow};
use store::{
    StoreResult,
    alerts::{AlertHit, AlertStore, MatchAlert, hits_event},
    sql::db_error,
};

use crate::PostgresStore;

const ALERT_COLUMNS: &str = "resume_id, user_id, min_score, created_at, updated_at, checked_at";

fn alert_from_row(row: &PgRow) -> StoreResult<MatchAlert> {
    Ok(MatchAlert {
        resume_id: ResumeId::from_uuid(row.try_get("resume_id").map_err(db_error)?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        min_score: row.try_get("min_score").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        checked_at: row.try_get("checked_at").map_err(db_error)?,
    })
}

#[async_trait]
impl AlertStore for PostgresStore {
    async fn set_match_alert(
        &self,
        user: UserId,
        resume: ResumeId,
        min_score: f32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MatchAlert>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO match_alerts ({ALERT_COLUMNS}) \
             SELECT id, user_id, $1, $2, $2, $2 FROM resumes WHERE id = $3 AND user_id = $4 \
             ON CONFLICT (resume_id) DO UPDATE SET min_score = excluded.min_score, \
             updated_at = excluded.updated_at \
             RETURNING {ALERT_COLUMNS}"
        )))
        .bind(min_score)
        .bind(now)
        .bind(resume.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
    }

    async fn match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<Option<MatchAlert>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM match_alerts WHERE resume_id = $1 AND user_id = $2"
        )))
        .bind(resume.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(alert_from_row)
        .transpose()
    }

    async fn delete_match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM match_alerts WHERE resume_id = $1 AND user_id = $2")
            .bind(resume.as_uuid())
            .bind(user.as_uuid())
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
            "SELECT {ALERT_COLUMNS} FROM match_alerts \
             WHERE $1::uuid IS NULL OR resume_id > $1 ORDER BY resume_id LIMIT $2"
        )))
        .bind(after.map(|id| id.as_uuid()))
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
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The same alert still (not one turned off and on again meanwhile), locked against a
        // concurrent evaluation; the check time only moves on.
        let moved = sqlx::query(
            "UPDATE match_alerts SET checked_at = GREATEST(checked_at, $1) \
             WHERE resume_id = $2 AND created_at = $3",
        )
        .bind(checked)
        .bind(alert.resume_id.as_uuid())
        .bind(alert.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if moved.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = hits.iter().map(|hit| hit.job_id.as_uuid()).collect();
        let scores: Vec<f32> = hits.iter().map(|hit| hit.score).collect();
        let inserted: Vec<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO match_alert_hits (resume_id, job_id, score, created_at) \
             SELECT $1, job_id, score, $4 FROM UNNEST($2::uuid[], $3::real[]) AS h (job_id, score) \
             ON CONFLICT DO NOTHING RETURNING job_id",
        )
        .bind(alert.resume_id.as_uuid())
        .bind(&ids)
        .bind(&scores)
        .bind(checked)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let fresh: Vec<AlertHit> = hits
            .iter()
            .filter(|hit| inserted.contains(&hit.job_id.as_uuid()))
            .cloned()
            .collect();
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
        sqlx::query("DELETE FROM match_alert_hits WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db_error)
    }
}
