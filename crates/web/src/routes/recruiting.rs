//! Recruiters: seekers share resumes with them; they rank the resumes they may see (shared with
//! them, or uploaded by them) against a posting, and upload resumes in batches that are parsed
//! in the background with a progress report.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use domain::{
    AuditOutcome, Email, JobId, Permission, ResumeId, ResumeStatus, Role, Seniority, UserId,
};
use search::index::matching::{FeatureScore, Profile};
use serde::{Deserialize, Serialize};
use store::Resume;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::{ApiJson, ApiQuery, UuidPath},
    resumes::{self, MAX_BATCH_BYTES, MAX_BATCH_FILES, UploadError},
    routes::{
        auth::audit,
        resumes::{ResumeView, invalid, multipart_error, read_file_part, too_large, upload_error},
    },
    state::AppState,
};

/// Resumes one ranking reads at most (the newest).
const MAX_CANDIDATES: u32 = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// The recruiter's account e-mail address.
    #[schema(example = "recruiter@example.org")]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    pub recruiter_id: Uuid,
    pub recruiter_email: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::ResumeShare> for ShareView {
    fn from(share: store::ResumeShare) -> Self {
        Self {
            recruiter_id: share.recruiter_id.as_uuid(),
            recruiter_email: share.recruiter_email,
            created_at: share.created_at,
        }
    }
}

async fn shares_of(state: &AppState, owner: UserId, id: ResumeId) -> ApiResult<Vec<ShareView>> {
    Ok(state
        .store()
        .resume_shares(owner, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such resume"))?
        .into_iter()
        .map(ShareView::from)
        .collect())
}

/// Shares a resume with a recruiter, who can then rank it against postings (its skills,
/// experience, level and text are what they see). Sharing again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/resumes/{id}/shares",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    request_body = ShareRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Everyone the resume is shared with now", body = [ShareView]),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's, or no recruiter with that address", body = ErrorResponse),
    )
)]
pub async fn share_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<ShareRequest>,
) -> ApiResult<Json<Vec<ShareView>>> {
    caller.require(Permission::ManageOwnResumes)?;
    let id = ResumeId::from_uuid(id);
    // Unknown addresses and accounts that are not recruiters get the same answer.
    let no_recruiter = || ApiError::not_found("no recruiter account has this e-mail address");
    let email = Email::parse(&request.email).map_err(|_| no_recruiter())?;
    let recruiter = state
        .store()
        .user_by_email(&email)
        .await?
        .filter(|user| user.role == Role::Recruiter && user.id != caller.user_id)
        .ok_or_else(no_recruiter)?;
    if !state
        .store()
        .share_resume(caller.user_id, id, recruiter.id, Utc::now())
        .await?
    {
        return Err(ApiError::not_found("no such resume"));
    }
    audit(
        &state,
        &client,
        "resumes.share",
        AuditOutcome::Success,
        Some(caller.user_id),
        Some(recruiter.id),
        vec![("resume_id", id.to_string())],
    )
    .await;
    Ok(Json(shares_of(&state, caller.user_id, id).await?))
}

/// Who a resume is shared with.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}/shares",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The shares, oldest first", body = [ShareView]),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
    )
)]
pub async fn list_shares(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<Vec<ShareView>>> {
    caller.require(Permission::ManageOwnResumes)?;
    Ok(Json(
        shares_of(&state, caller.user_id, ResumeId::from_uuid(id)).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct SharePath {
    id: String,
    recruiter_id: String,
}

/// Stops sharing a resume with a recruiter.
#[utoipa::path(
    delete,
    path = "/api/v1/resumes/{id}/shares/{recruiter_id}",
    tag = "resumes",
    params(
        ("id" = Uuid, Path, description = "The resume's id"),
        ("recruiter_id" = Uuid, Path, description = "The recruiter's user id"),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "No longer shared"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such share of the caller's resume", body = ErrorResponse),
        (status = 422, description = "An id that is not a UUID", body = ErrorResponse),
    )
)]
pub async fn unshare_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    axum::extract::Path(path): axum::extract::Path<SharePath>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageOwnResumes)?;
    let parse = |field: &str, text: &str| {
        text.parse::<Uuid>()
            .map_err(|_| invalid(field, "must be a UUID"))
    };
    let id = ResumeId::from_uuid(parse("id", &path.id)?);
    let recruiter = UserId::from_uuid(parse("recruiter_id", &path.recruiter_id)?);
    if !state
        .store()
        .unshare_resume(caller.user_id, id, recruiter)
        .await?
    {
        return Err(ApiError::not_found("no such share"));
    }
    audit(
        &state,
        &client,
        "resumes.unshare",
        AuditOutcome::Success,
        Some(caller.user_id),
        Some(recruiter),
        vec![("resume_id", id.to_string())],
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CandidatesQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    pub resume_id: Uuid,
    /// The resume owner's address (a seeker who shared it; the caller for their own uploads).
    pub owner_email: String,
    /// Whether it was shared with the caller (otherwise the caller uploaded it).
    pub shared: bool,
    pub file_name: String,
    pub skills: Vec<String>,
    pub years_experience: Option<f32>,
    pub seniority: Option<Seniority>,
    /// From 0 to 1: the score the seeker's own matches would give this posting.
    pub score: f32,
    /// The posting's skills the resume has, rarest first.
    pub matched_skills: Vec<String>,
    /// The posting's skills the resume lacks, rarest first.
    pub missing_skills: Vec<String>,
    pub features: Vec<FeatureScore>,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateList {
    pub job_id: Uuid,
    /// Best first.
    pub items: Vec<CandidateView>,
    /// Resumes left out because they are not parsed (yet) or have no skills.
    pub unranked: usize,
}

/// The resumes the caller may see — shared with them, or uploaded by them — ranked against a
/// posting, each with why it ranks there. For recruiters and administrators.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/candidates",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The posting's id"), CandidatesQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The candidates, best first", body = CandidateList),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a recruiter, or an API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such open posting", body = ErrorResponse),
        (status = 422, description = "A bad limit", body = ErrorResponse),
    )
)]
pub async fn job_candidates(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiQuery(query): ApiQuery<CandidatesQuery>,
) -> ApiResult<Json<CandidateList>> {
    caller.require(Permission::RankCandidates)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(invalid("limit", "must be from 1 to 200"));
    }
    let job = JobId::from_uuid(id);
    let resumes = state
        .store()
        .resumes_for_recruiter(caller.user_id, MAX_CANDIDATES)
        .await?;
    let (rankable, unranked): (Vec<Resume>, Vec<Resume>) = resumes
        .into_iter()
        .partition(|r| r.status == ResumeStatus::Parsed && !r.skills.is_empty());
    let profiles: Vec<(usize, Profile)> = rankable
        .iter()
        .enumerate()
        .map(|(i, resume)| (i, resumes::profile_of(resume, state.key_ring())))
        .collect();
    let index = Arc::clone(state.search());
    let weights = state.settings().match_weights.clone();
    let ranked = tokio::task::spawn_blocking(move || {
        index.rank_profiles(job, &profiles, &weights, Utc::now())
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| ApiError::internal(&e))?
    .ok_or_else(|| ApiError::not_found("no such open posting"))?;
    let mut items = Vec::with_capacity(limit as usize);
    // Owners' addresses, read once per owner however many resumes they shared.
    let mut owners =
        std::collections::HashMap::from([(caller.user_id, caller.user.email.as_str().to_owned())]);
    for (i, scored) in ranked.into_iter().take(limit as usize) {
        let resume = &rankable[i];
        let shared = resume.user_id != caller.user_id;
        let owner_email = match owners.get(&resume.user_id) {
            Some(email) => email.clone(),
            None => {
                let email = state
                    .store()
                    .user_by_id(resume.user_id)
                    .await?
                    .map(|user| user.email.as_str().to_owned())
                    .unwrap_or_default();
                owners.insert(resume.user_id, email.clone());
                email
            }
        };
        items.push(CandidateView {
            resume_id: resume.id.as_uuid(),
            owner_email,
            shared,
            file_name: resume.file_name.clone(),
            skills: resume.skills.clone(),
            years_experience: resume.years_experience,
            seniority: resume.seniority,
            score: scored.score,
            matched_skills: scored.matched_skills,
            missing_skills: scored.missing_skills,
            features: scored.features,
            reason: scored.reason,
        });
    }
    Ok(Json(CandidateList {
        job_id: id,
        items,
        unranked: unranked.len(),
    }))
}

/// A batch upload as the OpenAPI document shows it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the multipart form
pub struct BatchUpload {
    /// Up to 50 resume files (PDF, DOCX, TXT or Markdown), each up to 10 MiB, 50 MiB in all,
    /// as repeated `file` parts.
    // Typed as one binary part, as the single upload's is: a part's bytes are a file whatever
    // they look like, and an array type had API fuzzers take a file of digits for a malformed
    // array that should have been refused.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAccepted {
    pub file_name: String,
    pub resume_id: Uuid,
    /// The parse task.
    pub task_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRefused {
    pub file_name: String,
    /// unsupported_file, empty_file or payload_too_large.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchStarted {
    /// Follow it at `/api/v1/resumes/batches/{batch_id}`.
    pub batch_id: Uuid,
    pub accepted: Vec<BatchAccepted>,
    /// Files that were not stored, and why; the others were.
    pub refused: Vec<BatchRefused>,
}

/// Uploads many resumes at once (a recruiter's candidates). Each file is checked, stored
/// encrypted and parsed in the background like a single upload; a file that is refused does
/// not stop the others.
#[utoipa::path(
    post,
    path = "/api/v1/resumes/batch",
    tag = "resumes",
    request_body(content = BatchUpload, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "Stored; being read", body = BatchStarted),
        (status = 400, description = "Not a multipart form with `file` parts, or more than 50", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a recruiter, or an API key without the resumes scope", body = ErrorResponse),
        (status = 413, description = "More than 50 MiB in all", body = ErrorResponse),
    )
)]
pub async fn upload_batch(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<BatchStarted>)> {
    caller.require(Permission::RankCandidates)?;
    let mut multipart = multipart.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let batch_id = Uuid::now_v7();
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    let mut files = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        if field.name() != Some("file") {
            continue;
        }
        files += 1;
        if files > MAX_BATCH_FILES {
            // What was stored stays stored (and listed in the batch); the rest is refused.
            return Err(ApiError::bad_request(format!(
                "a batch holds at most {MAX_BATCH_FILES} files"
            )));
        }
        let name = field.file_name().map(str::to_owned);
        let shown = resumes::clean_file_name(name.as_deref());
        let Some(bytes) = read_file_part(&mut field).await? else {
            let error = too_large();
            refused.push(BatchRefused {
                file_name: shown,
                code: error.code.to_owned(),
                message: error.message,
            });
            continue;
        };
        match resumes::upload(
            state.store(),
            state.files(),
            state.key_ring(),
            caller.user_id,
            name.as_deref(),
            bytes,
            Some(batch_id),
        )
        .await
        {
            Ok((resume, task)) => accepted.push(BatchAccepted {
                file_name: resume.file_name,
                resume_id: resume.id.as_uuid(),
                task_id: task.0,
            }),
            Err(UploadError::Rejected(e)) if e.is_client_error() => {
                let error = upload_error(UploadError::Rejected(e));
                refused.push(BatchRefused {
                    file_name: shown,
                    code: error.code.to_owned(),
                    message: error.message,
                });
            }
            Err(other) => return Err(upload_error(other)),
        }
    }
    if files == 0 {
        return Err(ApiError::bad_request("the form has no `file` part"));
    }
    audit(
        &state,
        &client,
        "resumes.batch_upload",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![
            ("batch_id", batch_id.to_string()),
            ("accepted", accepted.len().to_string()),
            ("refused", refused.len().to_string()),
        ],
    )
    .await;
    Ok((
        StatusCode::ACCEPTED,
        Json(BatchStarted {
            batch_id,
            accepted,
            refused,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchProgress {
    pub batch_id: Uuid,
    pub total: usize,
    pub pending: usize,
    pub parsed: usize,
    pub failed: usize,
    /// Whether every file has been read (parsed or failed).
    pub done: bool,
    pub resumes: Vec<ResumeView>,
}

/// How far a batch upload has been read.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/batches/{id}",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The batch's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The batch's progress", body = BatchProgress),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a recruiter, or an API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such batch of the caller's", body = ErrorResponse),
    )
)]
pub async fn batch_progress(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<BatchProgress>> {
    caller.require(Permission::RankCandidates)?;
    let resumes = state.store().resumes_in_batch(caller.user_id, id).await?;
    if resumes.is_empty() {
        return Err(ApiError::not_found("no such batch"));
    }
    let count = |status| resumes.iter().filter(|r| r.status == status).count();
    let (pending, parsed, failed) = (
        count(ResumeStatus::Pending),
        count(ResumeStatus::Parsed),
        count(ResumeStatus::Failed),
    );
    Ok(Json(BatchProgress {
        batch_id: id,
        total: resumes.len(),
        pending,
        parsed,
        failed,
        done: pending == 0,
        resumes: resumes.iter().map(ResumeView::from).collect(),
    }))
}

/// The largest batch-upload request: the files and their multipart framing.
pub(crate) const BATCH_BODY_LIMIT: usize = MAX_BATCH_BYTES + 64 * 1024;
