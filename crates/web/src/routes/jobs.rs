//! Job postings: readable by every signed-in user (and by API keys with `jobs:read`).

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use domain::{Job, JobId, NewJob, Permission};
use serde::{Deserialize, Serialize};
use store::JobFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::{ApiQuery, UuidPath},
    state::AppState,
};

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// A job posting as jobpilot keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    #[serde(flatten)]
    pub posting: NewJob,
    /// The posting shown instead of this one when both are the same job on two boards.
    pub duplicate_of: Option<Uuid>,
    pub first_seen_at: DateTime<Utc>,
    /// When its content last changed.
    pub updated_at: DateTime<Utc>,
    /// When its source stopped listing it.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.as_uuid(),
            posting: job.posting,
            duplicate_of: job.canonical_id.map(|id| id.as_uuid()),
            first_seen_at: job.first_seen_at,
            updated_at: job.updated_at,
            closed_at: job.closed_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobListQuery {
    /// Only postings of this source.
    #[param(max_length = 32, example = "hh")]
    pub source: Option<String>,
    /// Include postings the source no longer lists.
    pub include_closed: Option<bool>,
    /// Include near-duplicates of other postings (by default only one of each job is listed).
    pub include_duplicates: Option<bool>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// Lists open job postings, one per job (near-duplicates from other boards left out), oldest
/// first. Full-text search and filters come with the search API.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(JobListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of postings", body = JobList),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the jobs:read scope", body = ErrorResponse),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<JobListQuery>,
) -> ApiResult<Json<JobList>> {
    caller.require(Permission::ReadJobs)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(vec![crate::error::ErrorDetail::new(
            "limit",
            format!("must be from 1 to {MAX_PAGE}"),
        )]));
    }
    let filter = JobFilter {
        source: query.source,
        include_closed: query.include_closed.unwrap_or(false),
        include_duplicates: query.include_duplicates.unwrap_or(false),
    };
    let jobs = state
        .store()
        .list_jobs(&filter, query.cursor.map(JobId::from_uuid), limit)
        .await?;
    let next_cursor = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|job| job.id.as_uuid()))
        .flatten();
    Ok(Json(JobList {
        items: jobs.into_iter().map(JobView::from).collect(),
        next_cursor,
    }))
}

/// One job posting.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The posting", body = JobView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the jobs:read scope", body = ErrorResponse),
        (status = 404, description = "No such job", body = ErrorResponse),
    )
)]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<JobView>> {
    caller.require(Permission::ReadJobs)?;
    state
        .store()
        .job(JobId::from_uuid(id))
        .await?
        .map(|job| Json(job.into()))
        .ok_or_else(|| ApiError::not_found("no such job"))
}
