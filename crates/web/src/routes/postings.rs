//! Postings recruiters publish on jobpilot itself (source `jobpilot`). A recruiter writes,
//! rewrites, closes and reopens their own; an administrator may act on any recruiter's. Everyone
//! signed in reads and searches them like any board's postings, and recruiters rank the resumes
//! shared with them against them (`GET /api/v1/jobs/{id}/candidates`).
//!
//! A posting goes through the same checks as a board's (sanitised HTML, skills found in its
//! text, validated fields) and the same duplicate detection: the same job already on a board
//! clusters with it.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{
    AuditOutcome, DIRECT_SOURCE, EmploymentType, Job, JobId, NewJob, Permission, Remote, Role,
    Salary, Seniority,
};
use serde::Deserialize;
use store::{JobFilter, UpsertOutcome};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::{ApiJson, ApiQuery, UuidPath},
    routes::{
        auth::audit,
        jobs::{DEFAULT_PAGE, JobList, JobView, MAX_PAGE, invalid, listing_page},
    },
    state::AppState,
};

/// A posting as its recruiter writes it. Its source (`jobpilot`), id at the source and
/// publication time are set by the server.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingRequest {
    #[schema(example = "Senior Rust Engineer")]
    pub title: String,
    #[schema(example = "Acme")]
    pub company: Option<String>,
    /// Where candidates apply: the posting's page on the company's site or applicant tracking
    /// system (http or https). An e-mail address in the description opens the e-mail channel.
    #[schema(example = "https://careers.example.org/rust-engineer")]
    pub url: String,
    #[serde(default)]
    pub locations: Vec<String>,
    pub remote: Option<Remote>,
    pub employment_type: Option<EmploymentType>,
    pub seniority: Option<Seniority>,
    pub salary: Option<Salary>,
    /// HTML; it is sanitised (no scripts, no event handlers, safe links).
    pub description_html: Option<String>,
    /// Plain text; derived from the HTML when left out.
    pub description_text: Option<String>,
    /// Required skills; found in the title and description when left out.
    #[serde(default)]
    pub skills: Vec<String>,
    /// When applications close; the posting stays open until its recruiter closes it.
    pub expires_at: Option<DateTime<Utc>>,
}

impl PostingRequest {
    fn into_posting(self, external_id: String, published_at: DateTime<Utc>) -> NewJob {
        NewJob {
            source: DIRECT_SOURCE.to_owned(),
            external_id,
            url: self.url,
            title: self.title,
            company: self.company,
            locations: self.locations,
            remote: self.remote,
            employment_type: self.employment_type,
            seniority: self.seniority,
            salary: self.salary,
            description_html: self.description_html,
            description_text: self.description_text,
            skills: self.skills,
            published_at: Some(published_at),
            expires_at: self.expires_at,
        }
    }
}

/// Checks and stores a posting of `owner`; returns it as stored.
async fn write_posting(
    state: &AppState,
    posting: NewJob,
    owner: domain::UserId,
    now: DateTime<Utc>,
) -> ApiResult<Job> {
    let mut write = sources::ingest::prepare(posting).map_err(|errors| {
        ApiError::validation(
            errors
                .into_iter()
                .map(|e| ErrorDetail::new(e.field, e.message))
                .collect(),
        )
    })?;
    write.owner = Some(owner);
    let outcomes = state
        .store()
        .upsert_jobs(
            std::slice::from_ref(&write),
            sources::normalize::NEAR_DUPLICATE_MAX_DISTANCE,
            now,
        )
        .await?;
    state.search_wake().notify_one();
    let id = outcomes
        .first()
        .map(|o: &UpsertOutcome| o.id)
        .ok_or_else(|| store::StoreError::Corrupt("no outcome for a stored posting".into()))?;
    stored(state, id).await
}

/// Refuses one more open posting of `owner` past `max_open_postings`.
async fn within_posting_limit(state: &AppState, owner: domain::UserId) -> ApiResult<()> {
    let limit = state.settings().max_open_postings;
    if state.store().count_open_owned_jobs(owner).await? >= limit {
        return Err(ApiError::conflict(
            "too_many_postings",
            format!("at most {limit} open postings per recruiter; close one first"),
        ));
    }
    Ok(())
}

async fn stored(state: &AppState, id: JobId) -> ApiResult<Job> {
    state
        .store()
        .job(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such job"))
}

/// The posting `id` if the caller may change it: its owner, or an administrator for any
/// recruiter's posting.
async fn owned_posting(state: &AppState, caller: &Authenticated, id: JobId) -> ApiResult<Job> {
    caller.require(Permission::PostJobs)?;
    let job = stored(state, id).await?;
    match job.owner_id {
        Some(owner) if owner == caller.user_id || caller.role == Role::Admin => Ok(job),
        _ if job.posting.source != DIRECT_SOURCE => Err(ApiError::forbidden(
            "postings from job boards change only through their source",
        )),
        Some(_) => Err(ApiError::forbidden(
            "only the recruiter who published this posting can change it",
        )),
        None => Err(ApiError::forbidden(
            "the account that published this posting is gone; it stays closed",
        )),
    }
}

async fn audit_posting(
    state: &AppState,
    client: &Client,
    caller: &Authenticated,
    action: &'static str,
    job: &Job,
) {
    audit(
        state,
        client,
        action,
        AuditOutcome::Success,
        Some(caller.user_id),
        job.owner_id.filter(|owner| *owner != caller.user_id),
        vec![("job_id", job.id.to_string())],
    )
    .await;
}

/// Publishes a job posting (recruiters and administrators). It is searchable within moments,
/// and recruiters rank shared resumes against it.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    request_body = PostingRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Published", body = JobView),
        (status = 400, description = "Malformed JSON", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a recruiter, or an API key without the jobs:write scope", body = ErrorResponse),
        (status = 409, description = "The recruiter has as many open postings as allowed", body = ErrorResponse),
        (status = 415, description = "Not a JSON body", body = ErrorResponse),
        (status = 422, description = "A field is missing or invalid; each is named", body = ErrorResponse),
    )
)]
pub async fn create_posting(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<PostingRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    caller.require(Permission::PostJobs)?;
    within_posting_limit(&state, caller.user_id).await?;
    let now = Utc::now();
    let posting = request.into_posting(Uuid::now_v7().to_string(), now);
    let job = write_posting(&state, posting, caller.user_id, now).await?;
    audit_posting(&state, &client, &caller, "jobs.publish", &job).await;
    Ok((StatusCode::CREATED, Json(job.into())))
}

/// Rewrites an open posting the caller published (an administrator: any recruiter's). Fields
/// left out become empty; the source, id and publication time stay.
#[utoipa::path(
    put,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    request_body = PostingRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The posting as now stored", body = JobView),
        (status = 400, description = "Malformed JSON", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not the posting's recruiter, a board's posting, or an API key without the jobs:write scope", body = ErrorResponse),
        (status = 404, description = "No such job", body = ErrorResponse),
        (status = 409, description = "The posting is closed; reopen it first", body = ErrorResponse),
        (status = 415, description = "Not a JSON body", body = ErrorResponse),
        (status = 422, description = "A field is missing or invalid; each is named", body = ErrorResponse),
    )
)]
pub async fn update_posting(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<PostingRequest>,
) -> ApiResult<Json<JobView>> {
    let current = owned_posting(&state, &caller, JobId::from_uuid(id)).await?;
    if current.closed_at.is_some() {
        return Err(ApiError::conflict(
            "posting_closed",
            "the posting is closed; reopen it before changing it",
        ));
    }
    let owner = current.owner_id.unwrap_or(caller.user_id);
    let published_at = current
        .posting
        .published_at
        .unwrap_or(current.first_seen_at);
    let posting = request.into_posting(current.posting.external_id, published_at);
    let job = write_posting(&state, posting, owner, Utc::now()).await?;
    audit_posting(&state, &client, &caller, "jobs.update", &job).await;
    Ok(Json(job.into()))
}

/// Closes a posting the caller published: it leaves search and matching; applications to it
/// keep it. Closing a closed posting changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/close",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The posting, closed", body = JobView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not the posting's recruiter, a board's posting, or an API key without the jobs:write scope", body = ErrorResponse),
        (status = 404, description = "No such job", body = ErrorResponse),
        (status = 422, description = "The id is not a UUID", body = ErrorResponse),
    )
)]
pub async fn close_posting(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<JobView>> {
    let job = owned_posting(&state, &caller, JobId::from_uuid(id)).await?;
    let (Some(owner), None) = (job.owner_id, job.closed_at) else {
        return Ok(Json(job.into()));
    };
    if state
        .store()
        .close_owned_jobs(owner, Some(job.id), Utc::now())
        .await?
        > 0
    {
        state.search_wake().notify_one();
        audit_posting(&state, &client, &caller, "jobs.close", &job).await;
    }
    Ok(Json(stored(&state, job.id).await?.into()))
}

/// Reopens a closed posting the caller published, as it was. Reopening an open posting
/// changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/reopen",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The posting, open", body = JobView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not the posting's recruiter, a board's posting, or an API key without the jobs:write scope", body = ErrorResponse),
        (status = 404, description = "No such job", body = ErrorResponse),
        (status = 409, description = "The recruiter has as many open postings as allowed", body = ErrorResponse),
        (status = 422, description = "The id is not a UUID", body = ErrorResponse),
    )
)]
pub async fn reopen_posting(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<JobView>> {
    let job = owned_posting(&state, &caller, JobId::from_uuid(id)).await?;
    let (Some(owner), Some(_)) = (job.owner_id, job.closed_at) else {
        return Ok(Json(job.into()));
    };
    within_posting_limit(&state, owner).await?;
    let reopened = write_posting(&state, job.posting, owner, Utc::now()).await?;
    audit_posting(&state, &client, &caller, "jobs.reopen", &reopened).await;
    Ok(Json(reopened.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OwnPostingsQuery {
    /// Closed postings too.
    pub include_closed: Option<bool>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The postings the caller published, oldest first; open ones only unless asked.
#[utoipa::path(
    get,
    path = "/api/v1/me/jobs",
    tag = "jobs",
    params(OwnPostingsQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the caller's postings", body = JobList),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a recruiter, or an API key without the jobs:write scope", body = ErrorResponse),
        (status = 422, description = "A bad limit or cursor", body = ErrorResponse),
    )
)]
pub async fn own_postings(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<OwnPostingsQuery>,
) -> ApiResult<Json<JobList>> {
    caller.require(Permission::PostJobs)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", format!("must be from 1 to {MAX_PAGE}")));
    }
    let filter = JobFilter::published_by(caller.user_id, query.include_closed.unwrap_or(false));
    listing_page(&state, &filter, query.cursor.as_deref(), limit)
        .await
        .map(Json)
}
