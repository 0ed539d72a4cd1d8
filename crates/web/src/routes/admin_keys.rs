//! Administrators see which encryption keys protect the stored data and start a rotation.

use axum::{Json, extract::State, http::StatusCode};
use domain::{AuditOutcome, Permission};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    keys::{KeysError, Sealed},
    routes::auth::audit,
    state::AppState,
};

/// The task kind that re-seals every stored value and file with the active key.
pub const ROTATE_TASK: &str = "keys.rotate";

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUse {
    /// The key id, as in `JOBPILOT_ENCRYPTION_KEYS` (`(unreadable)` for malformed values).
    #[schema(example = "2026-12")]
    pub id: String,
    /// Stored values and files sealed with it.
    pub values: u64,
    /// Whether the configured key ring holds it; a key still in use must stay.
    pub in_ring: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyStatus {
    /// The key new values are sealed with.
    pub active: String,
    /// Every key that seals something, and how much.
    pub keys: Vec<KeyUse>,
}

fn configured(state: &AppState) -> ApiResult<()> {
    if state.settings().key_ring.is_none() {
        return Err(ApiError::conflict(
            "no_key_ring",
            "JOBPILOT_ENCRYPTION_KEYS is not set: values are sealed with a throwaway key",
        ));
    }
    Ok(())
}

/// How many stored values and files each key seals. Reads every sealed value's header:
/// seconds for millions of values.
#[utoipa::path(
    get,
    path = "/api/v1/admin/keys",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The keys in use", body = KeyStatus),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
        (status = 409, description = "No key ring is configured", body = ErrorResponse),
    )
)]
pub async fn key_status(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<KeyStatus>> {
    caller.require(Permission::ManageKeys)?;
    configured(&state)?;
    let files = state.files();
    let sealed = Sealed {
        store: state.store(),
        files,
    };
    let counts = crate::keys::status(sealed)
        .await
        .map_err(|error| match error {
            KeysError::Store(error) => ApiError::from(error),
            other => ApiError::internal(&other),
        })?;
    let ring = state.key_ring();
    Ok(Json(KeyStatus {
        active: ring.active_key_id().to_owned(),
        keys: counts
            .into_iter()
            .map(|(id, values)| KeyUse {
                in_ring: ring.has_key(&id),
                id,
                values,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotationStarted {
    /// Follow it at `/api/v1/tasks/{task_id}`.
    pub task_id: Uuid,
}

/// Starts re-sealing every stored value and file with the active key, as a background task,
/// while the service keeps serving. It resumes where it was after a crash; once
/// `GET /api/v1/admin/keys` lists only the active key, the others can leave the ring. A second
/// request within a minute returns the same task.
#[utoipa::path(
    post,
    path = "/api/v1/admin/keys/rotate",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "The rotation is queued", body = RotationStarted),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
        (status = 409, description = "No key ring is configured", body = ErrorResponse),
    )
)]
pub async fn start_rotation(
    State(state): State<AppState>,
    caller: Authenticated,
    client: Client,
) -> ApiResult<(StatusCode, Json<RotationStarted>)> {
    caller.require(Permission::ManageKeys)?;
    configured(&state)?;
    let task = tasks::NewTask::new(ROTATE_TASK, serde_json::json!({}))
        .with_user(caller.user_id.as_uuid())
        .with_unique_key_within(ROTATE_TASK, std::time::Duration::from_secs(60));
    let id = tasks::Queue::new(state.tasks().clone())
        .enqueue(task)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    audit(
        &state,
        &client,
        "keys.rotate",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![
            ("task_id", id.0.to_string()),
            ("active_key", state.key_ring().active_key_id().to_owned()),
        ],
    )
    .await;
    Ok((
        StatusCode::ACCEPTED,
        Json(RotationStarted { task_id: id.0 }),
    ))
}
