//! Uploaded resumes on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ResumeId, ResumeStatus, UserId};
use sqlx::{Row, sqlite::SqliteRow};
use store::{
    StoreError, StoreResult,
    resumes::{
        NewResume, ParsedResume, Resume, ResumeColumns, ResumeShare, ResumeStore, encode_seniority,
        encode_skills,
    },
    sql::{db_error, is_unique_violation, task_error},
};

use crate::{SqliteStore, parse_id, text_id};

const RESUME_COLUMNS: &str = "id, user_id, file_name, kind, size_bytes, sha256, file_key, status, \
     error, text_sealed, skills, skills_edited, years_experience, seniority, created_at, \
     updated_at, parsed_at";

fn resume_from_row(row: &SqliteRow) -> StoreResult<Resume> {
    let id: String = row.try_get("id").map_err(db_error)?;
    let user_id: String = row.try_get("user_id").map_err(db_error)?;
    ResumeColumns {
        id: parse_id("resumes.id", &id)?,
        user_id: parse_id("resumes.user_id", &user_id)?,
        file_name: row.try_get("file_name").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        size_bytes: row.try_get("size_bytes").map_err(db_error)?,
        sha256: row.try_get("sha256").map_err(db_error)?,
        file_key: row.try_get("file_key").map_err(db_error)?,
        status: row.try_get("status").map_err(db_error)?,
        error: row.try_get("error").map_err(db_error)?,
        text_sealed: row.try_get("text_sealed").map_err(db_error)?,
        skills: row.try_get("skills").map_err(db_error)?,
        skills_edited: row.try_get("skills_edited").map_err(db_error)?,
        years_experience: row.try_get("years_experience").map_err(db_error)?,
        seniority: row.try_get("seniority").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        parsed_at: row.try_get("parsed_at").map_err(db_error)?,
    }
    .into_resume()
}

#[async_trait]
impl ResumeStore for SqliteStore {
    async fn create_resume(
        &self,
        resume: &NewResume,
        parse: tasks::NewTask,
    ) -> StoreResult<tasks::TaskId> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let inserted = sqlx::query(
            "INSERT INTO resumes (id, user_id, file_name, kind, size_bytes, sha256, file_key, \
             status, created_at, updated_at, batch_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        )
        .bind(text_id(resume.id.as_uuid()))
        .bind(text_id(resume.user_id.as_uuid()))
        .bind(&resume.file_name)
        .bind(resume.kind.as_str())
        .bind(resume.size_bytes)
        .bind(&resume.sha256[..])
        .bind(&resume.file_key)
        .bind(ResumeStatus::Pending.as_str())
        .bind(resume.created_at)
        .bind(resume.batch_id.map(text_id))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict("resumes.id")),
            Err(e) => return Err(db_error(e)),
        }
        let task = tasks::enqueue(&mut *tx, parse).await.map_err(task_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(task)
    }

    async fn resume(&self, user: UserId, id: ResumeId) -> StoreResult<Option<Resume>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE id = ? AND user_id = ?"
        )))
        .bind(text_id(id.as_uuid()))
        .bind(text_id(user.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(resume_from_row)
        .transpose()
    }

    async fn resume_unscoped(&self, id: ResumeId) -> StoreResult<Option<Resume>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE id = ?"
        )))
        .bind(text_id(id.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(resume_from_row)
        .transpose()
    }

    async fn resumes(&self, user: UserId) -> StoreResult<Vec<Resume>> {
        // Ids are UUIDv7: among uploads in the same instant, the later id is the newer one.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE user_id = ? \
             ORDER BY created_at DESC, id DESC"
        )))
        .bind(text_id(user.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(resume_from_row)
        .collect()
    }

    async fn finish_resume_parse(
        &self,
        id: ResumeId,
        outcome: Result<&ParsedResume, &str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let query = match outcome {
            Ok(parsed) => sqlx::query(
                "UPDATE resumes SET status = ?1, error = NULL, text_sealed = ?2, \
                 skills = CASE WHEN skills_edited THEN skills ELSE ?3 END, \
                 years_experience = ?4, seniority = ?5, parsed_at = ?6, updated_at = ?6 \
                 WHERE id = ?7 RETURNING user_id",
            )
            .bind(ResumeStatus::Parsed.as_str())
            .bind(parsed.text_sealed.as_bytes())
            .bind(encode_skills(&parsed.skills)?)
            .bind(parsed.years_experience)
            .bind(parsed.seniority.map(encode_seniority).transpose()?)
            .bind(now)
            .bind(text_id(id.as_uuid())),
            Err(message) => sqlx::query(
                "UPDATE resumes SET status = ?1, error = ?2, parsed_at = ?3, updated_at = ?3 \
                 WHERE id = ?4 RETURNING user_id",
            )
            .bind(ResumeStatus::Failed.as_str())
            .bind(message)
            .bind(now)
            .bind(text_id(id.as_uuid())),
        };
        let gate = tasks::sqlite_write_gate(&self.pool);
        let _writing = gate.lock().await;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(row) = query.fetch_optional(&mut *tx).await.map_err(db_error)? else {
            return Ok(false);
        };
        let user: String = row.try_get("user_id").map_err(db_error)?;
        let user = UserId::from_uuid(parse_id("resumes.user_id", &user)?);
        let data = serde_json::json!({
            "resume_id": id,
            "status": if outcome.is_ok() { ResumeStatus::Parsed } else { ResumeStatus::Failed },
        });
        crate::events::append(&mut tx, user, "resume.parsed", &data, now).await?;
        tx.commit().await.map_err(db_error)?;
        store::events::appended();
        Ok(true)
    }

    async fn set_resume_skills(
        &self,
        user: UserId,
        id: ResumeId,
        skills: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE resumes SET skills = ?, skills_edited = 1, updated_at = ? \
             WHERE id = ? AND user_id = ?",
        )
        .bind(encode_skills(skills)?)
        .bind(now)
        .bind(text_id(id.as_uuid()))
        .bind(text_id(user.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_resume(&self, user: UserId, id: ResumeId) -> StoreResult<Option<String>> {
        sqlx::query_scalar("DELETE FROM resumes WHERE id = ? AND user_id = ? RETURNING file_key")
            .bind(text_id(id.as_uuid()))
            .bind(text_id(user.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn share_resume(
        &self,
        owner: UserId,
        id: ResumeId,
        recruiter: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM resumes WHERE id = ? AND user_id = ?")
                .bind(text_id(id.as_uuid()))
                .bind(text_id(owner.as_uuid()))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        if owned.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO resume_shares (resume_id, recruiter_id, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (resume_id, recruiter_id) DO NOTHING",
        )
        .bind(text_id(id.as_uuid()))
        .bind(text_id(recruiter.as_uuid()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn unshare_resume(
        &self,
        owner: UserId,
        id: ResumeId,
        recruiter: UserId,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM resume_shares WHERE resume_id = ? AND recruiter_id = ? \
             AND resume_id IN (SELECT id FROM resumes WHERE user_id = ?)",
        )
        .bind(text_id(id.as_uuid()))
        .bind(text_id(recruiter.as_uuid()))
        .bind(text_id(owner.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn resume_shares(
        &self,
        owner: UserId,
        id: ResumeId,
    ) -> StoreResult<Option<Vec<ResumeShare>>> {
        if self.resume(owner, id).await?.is_none() {
            return Ok(None);
        }
        let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT s.recruiter_id, u.email, s.created_at FROM resume_shares s \
             JOIN users u ON u.id = s.recruiter_id WHERE s.resume_id = ? \
             ORDER BY s.created_at, s.recruiter_id",
        )
        .bind(text_id(id.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(recruiter, email, created_at)| {
                Ok(ResumeShare {
                    recruiter_id: UserId::from_uuid(parse_id(
                        "resume_shares.recruiter_id",
                        &recruiter,
                    )?),
                    recruiter_email: email,
                    created_at,
                })
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    async fn resumes_for_recruiter(
        &self,
        recruiter: UserId,
        limit: u32,
    ) -> StoreResult<Vec<Resume>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE user_id = ?1 \
             OR id IN (SELECT resume_id FROM resume_shares WHERE recruiter_id = ?1) \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        )))
        .bind(text_id(recruiter.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(resume_from_row)
        .collect()
    }

    async fn resume_shared_with(
        &self,
        recruiter: UserId,
        id: ResumeId,
    ) -> StoreResult<Option<Resume>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE id = ?2 AND id IN \
             (SELECT resume_id FROM resume_shares WHERE recruiter_id = ?1 AND resume_id = ?2)"
        )))
        .bind(text_id(recruiter.as_uuid()))
        .bind(text_id(id.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(resume_from_row)
        .transpose()
    }

    async fn resumes_in_batch(&self, owner: UserId, batch: uuid::Uuid) -> StoreResult<Vec<Resume>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESUME_COLUMNS} FROM resumes WHERE user_id = ? AND batch_id = ? \
             ORDER BY created_at, id"
        )))
        .bind(text_id(owner.as_uuid()))
        .bind(text_id(batch))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(resume_from_row)
        .collect()
    }

    async fn resume_files(
        &self,
        after: Option<ResumeId>,
        limit: u32,
    ) -> StoreResult<Vec<(ResumeId, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, file_key FROM resumes WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after.map_or_else(String::new, |id| text_id(id.as_uuid())))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        rows.into_iter()
            .map(|(id, key)| Ok((ResumeId::from_uuid(parse_id("resumes.id", &id)?), key)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, NewUser, ResumeKind, Role};
    use store::{Store, StoreError};

    /// The other half of "both or neither" (a refused resume leaving no task is tested on both
    /// stores by the integration suite): a refused task leaves no resume.
    #[tokio::test]
    async fn a_refused_task_leaves_no_resume() {
        let (_scratch, store) = crate::scratch_store("jobpilot_resumes", false).await;
        store.migrate().await.unwrap();
        let user = store
            .create_user(NewUser {
                email: Email::parse("ada@example.org").unwrap(),
                password_hash: None,
                role: Role::Seeker,
            })
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_tasks BEFORE INSERT ON tasks \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let resume = NewResume {
            id: ResumeId::new(),
            user_id: user.id,
            file_name: "cv.pdf".to_owned(),
            kind: ResumeKind::Pdf,
            size_bytes: 1,
            sha256: [0; 32],
            file_key: "resumes/cv".to_owned(),
            created_at: Utc::now(),
            batch_id: None,
        };
        let error = store
            .create_resume(
                &resume,
                tasks::NewTask::new("resume.parse", serde_json::json!({})),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Other(_)), "{error:?}");
        assert_eq!(store.resume_unscoped(resume.id).await.unwrap(), None);
        assert!(store.resumes(user.id).await.unwrap().is_empty());
    }
}
