//! A seeker's resumes: upload (parsed in the background), read, edit the skills, delete; and
//! what they are good for — ranked job matches with explanations, a skill-gap report for a
//! target role, and salary estimates from comparable postings.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::{HeaderValue, StatusCode, header},
};
use chrono::{DateTime, Utc};
use domain::{
    AuditOutcome, Permission, Remote, ResumeId, ResumeKind, ResumeStatus, SalaryPeriod, Seniority,
};
use search::index::insights::{InsightError, SalaryEstimate, SkillDemand, SkillGap};
use search::index::matching::{FeatureScore, Profile};
use search::index::query::SearchError;
use serde::{Deserialize, Serialize};
use store::Resume;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::{ApiJson, ApiQuery, UuidPath},
    match_cache::MatchKey,
    resumes::{self, MAX_RESUME_BYTES, UploadError},
    routes::{
        auth::audit,
        jobs::{JobView, in_rank_order, list, salary_floor},
    },
    semantic,
    state::AppState,
};

/// A resume as its owner sees it (without its text; see the single-resume view).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResumeView {
    pub id: Uuid,
    pub file_name: String,
    /// The format found in the file's bytes (never the name's claim).
    pub kind: ResumeKind,
    pub size_bytes: i64,
    /// pending (being read), parsed, or failed (see `error`).
    pub status: ResumeStatus,
    /// Why no text could be read from the file.
    pub error: Option<String>,
    /// Canonical skill names, found in the text or as edited by the owner.
    pub skills: Vec<String>,
    /// Whether the owner edited the skills (a re-parse then keeps them).
    pub skills_edited: bool,
    pub years_experience: Option<f32>,
    pub seniority: Option<Seniority>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub parsed_at: Option<DateTime<Utc>>,
}

impl From<&Resume> for ResumeView {
    fn from(r: &Resume) -> Self {
        Self {
            id: r.id.as_uuid(),
            file_name: r.file_name.clone(),
            kind: r.kind,
            size_bytes: r.size_bytes,
            status: r.status,
            error: r.error.clone(),
            skills: r.skills.clone(),
            skills_edited: r.skills_edited,
            years_experience: r.years_experience,
            seniority: r.seniority,
            created_at: r.created_at,
            updated_at: r.updated_at,
            parsed_at: r.parsed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResumeDetail {
    #[serde(flatten)]
    pub resume: ResumeView,
    /// The text read from the file (once parsed).
    pub text: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResumeUploaded {
    pub resume: ResumeView,
    /// The parse task; follow it at `/api/v1/tasks/{task_id}`.
    pub task_id: Uuid,
}

/// The upload form.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ResumeUpload {
    /// The resume file: PDF, Word .docx, plain text or Markdown, at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

pub(crate) fn upload_error(error: UploadError) -> ApiError {
    match error {
        UploadError::Rejected(e) if e.is_client_error() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_file",
            e.to_string(),
        ),
        UploadError::Rejected(e) => ApiError::internal(&e),
        UploadError::Files(e) => ApiError::internal(&e),
        UploadError::Store(e) => e.into(),
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "a resume file may be at most {} MiB",
            MAX_RESUME_BYTES / 1024 / 1024
        ),
    )
}

/// Uploads a resume. The file's type is decided from its bytes; it is stored encrypted and its
/// text and skills are read in the background (202 with the parse task).
#[utoipa::path(
    post,
    path = "/api/v1/resumes",
    tag = "resumes",
    request_body(content = ResumeUpload, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "Stored; being read", body = ResumeUploaded),
        (status = 400, description = "Not a multipart form with one `file` part", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 413, description = "Larger than 10 MiB", body = ErrorResponse),
        (status = 422, description = "Empty, or not a PDF, DOCX, text or Markdown file", body = ErrorResponse),
    )
)]
pub async fn upload_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<ResumeUploaded>)> {
    caller.require(Permission::ManageOwnResumes)?;
    let mut multipart = multipart.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut upload: Option<(Option<String>, Vec<u8>)> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        if field.name() != Some("file") {
            continue;
        }
        if upload.is_some() {
            return Err(ApiError::bad_request("send one `file` part"));
        }
        let name = field.file_name().map(str::to_owned);
        let bytes = read_file_part(&mut field).await?.ok_or_else(too_large)?;
        upload = Some((name, bytes));
    }
    let (name, bytes) =
        upload.ok_or_else(|| ApiError::bad_request("the form has no `file` part"))?;
    let (resume, task_id) = resumes::upload(
        state.store(),
        state.files(),
        state.key_ring(),
        caller.user_id,
        name.as_deref(),
        bytes,
        None,
    )
    .await
    .map_err(upload_error)?;
    audit(
        &state,
        &client,
        "resumes.upload",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("resume_id", resume.id.to_string())],
    )
    .await;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResumeUploaded {
            resume: ResumeView::from(&resume),
            task_id: task_id.0,
        }),
    ))
}

/// A multipart part's bytes; `None` when it is larger than a resume may be (the rest of the
/// part is read and dropped, so the next part can be read).
pub(crate) async fn read_file_part(
    field: &mut axum::extract::multipart::Field<'_>,
) -> ApiResult<Option<Vec<u8>>> {
    let mut bytes = Some(Vec::new());
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if let Some(kept) = &mut bytes {
            if kept.len() + chunk.len() > MAX_RESUME_BYTES {
                bytes = None;
            } else {
                kept.extend_from_slice(&chunk);
            }
        }
    }
    Ok(bytes)
}

pub(crate) fn multipart_error(error: &axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request(format!(
            "the upload is not a valid multipart form: {}",
            error.body_text()
        ))
    }
}

async fn own_resume(state: &AppState, caller: &Authenticated, id: Uuid) -> ApiResult<Resume> {
    state
        .store()
        .resume(caller.user_id, ResumeId::from_uuid(id))
        .await?
        .ok_or_else(|| ApiError::not_found("no such resume"))
}

/// The caller's resumes, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/resumes",
    tag = "resumes",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The caller's resumes", body = [ResumeView]),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
    )
)]
pub async fn list_resumes(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Vec<ResumeView>>> {
    caller.require(Permission::ManageOwnResumes)?;
    let resumes = state.store().resumes(caller.user_id).await?;
    Ok(Json(resumes.iter().map(ResumeView::from).collect()))
}

/// One of the caller's resumes, with its text.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The resume", body = ResumeDetail),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
    )
)]
pub async fn get_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<ResumeDetail>> {
    caller.require(Permission::ManageOwnResumes)?;
    let resume = own_resume(&state, &caller, id).await?;
    Ok(Json(ResumeDetail {
        text: resumes::text_of(&resume, state.key_ring()),
        resume: ResumeView::from(&resume),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeEdit {
    /// The skills, as the owner wants them: known names and aliases ("k8s") become their
    /// canonical form; others are kept as written.
    #[schema(max_items = 200)]
    pub skills: Vec<String>,
}

/// Edits a resume's skills; later parses keep the edit.
#[utoipa::path(
    patch,
    path = "/api/v1/resumes/{id}",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    request_body = ResumeEdit,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The edited resume", body = ResumeView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
        (status = 422, description = "Too many skills, or one too long", body = ErrorResponse),
    )
)]
pub async fn edit_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(edit): ApiJson<ResumeEdit>,
) -> ApiResult<Json<ResumeView>> {
    caller.require(Permission::ManageOwnResumes)?;
    if edit.skills.len() > resumes::MAX_SKILLS {
        return Err(invalid(
            "skills",
            format!("at most {} skills", resumes::MAX_SKILLS),
        ));
    }
    if let Some(at) = edit.skills.iter().position(|s| {
        s.chars().count() > domain::SKILL_MAX_CHARS || s.chars().any(char::is_control)
    }) {
        return Err(invalid(
            &format!("skills[{at}]"),
            format!(
                "at most {} characters, no control characters",
                domain::SKILL_MAX_CHARS
            ),
        ));
    }
    let skills = resumes::canonical_skills(&edit.skills);
    let updated = state
        .store()
        .set_resume_skills(caller.user_id, ResumeId::from_uuid(id), &skills, Utc::now())
        .await?;
    if !updated {
        return Err(ApiError::not_found("no such resume"));
    }
    let resume = own_resume(&state, &caller, id).await?;
    Ok(Json(ResumeView::from(&resume)))
}

/// Deletes a resume and its file.
#[utoipa::path(
    delete,
    path = "/api/v1/resumes/{id}",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
    )
)]
pub async fn delete_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    UuidPath(id): UuidPath,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageOwnResumes)?;
    let deleted = resumes::delete(
        state.store(),
        state.files(),
        caller.user_id,
        ResumeId::from_uuid(id),
    )
    .await?;
    if !deleted {
        return Err(ApiError::not_found("no such resume"));
    }
    state.match_cache().forget(ResumeId::from_uuid(id));
    audit(
        &state,
        &client,
        "resumes.delete",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("resume_id", id.to_string())],
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![ErrorDetail::new(field, message)])
}

/// A resume that can be matched: parsed.
pub(crate) fn require_parsed(resume: &Resume) -> ApiResult<()> {
    match resume.status {
        ResumeStatus::Parsed => Ok(()),
        ResumeStatus::Pending => Err(ApiError::conflict(
            "resume_not_parsed",
            "the resume is still being read; try again in a moment",
        )),
        ResumeStatus::Failed => Err(ApiError::conflict(
            "resume_unreadable",
            format!(
                "no text could be read from this resume: {}",
                resume.error.as_deref().unwrap_or("unknown reason")
            ),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MatchQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Wanted working arrangements (comma-separated yes, no, hybrid).
    pub remote: Option<String>,
    /// Wanted place, e.g. `Berlin`.
    pub location: Option<String>,
    /// The least pay wanted (in `currency` per `salary_period`).
    #[param(minimum = 0)]
    pub salary_min: Option<f64>,
    /// ISO 4217; default USD.
    pub currency: Option<String>,
    /// Default year.
    pub salary_period: Option<SalaryPeriod>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobMatchView {
    pub job: JobView,
    /// From 0 to 1.
    pub score: f32,
    /// The posting's skills the resume has, rarest first (canonical names).
    pub matched_skills: Vec<String>,
    /// The posting's skills the resume lacks, rarest first.
    pub missing_skills: Vec<String>,
    /// Each feature's part in the score.
    pub features: Vec<FeatureScore>,
    /// Why it ranks here.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchList {
    pub items: Vec<JobMatchView>,
    /// Set when there is nothing to match on (no skills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `true` while the search index is being rebuilt from the database (a new data directory,
    /// or the first start of a version whose index differs): the answer covers only the
    /// postings indexed so far. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Jobs ranked for a resume, each with why it ranks where it does.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}/matches",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id"), MatchQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The best matches, best first", body = MatchList),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
        (status = 409, description = "The resume is not parsed (yet)", body = ErrorResponse),
    )
)]
pub async fn match_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiQuery(query): ApiQuery<MatchQuery>,
) -> ApiResult<Json<MatchList>> {
    caller.require(Permission::ManageOwnResumes)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be from 1 to 100"));
    }
    // Every parameter is checked before any answer, the empty one included.
    let remote: Vec<Remote> = list("remote", query.remote.as_deref())?;
    let salary_at_least = salary_floor(
        query.salary_min,
        query.currency.as_deref(),
        query.salary_period,
    )?;
    let resume = own_resume(&state, &caller, id).await?;
    require_parsed(&resume)?;
    if resume.skills.is_empty() {
        return Ok(Json(MatchList {
            items: Vec::new(),
            note: Some(
                "no skills were recognised in this resume; add them with PATCH /api/v1/resumes/{id}"
                    .to_owned(),
            ),
            partial: false,
        }));
    }
    // Read before the generation: a rebuild that ends meanwhile still gave a partial answer
    // (and a cached one belongs to a generation of the rebuild).
    let partial = state.search().is_rebuilding();
    let key = MatchKey {
        resume: resume.id,
        resume_changed: resume.updated_at,
        generation: state.search().generation(),
        request: format!(
            "limit={limit}&remote={remote:?}&location={:?}&salary={salary_at_least:?}",
            query.location
        ),
    };
    let mut note = None;
    // The page's postings, when ranking them again with the embedding model loaded them.
    let mut loaded = None;
    let matches = match state.match_cache().get(&key) {
        Some(matches) => matches,
        None => {
            let profile = Profile {
                remote,
                location: query.location,
                salary_at_least,
                ..resumes::profile_of(&resume, state.key_ring())
            };
            let semantic = state.settings().semantic.clone();
            // With an embedding model, a wider field is ranked again with it.
            let wanted = match semantic {
                Some(_) => (limit as usize * 2).min(100),
                None => limit as usize,
            };
            let resume_text = semantic::resume_text(&resume.skills, &profile.text);
            let index = Arc::clone(state.search());
            let weights = state.settings().match_weights.clone();
            let ranking = weights.clone();
            let mut matches = tokio::task::spawn_blocking(move || {
                index.match_profile(&profile, &ranking, wanted, Utc::now())
            })
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))?;
            let mut complete = true;
            if let Some(semantic) = semantic {
                let mut ranked = in_rank_order(&state, matches, |m| m.id).await?;
                let version = format!("{}:{}", resume.id, resume.updated_at.timestamp_micros());
                if let Err(error) = semantic
                    .fuse(&weights, version, resume_text, &mut ranked)
                    .await
                {
                    // Ranked without it this time, and not remembered: the next ask tries again.
                    tracing::warn!(%error, "embedding model failed; matches ranked without it");
                    note = Some(
                        "the embedding model did not answer; ranked without text similarity"
                            .to_owned(),
                    );
                    complete = false;
                }
                ranked.truncate(limit as usize);
                matches = ranked.iter().map(|(found, _)| found.clone()).collect();
                loaded = Some(ranked);
            }
            let matches = Arc::new(matches);
            if complete {
                state.match_cache().insert(key, Arc::clone(&matches));
            }
            matches
        }
    };
    let ranked = match loaded {
        Some(ranked) => ranked,
        None => in_rank_order(&state, Arc::unwrap_or_clone(matches), |m| m.id).await?,
    };
    let items = ranked
        .into_iter()
        .map(|(m, job)| JobMatchView {
            job: JobView::from(job),
            score: m.score,
            matched_skills: m.matched_skills,
            missing_skills: m.missing_skills,
            features: m.features,
            reason: m.reason,
        })
        .collect();
    Ok(Json(MatchList {
        items,
        note,
        partial,
    }))
}

/// Seconds a client is asked to wait before asking again while the index is rebuilt.
const REBUILD_RETRY_AFTER: &str = "10";

/// `partial`: the index was being rebuilt, so "too few postings" may only mean "not indexed
/// yet": the answer is then 503 with `Retry-After`, not a 422 that says the data is lacking.
fn insight_error(error: InsightError, partial: bool) -> ApiError {
    match error {
        InsightError::TooFew { found } if partial => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "search_index_rebuilding",
            format!(
                "the search index is being rebuilt: {found} comparable posting(s) so far, too \
                 few to answer; try again shortly"
            ),
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from_static(REBUILD_RETRY_AFTER),
        ),
        InsightError::TooFew { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_few_postings",
            error.to_string(),
        ),
        InsightError::Search(SearchError::Invalid { field, message }) => invalid(field, message),
        InsightError::Search(SearchError::Index(e)) => ApiError::internal(&e),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GapQuery {
    /// The target role, e.g. `data engineer`: postings whose titles have these words.
    #[param(max_length = 200, example = "data engineer")]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkillGapView {
    pub role: String,
    /// Postings for the role the report rests on.
    pub postings: usize,
    /// The skills those postings ask for most, most asked first.
    pub skills: Vec<SkillDemand>,
    /// Those the resume lacks, most asked first.
    pub missing: Vec<SkillDemand>,
    /// `true` while the search index is being rebuilt from the database (a new data directory,
    /// or the first start of a version whose index differs): the answer covers only the
    /// postings indexed so far. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl From<SkillGap> for SkillGapView {
    fn from(gap: SkillGap) -> Self {
        Self {
            role: gap.role,
            postings: gap.postings,
            skills: gap.skills,
            missing: gap.missing,
            partial: false,
        }
    }
}

/// Which skills postings for a target role ask for, in what share of them, and which of those
/// the resume lacks.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}/skill-gap",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id"), GapQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The report", body = SkillGapView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
        (status = 409, description = "The resume is not parsed (yet)", body = ErrorResponse),
        (status = 422, description = "No role, or too few postings for it", body = ErrorResponse),
        (status = 503, description = "A dependency is unavailable or the request timed out, or the search index is being rebuilt and holds too few postings so far (`search_index_rebuilding`, with `Retry-After`); retry later", body = ErrorResponse),
    )
)]
pub async fn skill_gap(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiQuery(query): ApiQuery<GapQuery>,
) -> ApiResult<Json<SkillGapView>> {
    caller.require(Permission::ManageOwnResumes)?;
    let resume = own_resume(&state, &caller, id).await?;
    require_parsed(&resume)?;
    if query.role.chars().count() > 200 {
        return Err(invalid("role", "at most 200 characters"));
    }
    let index = Arc::clone(state.search());
    let partial = index.is_rebuilding();
    let gap = tokio::task::spawn_blocking(move || index.skill_gap(&query.role, &resume.skills))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| insight_error(e, partial))?;
    Ok(Json(SkillGapView {
        partial,
        ..gap.into()
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SalaryQuery {
    /// The role, e.g. `backend developer`.
    #[param(max_length = 200, example = "backend developer")]
    pub role: String,
    /// Only postings in this place.
    #[param(max_length = 200)]
    pub location: Option<String>,
    /// ISO 4217 code of the answer; default USD.
    pub currency: Option<String>,
    /// The period of the answer; default year.
    pub period: Option<SalaryPeriod>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalaryEstimateView {
    pub role: String,
    pub currency: String,
    pub period: SalaryPeriod,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    /// Postings with a stated salary the estimate rests on.
    pub postings: usize,
    /// `true` while the search index is being rebuilt from the database (a new data directory,
    /// or the first start of a version whose index differs): the answer covers only the
    /// postings indexed so far. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl From<SalaryEstimate> for SalaryEstimateView {
    fn from(e: SalaryEstimate) -> Self {
        Self {
            role: e.role,
            currency: e.currency,
            period: e.period,
            p25: e.p25,
            p50: e.p50,
            p75: e.p75,
            postings: e.postings,
            partial: false,
        }
    }
}

/// What postings for a role pay: quartiles of the middle of each stated range, across
/// currencies and periods (rates from configuration). Declines when fewer than five postings
/// state a salary.
#[utoipa::path(
    get,
    path = "/api/v1/salary-estimate",
    tag = "jobs",
    params(SalaryQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The estimate", body = SalaryEstimateView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the jobs:read scope", body = ErrorResponse),
        (status = 422, description = "No role, an unknown currency, or too few postings", body = ErrorResponse),
        (status = 503, description = "A dependency is unavailable or the request timed out, or the search index is being rebuilt and holds too few postings so far (`search_index_rebuilding`, with `Retry-After`); retry later", body = ErrorResponse),
    )
)]
pub async fn salary_estimate(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<SalaryQuery>,
) -> ApiResult<Json<SalaryEstimateView>> {
    caller.require(Permission::ReadJobs)?;
    if query.role.chars().count() > 200
        || query
            .location
            .as_ref()
            .is_some_and(|l| l.chars().count() > 200)
    {
        return Err(invalid("role", "at most 200 characters"));
    }
    let currency = domain::Currency::parse(query.currency.as_deref().unwrap_or("USD"))
        .map_err(|e| invalid("currency", e.to_string()))?;
    let period = query.period.unwrap_or(SalaryPeriod::Year);
    let index = Arc::clone(state.search());
    let partial = index.is_rebuilding();
    let estimate = tokio::task::spawn_blocking(move || {
        index.salary_estimate(
            &query.role,
            query.location.as_deref(),
            currency.as_str(),
            period,
        )
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| insight_error(e, partial))?;
    Ok(Json(SalaryEstimateView {
        partial,
        ..estimate.into()
    }))
}

/// Downloads a resume's original file, always as an attachment: for its owner, and for a
/// recruiter it is shared with (each such download is in the audit log).
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}/file",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The file as uploaded", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's or shared with them", body = ErrorResponse),
    )
)]
pub async fn download_resume(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    UuidPath(id): UuidPath,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    caller.require(Permission::ManageOwnResumes)?;
    let resume = match state
        .store()
        .resume(caller.user_id, ResumeId::from_uuid(id))
        .await?
    {
        Some(resume) => resume,
        None if caller.require(Permission::RankCandidates).is_ok() => {
            let shared = state
                .store()
                .resume_shared_with(caller.user_id, ResumeId::from_uuid(id))
                .await?
                .ok_or_else(|| ApiError::not_found("no such resume"))?;
            audit(
                &state,
                &client,
                "resumes.shared_download",
                AuditOutcome::Success,
                Some(caller.user_id),
                Some(shared.user_id),
                vec![("resume_id", id.to_string())],
            )
            .await;
            shared
        }
        None => return Err(ApiError::not_found("no such resume")),
    };
    let sealed = state
        .files()
        .get(&resume.file_key)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let row = resume.id.to_string();
    let bytes = state
        .key_ring()
        .open(&sealed, resumes::file_place(&row))
        .map_err(|e| ApiError::internal(&e))?
        .to_vec();
    // Bytes to save, never to render: an attachment of no particular type.
    let content_type = "application/octet-stream";
    // Only characters that need no quoting in a header.
    let ascii_name: String = resume
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii_name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
