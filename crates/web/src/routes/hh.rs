//! Connecting a user's HH.ru account (feature `hh_apply`): OAuth2 authorization code, tokens
//! sealed at rest; the user's HH.ru resumes; disconnecting.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Permission};
use serde::{Deserialize, Serialize};
use sources::hh_apply::{HhApplyClient, HhError};
use utoipa::{IntoParams, ToSchema};

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiQuery,
    hh::{self, TokenError},
    routes::auth::audit,
    state::AppState,
};

fn client(state: &AppState) -> ApiResult<&HhApplyClient> {
    state.apply_settings().hh.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "channel_unavailable",
            "applying through HH.ru is not enabled on this server",
        )
    })
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::NotConnected => ApiError::conflict(
            "hh_not_connected",
            "connect your HH.ru account first (POST /api/v1/hh/connect)",
        ),
        TokenError::Reconnect(_) => ApiError::conflict("hh_reconnect", error.to_string()),
        TokenError::Hh(error) => hh_error(&error),
        TokenError::Sealed(_) => ApiError::internal(&error),
        TokenError::Store(error) => error.into(),
    }
}

fn hh_error(error: &HhError) -> ApiError {
    match error {
        HhError::Unavailable { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "hh_unavailable",
            "HH.ru did not answer; try again later",
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "hh_refused",
            format!("HH.ru refused: {other}"),
        ),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectView {
    /// Send the user's browser here; HH.ru sends it back to the callback.
    pub authorize_url: String,
}

/// Starts connecting the caller's HH.ru account: the URL to send their browser to.
#[utoipa::path(
    post,
    path = "/api/v1/hh/connect",
    tag = "applications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = ConnectView),
        (status = 403, description = "Not from a signed-in session", body = ErrorResponse),
        (status = 409, description = "HH.ru applications are not enabled here (`channel_unavailable`)", body = ErrorResponse),
    )
)]
pub async fn hh_connect(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<ConnectView>> {
    caller.require_session(Permission::ManageOwnApplications)?;
    let client = client(&state)?;
    let flow = hh::new_state(state.key_ring(), caller.user_id);
    Ok(Json(ConnectView {
        authorize_url: client.authorize_url(&flow).to_string(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    #[param(max_length = 512)]
    pub code: Option<String>,
    #[param(max_length = 1024)]
    pub state: Option<String>,
    /// HH.ru's reason when the user did not allow access.
    #[param(max_length = 256)]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub connected: bool,
    pub connected_at: Option<DateTime<Utc>>,
    /// When the current access token expires (it is refreshed after that).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where HH.ru sends the browser back: stores the connection. The same signed-in user who
/// started must finish (the session cookie comes along).
#[utoipa::path(
    get,
    path = "/api/v1/hh/callback",
    tag = "applications",
    params(CallbackQuery),
    security(("bearer" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "Connected", body = ConnectionView),
        (status = 400, description = "The flow was not started by this user, expired, or HH.ru reported an error", body = ErrorResponse),
        (status = 409, description = "HH.ru applications are not enabled here", body = ErrorResponse),
        (status = 502, description = "HH.ru did not answer or refused the code", body = ErrorResponse),
    )
)]
pub async fn hh_callback(
    State(state): State<AppState>,
    caller: Authenticated,
    request_client: Client,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> ApiResult<Json<ConnectionView>> {
    caller.require_session(Permission::ManageOwnApplications)?;
    let client = client(&state)?;
    let flow_invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "hh_flow_invalid",
            "this connection was not started by you here or took too long; start again",
        )
    };
    if let Some(error) = query.error {
        let error: String = error
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "hh_denied",
            format!("HH.ru did not connect the account: {error}"),
        ));
    }
    let (Some(code), Some(flow)) = (query.code, query.state) else {
        return Err(flow_invalid());
    };
    if !hh::state_matches(state.key_ring(), &flow, caller.user_id) {
        return Err(flow_invalid());
    }
    let tokens = client
        .exchange_code(&code)
        .await
        .map_err(|e| hh_error(&e))?;
    hh::save(state.store(), state.key_ring(), caller.user_id, &tokens).await?;
    audit(
        &state,
        &request_client,
        "hh.connect",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        Vec::new(),
    )
    .await;
    connection_view(&state, &caller).await.map(Json)
}

async fn connection_view(state: &AppState, caller: &Authenticated) -> ApiResult<ConnectionView> {
    let connection = state.store().hh_connection(caller.user_id).await?;
    Ok(ConnectionView {
        connected: connection.is_some(),
        connected_at: connection.as_ref().map(|c| c.created_at),
        expires_at: connection.as_ref().map(|c| c.expires_at),
    })
}

/// Whether the caller's HH.ru account is connected.
#[utoipa::path(
    get,
    path = "/api/v1/hh/connection",
    tag = "applications",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The connection", body = ConnectionView),
    )
)]
pub async fn hh_connection(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<ConnectionView>> {
    caller.require(Permission::ManageOwnApplications)?;
    connection_view(&state, &caller).await.map(Json)
}

/// Forgets the caller's HH.ru tokens.
#[utoipa::path(
    delete,
    path = "/api/v1/hh/connection",
    tag = "applications",
    security(("bearer" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 204, description = "Disconnected"),
        (status = 404, description = "No HH.ru account was connected", body = ErrorResponse),
    )
)]
pub async fn hh_disconnect(
    State(state): State<AppState>,
    caller: Authenticated,
    request_client: Client,
) -> ApiResult<StatusCode> {
    caller.require_session(Permission::ManageOwnApplications)?;
    if !state.store().delete_hh_connection(caller.user_id).await? {
        return Err(ApiError::not_found("no HH.ru account is connected"));
    }
    audit(
        &state,
        &request_client,
        "hh.disconnect",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        Vec::new(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HhResumeView {
    pub id: String,
    pub title: Option<String>,
    /// `published` resumes can be applied with.
    pub status: Option<String>,
    pub published: bool,
    pub url: Option<String>,
}

/// The caller's resumes on HH.ru, to choose one to apply with.
#[utoipa::path(
    get,
    path = "/api/v1/hh/resumes",
    tag = "applications",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 403, description = "An API key without the applications scope (or any API key where a signed-in session is needed)", body = ErrorResponse),
        (status = 200, description = "The HH.ru resumes", body = [HhResumeView]),
        (status = 409, description = "Not enabled, not connected (`hh_not_connected`) or to be reconnected (`hh_reconnect`)", body = ErrorResponse),
        (status = 502, description = "HH.ru did not answer or refused", body = ErrorResponse),
    )
)]
pub async fn hh_resumes(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Vec<HhResumeView>>> {
    caller.require(Permission::ManageOwnApplications)?;
    let client = client(&state)?;
    let found = hh::with_token(
        state.store(),
        state.key_ring(),
        client,
        caller.user_id,
        |token| {
            let client = client.clone();
            async move { client.my_resumes(&token).await }
        },
    )
    .await
    .map_err(token_error)?;
    Ok(Json(
        found
            .into_iter()
            .map(|r| HhResumeView {
                published: r.is_published(),
                id: r.id,
                title: r.title,
                status: r.status,
                url: r.alternate_url,
            })
            .collect(),
    ))
}
