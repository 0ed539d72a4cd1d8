//! Job postings: readable by every signed-in user (and by API keys with `jobs:read`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{Job, JobId, NewJob, Permission, SalaryPeriod};
use search::index::query::{MAX_OFFSET, SalaryFloor, SearchError};
use search::index::{Highlights, SearchRequest, Sort};
use serde::{Deserialize, Serialize};
use store::JobFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::{ApiQuery, UuidPath},
    state::AppState,
};

pub(crate) const DEFAULT_PAGE: u32 = 20;
pub(crate) const MAX_PAGE: u32 = 100;

/// A posting's fields in an answer. The same fields as [`NewJob`], whose schema forbids other
/// properties (it is what scrapers send); a view adds its own beside them, so its schema is
/// `NewJob`'s with other properties allowed.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct PostingFields(pub NewJob);

impl utoipa::PartialSchema for PostingFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema = <NewJob as utoipa::PartialSchema>::schema();
        if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object)) =
            &mut schema
        {
            object.additional_properties = None;
            object.description = Some("A job posting's fields.".to_owned());
        }
        schema
    }
}

impl ToSchema for PostingFields {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <NewJob as ToSchema>::schemas(schemas);
    }
}

/// A job posting as jobpilot keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    #[serde(flatten)]
    pub posting: PostingFields,
    /// The posting shown instead of this one when both are the same job on two boards.
    pub duplicate_of: Option<Uuid>,
    pub first_seen_at: DateTime<Utc>,
    /// When its content last changed.
    pub updated_at: DateTime<Utc>,
    /// When its source stopped listing it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Relevance to the search (higher is better); only in relevance-ranked searches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The matched words in context; only in searches with query text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlights: Option<Highlights>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.as_uuid(),
            posting: PostingFields(job.posting),
            duplicate_of: job.canonical_id.map(|id| id.as_uuid()),
            first_seen_at: job.first_seen_at,
            updated_at: job.updated_at,
            closed_at: job.closed_at,
            score: None,
            highlights: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobListQuery {
    /// Full-text query: words (stemmed, English and Russian), "phrases", AND/OR/NOT,
    /// parentheses, `field:value` with title, company, text, skills or location.
    #[param(max_length = 1000, example = "rust AND (postgres OR kafka)")]
    pub q: Option<String>,
    /// Only postings of these sources (comma-separated).
    #[param(max_length = 200, example = "hh,greenhouse")]
    pub source: Option<String>,
    /// yes, no and/or hybrid (comma-separated).
    #[param(example = "yes,hybrid")]
    pub remote: Option<String>,
    /// intern, junior, middle, senior, lead, principal and/or executive (comma-separated).
    pub seniority: Option<String>,
    /// full_time, part_time, contract, temporary, internship, volunteer and/or other.
    pub employment_type: Option<String>,
    /// Postings that list every one of these skills (comma-separated).
    #[param(example = "Rust,PostgreSQL")]
    pub skills: Option<String>,
    /// Words of the location, e.g. `Berlin`.
    pub location: Option<String>,
    /// Postings whose best pay reaches this amount (in `currency` per `salary_period`).
    #[param(minimum = 0)]
    pub salary_min: Option<f64>,
    /// ISO 4217 code of `salary_min`; default USD.
    #[param(example = "EUR")]
    pub currency: Option<String>,
    /// hour, day, week, month or year: the period of `salary_min`; default year.
    pub salary_period: Option<SalaryPeriod>,
    pub published_after: Option<DateTime<Utc>>,
    pub published_before: Option<DateTime<Utc>>,
    /// relevance (default with `q`) or newest.
    #[param(inline)]
    pub sort: Option<SortOrder>,
    /// Count postings per value of these (comma-separated): source, remote, seniority,
    /// employment_type, skill.
    #[param(example = "skill,remote")]
    pub facets: Option<String>,
    /// Include postings the source no longer lists (listing without search only).
    pub include_closed: Option<bool>,
    /// Include near-duplicates of other postings (listing without search only; by default
    /// only one of each job is listed).
    pub include_duplicates: Option<bool>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Relevance,
    Newest,
}

impl JobListQuery {
    /// Whether the request asks for search (the index) rather than the plain listing.
    fn is_search(&self) -> bool {
        self.q.is_some()
            || self.remote.is_some()
            || self.seniority.is_some()
            || self.employment_type.is_some()
            || self.skills.is_some()
            || self.location.is_some()
            || self.salary_min.is_some()
            || self.published_after.is_some()
            || self.published_before.is_some()
            || self.sort.is_some()
            || self.facets.is_some()
            || self.source.as_deref().is_some_and(|s| s.contains(','))
    }
}

/// How often a facet value occurs among the matching postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Postings matching the search, all pages together (searches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Counts per value of each facet asked for, most frequent first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<BTreeMap<String, Vec<FacetCount>>>,
    /// `true` while the search index is being rebuilt from the database (a new data directory,
    /// or the first start of a version whose index differs): the answer covers only the
    /// postings indexed so far. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Lists or searches open job postings, one per job (near-duplicates from other boards left
/// out). Without search parameters: every posting in id order (stable paging, closed and
/// duplicate postings on request). With `q` or any filter: the search index, best match first
/// (or newest first), with highlights and facet counts.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(JobListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of postings", body = JobList),
        (status = 400, description = "The query text is not valid query syntax", body = ErrorResponse),
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
        return Err(invalid("limit", format!("must be from 1 to {MAX_PAGE}")));
    }
    // The lengths the OpenAPI document states (`max_length` above), in characters.
    for (field, value) in [("source", &query.source), ("cursor", &query.cursor)] {
        if value
            .as_deref()
            .is_some_and(|v| v.chars().count() > LIST_PARAM_MAX_CHARS)
        {
            return Err(invalid(
                field,
                format!("is longer than {LIST_PARAM_MAX_CHARS} characters"),
            ));
        }
    }
    if query.is_search() {
        return search_jobs(&state, query, limit).await.map(Json);
    }
    let filter = JobFilter {
        source: query.source,
        include_closed: query.include_closed.unwrap_or(false),
        include_duplicates: query.include_duplicates.unwrap_or(false),
        owner: None,
    };
    listing_page(&state, &filter, query.cursor.as_deref(), limit)
        .await
        .map(Json)
}

/// A page of the plain listing (id order) from its `cursor`.
pub(crate) async fn listing_page(
    state: &AppState,
    filter: &JobFilter,
    cursor: Option<&str>,
    limit: u32,
) -> ApiResult<JobList> {
    let after = cursor
        .map(|c| {
            c.parse::<Uuid>()
                .map_err(|_| invalid("cursor", "is not a cursor of this listing"))
        })
        .transpose()?;
    let jobs = state
        .store()
        .list_jobs(filter, after.map(JobId::from_uuid), limit)
        .await?;
    let next_cursor = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|job| job.id.as_uuid().to_string()))
        .flatten();
    Ok(JobList {
        items: jobs.into_iter().map(JobView::from).collect(),
        next_cursor,
        total: None,
        facets: None,
        partial: false,
    })
}

/// The longest `source` list or `cursor` a listing takes, as its OpenAPI parameters say.
const LIST_PARAM_MAX_CHARS: usize = 200;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![ErrorDetail::new(field, message)])
}

/// Comma-separated values, each parsed as the API spells it.
pub(crate) fn list<T: serde::de::DeserializeOwned>(
    field: &str,
    raw: Option<&str>,
) -> ApiResult<Vec<T>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned()))
                .map_err(|_| invalid(field, format!("`{v}` is not one of the accepted values")))
        })
        .collect()
}

/// A "paying at least" bound from its query parameters (currency default USD, period year).
pub(crate) fn salary_floor(
    amount: Option<f64>,
    currency: Option<&str>,
    period: Option<SalaryPeriod>,
) -> ApiResult<Option<SalaryFloor>> {
    let Some(amount) = amount else {
        return Ok(None);
    };
    if !(amount.is_finite() && amount >= 0.0) {
        return Err(invalid("salary_min", "must be a non-negative number"));
    }
    let currency = domain::Currency::parse(currency.unwrap_or("USD"))
        .map_err(|e| invalid("currency", e.to_string()))?;
    Ok(Some(SalaryFloor {
        amount,
        currency: currency.as_str().to_owned(),
        period: period.unwrap_or(SalaryPeriod::Year),
    }))
}

/// Pairs ranked results from the index with their jobs from the database, keeping the rank
/// order; a result whose job is gone is left out.
pub(crate) async fn in_rank_order<T>(
    state: &AppState,
    ranked: Vec<T>,
    id: impl Fn(&T) -> JobId,
) -> ApiResult<Vec<(T, Job)>> {
    let ids: Vec<JobId> = ranked.iter().map(&id).collect();
    let mut jobs: HashMap<JobId, Job> = state
        .store()
        .jobs_by_ids(&ids)
        .await?
        .into_iter()
        .map(|job| (job.id, job))
        .collect();
    Ok(ranked
        .into_iter()
        .filter_map(|item| {
            let job = jobs.remove(&id(&item))?;
            Some((item, job))
        })
        .collect())
}

const SEARCH_CURSOR_PREFIX: &str = "s1.";

fn encode_offset(offset: usize) -> String {
    format!("{SEARCH_CURSOR_PREFIX}{offset}")
}

fn decode_offset(cursor: Option<&str>) -> ApiResult<usize> {
    match cursor {
        None => Ok(0),
        Some(cursor) => cursor
            .strip_prefix(SEARCH_CURSOR_PREFIX)
            .and_then(|offset| offset.parse().ok())
            .ok_or_else(|| invalid("cursor", "is not a cursor of a search")),
    }
}

async fn search_jobs(state: &AppState, query: JobListQuery, limit: u32) -> ApiResult<JobList> {
    if query.include_closed.is_some() || query.include_duplicates.is_some() {
        return Err(invalid(
            "include_closed",
            "closed and duplicate postings are listed without search parameters only",
        ));
    }
    let salary_at_least = salary_floor(
        query.salary_min,
        query.currency.as_deref(),
        query.salary_period,
    )?;
    let has_text = query.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let offset = decode_offset(query.cursor.as_deref())?;
    let request = SearchRequest {
        text: query.q,
        sources: list::<String>("source", query.source.as_deref())?,
        remote: list("remote", query.remote.as_deref())?,
        seniority: list("seniority", query.seniority.as_deref())?,
        employment_types: list("employment_type", query.employment_type.as_deref())?,
        skills: list::<String>("skills", query.skills.as_deref())?,
        location: query.location,
        salary_at_least,
        published_after: query.published_after,
        published_before: query.published_before,
        sort: query.sort.map(|s| match s {
            SortOrder::Relevance => Sort::Relevance,
            SortOrder::Newest => Sort::Newest,
        }),
        offset,
        limit: limit as usize,
        facets: list::<String>("facets", query.facets.as_deref())?,
        highlight: has_text,
    };
    let index = Arc::clone(state.search());
    // Read before searching: a rebuild that ends during the search still gave a partial answer.
    let partial = index.is_rebuilding();
    let results = tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| match e {
            SearchError::Invalid {
                field: "q",
                message,
            } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("q: {message}"),
            ),
            SearchError::Invalid { field, message } => invalid(field, message),
            SearchError::Index(e) => ApiError::internal(&e),
        })?;
    let ranked = in_rank_order(state, results.hits, |hit| hit.id).await?;
    let view = |(hit, job): (search::index::SearchHit, Job), highlights| JobView {
        score: hit.score,
        highlights,
        ..JobView::from(job)
    };
    let items: Vec<JobView> = match results.highlighter {
        // Marking the words analyses each posting's text: CPU work, off the async threads.
        Some(highlighter) => tokio::task::spawn_blocking(move || {
            ranked
                .into_iter()
                .map(|(hit, job)| {
                    let marked = highlighter
                        .highlight(&job.posting.title, job.posting.description_text.as_deref());
                    view((hit, job), Some(marked))
                })
                .collect()
        })
        .await
        .map_err(|e| ApiError::internal(&e))?,
        None => ranked.into_iter().map(|item| view(item, None)).collect(),
    };
    let next = offset + limit as usize;
    let next_cursor = (next < results.total && next <= MAX_OFFSET).then(|| encode_offset(next));
    Ok(JobList {
        items,
        next_cursor,
        total: Some(results.total as u64),
        facets: (!results.facets.is_empty()).then(|| {
            results
                .facets
                .into_iter()
                .map(|(name, values)| {
                    let values = values
                        .into_iter()
                        .map(|(value, count)| FacetCount { value, count })
                        .collect();
                    (name, values)
                })
                .collect()
        }),
        partial,
    })
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
