//! Storage of applications: the pipeline, its history, the generated documents and the one
//! submission each (user, job) ever gets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ApplicationEvent, ApplicationId, ApplicationStatus, ApplyChannel, Funnel, JobId, ResumeId,
    SubmissionState, TransitionError, UserId,
};

use crate::{StoreError, StoreResult};

/// Longest note, in characters.
pub const NOTE_MAX_CHARS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: ApplicationId,
    pub user_id: UserId,
    pub job_id: JobId,
    /// The resume it is made with, if chosen.
    pub resume_id: Option<ResumeId>,
    /// `Saved` or `Applied` (an application made elsewhere, tracked here).
    pub status: ApplicationStatus,
    /// The user's note, sealed.
    pub note: Option<SealedText>,
    pub created_at: DateTime<Utc>,
}

/// A user's text (a note, a version of the documents) as the caller sealed it with the key
/// ring, bound to `row`: the id the store keeps it under, made by the caller.
#[derive(Debug, Clone)]
pub struct SealedText {
    pub row: String,
    pub sealed: domain::Sealed,
}

/// A user's text as stored: sealed, or in plain text when written before such texts were
/// sealed (until a key rotation seals it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredText {
    Sealed { row: String, sealed: Vec<u8> },
    Plain(String),
}

/// One history entry as stored: a note's text comes sealed, for the caller to open.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its `detail` is what the service wrote, or a note written before notes were sealed.
    pub event: ApplicationEvent,
    /// The user's note.
    pub note: Option<StoredText>,
}

/// What a history entry says beyond its kind and statuses.
#[derive(Debug, Clone, Copy)]
pub enum EventDetail<'a> {
    None,
    /// What happened, written by the service (a submission's outcome, a document version).
    Service(&'a str),
    /// The user's note.
    Note(&'a SealedText),
}

impl<'a> EventDetail<'a> {
    pub fn note(note: Option<&'a SealedText>) -> Self {
        note.map_or(EventDetail::None, EventDetail::Note)
    }

    /// (detail, note id, sealed note) as the history's columns hold them.
    pub fn columns(self) -> (Option<&'a str>, Option<&'a str>, Option<&'a [u8]>) {
        match self {
            EventDetail::None => (None, None, None),
            EventDetail::Service(text) => (Some(text), None, None),
            EventDetail::Note(note) => {
                (None, Some(note.row.as_str()), Some(note.sealed.as_bytes()))
            }
        }
    }
}

/// The one submission of an application (one per user and job, ever).
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub channel: ApplyChannel,
    pub state: SubmissionState,
    pub task_id: Option<uuid::Uuid>,
    /// E-mail channel: where the letter went.
    pub to_address: Option<String>,
    /// Link channel: the board's page to apply on.
    pub apply_url: Option<String>,
    /// HH.ru channel: the user's HH.ru resume it goes with.
    pub hh_resume_id: Option<String>,
    /// E-mail: the Message-ID; HH.ru: the negotiation id.
    pub external_id: Option<String>,
    /// Why it failed (or why its outcome is unknown).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: ApplicationId,
    pub user_id: UserId,
    pub job_id: JobId,
    pub resume_id: Option<ResumeId>,
    pub status: ApplicationStatus,
    pub job_title: String,
    pub job_company: Option<String>,
    pub job_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it reached `applied`.
    pub applied_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub closed_at: Option<DateTime<Utc>>,
    pub submission: Option<Submission>,
}

#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub status: Option<ApplicationStatus>,
    pub job_id: Option<JobId>,
    /// Cursor: applications created before this one (ids are time-ordered).
    pub before: Option<ApplicationId>,
    pub limit: u32,
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveOutcome {
    Moved(Application),
    /// It already had that status: nothing written.
    Unchanged(Application),
    Refused(TransitionError),
    NotFound,
}

/// One version of an application's documents (cover letter, CV summary, interview questions).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentVersion {
    pub version: i64,
    /// `template`, `llm` or `edited`.
    pub generator: String,
    pub model: Option<String>,
    /// The documents as one JSON object (`cover_letter`, `cv_summary`,
    /// `interview_questions`), sealed.
    pub content: StoredText,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDocuments {
    pub generator: String,
    /// Kept in the history with the version, e.g. why the template wrote it (the service's
    /// words, not the user's).
    pub note: Option<String>,
    pub model: Option<String>,
    /// The documents as one JSON object, sealed.
    pub content: SealedText,
}

/// The columns every store reads for a version of the documents.
#[derive(Debug)]
pub struct DocumentColumns {
    pub id: String,
    pub version: i64,
    pub generator: String,
    pub model: Option<String>,
    pub content_sealed: Option<Vec<u8>>,
    /// Plain text of a version written before documents were sealed (empty once sealed).
    pub cover_letter: String,
    pub cv_summary: String,
    pub interview_questions: String,
    pub created_at: DateTime<Utc>,
}

impl DocumentColumns {
    pub fn into_version(self) -> StoreResult<DocumentVersion> {
        let content = match self.content_sealed {
            Some(sealed) => StoredText::Sealed {
                row: self.id,
                sealed,
            },
            None => StoredText::Plain(plain_documents(
                &self.cover_letter,
                &self.cv_summary,
                &self.interview_questions,
            )?),
        };
        Ok(DocumentVersion {
            version: self.version,
            generator: self.generator,
            model: self.model,
            content,
            created_at: self.created_at,
        })
    }
}

/// A version's content written before documents were sealed, as the JSON object sealed ones
/// hold.
pub fn plain_documents(
    cover_letter: &str,
    cv_summary: &str,
    interview_questions: &str,
) -> StoreResult<String> {
    let questions: serde_json::Value = serde_json::from_str(interview_questions).map_err(|e| {
        StoreError::Corrupt(format!("application_documents.interview_questions: {e}"))
    })?;
    Ok(serde_json::json!({
        "cover_letter": cover_letter,
        "cv_summary": cv_summary,
        "interview_questions": questions,
    })
    .to_string())
}

#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub channel: ApplyChannel,
    pub to_address: Option<String>,
    pub apply_url: Option<String>,
    pub hh_resume_id: Option<String>,
    pub now: DateTime<Utc>,
    /// Appended to the audit log in the submission's own transaction: the submission and its
    /// audit entry commit together or not at all, in one write instead of two.
    pub audit: Option<domain::AuditEvent>,
}

impl NewSubmission {
    /// The submission as just recorded, queued for its task.
    pub fn recorded(&self, task_id: tasks::TaskId) -> Submission {
        Submission {
            channel: self.channel,
            state: SubmissionState::Queued,
            task_id: Some(task_id.0),
            to_address: self.to_address.clone(),
            apply_url: self.apply_url.clone(),
            hh_resume_id: self.hh_resume_id.clone(),
            external_id: None,
            error: None,
            created_at: self.now,
            updated_at: self.now,
            sent_at: None,
        }
    }
}

/// What asking to submit did.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Recorded, with its task enqueued in the same transaction.
    Queued {
        task_id: tasks::TaskId,
        submission: Submission,
    },
    /// This user submitted to this job before (from this or an earlier application): nothing new.
    AlreadySubmitted(Submission),
    NotFound,
}

/// A change to a submission, applied only if it is still in one of the expected states.
#[derive(Debug, Clone)]
pub struct SubmissionUpdate {
    pub state: SubmissionState,
    pub external_id: Option<String>,
    pub apply_url: Option<String>,
    pub error: Option<String>,
    pub now: DateTime<Utc>,
}

impl SubmissionUpdate {
    pub fn to(state: SubmissionState, now: DateTime<Utc>) -> Self {
        SubmissionUpdate {
            state,
            external_id: None,
            apply_url: None,
            error: None,
            now,
        }
    }
}

#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Creates an application with its first history entry. `Conflict("applications.user_job")`
    /// if the user has one for this job already; `Conflict("applications.job")` if the job or
    /// the resume does not exist (or the resume is not the user's).
    async fn create_application(&self, new: &NewApplication) -> StoreResult<Application>;

    /// The owner's application; `None` for another user's.
    async fn application(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Application>>;

    /// The owner's applications, newest first.
    async fn applications(
        &self,
        user: UserId,
        filter: &ApplicationFilter,
    ) -> StoreResult<Vec<Application>>;

    /// Moves an application along the pipeline (checked by the domain rules, atomically against
    /// concurrent moves) and records the move, with an optional note, in its history.
    async fn move_application(
        &self,
        user: UserId,
        id: ApplicationId,
        to: ApplicationStatus,
        note: Option<&SealedText>,
        now: DateTime<Utc>,
    ) -> StoreResult<MoveOutcome>;

    /// Adds a note to the history; false if the application is not the user's.
    async fn add_application_note(
        &self,
        user: UserId,
        id: ApplicationId,
        note: &SealedText,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deletes the owner's application, its history and documents. Its submission, if any, is
    /// kept (without the link), so the job is never submitted to twice.
    async fn delete_application(&self, user: UserId, id: ApplicationId) -> StoreResult<bool>;

    /// The application's history, oldest first; `None` if it is not the user's.
    async fn application_events(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Vec<StoredEvent>>>;

    /// The user's funnel over all their applications.
    async fn application_funnel(&self, user: UserId) -> StoreResult<Funnel>;

    /// Stores a new version of the documents; `None` if the application is not the user's.
    async fn add_documents(
        &self,
        user: UserId,
        id: ApplicationId,
        documents: &NewDocuments,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DocumentVersion>>;

    /// Every version of the documents, newest first; `None` if the application is not the
    /// user's.
    async fn documents(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> StoreResult<Option<Vec<DocumentVersion>>>;

    /// Records the one submission of this user to this job and enqueues its task, in one
    /// transaction; a second ask (double click, another tab, a re-created application) finds
    /// the first.
    async fn submit_application(
        &self,
        user: UserId,
        id: ApplicationId,
        submission: &NewSubmission,
        task: tasks::NewTask,
    ) -> StoreResult<SubmitOutcome>;

    /// Changes the submission if it is in one of `from`; reaching `Sent` also moves a saved
    /// application to applied, in the same transaction. `None` if it was not in `from` (or
    /// there is none).
    async fn update_submission(
        &self,
        user: UserId,
        id: ApplicationId,
        from: &[SubmissionState],
        update: &SubmissionUpdate,
    ) -> StoreResult<Option<Application>>;

    /// How many submissions the user sent over a channel since a time (the daily cap).
    async fn submissions_sent_since(
        &self,
        user: UserId,
        channel: ApplyChannel,
        since: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// Rebuilds a text enum column, naming the column when it holds something unknown.
pub fn decode<T: std::str::FromStr>(column: &str, text: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// The columns every store reads for an application (joined with its job and submission).
#[derive(Debug)]
pub struct ApplicationColumns {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub job_id: uuid::Uuid,
    pub resume_id: Option<uuid::Uuid>,
    pub status: String,
    pub job_title: String,
    pub job_company: Option<String>,
    pub job_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub submission: Option<SubmissionColumns>,
}

#[derive(Debug)]
pub struct SubmissionColumns {
    pub channel: String,
    pub state: String,
    pub task_id: Option<uuid::Uuid>,
    pub to_address: Option<String>,
    pub apply_url: Option<String>,
    pub hh_resume_id: Option<String>,
    pub external_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl SubmissionColumns {
    pub fn into_submission(self) -> StoreResult<Submission> {
        Ok(Submission {
            channel: decode("application_submissions.channel", &self.channel)?,
            state: decode("application_submissions.state", &self.state)?,
            task_id: self.task_id,
            to_address: self.to_address,
            apply_url: self.apply_url,
            hh_resume_id: self.hh_resume_id,
            external_id: self.external_id,
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sent_at: self.sent_at,
        })
    }
}

impl ApplicationColumns {
    pub fn into_application(self) -> StoreResult<Application> {
        Ok(Application {
            id: ApplicationId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            job_id: JobId::from_uuid(self.job_id),
            resume_id: self.resume_id.map(ResumeId::from_uuid),
            status: decode("applications.status", &self.status)?,
            job_title: self.job_title,
            job_company: self.job_company,
            job_url: self.job_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            applied_at: self.applied_at,
            closed_at: self.closed_at,
            submission: self
                .submission
                .map(SubmissionColumns::into_submission)
                .transpose()?,
        })
    }
}

/// The columns every store reads for a history entry.
#[derive(Debug)]
pub struct EventColumns {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub detail: Option<String>,
    pub note_id: Option<String>,
    pub detail_sealed: Option<Vec<u8>>,
}

impl EventColumns {
    pub fn into_event(self) -> StoreResult<StoredEvent> {
        let note = match (self.note_id, self.detail_sealed) {
            (Some(row), Some(sealed)) => Some(StoredText::Sealed { row, sealed }),
            _ => None,
        };
        Ok(StoredEvent {
            event: ApplicationEvent {
                at: self.at,
                kind: self.kind,
                from_status: self
                    .from_status
                    .map(|s| decode("application_events.from_status", &s))
                    .transpose()?,
                to_status: self
                    .to_status
                    .map(|s| decode("application_events.to_status", &s))
                    .transpose()?,
                detail: self.detail,
            },
            note,
        })
    }
}

/// The status an application has after a move, and the dates the move sets.
pub fn moved_dates(
    to: ApplicationStatus,
    applied_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    // Reaching applied or any later stage means it was applied for.
    let applied_at = if to.stage().is_some_and(|stage| stage >= 1) {
        applied_at.or(Some(now))
    } else {
        applied_at
    };
    let closed_at = to.is_final().then_some(now);
    (applied_at, closed_at)
}
