//! The caller's own account.

use axum::{Json, extract::State, http::StatusCode};
use chrono::Utc;
use domain::{AuditOutcome, Permission};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiJson,
    routes::auth::{UserView, audit, new_password, password_matches},
    state::AppState,
    state::Rule,
};

/// The signed-in user's account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The caller's account", body = UserView))
)]
pub async fn me(caller: Authenticated) -> ApiResult<Json<UserView>> {
    caller.require(Permission::ReadOwnAccount)?;
    Ok(Json(caller.user.as_ref().clone().into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(max_length = 1024, format = Password)]
    pub current_password: String,
    /// 12 to 128 characters, not one of the 10,000 most common passwords.
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

/// Changes the caller's password. Every other session of the account ends; this one stays.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "account",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; other sessions ended"),
        (status = 403, description = "The current password is wrong", body = ErrorResponse),
        (status = 429, description = "Too many attempts for this account", body = ErrorResponse),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let session_id = caller.require_session(Permission::ManageOwnAccount)?;
    state
        .check_limit(Rule::AuthByAccount, &caller.user_id.to_string())
        .await?;
    let new_password = new_password(request.new_password, "new_password")
        .map_err(|detail| ApiError::validation(vec![detail]))?;
    let user = caller.fresh_user(&state).await?;
    let current_ok = password_matches(&state, &user, &request.current_password).await?;
    if !current_ok {
        audit(
            &state,
            &client,
            "account.password_change",
            AuditOutcome::Failure,
            Some(user.id),
            None,
            Vec::new(),
        )
        .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the current password is wrong",
        ));
    }
    let hash = state
        .passwords()
        .hash(&new_password)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    state.store().set_password_hash(user.id, &hash).await?;
    let ended = state
        .store()
        .revoke_sessions(user.id, Some(session_id), Utc::now())
        .await?;
    state.session_ended(None).await;
    audit(
        &state,
        &client,
        "account.password_change",
        AuditOutcome::Success,
        Some(user.id),
        None,
        vec![("other_sessions_ended", ended.to_string())],
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
