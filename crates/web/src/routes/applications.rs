//! Applications: a seeker saves jobs and moves applications through the pipeline, with notes
//! and full history; generates a cover letter, CV summary and interview questions; and submits
//! once, through the channel the job allows, after explicit confirmation.

use auth::KeyRing;
use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{
    ApplicationEvent, ApplicationId, ApplicationStatus, ApplyChannel, AuditOutcome, Email, Funnel,
    JobId, Permission, ResumeId, SubmissionState, UserId,
};
use serde::{Deserialize, Serialize};
use store::{
    Backend, StoreError,
    applications::{
        Application, ApplicationFilter, DocumentVersion, MoveOutcome, NOTE_MAX_CHARS,
        NewApplication, NewDocuments, NewSubmission, StoredEvent, Submission, SubmissionUpdate,
        SubmitOutcome,
    },
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    applications as apply,
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::{ApiJson, ApiQuery, UuidPath},
    routes::{
        auth::{append_audit, audit_event},
        resumes::invalid,
    },
    state::AppState,
};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
/// Longest edited cover letter and CV summary, in characters.
const LETTER_MAX_CHARS: usize = 20_000;
const SUMMARY_MAX_CHARS: usize = 5_000;
const QUESTIONS_MAX: usize = 30;
const QUESTION_MAX_CHARS: usize = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobSummary {
    pub title: String,
    pub company: Option<String>,
    pub url: String,
    /// The address an e-mail submission goes to when no `to` is given: the first one the
    /// posting names, so the user sees it before confirming. Absent when the posting names
    /// none (or is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionView {
    pub channel: ApplyChannel,
    pub state: SubmissionState,
    /// The task that carries it out.
    pub task_id: Option<Uuid>,
    /// E-mail: the address the application went to.
    pub to_address: Option<String>,
    /// Link (and HH.ru's "direct" vacancies): the page to apply on; confirm here once done.
    pub apply_url: Option<String>,
    /// HH.ru: the HH.ru resume it goes with.
    pub hh_resume_id: Option<String>,
    /// E-mail: the message's Message-ID.
    pub external_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Submission> for SubmissionView {
    fn from(s: Submission) -> Self {
        Self {
            channel: s.channel,
            state: s.state,
            task_id: s.task_id,
            to_address: s.to_address,
            apply_url: s.apply_url,
            hh_resume_id: s.hh_resume_id,
            external_id: s.external_id,
            error: s.error,
            created_at: s.created_at,
            updated_at: s.updated_at,
            sent_at: s.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: Uuid,
    pub job_id: Uuid,
    pub resume_id: Option<Uuid>,
    pub status: ApplicationStatus,
    pub job: JobSummary,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub submission: Option<SubmissionView>,
}

impl From<Application> for ApplicationView {
    fn from(a: Application) -> Self {
        Self {
            id: a.id.as_uuid(),
            job_id: a.job_id.as_uuid(),
            resume_id: a.resume_id.map(|r| r.as_uuid()),
            status: a.status,
            job: JobSummary {
                title: a.job_title,
                company: a.job_company,
                url: a.job_url,
                apply_email: None,
            },
            created_at: a.created_at,
            updated_at: a.updated_at,
            applied_at: a.applied_at,
            closed_at: a.closed_at,
            submission: a.submission.map(SubmissionView::from),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplicationRequest {
    pub job_id: Uuid,
    /// The resume to apply with (one of the caller's).
    pub resume_id: Option<Uuid>,
    /// `saved` (the default) or `applied`, for an application made elsewhere.
    pub status: Option<ApplicationStatus>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplicationRequest {
    /// The status to move to; the pipeline refuses impossible moves with 409.
    pub status: ApplicationStatus,
    /// Kept with the move in the history.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<ApplicationStatus>,
    pub job_id: Option<Uuid>,
    /// Cursor: the `next_before` of the previous page.
    pub before: Option<Uuid>,
    /// At most 200; 50 by default.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationList {
    pub applications: Vec<ApplicationView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InterviewQuestionView {
    pub question: String,
    pub topic: String,
    /// Why it is likely to come up.
    pub why: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentsView {
    pub version: i64,
    /// `template` (written without a language model), `llm` or `edited`.
    pub generator: String,
    pub model: Option<String>,
    pub cover_letter: String,
    pub cv_summary: String,
    pub interview_questions: Vec<InterviewQuestionView>,
    pub created_at: DateTime<Utc>,
}

impl DocumentsView {
    /// A stored version, opened for its owner.
    pub fn open(keys: &KeyRing, d: DocumentVersion) -> ApiResult<Self> {
        let content = apply::open_documents(keys, &d).map_err(|e| ApiError::internal(&e))?;
        Ok(Self {
            version: d.version,
            generator: d.generator,
            model: d.model,
            cover_letter: content.cover_letter,
            cv_summary: content.cv_summary,
            // Written by this server only; anything unreadable shows as no questions.
            interview_questions: serde_json::from_value(content.interview_questions)
                .unwrap_or_default(),
            created_at: d.created_at,
        })
    }
}

/// A history, its notes opened for their owner.
pub fn open_events(keys: &KeyRing, events: Vec<StoredEvent>) -> ApiResult<Vec<ApplicationEvent>> {
    events
        .into_iter()
        .map(|event| apply::open_event(keys, event).map_err(|e| ApiError::internal(&e)))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditDocumentsRequest {
    pub cover_letter: String,
    pub cv_summary: String,
    pub interview_questions: Vec<InterviewQuestionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskAccepted {
    pub task_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub channel: ApplyChannel,
    /// Must be true: nothing is ever sent without the user's explicit confirmation.
    pub confirm: bool,
    /// E-mail: where to send; by default the address the posting names.
    pub to: Option<String>,
    /// HH.ru: which of the user's HH.ru resumes (`GET /api/v1/hh/resumes`) to apply with.
    pub hh_resume_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitView {
    pub task_id: Option<Uuid>,
    /// True when this user had submitted to this job before: nothing new was queued.
    pub already_submitted: bool,
    pub submission: Option<SubmissionView>,
}

fn not_found() -> ApiError {
    ApiError::not_found("no such application")
}

fn check_note(field: &str, note: Option<&str>) -> ApiResult<()> {
    match note {
        Some(text) if text.chars().count() > NOTE_MAX_CHARS => Err(invalid(
            field,
            format!("at most {NOTE_MAX_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// Saves a job as an application (or records one made elsewhere as applied).
#[utoipa::path(
    post,
    path = "/api/v1/applications",
    tag = "applications",
    request_body = CreateApplicationRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = ApplicationView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the applications scope", body = ErrorResponse),
        (status = 404, description = "No such job, or no such resume of the caller's", body = ErrorResponse),
        (status = 409, description = "The caller has an application for this job already (`application_exists`)", body = ErrorResponse),
        (status = 422, description = "A status other than saved or applied, or an oversized note", body = ErrorResponse),
    )
)]
pub async fn create_application(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiJson(request): ApiJson<CreateApplicationRequest>,
) -> ApiResult<(StatusCode, Json<ApplicationView>)> {
    caller.require(Permission::ManageOwnApplications)?;
    let status = request.status.unwrap_or(ApplicationStatus::Saved);
    if !matches!(
        status,
        ApplicationStatus::Saved | ApplicationStatus::Applied
    ) {
        return Err(invalid("status", "a new application is saved or applied"));
    }
    check_note("note", request.note.as_deref())?;
    let new = NewApplication {
        id: ApplicationId::new(),
        user_id: caller.user_id,
        job_id: JobId::from_uuid(request.job_id),
        resume_id: request.resume_id.map(ResumeId::from_uuid),
        status,
        note: apply::seal_note(state.key_ring(), request.note.as_deref()),
        created_at: Utc::now(),
    };
    match state.store().create_application(&new).await {
        Ok(application) => Ok((StatusCode::CREATED, Json(application.into()))),
        Err(StoreError::Conflict("applications.user_job")) => Err(ApiError::conflict(
            "application_exists",
            "you have an application for this job already",
        )),
        Err(StoreError::Conflict("applications.job")) => Err(ApiError::not_found("no such job")),
        Err(StoreError::Conflict("applications.resume")) => {
            Err(ApiError::not_found("no such resume"))
        }
        Err(other) => Err(other.into()),
    }
}

/// The caller's applications, newest first, optionally of one status or job.
#[utoipa::path(
    get,
    path = "/api/v1/applications",
    tag = "applications",
    params(ListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "A page of applications", body = ApplicationList),
        (status = 400, description = "A malformed filter", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
    )
)]
pub async fn list_applications(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ApplicationList>> {
    caller.require(Permission::ManageOwnApplications)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let filter = ApplicationFilter {
        status: query.status,
        job_id: query.job_id.map(JobId::from_uuid),
        before: query.before.map(ApplicationId::from_uuid),
        limit: limit + 1,
    };
    let mut applications = state.store().applications(caller.user_id, &filter).await?;
    let next_before = if applications.len() > limit as usize {
        applications.truncate(limit as usize);
        applications.last().map(|a| a.id.as_uuid())
    } else {
        None
    };
    // One read for the page's postings, for the address each e-mail submission would use.
    let ids: Vec<JobId> = applications.iter().map(|a| a.job_id).collect();
    let addresses: std::collections::HashMap<JobId, String> = if ids.is_empty() {
        Default::default()
    } else {
        state
            .store()
            .jobs_by_ids(&ids)
            .await?
            .into_iter()
            .filter_map(|job| Some((job.id, apply::posting_address(&job.posting)?)))
            .collect()
    };
    let applications = applications
        .into_iter()
        .map(|application| {
            let apply_email = addresses.get(&application.job_id).cloned();
            let mut view = ApplicationView::from(application);
            view.job.apply_email = apply_email;
            view
        })
        .collect();
    Ok(Json(ApplicationList {
        applications,
        next_before,
    }))
}

/// One of the caller's applications.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The application", body = ApplicationView),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
    )
)]
pub async fn get_application(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<ApplicationView>> {
    caller.require(Permission::ManageOwnApplications)?;
    let application = state
        .store()
        .application(caller.user_id, ApplicationId::from_uuid(id))
        .await?
        .ok_or_else(not_found)?;
    let job = state.store().job(application.job_id).await?;
    let mut view = ApplicationView::from(application);
    view.job.apply_email = job.and_then(|job| apply::posting_address(&job.posting));
    Ok(Json(view))
}

/// Moves an application along the pipeline (saved → applied → interviewing → offer →
/// accepted; rejected or withdrawn on the way). Moving to the status it has changes nothing.
#[utoipa::path(
    patch,
    path = "/api/v1/applications/{id}",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    request_body = UpdateApplicationRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The application after the move", body = ApplicationView),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
        (status = 409, description = "The pipeline does not allow this move (`invalid_transition`)", body = ErrorResponse),
    )
)]
pub async fn update_application(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<UpdateApplicationRequest>,
) -> ApiResult<Json<ApplicationView>> {
    caller.require(Permission::ManageOwnApplications)?;
    check_note("note", request.note.as_deref())?;
    let outcome = state
        .store()
        .move_application(
            caller.user_id,
            ApplicationId::from_uuid(id),
            request.status,
            apply::seal_note(state.key_ring(), request.note.as_deref()).as_ref(),
            Utc::now(),
        )
        .await?;
    match outcome {
        MoveOutcome::Moved(application) | MoveOutcome::Unchanged(application) => {
            Ok(Json(application.into()))
        }
        MoveOutcome::Refused(refused) => Err(ApiError::conflict(
            "invalid_transition",
            refused.to_string(),
        )),
        MoveOutcome::NotFound => Err(not_found()),
    }
}

/// Deletes an application with its history and documents. A submission it made is kept, so
/// the same job is never submitted to twice.
#[utoipa::path(
    delete,
    path = "/api/v1/applications/{id}",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
    )
)]
pub async fn delete_application(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageOwnApplications)?;
    if state
        .store()
        .delete_application(caller.user_id, ApplicationId::from_uuid(id))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// Adds a note to an application's history.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/notes",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    request_body = NoteRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 201, description = "The history with the note", body = [ApplicationEvent]),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
        (status = 422, description = "An empty or oversized note", body = ErrorResponse),
    )
)]
pub async fn add_note(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<NoteRequest>,
) -> ApiResult<(StatusCode, Json<Vec<ApplicationEvent>>)> {
    caller.require(Permission::ManageOwnApplications)?;
    let text = request.text.trim();
    if text.is_empty() {
        return Err(invalid("text", "a note needs some text"));
    }
    check_note("text", Some(text))?;
    let id = ApplicationId::from_uuid(id);
    let Some(note) = apply::seal_note(state.key_ring(), Some(text)) else {
        return Err(invalid("text", "a note needs some text"));
    };
    if !state
        .store()
        .add_application_note(caller.user_id, id, &note, Utc::now())
        .await?
    {
        return Err(not_found());
    }
    let events = state
        .store()
        .application_events(caller.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(open_events(state.key_ring(), events)?),
    ))
}

/// An application's full history, oldest first: creation, moves, notes, documents and
/// submission outcomes.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/events",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The history", body = [ApplicationEvent]),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
    )
)]
pub async fn application_events(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<Vec<ApplicationEvent>>> {
    caller.require(Permission::ManageOwnApplications)?;
    let events = state
        .store()
        .application_events(caller.user_id, ApplicationId::from_uuid(id))
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(open_events(state.key_ring(), events)?))
}

/// The caller's funnel: how many applications reached each stage, the conversion between
/// stages and the median days it took.
#[utoipa::path(
    get,
    path = "/api/v1/applications/funnel",
    tag = "applications",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The funnel", body = Funnel),
        (status = 401, description = "Not signed in", body = ErrorResponse),
    )
)]
pub async fn funnel(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Funnel>> {
    caller.require(Permission::ManageOwnApplications)?;
    Ok(Json(
        state.store().application_funnel(caller.user_id).await?,
    ))
}

/// Writes a cover letter, a CV summary and likely interview questions for the application, in
/// the background (202 with the task). With a language model configured it writes them;
/// without one (or when it fails) a template does, and the version says which.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/documents",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 202, description = "Generation started", body = TaskAccepted),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
    )
)]
pub async fn generate_documents(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<(StatusCode, Json<TaskAccepted>)> {
    caller.require(Permission::ManageOwnApplications)?;
    let id = ApplicationId::from_uuid(id);
    state
        .store()
        .application(caller.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    let task = apply::generate_task(caller.user_id, id);
    let task_id = tasks::Queue::new(state.tasks().clone())
        .enqueue(task)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TaskAccepted { task_id: task_id.0 }),
    ))
}

/// Every version of the application's documents, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/documents",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The versions", body = [DocumentsView]),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
    )
)]
pub async fn list_documents(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<Vec<DocumentsView>>> {
    caller.require(Permission::ManageOwnApplications)?;
    let versions = state
        .store()
        .documents(caller.user_id, ApplicationId::from_uuid(id))
        .await?
        .ok_or_else(not_found)?;
    let keys = state.key_ring();
    Ok(Json(
        versions
            .into_iter()
            .map(|version| DocumentsView::open(keys, version))
            .collect::<ApiResult<_>>()?,
    ))
}

/// Saves the user's edit of the documents as a new version.
#[utoipa::path(
    put,
    path = "/api/v1/applications/{id}/documents",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    request_body = EditDocumentsRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 201, description = "The new version", body = DocumentsView),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
        (status = 422, description = "An empty or oversized document", body = ErrorResponse),
    )
)]
pub async fn edit_documents(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<EditDocumentsRequest>,
) -> ApiResult<(StatusCode, Json<DocumentsView>)> {
    caller.require(Permission::ManageOwnApplications)?;
    let too_long = |text: &str, max: usize| text.chars().count() > max;
    if request.cover_letter.trim().is_empty() || too_long(&request.cover_letter, LETTER_MAX_CHARS) {
        return Err(invalid(
            "cover_letter",
            format!("between 1 and {LETTER_MAX_CHARS} characters"),
        ));
    }
    if too_long(&request.cv_summary, SUMMARY_MAX_CHARS) {
        return Err(invalid(
            "cv_summary",
            format!("at most {SUMMARY_MAX_CHARS} characters"),
        ));
    }
    if request.interview_questions.len() > QUESTIONS_MAX
        || request.interview_questions.iter().any(|q| {
            q.question.trim().is_empty()
                || too_long(&q.question, QUESTION_MAX_CHARS)
                || too_long(&q.topic, QUESTION_MAX_CHARS)
                || too_long(&q.why, QUESTION_MAX_CHARS)
        })
    {
        return Err(invalid(
            "interview_questions",
            format!(
                "at most {QUESTIONS_MAX} questions, each non-empty and at most \
                 {QUESTION_MAX_CHARS} characters a field"
            ),
        ));
    }
    let content = apply::DocumentContent {
        cover_letter: request.cover_letter,
        cv_summary: request.cv_summary,
        interview_questions: serde_json::to_value(&request.interview_questions)
            .map_err(|e| ApiError::internal(&e))?,
    };
    let documents = NewDocuments {
        generator: "edited".to_owned(),
        note: None,
        model: None,
        content: apply::seal_documents(state.key_ring(), &content),
    };
    let version = state
        .store()
        .add_documents(
            caller.user_id,
            ApplicationId::from_uuid(id),
            &documents,
            Utc::now(),
        )
        .await?
        .ok_or_else(not_found)?;
    // What was just written, without opening it again.
    let view = DocumentsView {
        version: version.version,
        generator: version.generator,
        model: version.model,
        cover_letter: content.cover_letter,
        cv_summary: content.cv_summary,
        interview_questions: request.interview_questions,
        created_at: version.created_at,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// Submits the application through a channel, once: a second submit (another tab, a double
/// click, a re-created application for the same job) finds the first and queues nothing.
/// `link` gives the board's page to apply on (confirm at `…/confirm` once done); `email` sends
/// the latest cover letter and the resume file to the address the posting names (or `to`).
/// Needs a signed-in session and `"confirm": true`.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/submit",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    request_body = SubmitRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued; the task carries it out", body = SubmitView),
        (status = 200, description = "Submitted before: the earlier submission", body = SubmitView),
        (status = 403, description = "Not from a signed-in session", body = ErrorResponse),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
        (status = 409, description = "The channel is not available (`channel_unavailable`), the application is closed (`application_closed`) or no address is known (`no_address`)", body = ErrorResponse),
        (status = 422, description = "Not confirmed, or a malformed address", body = ErrorResponse),
    )
)]
pub async fn submit_application(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<SubmitRequest>,
) -> ApiResult<(StatusCode, Json<SubmitView>)> {
    caller.require_session(Permission::ManageOwnApplications)?;
    require_confirmation(request.confirm)?;
    let (status, view) = submit_one(
        &state,
        &client,
        caller.user_id,
        ApplicationId::from_uuid(id),
        request.channel,
        Destination {
            to: request.to.as_deref(),
            hh_resume_id: request.hh_resume_id.as_deref(),
        },
        None,
    )
    .await?;
    Ok((status, Json(view)))
}

fn require_confirmation(confirm: bool) -> ApiResult<()> {
    if confirm {
        Ok(())
    } else {
        Err(invalid(
            "confirm",
            "nothing is sent without your confirmation: set confirm to true",
        ))
    }
}

/// Where a submission goes, beyond its channel.
#[derive(Debug, Clone, Copy, Default)]
struct Destination<'a> {
    /// E-mail: the address given (else the posting's).
    to: Option<&'a str>,
    /// HH.ru: the user's HH.ru resume.
    hh_resume_id: Option<&'a str>,
}

/// Records one submission and its task (to run at `at`, or now); the earlier submission when
/// there is one.
async fn submit_one(
    state: &AppState,
    client: &Client,
    user: UserId,
    id: ApplicationId,
    channel: ApplyChannel,
    destination: Destination<'_>,
    at: Option<DateTime<Utc>>,
) -> ApiResult<(StatusCode, SubmitView)> {
    let to = destination.to;
    let store = state.store();
    let application = store.application(user, id).await?.ok_or_else(not_found)?;
    if let Some(existing) = application.submission {
        return Ok((StatusCode::OK, already(existing)));
    }
    if application.status.is_final() {
        return Err(ApiError::conflict(
            "application_closed",
            format!("the application is {}", application.status),
        ));
    }
    let settings = state.apply_settings();
    let mut hh_resume_id = None;
    let (to_address, apply_url) = match channel {
        ApplyChannel::Link => (None, Some(application.job_url.clone())),
        ApplyChannel::Email if !settings.email => {
            return Err(ApiError::conflict(
                "channel_unavailable",
                "this server does not send e-mail (no SMTP server is configured)",
            ));
        }
        ApplyChannel::Email => {
            let address = match to {
                Some(to) => Email::parse(to)
                    .map_err(|e| invalid("to", e.to_string()))?
                    .as_str()
                    .to_owned(),
                None => {
                    let job = store.job(application.job_id).await?;
                    job.and_then(|job| apply::posting_address(&job.posting))
                        .ok_or_else(|| {
                            ApiError::conflict(
                                "no_address",
                                "the posting names no e-mail address: give one in `to`",
                            )
                        })?
                }
            };
            (Some(address), None)
        }
        ApplyChannel::Hh => {
            if settings.hh.is_none() {
                return Err(ApiError::conflict(
                    "channel_unavailable",
                    "applying through HH.ru is not enabled on this server",
                ));
            }
            let resume = destination
                .hh_resume_id
                .filter(|r| {
                    !r.is_empty()
                        && r.len() <= 64
                        && r.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
                .ok_or_else(|| {
                    invalid(
                        "hh_resume_id",
                        "one of your HH.ru resumes' ids (GET /api/v1/hh/resumes)",
                    )
                })?;
            let from_hh = store
                .job(application.job_id)
                .await?
                .is_some_and(|job| job.posting.source == "hh");
            if !from_hh {
                return Err(ApiError::conflict(
                    "channel_unavailable",
                    "only HH.ru postings can be applied to through HH.ru",
                ));
            }
            if store.hh_connection(user).await?.is_none() {
                return Err(ApiError::conflict(
                    "hh_not_connected",
                    "connect your HH.ru account first (POST /api/v1/hh/connect)",
                ));
            }
            hh_resume_id = Some(resume.to_owned());
            (None, None)
        }
    };
    let audited = audit_event(
        client,
        "applications.submit",
        AuditOutcome::Success,
        Some(user),
        None,
        vec![
            ("application_id", id.to_string()),
            ("channel", channel.to_string()),
        ],
    );
    // On SQLite every write queues at one gate: the audit entry rides in the submission's own
    // write. On PostgreSQL the audit writer's group commit takes the chain's head once per batch,
    // where an entry in each submission would hold the head through every submission's commit.
    let in_write = store.backend() == Backend::Sqlite;
    let submission = NewSubmission {
        channel,
        to_address,
        apply_url,
        hh_resume_id,
        now: Utc::now(),
        audit: in_write.then(|| audited.clone()),
    };
    let mut task = apply::submit_task(user, id);
    if let Some(at) = at {
        task = task.with_scheduled_at(at);
    }
    match store
        .submit_application(user, id, &submission, task)
        .await?
    {
        SubmitOutcome::Queued {
            task_id,
            submission: recorded,
        } => {
            if !in_write {
                append_audit(state, audited).await;
            }
            Ok((
                StatusCode::ACCEPTED,
                SubmitView {
                    task_id: Some(task_id.0),
                    already_submitted: false,
                    submission: Some(recorded.into()),
                },
            ))
        }
        SubmitOutcome::AlreadySubmitted(existing) => Ok((StatusCode::OK, already(existing))),
        SubmitOutcome::NotFound => Err(not_found()),
    }
}

/// Most applications one batch submits.
pub const BATCH_MAX: usize = 50;
/// Default time between two submissions of a batch, so a run of e-mails does not look like
/// (or get treated as) a burst.
const DEFAULT_PACE_SECONDS: u32 = 60;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSubmitRequest {
    /// Up to 50 of the caller's applications, submitted in this order.
    pub application_ids: Vec<Uuid>,
    pub channel: ApplyChannel,
    /// Must be true: the user approves the whole batch.
    pub confirm: bool,
    /// Seconds between two submissions (default 60; 0 to 3600).
    pub pace_seconds: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    pub application_id: Uuid,
    /// `queued`, `already_submitted` or `error`.
    pub outcome: String,
    pub task_id: Option<Uuid>,
    /// When its submission runs (queued ones).
    pub scheduled_at: Option<DateTime<Utc>>,
    pub error: Option<BatchError>,
}

/// Why one application of a batch was not submitted.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchError {
    /// As in the error shape, e.g. `no_address`, `not_found`.
    pub code: String,
    pub message: String,
}

/// Submits several applications the user approved at once, one every `pace_seconds`, each
/// exactly as `…/{id}/submit` would (once per job, daily caps, the posting's address for
/// e-mail). One item's problem does not stop the others; each has its outcome.
#[utoipa::path(
    post,
    path = "/api/v1/applications/submit-batch",
    tag = "applications",
    request_body = BatchSubmitRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each application's outcome, in order", body = [BatchItem]),
        (status = 403, description = "Not from a signed-in session", body = ErrorResponse),
        (status = 422, description = "Not confirmed, empty, more than 50, repeated ids, or a pace out of range", body = ErrorResponse),
    )
)]
pub async fn submit_batch(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    ApiJson(request): ApiJson<BatchSubmitRequest>,
) -> ApiResult<Json<Vec<BatchItem>>> {
    caller.require_session(Permission::ManageOwnApplications)?;
    require_confirmation(request.confirm)?;
    let ids = &request.application_ids;
    if ids.is_empty() || ids.len() > BATCH_MAX {
        return Err(invalid(
            "application_ids",
            format!("between 1 and {BATCH_MAX} applications"),
        ));
    }
    if ids.iter().collect::<std::collections::HashSet<_>>().len() != ids.len() {
        return Err(invalid("application_ids", "an application is named twice"));
    }
    let pace = request.pace_seconds.unwrap_or(DEFAULT_PACE_SECONDS);
    if pace > 3600 {
        return Err(invalid("pace_seconds", "from 0 to 3600"));
    }
    let start = Utc::now();
    let mut items = Vec::with_capacity(ids.len());
    let mut queued = 0;
    for id in ids {
        let at = start + chrono::Duration::seconds(i64::from(pace) * queued);
        let outcome = submit_one(
            &state,
            &client,
            caller.user_id,
            ApplicationId::from_uuid(*id),
            request.channel,
            Destination::default(),
            (queued > 0).then_some(at),
        )
        .await;
        items.push(match outcome {
            Ok((StatusCode::ACCEPTED, view)) => {
                queued += 1;
                BatchItem {
                    application_id: *id,
                    outcome: "queued".into(),
                    task_id: view.task_id,
                    scheduled_at: Some(at),
                    error: None,
                }
            }
            Ok((_, view)) => BatchItem {
                application_id: *id,
                outcome: "already_submitted".into(),
                task_id: view.task_id,
                scheduled_at: None,
                error: None,
            },
            Err(error) => BatchItem {
                application_id: *id,
                outcome: "error".into(),
                task_id: None,
                scheduled_at: None,
                error: Some(BatchError {
                    code: error.code.to_owned(),
                    message: error.message,
                }),
            },
        });
    }
    Ok(Json(items))
}

fn already(existing: Submission) -> SubmitView {
    SubmitView {
        task_id: existing.task_id,
        already_submitted: true,
        submission: Some(existing.into()),
    }
}

/// Link channel: the user confirms they applied on the board's page; the application becomes
/// applied.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/confirm",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    security(("bearer" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "Confirmed", body = ApplicationView),
        (status = 404, description = "No such application of the caller's", body = ErrorResponse),
        (status = 409, description = "No link submission awaits confirmation (`nothing_to_confirm`)", body = ErrorResponse),
    )
)]
pub async fn confirm_submission(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<ApplicationView>> {
    caller.require_session(Permission::ManageOwnApplications)?;
    let id = ApplicationId::from_uuid(id);
    let store = state.store();
    let application = store
        .application(caller.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    let awaiting = application
        .submission
        .as_ref()
        .is_some_and(|s| s.state == SubmissionState::AwaitingConfirmation);
    let updated = if awaiting {
        store
            .update_submission(
                caller.user_id,
                id,
                &[SubmissionState::AwaitingConfirmation],
                &SubmissionUpdate::to(SubmissionState::Sent, Utc::now()),
            )
            .await?
    } else {
        None
    };
    updated.map(|a| Json(a.into())).ok_or_else(|| {
        ApiError::conflict(
            "nothing_to_confirm",
            "no submission of this application awaits confirmation",
        )
    })
}
