//! Administrators watch the job sources and start syncs.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Permission};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    routes::auth::audit,
    state::AppState,
};

/// The task kind that syncs one source; its arguments are `{"source": name}`.
pub const SYNC_TASK: &str = "sources.sync";

/// The latest sync of a source.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceRunView {
    /// running, succeeded or failed.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicates: i64,
    /// Postings refused (see `item_errors`).
    pub failed_items: i64,
    /// Postings the board stopped listing, closed at the end of the run.
    pub closed: i64,
    pub last_error: Option<String>,
    /// A sample of refused postings and why.
    #[schema(value_type = Vec<Object>)]
    pub item_errors: serde_json::Value,
    pub last_success_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceStatus {
    #[schema(example = "greenhouse")]
    pub name: String,
    /// Whether this replica's configuration follows the source (it syncs on schedule).
    pub configured: bool,
    pub last_run: Option<SourceRunView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    pub sources: Vec<SourceStatus>,
}

/// Every configured source (and any that ran before) with its latest sync.
#[utoipa::path(
    get,
    path = "/api/v1/admin/sources",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The sources", body = SourceList),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
    )
)]
pub async fn list_sources(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<SourceList>> {
    caller.require(Permission::ManageSources)?;
    let mut runs = state.store().source_runs().await?;
    let configured = &state.settings().sources;
    let mut names: Vec<String> = configured.clone();
    names.extend(runs.iter().map(|r| r.source.clone()));
    names.sort();
    names.dedup();
    let sources = names
        .into_iter()
        .map(|name| {
            let last_run = runs
                .iter()
                .position(|r| r.source == name)
                .map(|i| runs.swap_remove(i))
                .map(|run| SourceRunView {
                    state: run.state,
                    started_at: run.started_at,
                    finished_at: run.finished_at,
                    pages: run.pages,
                    created: run.created,
                    updated: run.updated,
                    unchanged: run.unchanged,
                    duplicates: run.duplicates,
                    failed_items: run.failed_items,
                    closed: run.closed,
                    last_error: run.last_error,
                    item_errors: serde_json::from_str(&run.item_errors)
                        .unwrap_or(serde_json::Value::Array(Vec::new())),
                    last_success_at: run.last_success_at,
                });
            SourceStatus {
                configured: configured.contains(&name),
                name,
                last_run,
            }
        })
        .collect();
    Ok(Json(SourceList { sources }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStarted {
    /// Follow it at `/api/v1/tasks/{task_id}`.
    pub task_id: Uuid,
}

/// Starts a sync of one source now, as a background task. A sync already under way for the
/// source is resumed rather than repeated (postings are stored idempotently either way).
#[utoipa::path(
    post,
    path = "/api/v1/admin/sources/{name}/sync",
    tag = "admin",
    params(("name" = String, Path, description = "A configured source")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "The sync is queued", body = SyncStarted),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
        (status = 404, description = "No such source is configured", body = ErrorResponse),
    )
)]
pub async fn start_sync(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<SyncStarted>)> {
    caller.require(Permission::ManageSources)?;
    if !state.settings().sources.contains(&name) {
        return Err(ApiError::not_found("no such source is configured"));
    }
    let task = tasks::NewTask::new(SYNC_TASK, serde_json::json!({ "source": name }))
        .with_user(caller.user_id.as_uuid());
    let id = tasks::Queue::new(state.tasks().clone())
        .enqueue(task)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    audit(
        &state,
        &client,
        "sources.sync",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("source", name), ("task_id", id.0.to_string())],
    )
    .await;
    Ok((StatusCode::ACCEPTED, Json(SyncStarted { task_id: id.0 })))
}
