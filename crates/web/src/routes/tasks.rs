//! Background tasks: their owners follow them; administrators see and steer the whole queue.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Permission};
use serde::{Deserialize, Serialize};
use tasks::{TaskId, TaskState, admin};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::{ApiQuery, UuidPath},
    routes::auth::audit,
    state::AppState,
};

/// One failed attempt of a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskErrorView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// error, panic, timeout, lease_expired, malformed_args, cancelled or discarded.
    pub kind: String,
    pub message: String,
}

/// A background task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    pub queue: String,
    pub kind: String,
    /// scheduled, available, executing, retryable, completed, discarded or cancelled.
    pub state: String,
    pub attempt: i32,
    pub max_attempts: i32,
    pub scheduled_at: DateTime<Utc>,
    pub attempted_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub inserted_at: DateTime<Utc>,
    /// Every failed attempt, oldest first.
    pub errors: Vec<TaskErrorView>,
    /// The task's arguments.
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
}

impl From<tasks::Task> for TaskView {
    fn from(task: tasks::Task) -> Self {
        Self {
            id: task.id.0,
            queue: task.queue,
            kind: task.kind,
            state: task.state.to_string(),
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            scheduled_at: task.scheduled_at,
            attempted_at: task.attempted_at,
            finished_at: task.finished_at,
            inserted_at: task.inserted_at,
            errors: task
                .errors
                .into_iter()
                .map(|e| TaskErrorView {
                    attempt: e.attempt,
                    at: e.at,
                    kind: failure_kind_name(e.kind),
                    message: e.message,
                })
                .collect(),
            args: task.args,
        }
    }
}

/// A failure kind as the API and the dashboard name it (its serde name).
pub(crate) fn failure_kind_name(kind: tasks::FailureKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn task_error(error: tasks::Error) -> ApiError {
    match error {
        tasks::Error::NotFound(_) => ApiError::not_found("no such task"),
        tasks::Error::WrongState { state, .. } => ApiError::conflict(
            "task_state",
            format!("the task is {state}, which does not allow this"),
        ),
        other => ApiError::internal(&other),
    }
}

/// A task started on the caller's behalf (administrators see every task).
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "No such task of yours", body = ErrorResponse),
    )
)]
pub async fn get_task(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<TaskView>> {
    caller.require(Permission::ReadOwnAccount)?;
    let task = visible_task(&state, &caller, TaskId(id)).await?;
    Ok(Json(task.into()))
}

/// The task, if the caller started it or administers the queue; anyone else's is a 404.
pub(crate) async fn visible_task(
    state: &AppState,
    caller: &Authenticated,
    id: TaskId,
) -> ApiResult<tasks::Task> {
    let task = admin::get(state.tasks(), id).await.map_err(task_error)?;
    let visible = task.user_id == Some(caller.user_id.as_uuid())
        || caller.require(Permission::ManageTasks).is_ok();
    if !visible {
        // Someone else's task: as good as absent.
        return Err(ApiError::not_found("no such task"));
    }
    Ok(task)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    pub queue: Option<String>,
    pub kind: Option<String>,
    /// scheduled, available, executing, retryable, completed, discarded or cancelled.
    pub state: Option<String>,
    /// The `next_cursor` of the previous page (tasks are listed newest first).
    pub before: Option<Uuid>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskView>,
    pub next_cursor: Option<Uuid>,
}

/// Lists tasks, newest first, filtered by queue, kind and state.
#[utoipa::path(
    get,
    path = "/api/v1/admin/tasks",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    params(ListTasksQuery),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPage),
        (status = 403, description = "Only administrators see the queue", body = ErrorResponse),
        (status = 422, description = "Invalid filters", body = ErrorResponse),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListTasksQuery>,
) -> ApiResult<Json<TaskPage>> {
    caller.require(Permission::ManageTasks)?;
    let limit = query.limit.unwrap_or(50);
    let mut problems = Vec::new();
    if !(1..=500).contains(&limit) {
        problems.push(ErrorDetail::new("limit", "must be from 1 to 500"));
    }
    for (field, value) in [("queue", &query.queue), ("kind", &query.kind)] {
        if value
            .as_deref()
            .is_some_and(|v| v.chars().count() > 200 || v.chars().any(char::is_control))
        {
            problems.push(ErrorDetail::new(field, "at most 200 printable characters"));
        }
    }
    let task_state = match query.state.as_deref().map(str::parse::<TaskState>) {
        Some(Err(message)) => {
            problems.push(ErrorDetail::new("state", message));
            None
        }
        Some(Ok(state)) => Some(state),
        None => None,
    };
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let filter = admin::ListFilter {
        queue: query.queue,
        kind: query.kind,
        state: task_state,
        user_id: None,
        before: query.before.map(TaskId),
    };
    let page = admin::list(state.tasks(), &filter, i64::from(limit))
        .await
        .map_err(task_error)?;
    Ok(Json(TaskPage {
        items: page.tasks.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// How many tasks each queue holds in each state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueCount {
    pub queue: String,
    pub state: String,
    pub count: i64,
}

/// Queue lengths by state.
#[utoipa::path(
    get,
    path = "/api/v1/admin/tasks/stats",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Counts per queue and state", body = Vec<QueueCount>),
        (status = 403, description = "Only administrators see the queue", body = ErrorResponse),
    )
)]
pub async fn task_stats(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Vec<QueueCount>>> {
    caller.require(Permission::ManageTasks)?;
    let counts = admin::stats(state.tasks()).await.map_err(task_error)?;
    Ok(Json(
        counts
            .into_iter()
            .map(|c| QueueCount {
                queue: c.queue,
                state: c.state.to_string(),
                count: c.count,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TaskAction {
    /// The task's id.
    pub id: Uuid,
    /// retry (a failed, discarded or cancelled task runs again), cancel (a waiting task never
    /// runs) or discard (a waiting or failed task is given up).
    pub action: String,
}

/// Retries, cancels or discards a task.
#[utoipa::path(
    post,
    path = "/api/v1/admin/tasks/{id}/{action}",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    params(TaskAction),
    responses(
        (status = 200, description = "The task afterwards", body = TaskView),
        (status = 403, description = "Only administrators steer the queue", body = ErrorResponse),
        (status = 404, description = "No such task or action", body = ErrorResponse),
        (status = 409, description = "The task's state does not allow this", body = ErrorResponse),
    )
)]
pub async fn act_on_task(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    path: Result<axum::extract::Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<TaskView>> {
    caller.require(Permission::ManageTasks)?;
    let Ok(axum::extract::Path((id, action))) = path else {
        return Err(ApiError::not_found("no such task"));
    };
    let id = TaskId(Uuid::parse_str(&id).map_err(|_| ApiError::not_found("no such task"))?);
    let task = steer_task(&state, &client, &caller, id, &action).await?;
    Ok(Json(task.into()))
}

/// Retries, cancels or discards a task for an administrator (the API and the dashboard), audited;
/// returns the task afterwards.
pub(crate) async fn steer_task(
    state: &AppState,
    client: &Client,
    caller: &Authenticated,
    id: TaskId,
    action: &str,
) -> ApiResult<tasks::Task> {
    caller.require(Permission::ManageTasks)?;
    let db = state.tasks();
    let (result, audit_action) = match action {
        "retry" => (admin::retry(db, id).await, "admin.task_retry"),
        "cancel" => (admin::cancel(db, id).await, "admin.task_cancel"),
        "discard" => (admin::discard(db, id).await, "admin.task_discard"),
        _ => {
            return Err(ApiError::not_found(
                "no such action: use retry, cancel or discard",
            ));
        }
    };
    result.map_err(task_error)?;
    audit(
        state,
        client,
        audit_action,
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("task_id", id.to_string())],
    )
    .await;
    admin::get(db, id).await.map_err(task_error)
}
