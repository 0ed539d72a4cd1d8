//! Liveness and readiness for orchestrators and load balancers.

use std::{
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    state::AppState,
};

/// How long one database check answers for: probes and floods alike cost at most one query a second.
const CACHE_FOR: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// `current`, or `rebuilding` while the search index is being built again from the
    /// database (a new data directory, or the first start of a version whose index differs):
    /// searches and matches then cover only the postings indexed so far and say so
    /// (`partial`). The replica stays ready meanwhile, so a lone replica keeps serving
    /// everything else, unless `JOBPILOT_READY_WAITS_FOR_SEARCH_INDEX` is set (readiness is
    /// then 503 until the index is complete).
    #[schema(example = "current")]
    pub search_index: &'static str,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses((status = 200, description = "The process is running", body = Live))
)]
pub async fn live() -> Json<Live> {
    Json(Live { status: "ok" })
}

/// The service can take traffic: the database answers and has every migration applied, the
/// process is not shutting down, and (with `JOBPILOT_READY_WAITS_FOR_SEARCH_INDEX`) its search
/// index is not being rebuilt.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready for traffic", body = Ready),
        (status = 503, description = "Not ready; `details` names each failing check", body = ErrorResponse),
    )
)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    if state.is_shutting_down() {
        return Err(not_ready(vec![ErrorDetail::new(
            "shutdown",
            "the server is shutting down",
        )]));
    }
    let mut checked = state.readiness_cache().get(&state).await;
    let rebuilding = state.search().is_rebuilding();
    if rebuilding && state.settings().ready_waits_for_search_index {
        checked.problems.push(ErrorDetail::new(
            "search_index",
            format!(
                "the search index is being rebuilt ({} postings indexed so far)",
                state.search().num_docs()
            ),
        ));
    }
    if checked.problems.is_empty() {
        Ok(Json(Ready {
            status: "ready",
            database: state.store().backend().as_str(),
            search_index: if rebuilding { "rebuilding" } else { "current" },
        }))
    } else {
        Err(not_ready(checked.problems))
    }
}

fn not_ready(problems: Vec<ErrorDetail>) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    );
    error.details = problems;
    error
}

#[derive(Debug, Clone)]
struct Checked {
    problems: Vec<ErrorDetail>,
}

/// The last database check and when it ran.
#[derive(Debug, Default)]
pub struct ReadinessCache {
    last: RwLock<Option<(Instant, Checked)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl ReadinessCache {
    fn fresh(&self) -> Option<Checked> {
        let last = self.last.read().ok()?;
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, checked)| checked.clone())
    }

    async fn get(&self, state: &AppState) -> Checked {
        if let Some(checked) = self.fresh() {
            return checked;
        }
        // One request refreshes; the others wait for its answer instead of querying too.
        let _refreshing = self.refreshing.lock().await;
        if let Some(checked) = self.fresh() {
            return checked;
        }
        let checked = check(state).await;
        if let Ok(mut last) = self.last.write() {
            *last = Some((Instant::now(), checked.clone()));
        }
        checked
    }
}

async fn check(state: &AppState) -> Checked {
    let problems = match tokio::time::timeout(CHECK_TIMEOUT, state.store().readiness()).await {
        Err(_) => vec![ErrorDetail::new(
            "database",
            format!(
                "the database did not answer within {} s",
                CHECK_TIMEOUT.as_secs()
            ),
        )],
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::error::ErrorChain(&error), "readiness: database check failed");
            vec![ErrorDetail::new("database", "the database is unreachable")]
        }
        Ok(Ok(readiness)) if !readiness.is_ready() => vec![ErrorDetail::new(
            "migrations",
            format!(
                "{} database migration(s) are not applied; run `jobpilot migrate`",
                readiness.pending_migrations.len()
            ),
        )],
        Ok(Ok(_)) => Vec::new(),
    };
    Checked { problems }
}
