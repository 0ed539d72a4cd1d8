//! The background half of applications: writing the documents (with a language model when one
//! is configured, else from a template) and carrying out the one submission.
//!
//! Both tasks are idempotent, as the queue delivers at least once. A submission moves through
//! compare-and-swap states (queued → sending → sent), so however often its task runs, it sends
//! at most once; a run that finds a send started and never recorded (the process died
//! mid-send) marks it `unknown` for the user to check rather than sending again.

use std::{sync::Arc, time::Duration};

use auth::{KeyRing, Place};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use domain::{
    ApplicationEvent, ApplicationId, ApplyChannel, Job, NewJob, ResumeStatus, SubmissionState,
    UserId,
};
use serde::{Deserialize, Serialize};
use store::{
    Resume, SealedColumn, Store,
    applications::{
        Application, DocumentVersion, NewDocuments, SealedText, StoredEvent, StoredText,
        SubmissionUpdate,
    },
};
use tasks::{NewTask, Outcome, TaskContext, TaskError};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{files::Files, resumes};

/// An application's documents as one sealed value holds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentContent {
    pub cover_letter: String,
    pub cv_summary: String,
    /// A JSON array of questions.
    pub interview_questions: serde_json::Value,
}

/// Why a stored note or document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("{table}.{column} (row {row}) cannot be opened: {reason}")]
    Unreadable {
        table: &'static str,
        column: &'static str,
        row: String,
        reason: String,
    },
}

/// Seals a user's text for `column`, under an id of its own.
fn seal_text(keys: &KeyRing, column: SealedColumn, plain: &[u8]) -> SealedText {
    let (table, column) = column.place();
    let row = Uuid::now_v7().to_string();
    let sealed = keys.seal(
        plain,
        Place {
            table,
            column,
            row: &row,
        },
    );
    SealedText { row, sealed }
}

fn open_text(keys: &KeyRing, column: SealedColumn, text: &StoredText) -> Result<String, TextError> {
    let (table, column) = column.place();
    match text {
        StoredText::Plain(plain) => Ok(plain.clone()),
        StoredText::Sealed { row, sealed } => keys
            .open(sealed, Place { table, column, row })
            .map_err(|e| e.to_string())
            .and_then(|plain| String::from_utf8(plain.to_vec()).map_err(|e| e.to_string()))
            .map_err(|reason| TextError::Unreadable {
                table,
                column,
                row: row.clone(),
                reason,
            }),
    }
}

/// Seals a version of the documents.
pub fn seal_documents(keys: &KeyRing, content: &DocumentContent) -> SealedText {
    let plain = Zeroizing::new(serde_json::to_vec(content).unwrap_or_default());
    seal_text(keys, SealedColumn::ApplicationDocuments, &plain)
}

/// Opens a version of the documents.
pub fn open_documents(
    keys: &KeyRing,
    version: &DocumentVersion,
) -> Result<DocumentContent, TextError> {
    let plain = open_text(keys, SealedColumn::ApplicationDocuments, &version.content)?;
    serde_json::from_str(&plain).map_err(|e| TextError::Unreadable {
        table: "application_documents",
        column: "content",
        row: version.version.to_string(),
        reason: e.to_string(),
    })
}

/// Seals a note: trimmed, `None` when nothing is left.
pub fn seal_note(keys: &KeyRing, note: Option<&str>) -> Option<SealedText> {
    let note = note.map(str::trim).filter(|n| !n.is_empty())?;
    Some(seal_text(
        keys,
        SealedColumn::ApplicationNote,
        note.as_bytes(),
    ))
}

/// A history entry as its owner reads it, the note opened.
pub fn open_event(keys: &KeyRing, stored: StoredEvent) -> Result<ApplicationEvent, TextError> {
    let mut event = stored.event;
    if let Some(note) = &stored.note {
        event.detail = Some(open_text(keys, SealedColumn::ApplicationNote, note)?);
    }
    Ok(event)
}

/// Writes an application's documents.
pub const GENERATE_TASK: &str = "applications.generate";
/// Carries out an application's submission.
pub const SUBMIT_TASK: &str = "applications.submit";
/// A language model may be slow; a template is instant.
pub const GENERATE_TIMEOUT: Duration = Duration::from_secs(300);
/// SMTP with a resume attached.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(120);
/// Generation asked twice within this long runs once.
const GENERATE_DEDUPE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskArgs {
    pub user_id: Uuid,
    pub application_id: Uuid,
}

impl TaskArgs {
    fn ids(&self) -> (UserId, ApplicationId) {
        (
            UserId::from_uuid(self.user_id),
            ApplicationId::from_uuid(self.application_id),
        )
    }
}

fn args(user: UserId, id: ApplicationId) -> serde_json::Value {
    serde_json::json!({ "user_id": user.as_uuid(), "application_id": id.as_uuid() })
}

pub fn generate_task(user: UserId, id: ApplicationId) -> NewTask {
    NewTask::new(GENERATE_TASK, args(user, id))
        .with_user(user.as_uuid())
        .with_unique_key_within(format!("{GENERATE_TASK}:{id}"), GENERATE_DEDUPE)
}

pub fn submit_task(user: UserId, id: ApplicationId) -> NewTask {
    // Retries back off; a reached daily cap snoozes without spending attempts.
    NewTask::new(SUBMIT_TASK, args(user, id))
        .with_user(user.as_uuid())
        .with_max_attempts(5)
        .with_unique_key(format!("{SUBMIT_TASK}:{id}"))
}

/// Submissions a user may send per day and channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCaps {
    pub link: u32,
    pub email: u32,
    /// HH.ru allows 200 a day.
    pub hh: u32,
}

impl Default for DailyCaps {
    fn default() -> Self {
        Self {
            link: 100,
            email: 20,
            hh: 200,
        }
    }
}

impl DailyCaps {
    pub fn of(&self, channel: ApplyChannel) -> u32 {
        match channel {
            ApplyChannel::Link => self.link,
            ApplyChannel::Email => self.email,
            ApplyChannel::Hh => self.hh,
        }
    }
}

/// What the API needs to know of the channels.
#[derive(Debug, Clone, Default)]
pub struct ApplySettings {
    /// An SMTP server is configured: the e-mail channel is open.
    pub email: bool,
    /// The `hh_apply` feature is on: users may connect HH.ru and apply through it.
    pub hh: Option<sources::hh_apply::HhApplyClient>,
    pub daily_caps: DailyCaps,
}

/// Shared handles the tasks need.
#[derive(Clone)]
pub struct ApplyContext {
    pub store: Arc<dyn Store>,
    pub files: Files,
    /// Opens resume files to attach; `None` (no key ring configured): nothing can be attached.
    pub keys: Option<Arc<KeyRing>>,
    pub llm: Option<Arc<ai::LlmClient>>,
    pub mailer: Option<notify::Mailer>,
    pub hh: Option<sources::hh_apply::HhApplyClient>,
    pub caps: DailyCaps,
}

impl std::fmt::Debug for ApplyContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyContext")
            .field("llm", &self.llm.is_some())
            .field("mailer", &self.mailer.is_some())
            .field("hh", &self.hh.is_some())
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

fn store_error(error: store::StoreError) -> TaskError {
    TaskError::retry(crate::error::ErrorChain(&error))
}

/// The first e-mail address a posting names in its text, for the e-mail channel.
pub fn posting_address(posting: &NewJob) -> Option<String> {
    let text = posting.description_text.as_deref()?;
    text.split(|c: char| c.is_whitespace() || "<>()[]{},;:\"'".contains(c))
        .map(|word| word.trim_end_matches(['.', '!', '?']))
        .filter(|word| word.contains('@'))
        .find_map(|word| domain::Email::parse(word).ok())
        .map(|email| email.as_str().to_owned())
}

/// The resume an application is made with: the one it names, else the user's newest parsed.
async fn resume_of(
    store: &dyn Store,
    application: &Application,
) -> Result<Option<Resume>, TaskError> {
    let user = application.user_id;
    if let Some(id) = application.resume_id {
        return store.resume(user, id).await.map_err(store_error);
    }
    Ok(store
        .resumes(user)
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|r| r.status == ResumeStatus::Parsed))
}

/// What the writers get: the job's fields, and of the resume only its skills, experience and
/// level (never its text: only the parts needed leave the server).
pub fn writing_context(job: &Job, resume: Option<&Resume>) -> ai::ApplicationContext {
    let posting = &job.posting;
    let resume_skills: Vec<String> = resume.map(|r| r.skills.clone()).unwrap_or_default();
    let has = |skill: &str| resume_skills.iter().any(|s| s.eq_ignore_ascii_case(skill));
    let (matched, missing): (Vec<String>, Vec<String>) =
        posting.skills.iter().cloned().partition(|skill| has(skill));
    ai::ApplicationContext {
        job_title: posting.title.clone(),
        company: posting.company.clone(),
        job_location: posting.locations.first().cloned(),
        job_remote: posting.remote.and_then(snake_name),
        job_text: posting.description_text.clone().unwrap_or_default(),
        job_skills: posting.skills.clone(),
        applicant_name: None,
        resume_skills: resume_skills.clone(),
        years_experience: resume.and_then(|r| r.years_experience),
        seniority: resume.and_then(|r| r.seniority).and_then(snake_name),
        matched_skills: matched,
        missing_skills: missing,
        resume_excerpt: None,
    }
}

/// An enum's name as the API spells it.
fn snake_name(value: impl Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

/// `applications.generate`: writes a new version of the documents.
pub async fn generate(
    context: &ApplyContext,
    task: &TaskContext,
    args: &TaskArgs,
) -> Result<Outcome, TaskError> {
    let (user, id) = args.ids();
    let store = context.store.as_ref();
    let Some(application) = store.application(user, id).await.map_err(store_error)? else {
        return Ok(Outcome::Cancel("the application was deleted".into()));
    };
    let Some(job) = store.job(application.job_id).await.map_err(store_error)? else {
        return Ok(Outcome::Cancel("the job no longer exists".into()));
    };
    let resume = resume_of(store, &application).await?;
    let writing = writing_context(&job, resume.as_ref());
    let (documents, generator, failure) =
        match ai::documents_or_retry(context.llm.as_deref(), &writing).await {
            Ok(generated) => generated,
            // Worth another attempt later (the model server is down or busy)...
            Err(error) if !task.is_last_attempt() => return Err(TaskError::retry(error)),
            // ...else the template writes them, as for any other failure of the model.
            Err(error) => (
                ai::template_documents(&writing),
                ai::Generator::Template,
                Some(error),
            ),
        };
    // The history says why the template wrote them when a model is configured.
    let note = failure.map(|error| {
        tracing::warn!(%error, application = %id, "language model failed; template used");
        format!("the language model failed ({error}); a template wrote it")
    });
    let keys = keys_of(context).map_err(TaskError::discard)?;
    let new = new_documents(keys, documents, &generator, note).map_err(TaskError::discard)?;
    match store
        .add_documents(user, id, &new, Utc::now())
        .await
        .map_err(store_error)?
    {
        Some(_) => Ok(Outcome::Complete),
        None => Ok(Outcome::Cancel("the application was deleted".into())),
    }
}

/// A version of the documents as the store keeps it, sealed.
fn new_documents(
    keys: &KeyRing,
    documents: ai::Documents,
    generator: &ai::Generator,
    note: Option<String>,
) -> Result<NewDocuments, serde_json::Error> {
    let (generator, model) = match generator {
        ai::Generator::Template => ("template", None),
        ai::Generator::Llm { model } => ("llm", Some(model.clone())),
    };
    let content = DocumentContent {
        cover_letter: documents.cover_letter,
        cv_summary: documents.cv_summary,
        interview_questions: serde_json::to_value(&documents.interview_questions)?,
    };
    Ok(NewDocuments {
        generator: generator.to_owned(),
        note,
        model,
        content: seal_documents(keys, &content),
    })
}

/// The key ring a task seals and opens with.
fn keys_of(context: &ApplyContext) -> Result<&KeyRing, String> {
    context
        .keys
        .as_deref()
        .ok_or_else(|| "documents cannot be sealed: no key ring is configured".to_owned())
}

/// The start of the next UTC day: when daily caps reset.
fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    today + chrono::Duration::days(1)
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    next_day(now) - chrono::Duration::days(1)
}

/// `applications.submit`: carries out the submission, at most once.
pub async fn submit(
    context: &ApplyContext,
    task: &TaskContext,
    args: &TaskArgs,
) -> Result<Outcome, TaskError> {
    let (user, id) = args.ids();
    let store = context.store.as_ref();
    let Some(application) = store.application(user, id).await.map_err(store_error)? else {
        return Ok(Outcome::Cancel("the application was deleted".into()));
    };
    let Some(submission) = application.submission.clone() else {
        return Ok(Outcome::Cancel("the application has no submission".into()));
    };
    let now = Utc::now();
    match submission.state {
        SubmissionState::Queued => {}
        // HH.ru tells a repeat ("already applied"), so an interrupted send may simply go again.
        SubmissionState::Sending if submission.channel == ApplyChannel::Hh => {
            return send_hh(context, task, &application, SubmissionState::Sending).await;
        }
        SubmissionState::Sending => {
            // An earlier run started sending and never recorded how it ended.
            let mut update = SubmissionUpdate::to(SubmissionState::Unknown, now);
            update.error = Some(
                "the send was interrupted and its outcome is unknown; it is not sent again \
                 automatically: check the recipient or your sent mail"
                    .into(),
            );
            store
                .update_submission(user, id, &[SubmissionState::Sending], &update)
                .await
                .map_err(store_error)?;
            return Ok(Outcome::Complete);
        }
        // Done already: a repeated delivery of the task.
        _ => return Ok(Outcome::Complete),
    }
    let cap = context.caps.of(submission.channel);
    let sent_today = store
        .submissions_sent_since(user, submission.channel, start_of_day(now))
        .await
        .map_err(store_error)?;
    if sent_today >= u64::from(cap) {
        let wait = (next_day(now) - now)
            .to_std()
            .unwrap_or(Duration::from_secs(60));
        tracing::info!(application = %id, channel = %submission.channel, "daily cap reached; waiting for tomorrow");
        return Ok(Outcome::Snooze(wait + Duration::from_secs(1)));
    }
    match submission.channel {
        ApplyChannel::Link => {
            let mut update = SubmissionUpdate::to(SubmissionState::AwaitingConfirmation, now);
            update.apply_url = Some(application.job_url.clone());
            store
                .update_submission(user, id, &[SubmissionState::Queued], &update)
                .await
                .map_err(store_error)?;
            Ok(Outcome::Complete)
        }
        ApplyChannel::Email => send_email(context, task, &application).await,
        ApplyChannel::Hh => send_hh(context, task, &application, SubmissionState::Queued).await,
    }
}

async fn fail(
    store: &dyn Store,
    user: UserId,
    id: ApplicationId,
    from: SubmissionState,
    reason: &str,
) -> Result<Outcome, TaskError> {
    let mut update = SubmissionUpdate::to(SubmissionState::Failed, Utc::now());
    update.error = Some(reason.to_owned());
    store
        .update_submission(user, id, &[from], &update)
        .await
        .map_err(store_error)?;
    Ok(Outcome::Complete)
}

/// Why a message could not be put together.
enum Prep {
    /// Worth another attempt (storage trouble).
    Retry(String),
    /// No later attempt can fix it.
    Fail(String),
}

impl Prep {
    fn store(error: store::StoreError) -> Self {
        Prep::Retry(crate::error::ErrorChain(&error).to_string())
    }
}

/// The letter to send: the newest version of the documents, else one written now from the
/// template (and kept as a version, so the user sees what went).
async fn letter(
    context: &ApplyContext,
    application: &Application,
    resume: Option<&Resume>,
) -> Result<String, Prep> {
    let store = context.store.as_ref();
    let (user, id) = (application.user_id, application.id);
    let keys = keys_of(context).map_err(Prep::Fail)?;
    if let Some(latest) = store
        .documents(user, id)
        .await
        .map_err(Prep::store)?
        .and_then(|versions| versions.into_iter().next())
    {
        let content = open_documents(keys, &latest).map_err(|e| Prep::Fail(e.to_string()))?;
        return Ok(content.cover_letter);
    }
    let job = store
        .job(application.job_id)
        .await
        .map_err(Prep::store)?
        .ok_or_else(|| Prep::Fail("the job no longer exists".into()))?;
    let documents = ai::template_documents(&writing_context(&job, resume));
    let letter = documents.cover_letter.clone();
    let new = new_documents(
        keys,
        documents,
        &ai::Generator::Template,
        Some("written for the e-mail, which needed a letter".into()),
    )
    .map_err(|e| Prep::Fail(e.to_string()))?;
    store
        .add_documents(user, id, &new, Utc::now())
        .await
        .map_err(Prep::store)?;
    Ok(letter)
}

/// The resume file, opened, to attach.
async fn attachment(context: &ApplyContext, resume: &Resume) -> Result<notify::Attachment, Prep> {
    let sealed = context
        .files
        .get(&resume.file_key)
        .await
        .map_err(|e| Prep::Retry(format!("the resume file cannot be read: {e}")))?;
    let keys = context.keys.as_ref().ok_or_else(|| {
        Prep::Fail("the resume file cannot be opened: no key ring is configured".into())
    })?;
    let row = resume.id.to_string();
    let bytes = keys
        .open(&sealed, resumes::file_place(&row))
        .map_err(|e| Prep::Fail(e.to_string()))?;
    Ok(notify::Attachment {
        file_name: resume.file_name.clone(),
        content_type: resume_content_type(resume.kind).to_owned(),
        bytes: bytes.to_vec(),
    })
}

fn resume_content_type(kind: domain::ResumeKind) -> &'static str {
    match kind {
        domain::ResumeKind::Pdf => "application/pdf",
        domain::ResumeKind::Docx => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        domain::ResumeKind::Text => "text/plain; charset=utf-8",
        domain::ResumeKind::Markdown => "text/markdown; charset=utf-8",
    }
}

async fn send_email(
    context: &ApplyContext,
    task: &TaskContext,
    application: &Application,
) -> Result<Outcome, TaskError> {
    let store = context.store.as_ref();
    let (user, id) = (application.user_id, application.id);
    let Some(mailer) = &context.mailer else {
        return fail(
            store,
            user,
            id,
            SubmissionState::Queued,
            "this server does not send e-mail (no SMTP server is configured)",
        )
        .await;
    };
    let submission = application
        .submission
        .as_ref()
        .ok_or_else(|| TaskError::discard("no submission"))?;
    let Some(to) = submission.to_address.clone() else {
        return fail(
            store,
            user,
            id,
            SubmissionState::Queued,
            "no address to send to",
        )
        .await;
    };
    // Everything that can fail before the send fails while the submission is still queued.
    let resume = resume_of(store, application).await?;
    let prepared = async {
        let text = letter(context, application, resume.as_ref()).await?;
        let attachments = match &resume {
            Some(resume) => vec![attachment(context, resume).await?],
            None => Vec::new(),
        };
        Ok::<_, Prep>((text, attachments))
    };
    let (text, attachments) = match prepared.await {
        Ok(prepared) => prepared,
        Err(Prep::Retry(reason)) if !task.is_last_attempt() => {
            return Err(TaskError::retry(reason));
        }
        Err(Prep::Retry(reason) | Prep::Fail(reason)) => {
            return fail(store, user, id, SubmissionState::Queued, &reason).await;
        }
    };
    let subject: String = format!("Application: {}", application.job_title)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mail = notify::Outgoing {
        to,
        reply_to: None,
        subject,
        text,
        // The same id on every attempt: a receiving server can tell a repeat.
        message_id: format!("<application-{id}@jobpilot>"),
        attachments,
    };
    // From here on the send counts as started.
    if store
        .update_submission(
            user,
            id,
            &[SubmissionState::Queued],
            &SubmissionUpdate::to(SubmissionState::Sending, Utc::now()),
        )
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Ok(Outcome::Complete);
    }
    match mailer.send(&mail).await {
        Ok(sent) => {
            let mut update = SubmissionUpdate::to(SubmissionState::Sent, Utc::now());
            update.external_id = Some(sent.message_id);
            store
                .update_submission(user, id, &[SubmissionState::Sending], &update)
                .await
                .map_err(store_error)?;
            Ok(Outcome::Complete)
        }
        Err(error) if error.is_retryable() && !task.is_last_attempt() => {
            // Nothing went: back to queued, and the queue retries with backoff.
            let mut update = SubmissionUpdate::to(SubmissionState::Queued, Utc::now());
            update.error = Some(error.to_string());
            store
                .update_submission(user, id, &[SubmissionState::Sending], &update)
                .await
                .map_err(store_error)?;
            Err(TaskError::retry(error))
        }
        Err(error) => {
            fail(
                store,
                user,
                id,
                SubmissionState::Sending,
                &error.to_string(),
            )
            .await
        }
    }
}

/// The HH.ru channel: `POST /negotiations` with the user's HH.ru resume and the newest
/// cover letter; each documented outcome becomes a clear submission state.
async fn send_hh(
    context: &ApplyContext,
    task: &TaskContext,
    application: &Application,
    from: SubmissionState,
) -> Result<Outcome, TaskError> {
    use sources::hh_apply::ApplyOutcome;

    let store = context.store.as_ref();
    let (user, id) = (application.user_id, application.id);
    let (Some(client), Some(keys)) = (&context.hh, &context.keys) else {
        return fail(
            store,
            user,
            id,
            from,
            "applying through HH.ru is not enabled on this server",
        )
        .await;
    };
    let submission = application
        .submission
        .as_ref()
        .ok_or_else(|| TaskError::discard("no submission"))?;
    let Some(resume_id) = submission.hh_resume_id.clone() else {
        return fail(store, user, id, from, "no HH.ru resume was chosen").await;
    };
    let Some(job) = store.job(application.job_id).await.map_err(store_error)? else {
        return fail(store, user, id, from, "the job no longer exists").await;
    };
    if job.posting.source != "hh" {
        return fail(
            store,
            user,
            id,
            from,
            "only HH.ru postings can be applied to through HH.ru",
        )
        .await;
    }
    let vacancy = job.posting.external_id.clone();
    let resume = resume_of(store, application).await?;
    let message = match letter(context, application, resume.as_ref()).await {
        Ok(text) => text,
        Err(Prep::Retry(reason)) if !task.is_last_attempt() => {
            return Err(TaskError::retry(reason));
        }
        Err(Prep::Retry(reason) | Prep::Fail(reason)) => {
            return fail(store, user, id, from, &reason).await;
        }
    };
    if from == SubmissionState::Queued
        && store
            .update_submission(
                user,
                id,
                &[SubmissionState::Queued],
                &SubmissionUpdate::to(SubmissionState::Sending, Utc::now()),
            )
            .await
            .map_err(store_error)?
            .is_none()
    {
        return Ok(Outcome::Complete);
    }
    let sending = [SubmissionState::Sending];
    let outcome = crate::hh::with_token(store, keys, client, user, |token| {
        let (client, vacancy, resume_id, message) = (
            client.clone(),
            vacancy.clone(),
            resume_id.clone(),
            message.clone(),
        );
        async move {
            client
                .apply(&token, &vacancy, &resume_id, Some(&message))
                .await
        }
    })
    .await;
    let now = Utc::now();
    let failed = |reason: &str| {
        let mut update = SubmissionUpdate::to(SubmissionState::Failed, now);
        update.error = Some(reason.to_owned());
        update
    };
    let update = match outcome {
        Ok(ApplyOutcome::Created { negotiation_id }) => {
            let mut update = SubmissionUpdate::to(SubmissionState::Sent, now);
            update.external_id = negotiation_id;
            update
        }
        Ok(ApplyOutcome::AlreadyApplied) => {
            let mut update = SubmissionUpdate::to(SubmissionState::Sent, now);
            update.error = Some("HH.ru already had this application".into());
            update
        }
        Ok(ApplyOutcome::Redirected { location }) => {
            // A "direct" vacancy: the user applies on the employer's site and confirms here.
            let mut update = SubmissionUpdate::to(SubmissionState::AwaitingConfirmation, now);
            update.apply_url = Some(location);
            update
        }
        Ok(ApplyOutcome::LimitExceeded) => {
            let mut update = SubmissionUpdate::to(SubmissionState::Queued, now);
            update.error =
                Some("HH.ru's daily application limit is reached; trying again tomorrow".into());
            store
                .update_submission(user, id, &sending, &update)
                .await
                .map_err(store_error)?;
            let wait = (next_day(now) - now)
                .to_std()
                .unwrap_or(Duration::from_secs(3600));
            return Ok(Outcome::Snooze(wait + Duration::from_secs(1)));
        }
        Ok(ApplyOutcome::VacancyArchived) => failed("the vacancy is archived or hidden on HH.ru"),
        Ok(ApplyOutcome::VacancyNotFound) => failed("the vacancy no longer exists on HH.ru"),
        Ok(ApplyOutcome::ResumeNotFound) => {
            failed("the HH.ru resume is hidden, deleted or not yours")
        }
        Ok(ApplyOutcome::TestRequired) => {
            failed("the vacancy asks for a test, which only hh.ru itself can take: apply there")
        }
        Ok(ApplyOutcome::CaptchaRequired { .. }) => {
            failed("HH.ru asks for a captcha: apply on hh.ru")
        }
        Ok(ApplyOutcome::Rejected { reason }) => failed(&format!("HH.ru refused: {reason}")),
        Err(crate::hh::TokenError::Hh(error))
            if error.is_retryable() && !task.is_last_attempt() =>
        {
            // Nothing is known to have reached HH; a repeat is told apart by HH itself.
            return Err(TaskError::retry(error));
        }
        Err(crate::hh::TokenError::Store(error)) if !task.is_last_attempt() => {
            return Err(store_error(error));
        }
        Err(error) => failed(&error.to_string()),
    };
    store
        .update_submission(user, id, &sending, &update)
        .await
        .map_err(store_error)?;
    Ok(Outcome::Complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_and_ends_at_utc_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 30).unwrap();
        assert_eq!(
            next_day(now),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            start_of_day(now),
            Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_posting_address_is_found_in_its_text() {
        let mut posting = NewJob {
            source: "push".into(),
            external_id: "1".into(),
            url: "https://jobs.example.org/1".into(),
            title: "Engineer".into(),
            company: None,
            locations: Vec::new(),
            remote: None,
            employment_type: None,
            seniority: None,
            salary: None,
            description_html: None,
            description_text: Some(
                "Write to us (jobs@acme.example.org). Or call. Not@this one".into(),
            ),
            skills: Vec::new(),
            published_at: None,
            expires_at: None,
        };
        assert_eq!(
            posting_address(&posting).as_deref(),
            Some("jobs@acme.example.org")
        );
        posting.description_text = Some("No address here; @handle is not one".into());
        assert_eq!(posting_address(&posting), None);
        posting.description_text = None;
        assert_eq!(posting_address(&posting), None);
    }
}
