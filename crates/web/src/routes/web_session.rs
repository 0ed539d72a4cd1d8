//! Sign-in for browsers: the same checks as the token routes, but the tokens travel in HttpOnly
//! cookies and the page gets a CSRF token instead (see [`crate::cookies`]).

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header::SET_COOKIE},
    response::AppendHeaders,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    client::Client,
    cookies,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiJson,
    routes::auth::{
        LoginRequest, LoginResponse, RefreshRequest, SecondFactorRequest, SecondFactorRequired,
        TokenResponse, login, login_second_factor, refresh,
    },
    state::AppState,
};

/// A browser session, opened: the tokens are in cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebSession {
    pub session_id: Uuid,
    /// Send as `X-CSRF-Token` with every state-changing request (also readable from the
    /// `jp_csrf` cookie after a reload).
    pub csrf_token: String,
    /// Seconds until the access cookie expires; renew with `/api/v1/auth/web/refresh`.
    pub expires_in: i64,
}

/// A browser session, or (two-factor authentication on) the challenge for the code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WebLoginResponse {
    Session(WebSession),
    SecondFactor(SecondFactorRequired),
}

pub(crate) type Cookies = AppendHeaders<Vec<(axum::http::HeaderName, axum::http::HeaderValue)>>;

pub(crate) fn into_cookies(state: &AppState, tokens: &TokenResponse) -> (Cookies, WebSession) {
    let csrf = cookies::csrf_token(state, domain::SessionId::from_uuid(tokens.session_id));
    let headers = cookies::session_cookies(
        state,
        &tokens.access_token,
        tokens.expires_in,
        &tokens.refresh_token,
        tokens.refresh_token_expires_in,
        &csrf,
    )
    .into_iter()
    .map(|value| (SET_COOKIE, value))
    .collect();
    (
        AppendHeaders(headers),
        WebSession {
            session_id: tokens.session_id,
            csrf_token: csrf,
            expires_in: tokens.expires_in,
        },
    )
}

/// Signs a browser in with e-mail and password; the session lives in HttpOnly cookies.
#[utoipa::path(
    post,
    path = "/api/v1/auth/web/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (cookies set), or a challenge for the second factor", body = WebLoginResponse),
        (status = 401, description = "Wrong e-mail address or password, or the account is locked", body = ErrorResponse),
        (status = 429, description = "Too many attempts", body = ErrorResponse),
    )
)]
pub async fn web_login(
    State(state): State<AppState>,
    client: Client,
    request: ApiJson<LoginRequest>,
) -> ApiResult<(Cookies, Json<WebLoginResponse>)> {
    let Json(response) = login(State(state.clone()), client, request).await?;
    match response {
        LoginResponse::Tokens(tokens) => {
            let (cookies, session) = into_cookies(&state, &tokens);
            Ok((cookies, Json(WebLoginResponse::Session(session))))
        }
        LoginResponse::SecondFactor(challenge) => Ok((
            AppendHeaders(Vec::new()),
            Json(WebLoginResponse::SecondFactor(challenge)),
        )),
    }
}

/// Completes a browser sign-in with the second factor.
#[utoipa::path(
    post,
    path = "/api/v1/auth/web/login/2fa",
    tag = "auth",
    request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Signed in; cookies set", body = WebSession),
        (status = 401, description = "Expired challenge, or a wrong or used code", body = ErrorResponse),
        (status = 429, description = "Too many attempts", body = ErrorResponse),
    )
)]
pub async fn web_login_second_factor(
    State(state): State<AppState>,
    client: Client,
    request: ApiJson<SecondFactorRequest>,
) -> ApiResult<(Cookies, Json<WebSession>)> {
    let Json(tokens) = login_second_factor(State(state.clone()), client, request).await?;
    let (cookies, session) = into_cookies(&state, &tokens);
    Ok((cookies, Json(session)))
}

/// Renews a browser session from its refresh cookie (which is rotated, like the token route's).
#[utoipa::path(
    post,
    path = "/api/v1/auth/web/refresh",
    tag = "auth",
    responses(
        (status = 200, description = "Renewed; new cookies set", body = WebSession),
        (status = 401, description = "No, an expired or an already used refresh cookie", body = ErrorResponse),
        (status = 429, description = "Too many attempts", body = ErrorResponse),
    )
)]
pub async fn web_refresh(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
) -> ApiResult<(Cookies, Json<WebSession>)> {
    let Some(token) = cookies::read(&headers, cookies::REFRESH_COOKIE).filter(|t| !t.is_empty())
    else {
        return Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "no refresh cookie; sign in again",
        ));
    };
    let request = RefreshRequest {
        refresh_token: token.to_owned(),
    };
    let Json(tokens) = refresh(State(state.clone()), client, ApiJson(request)).await?;
    let (cookies, session) = into_cookies(&state, &tokens);
    Ok((cookies, Json(session)))
}
