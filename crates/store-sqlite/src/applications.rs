//! Applications on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ApplicationId, ApplicationStatus, ApplyChannel, Funnel, StatusReached, SubmissionState, UserId,
};
use sqlx::{Row, Sqlite, Transaction, sqlite::SqliteRow};
use store::{
    StoreError, StoreResult,
    applications::{
        Application, ApplicationColumns, ApplicationFilter, ApplicationStore, DocumentColumns,
        DocumentVersion, EventColumns, EventDetail, MoveOutcome, NewApplication, NewDocuments,
        NewSubmission, SealedText, StoredEvent, SubmissionColumns, SubmissionUpdate, SubmitOutcome,
        decode, moved_dates,
    },
    sql::{db_error, is_unique_violation, task_error},
};

use crate::{SqliteStore, parse_id, text_id};

const APPLICATION_SELECT: &str = "SELECT a.id, a.user_id, a.job_id, a.resume_id, a.status, \
     a.created_at, a.updated_at, a.applied_at, a.closed_at, j.title AS job_title, \
     j.company AS job_company, json_extract(j.data, '$.url') AS job_url, s.channel AS s_channel, \
     s.state AS s_state, s.task_id AS s_task_id, s.to_address AS s_to_address, \
     s.apply_url AS s_apply_url, s.hh_resume_id AS s_hh_resume_id, s.external_id AS s_external_id, s.error AS s_error, \
     s.created_at AS s_created_at, s.updated_at AS s_updated_at, s.sent_at AS s_sent_at \
     FROM applications a JOIN jobs j ON j.id = a.job_id \
     LEFT JOIN application_submissions s ON s.application_id = a.id";

fn optional_id(column: &str, text: Option<String>) -> StoreResult<Option<uuid::Uuid>> {
    text.map(|t| parse_id(column, &t)).transpose()
}

/// The submission columns of a row (aliased `s_*`); `None` when there is no submission.
fn submission_from_row(row: &SqliteRow) -> StoreResult<Option<SubmissionColumns>> {
    let channel: Option<String> = row.try_get("s_channel").map_err(db_error)?;
    let Some(channel) = channel else {
        return Ok(None);
    };
    Ok(Some(SubmissionColumns {
        channel,
        state: row.try_get("s_state").map_err(db_error)?,
        task_id: optional_id("s.task_id", row.try_get("s_task_id").map_err(db_error)?)?,
        to_address: row.try_get("s_to_address").map_err(db_error)?,
        apply_url: row.try_get("s_apply_url").map_err(db_error)?,
        hh_resume_id: row.try_get("s_hh_resume_id").map_err(db_error)?,
        external_id: row.try_get("s_external_id").map_err(db_error)?,
        error: row.try_get("s_error").map_err(db_error)?,
        created_at: row.try_get("s_created_at").map_err(db_error)?,
        updated_at: row.try_get("s_updated_at").map_err(db_error)?,
        sent_at: row.try_get("s_sent_at").map_err(db_error)?,
    }))
}

fn application_from_row(row: &SqliteRow) -> StoreResult<Application> {
    let get_text = |name: &str| -> StoreResult<String> { row.try_get(name).map_err(db_error) };
    let submission = submission_from_row(row)?;
    ApplicationColumns {
        id: parse_id("applications.id", &get_text("id")?)?,
        user_id: parse_id("applications.user_id", &get_text("user_id")?)?,
        job_id: parse_id("applications.job_id", &get_text("job_id")?)?,
        resume_id: optional_id(
            "applications.resume_id",
            row.try_get("resume_id").map_err(db_error)?,
        )?,
        status: get_text("status")?,
        job_title: get_text("job_title")?,
        job_company: row.try_get("job_company").map_err(db_error)?,
        job_url: row
            .try_get::<Option<String>, _>("job_url")
            .map_err(db_error)?
            .unwrap_or_default(),
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        applied_at: row.try_get("applied_at").map_err(db_error)?,
        closed_at: row.try_get("closed_at").map_err(db_error)?,
        submission,
    }
    .into_application()
}

/// The columns a version of the documents is read from.
const DOCUMENT_COLUMNS: &str = "id, version, generator, model, content_sealed, cover_letter, \
     cv_summary, interview_questions, created_at";

fn document_from_row(row: &SqliteRow) -> StoreResult<DocumentVersion> {
    let get_text = |name: &str| -> StoreResult<String> { row.try_get(name).map_err(db_error) };
    DocumentColumns {
        id: get_text("id")?,
        version: row.try_get("version").map_err(db_error)?,
        generator: get_text("generator")?,
        model: row.try_get("model").map_err(db_error)?,
        content_sealed: row.try_get("content_sealed").map_err(db_error)?,
        cover_letter: get_text("cover_letter")?,
        cv_summary: get_text("cv_summary")?,
        interview_questions: get_text("interview_questions")?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    }
    .into_version()
}

async fn fetch_application(
    conn: &mut sqlx::SqliteConnection,
    user: UserId,
    id: ApplicationId,
) -> StoreResult<Option<Application>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{APPLICATION_SELECT} WHERE a.id = ?1 AND a.user_id = ?2"
    )))
    .bind(text_id(id.as_uuid()))
    .bind(text_id(user.as_uuid()))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .as_ref()
    .map(application_from_row)
    .transpose()
}

#[allow(clippy::too_many_arguments)]
async fn add_event(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    id: ApplicationId,
    kind: &str,
    from: Option<ApplicationStatus>,
    to: Option<ApplicationStatus>,
    detail: EventDetail<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let (detail, note_id, note) = detail.columns();
    sqlx::query(
        "INSERT INTO application_events (application_id, user_id, kind, from_status, to_status, \
         detail, note_id, detail_sealed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(text_id(id.as_uuid()))
    .bind(text_id(user.as_uuid()))
    .bind(kind)
    .bind(from.map(ApplicationStatus::as_str))
    .bind(to.map(ApplicationStatus::as_str))
    .bind(detail)
    .bind(note_id)
    .bind(note)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Moves the application inside the caller's transaction, if the rules allow it.
async fn move_in(
    tx: &mut Transaction<'_, Sqlite>,
    current: &Application,
    to: ApplicationStatus,
    note: Option<&SealedText>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (applied_at, closed_at) = moved_dates(to, current.applied_at, now);
    let done = sqlx::query(
        "UPDATE applications SET status = ?1, applied_at = ?2, closed_at = ?3, updated_at = ?4 \
         WHERE id = ?5 AND status = ?6",
    )
    .bind(to.as_str())
    .bind(applied_at)
    .bind(closed_at)
    .bind(now)
    .bind(text_id(current.id.as_uuid()))
    .bind(current.status.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    add_event(
        tx,
        current.user_id,
        current.id,
        "status",
        Some(current.status),
        Some(to),
        EventDetail::note(note),
        now,
    )
    .await?;
    let data = serde_json::json!({
        "application_id": current.id,
        "from": current.status,
        "to": to,
    });
    crate::events::append(tx, current.user_id, "application.status", &data, now).await?;
    Ok(true)
}

impl SqliteStore {
    /// A transaction that writes after reading: it queues for this database's write gate, then
    /// takes SQLite's write lock up front, so no stale snapshot can fail it. Keep the guard
    /// until the transaction ends.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(WriteGuard, Transaction<'static, Sqlite>), sqlx::Error> {
        let guard = tasks::sqlite_write_gate(&self.pool).lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }
}

/// Held while a write transaction runs.
pub(crate) type WriteGuard = tasks::OwnedWriteGuard;

#[async_trait]
impl ApplicationStore for SqliteStore {
    async fn create_application(&self, new: &NewApplication) -> StoreResult<Application> {
        let (_writing, mut tx) = self.begin_write().await.map_err(db_error)?;
        // The job must exist, and the resume must be the user's.
        let resume_ok = match new.resume_id {
            None => true,
            Some(resume) => sqlx::query("SELECT 1 FROM resumes WHERE id = ?1 AND user_id = ?2")
                .bind(text_id(resume.as_uuid()))
                .bind(text_id(new.user_id.as_uuid()))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
                .is_some(),
        };
        if !resume_ok {
            return Err(StoreError::Conflict("applications.resume"));
        }
        let (applied_at, closed_at) = moved_dates(new.status, None, new.created_at);
        let inserted = sqlx::query(
            "INSERT INTO applications (id, user_id, job_id, resume_id, status, created_at, \
             updated_at, applied_at, closed_at) \
             SELECT ?1, ?2, id, ?4, ?5, ?6, ?6, ?7, ?8 FROM jobs WHERE id = ?3",
        )
        .bind(text_id(new.id.as_uuid()))
        .bind(text_id(new.user_id.as_uuid()))
        .bind(text_id(new.job_id.as_uuid()))
        .bind(new.resume_id.map(|r| text_id(r.as_uuid())))
        .bind(new.status.as_str())
        .bind(new.created_at)
        .bind(applied_at)
        .bind(closed_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 0 => {
                return Err(StoreError::Conflict("applications.job"));
            }
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict("applications.user_job"));
            }
            Err(e) => return Err(db_error(e)),
        }
        add_event(
            &mut tx,
            new.user_id,
            new.id,
            "created",
            None,
            Some(new.status),
            EventDetail::note(new.note.as_ref()),
            new.created_at,
        )
        .await?;
        let application = fetch_application(&mut tx, new.user_id, new.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("applications: inserted row vanished".into()))?;
        tx.commit().await.map_err(db_error)?;
        Ok(application)
    }

    async fn application(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Application>> {
        // One statement: no transaction needed (and none to begin and end on the connection).
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        fetch_application(&mut conn, user, id).await
    }

    async fn applications(
        &self,
        user: UserId,
        filter: &ApplicationFilter,
    ) -> StoreResult<Vec<Application>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{APPLICATION_SELECT} WHERE a.user_id = ?1 AND (?2 IS NULL OR a.status = ?2) \
             AND (?3 IS NULL OR a.job_id = ?3) AND (?4 IS NULL OR a.id < ?4) \
             ORDER BY a.id DESC LIMIT ?5"
        )))
        .bind(text_id(user.as_uuid()))
        .bind(filter.status.map(ApplicationStatus::as_str))
        .bind(filter.job_id.map(|j| text_id(j.as_uuid())))
        .bind(filter.before.map(|b| text_id(b.as_uuid())))
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(application_from_row)
        .collect()
    }

    async fn move_application(
        &self,
        user: UserId,
        id: ApplicationId,
        to: ApplicationStatus,
        note: Option<&SealedText>,
        now: DateTime<Utc>,
    ) -> StoreResult<MoveOutcome> {
        // A concurrent move makes the compare-and-swap miss: read again and decide again.
        for _ in 0..5 {
            let (_writing, mut tx) = self.begin_write().await.map_err(db_error)?;
            let Some(current) = fetch_application(&mut tx, user, id).await? else {
                return Ok(MoveOutcome::NotFound);
            };
            if current.status == to {
                return Ok(MoveOutcome::Unchanged(current));
            }
            if let Err(refused) = current.status.check_move(to) {
                return Ok(MoveOutcome::Refused(refused));
            }
            if move_in(&mut tx, &current, to, note, now).await? {
                let moved = fetch_application(&mut tx, user, id).await?.ok_or_else(|| {
                    StoreError::Corrupt("applications: moved row vanished".into())
                })?;
                tx.commit().await.map_err(db_error)?;
                store::events::appended();
                return Ok(MoveOutcome::Moved(moved));
            }
        }
        Err(StoreError::Other(
            "application kept changing under concurrent moves".into(),
        ))
    }

    async fn add_application_note(
        &self,
        user: UserId,
        id: ApplicationId,
        note: &SealedText,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (_writing, mut tx) = self.begin_write().await.map_err(db_error)?;
        let touched =
            sqlx::query("UPDATE applications SET updated_at = ?1 WHERE id = ?2 AND user_id = ?3")
                .bind(now)
                .bind(text_id(id.as_uuid()))
                .bind(text_id(user.as_uuid()))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        if touched.rows_affected() == 0 {
            return Ok(false);
        }
        add_event(
            &mut tx,
            user,
            id,
            "note",
            None,
            None,
            EventDetail::Note(note),
            now,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn delete_application(&self, user: UserId, id: ApplicationId) -> StoreResult<bool> {
        sqlx::query("DELETE FROM applications WHERE id = ?1 AND user_id = ?2")
            .bind(text_id(id.as_uuid()))
            .bind(text_id(user.as_uuid()))
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn application_events(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if fetch_application(&mut tx, user, id).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT kind, from_status, to_status, detail, note_id, detail_sealed, created_at \
             FROM application_events WHERE application_id = ?1 AND user_id = ?2 ORDER BY seq",
        )
        .bind(text_id(id.as_uuid()))
        .bind(text_id(user.as_uuid()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                EventColumns {
                    at: row.try_get("created_at").map_err(db_error)?,
                    kind: row.try_get("kind").map_err(db_error)?,
                    from_status: row.try_get("from_status").map_err(db_error)?,
                    to_status: row.try_get("to_status").map_err(db_error)?,
                    detail: row.try_get("detail").map_err(db_error)?,
                    note_id: row.try_get("note_id").map_err(db_error)?,
                    detail_sealed: row.try_get("detail_sealed").map_err(db_error)?,
                }
                .into_event()
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    async fn application_funnel(&self, user: UserId) -> StoreResult<Funnel> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let history = sqlx::query(
            "SELECT application_id, to_status, created_at FROM application_events \
             WHERE user_id = ?1 AND to_status IS NOT NULL",
        )
        .bind(text_id(user.as_uuid()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let current = sqlx::query("SELECT id, status FROM applications WHERE user_id = ?1")
            .bind(text_id(user.as_uuid()))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let history = history
            .iter()
            .map(|row| {
                let id: String = row.try_get("application_id").map_err(db_error)?;
                let status: String = row.try_get("to_status").map_err(db_error)?;
                Ok(StatusReached {
                    application: ApplicationId::from_uuid(parse_id("application_events", &id)?),
                    status: decode("application_events.to_status", &status)?,
                    at: row.try_get("created_at").map_err(db_error)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let current = current
            .iter()
            .map(|row| {
                let id: String = row.try_get("id").map_err(db_error)?;
                let status: String = row.try_get("status").map_err(db_error)?;
                Ok((
                    ApplicationId::from_uuid(parse_id("applications.id", &id)?),
                    decode("applications.status", &status)?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(domain::funnel(&history, &current))
    }

    async fn add_documents(
        &self,
        user: UserId,
        id: ApplicationId,
        documents: &NewDocuments,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DocumentVersion>> {
        let (_writing, mut tx) = self.begin_write().await.map_err(db_error)?;
        if fetch_application(&mut tx, user, id).await?.is_none() {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO application_documents (application_id, version, generator, model, \
             id, content_sealed, cover_letter, cv_summary, interview_questions, created_at) \
             SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5, '', '', '[]', ?6 \
             FROM application_documents WHERE application_id = ?1 \
             RETURNING {DOCUMENT_COLUMNS}"
        )))
        .bind(text_id(id.as_uuid()))
        .bind(&documents.generator)
        .bind(&documents.model)
        .bind(&documents.content.row)
        .bind(documents.content.sealed.as_bytes())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let version = document_from_row(&row)?;
        add_event(
            &mut tx,
            user,
            id,
            "documents",
            None,
            None,
            EventDetail::Service(&match &documents.note {
                Some(note) => format!(
                    "version {} ({}): {note}",
                    version.version, version.generator
                ),
                None => format!("version {} ({})", version.version, version.generator),
            }),
            now,
        )
        .await?;
        let data = serde_json::json!({
            "application_id": id,
            "version": version.version,
            "generator": version.generator,
        });
        crate::events::append(&mut tx, user, "application.documents", &data, now).await?;
        tx.commit().await.map_err(db_error)?;
        store::events::appended();
        Ok(Some(version))
    }

    async fn documents(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Vec<DocumentVersion>>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if fetch_application(&mut tx, user, id).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM application_documents WHERE application_id = ?1 \
             ORDER BY version DESC"
        )))
        .bind(text_id(id.as_uuid()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        rows.iter()
            .map(document_from_row)
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    async fn submit_application(
        &self,
        user: UserId,
        id: ApplicationId,
        submission: &NewSubmission,
        task: tasks::NewTask,
    ) -> StoreResult<SubmitOutcome> {
        // The reads go before the write gate, which only the writes need: the submission's
        // uniqueness and the application's existence are checked again by the inserts below.
        let application = {
            let mut conn = self.pool.acquire().await.map_err(db_error)?;
            let Some(application) = fetch_application(&mut conn, user, id).await? else {
                return Ok(SubmitOutcome::NotFound);
            };
            if let Some(existing) = existing_submission(&mut conn, &application).await? {
                return Ok(SubmitOutcome::AlreadySubmitted(existing));
            }
            application
        };
        let (_writing, mut tx) = self.begin_write().await.map_err(db_error)?;
        let task_id = tasks::enqueue(&mut *tx, task).await.map_err(task_error)?;
        let inserted = sqlx::query(
            "INSERT INTO application_submissions (user_id, job_id, application_id, channel, \
             state, task_id, to_address, apply_url, hh_resume_id, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?9, ?9 \
             WHERE EXISTS (SELECT 1 FROM applications WHERE id = ?3 AND user_id = ?1)",
        )
        .bind(text_id(user.as_uuid()))
        .bind(text_id(application.job_id.as_uuid()))
        .bind(text_id(id.as_uuid()))
        .bind(submission.channel.as_str())
        .bind(SubmissionState::Queued.as_str())
        .bind(text_id(task_id.0))
        .bind(&submission.to_address)
        .bind(&submission.apply_url)
        .bind(submission.now)
        .bind(&submission.hh_resume_id)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 0 => {
                // Deleted since it was read: the task goes with the rolled-back transaction.
                return Ok(SubmitOutcome::NotFound);
            }
            Ok(_) => {}
            // Another request got there first: its submission stands, this one enqueues nothing.
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let existing = existing_submission(&mut conn, &application).await?;
                return existing
                    .map(SubmitOutcome::AlreadySubmitted)
                    .ok_or(StoreError::Conflict("application_submissions"));
            }
            Err(e) => return Err(db_error(e)),
        }
        add_event(
            &mut tx,
            user,
            id,
            "submission",
            None,
            None,
            EventDetail::Service(&format!("queued ({})", submission.channel)),
            submission.now,
        )
        .await?;
        crate::audit::append_in(&mut tx, submission.audit.as_slice()).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(SubmitOutcome::Queued {
            task_id,
            submission: submission.recorded(task_id),
        })
    }

    async fn update_submission(
        &self,
        user: UserId,
        id: ApplicationId,
        from: &[SubmissionState],
        update: &SubmissionUpdate,
    ) -> StoreResult<Option<Application>> {
        // The state is read before the write gate and compared-and-swapped under it: a
        // submission that moved in between is read again.
        for _ in 0..5 {
            let application = {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                fetch_application(&mut conn, user, id).await?
            };
            let Some(application) = application else {
                return Ok(None);
            };
            let Some(current) = &application.submission else {
                return Ok(None);
            };
            if !from.contains(&current.state) {
                return Ok(None);
            }
            let (writing, mut tx) = self.begin_write().await.map_err(db_error)?;
            let sent_at = (update.state == SubmissionState::Sent).then_some(update.now);
            let done = sqlx::query(
                "UPDATE application_submissions SET state = ?1, \
                 external_id = COALESCE(?2, external_id), apply_url = COALESCE(?3, apply_url), \
                 error = ?4, updated_at = ?5, sent_at = COALESCE(?6, sent_at) \
                 WHERE application_id = ?7 AND state = ?8",
            )
            .bind(update.state.as_str())
            .bind(&update.external_id)
            .bind(&update.apply_url)
            .bind(&update.error)
            .bind(update.now)
            .bind(sent_at)
            .bind(text_id(id.as_uuid()))
            .bind(current.state.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if done.rows_affected() == 0 {
                continue;
            }
            let detail = match &update.error {
                Some(error) => format!("{}: {error}", update.state),
                None => update.state.to_string(),
            };
            add_event(
                &mut tx,
                user,
                id,
                "submission",
                None,
                None,
                EventDetail::Service(&detail),
                update.now,
            )
            .await?;
            let data = serde_json::json!({
                "application_id": id,
                "state": update.state,
                "error": update.error,
            });
            crate::events::append(&mut tx, user, "application.submission", &data, update.now)
                .await?;
            if update.state == SubmissionState::Sent
                && application.status == ApplicationStatus::Saved
            {
                // A status the user changed meanwhile stands (the move compares and swaps).
                move_in(
                    &mut tx,
                    &application,
                    ApplicationStatus::Applied,
                    None,
                    update.now,
                )
                .await?;
            }
            tx.commit().await.map_err(db_error)?;
            drop(writing);
            store::events::appended();
            let mut conn = self.pool.acquire().await.map_err(db_error)?;
            return fetch_application(&mut conn, user, id).await;
        }
        Err(StoreError::Conflict("application_submissions"))
    }

    async fn submissions_sent_since(
        &self,
        user: UserId,
        channel: ApplyChannel,
        since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM application_submissions \
             WHERE user_id = ?1 AND channel = ?2 AND sent_at >= ?3",
        )
        .bind(text_id(user.as_uuid()))
        .bind(channel.as_str())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// The user's earlier submission to the application's job, from any application.
async fn existing_submission(
    conn: &mut sqlx::SqliteConnection,
    application: &Application,
) -> StoreResult<Option<store::applications::Submission>> {
    let row = sqlx::query(
        "SELECT channel AS s_channel, state AS s_state, task_id AS s_task_id, \
         to_address AS s_to_address, apply_url AS s_apply_url, hh_resume_id AS s_hh_resume_id, \
         external_id AS s_external_id, \
         error AS s_error, created_at AS s_created_at, updated_at AS s_updated_at, \
         sent_at AS s_sent_at FROM application_submissions WHERE user_id = ?1 AND job_id = ?2",
    )
    .bind(text_id(application.user_id.as_uuid()))
    .bind(text_id(application.job_id.as_uuid()))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    row.as_ref()
        .map(submission_from_row)
        .transpose()
        .map(Option::flatten)?
        .map(SubmissionColumns::into_submission)
        .transpose()
}
