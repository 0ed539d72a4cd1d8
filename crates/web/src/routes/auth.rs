//! Accounts and sign-in: registration, login, token refresh, logout.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
};
use chrono::{DateTime, Utc};
use domain::{
    AuditEvent, AuditOutcome, Email, NewSession, NewUser, Password, Permission, RefreshOutcome,
    Role, SessionId, User, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::ApiJson,
    state::{AppState, Rule},
};

/// Passwords longer than the policy allows cannot be right; they are refused without hashing.
const LOGIN_PASSWORD_MAX_CHARS: usize = 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The account's e-mail address (internationalised addresses allowed); compared
    /// case-insensitively and stored lower-cased.
    #[schema(format = IdnEmail, max_length = 254, example = "ada@example.org")]
    pub email: String,
    /// 12 to 128 characters, not one of the 10,000 most common passwords; no composition rules.
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub password: String,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    #[schema(format = IdnEmail)]
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// Checks a new password against the policy: length, and not a common password.
pub(crate) fn new_password(raw: String, target: &str) -> Result<Password, ErrorDetail> {
    if auth::is_common_password(&raw) {
        return Err(ErrorDetail::new(
            target,
            "this password is one of the most common ones; choose another",
        ));
    }
    Password::parse(raw).map_err(|e| ErrorDetail::new(target, e.to_string()))
}

/// Re-authentication for sensitive changes: whether `password` is the account's password.
/// Over-long input cannot match and is not hashed.
pub(crate) async fn password_matches(
    state: &AppState,
    user: &User,
    password: &str,
) -> ApiResult<bool> {
    let Some(hash) = &user.password_hash else {
        return Ok(false);
    };
    if password.chars().count() > domain::PASSWORD_MAX_CHARS {
        return Ok(false);
    }
    let verification = state
        .passwords()
        .verify(password, hash)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(verification != auth::Verification::Mismatch)
}

/// The 429 for a request over a limit, with `Retry-After` and the `RateLimit-*` headers.
pub(crate) fn rate_limited(limit: u32, retry_after: std::time::Duration) -> ApiError {
    let seconds = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many attempts; try again in {seconds} s"),
    )
    .with_header(RETRY_AFTER, HeaderValue::from(seconds))
    .with_header(
        axum::http::HeaderName::from_static("ratelimit-limit"),
        HeaderValue::from(limit),
    )
    .with_header(
        axum::http::HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(0),
    )
    .with_header(
        axum::http::HeaderName::from_static("ratelimit-reset"),
        HeaderValue::from(seconds),
    )
}

/// An audit entry for what a client did now, for a store to append with its own write.
pub(crate) fn audit_event(
    client: &Client,
    action: &'static str,
    outcome: AuditOutcome,
    actor_id: Option<UserId>,
    subject_id: Option<UserId>,
    details: Vec<(&'static str, String)>,
) -> AuditEvent {
    AuditEvent {
        at: Utc::now(),
        actor_id,
        action,
        outcome,
        subject_id,
        ip: Some(client.ip.to_string()),
        user_agent: client.user_agent.clone(),
        details,
    }
}

/// Appends to the audit log; a failure to do so is logged, not fatal to the request.
pub(crate) async fn audit(
    state: &AppState,
    client: &Client,
    action: &'static str,
    outcome: AuditOutcome,
    actor_id: Option<UserId>,
    subject_id: Option<UserId>,
    details: Vec<(&'static str, String)>,
) {
    append_audit(
        state,
        audit_event(client, action, outcome, actor_id, subject_id, details),
    )
    .await;
}

/// Appends an entry through the audit writer; a failure is logged, not fatal to the request.
pub(crate) async fn append_audit(state: &AppState, event: AuditEvent) {
    let action = event.action;
    if let Err(error) = state.audit_log().append(event).await {
        tracing::error!(%error, action, "audit event lost");
    }
}

/// Creates a seeker account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account was created", body = UserView),
        (status = 409, description = "An account with this e-mail address exists", body = ErrorResponse),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let email = Email::parse(&request.email);
    let password = new_password(request.password, "password");
    let (email, password) = match (email, password) {
        (Ok(email), Ok(password)) => (email, password),
        (email, password) => {
            let mut details = Vec::new();
            if let Err(e) = email {
                details.push(ErrorDetail::new("email", e.to_string()));
            }
            if let Err(detail) = password {
                details.push(detail);
            }
            return Err(ApiError::validation(details));
        }
    };
    let password_hash = state
        .passwords()
        .hash(&password)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let user = state
        .store()
        .create_user(NewUser {
            email,
            password_hash: Some(password_hash),
            role: Role::Seeker,
        })
        .await
        .map_err(|error| match error {
            store::StoreError::Conflict(_) => ApiError::conflict(
                "email_taken",
                "an account with this e-mail address already exists",
            ),
            other => other.into(),
        })?;
    audit(
        &state,
        &client,
        "auth.register",
        AuditOutcome::Success,
        Some(user.id),
        None,
        Vec::new(),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = IdnEmail, max_length = 254, example = "ada@example.org")]
    pub email: String,
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
}

/// A signed-in session's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange at `/api/v1/auth/refresh` for new tokens; usable once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_token_expires_in: i64,
    pub session_id: Uuid,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "the e-mail address or password is wrong, or the account is locked for now",
    )
}

fn refresh_ttl(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.settings().refresh_token_ttl)
        .unwrap_or(chrono::Duration::days(30))
}

/// Signs in with e-mail and password and opens a session.
///
/// Unknown addresses, wrong passwords and locked accounts get the same answer in the same time.
/// After too many failures in a row the account is locked for a while.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or (two-factor authentication on) a challenge for the code", body = LoginResponse),
        (status = 401, description = "Wrong e-mail address or password, or the account is locked", body = ErrorResponse),
        (status = 429, description = "Too many attempts from this address or for this account", body = ErrorResponse),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let email = Email::parse(&request.email)
        .map_err(|e| ApiError::validation(vec![ErrorDetail::new("email", e.to_string())]))?;
    state
        .check_limit(Rule::AuthByAccount, email.as_str())
        .await?;
    if request.password.chars().count() > LOGIN_PASSWORD_MAX_CHARS.min(domain::PASSWORD_MAX_CHARS) {
        return Err(invalid_credentials());
    }
    let now = Utc::now();
    let user = state.store().user_by_email(&email).await?;
    let usable = user.as_ref().filter(|u| u.may_sign_in(now));
    let stored_hash = usable
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or(state.dummy_hash());
    let verification = state
        .passwords()
        .verify(&request.password, stored_hash)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let Some(user) = usable.filter(|_| verification != auth::Verification::Mismatch) else {
        let (outcome, reason) = match &user {
            None => (AuditOutcome::Failure, "unknown_account"),
            Some(u) if !u.may_sign_in(now) => (AuditOutcome::Denied, "locked"),
            Some(_) => (AuditOutcome::Failure, "wrong_password"),
        };
        let mut details = vec![("reason", reason.to_owned())];
        if let Some(user) = user.as_ref().filter(|_| reason == "wrong_password") {
            let locked = state
                .store()
                .record_login_failure(user.id, now, state.settings().lockout)
                .await?;
            if let Some(until) = locked {
                details.push(("locked_until", until.to_rfc3339()));
            }
        }
        if user.is_none() {
            details.push(("email", email.to_string()));
        }
        audit(
            &state,
            &client,
            "auth.login",
            outcome,
            user.as_ref().map(|u| u.id),
            None,
            details,
        )
        .await;
        return Err(invalid_credentials());
    };
    if let auth::Verification::MatchNeedsRehash(new_hash) = &verification {
        state.store().set_password_hash(user.id, new_hash).await?;
    }
    if user.totp_enabled_at.is_some() {
        // The password was right; the session opens only after the second factor.
        let (challenge, expires) =
            state
                .challenges()
                .issue(user.id, user.role, SessionId::new(), now);
        audit(
            &state,
            &client,
            "auth.login_second_factor_required",
            AuditOutcome::Success,
            Some(user.id),
            None,
            Vec::new(),
        )
        .await;
        return Ok(Json(LoginResponse::SecondFactor(SecondFactorRequired {
            second_factor_required: true,
            challenge,
            expires_in: (expires - now).num_seconds(),
        })));
    }
    state.store().record_login_success(user.id).await?;
    let response = open_session(&state, &client, user).await?;
    audit(
        &state,
        &client,
        "auth.login",
        AuditOutcome::Success,
        Some(user.id),
        None,
        Vec::new(),
    )
    .await;
    Ok(Json(LoginResponse::Tokens(response)))
}

/// The answer to a correct password on an account with two-factor authentication.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorRequired {
    /// Always `true`.
    pub second_factor_required: bool,
    /// Send with the code to `/api/v1/auth/login/2fa`.
    pub challenge: String,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
}

/// Tokens, or (with two-factor authentication on) a challenge for the second factor.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(TokenResponse),
    SecondFactor(SecondFactorRequired),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// The `challenge` from `/api/v1/auth/login`.
    #[schema(max_length = 4096)]
    pub challenge: String,
    /// The code the authenticator app shows, or an unused backup code.
    #[schema(max_length = 64, example = "123456")]
    pub code: String,
}

/// Completes a sign-in with the second factor. Each TOTP code and each backup code works once;
/// wrong codes count towards the account's lockout.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login/2fa",
    tag = "auth",
    request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Expired challenge, or a wrong or used code", body = ErrorResponse),
        (status = 429, description = "Too many attempts", body = ErrorResponse),
    )
)]
pub async fn login_second_factor(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<SecondFactorRequest>,
) -> ApiResult<Json<TokenResponse>> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let now = Utc::now();
    let claims = state
        .challenges()
        .verify(&request.challenge, now)
        .map_err(|_| {
            ApiError::unauthorized(
                "invalid_challenge",
                "the challenge is invalid or expired; sign in again",
            )
        })?;
    let user_id = claims.user_id();
    state
        .check_limit(Rule::AuthByAccount, &user_id.to_string())
        .await?;
    let wrong = || ApiError::unauthorized("invalid_code", "the code is wrong or was already used");
    let user = state
        .store()
        .user_by_id(user_id)
        .await?
        .filter(|u| u.may_sign_in(now))
        .ok_or_else(wrong)?;
    let method = if request.code.chars().count() <= 64 {
        crate::routes::two_factor::check_second_factor(&state, &user, &request.code).await?
    } else {
        None
    };
    let Some(method) = method else {
        let locked = state
            .store()
            .record_login_failure(user.id, now, state.settings().lockout)
            .await?;
        let mut details = vec![("reason", "wrong_second_factor".to_owned())];
        if let Some(until) = locked {
            details.push(("locked_until", until.to_rfc3339()));
        }
        audit(
            &state,
            &client,
            "auth.login",
            AuditOutcome::Failure,
            Some(user.id),
            None,
            details,
        )
        .await;
        return Err(wrong());
    };
    state.store().record_login_success(user.id).await?;
    let response = open_session(&state, &client, &user).await?;
    audit(
        &state,
        &client,
        "auth.login",
        AuditOutcome::Success,
        Some(user.id),
        None,
        vec![("second_factor", method.to_owned())],
    )
    .await;
    Ok(Json(response))
}

pub(crate) async fn open_session(
    state: &AppState,
    client: &Client,
    user: &User,
) -> ApiResult<TokenResponse> {
    let now = Utc::now();
    let (refresh_token, refresh_hash) = auth::new_refresh_token();
    let refresh_ttl = refresh_ttl(state);
    let session = state
        .store()
        .create_session(NewSession {
            user_id: user.id,
            refresh_token_hash: refresh_hash,
            expires_at: now + refresh_ttl,
            user_agent: client.user_agent.clone(),
            ip: Some(client.ip.to_string()),
        })
        .await?;
    Ok(TokenResponse::issue(
        state,
        user,
        session.id,
        refresh_token,
        refresh_ttl,
        now,
    ))
}

impl TokenResponse {
    /// A fresh access token for the session, with the refresh token that goes with it.
    fn issue(
        state: &AppState,
        user: &User,
        session: SessionId,
        refresh_token: String,
        refresh_ttl: chrono::Duration,
        now: chrono::DateTime<Utc>,
    ) -> Self {
        let (access_token, expires) = state.tokens().issue(user.id, user.role, session, now);
        Self {
            access_token,
            token_type: "Bearer",
            expires_in: (expires - now).num_seconds(),
            refresh_token,
            refresh_token_expires_in: refresh_ttl.num_seconds(),
            session_id: session.as_uuid(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(max_length = 512)]
    pub refresh_token: String,
}

/// Exchanges a refresh token for new tokens. Each refresh token works once: presenting a used
/// one again ends its session (it was copied), and the attempt is audited.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the old refresh token is spent", body = TokenResponse),
        (status = 401, description = "Unknown, expired or already used refresh token", body = ErrorResponse),
        (status = 429, description = "Too many attempts from this address", body = ErrorResponse),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let invalid = || {
        ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is unknown, expired or already used; sign in again",
        )
    };
    if request.refresh_token.len() > 512 {
        return Err(invalid());
    }
    let now = Utc::now();
    let (refresh_token, successor_hash) = auth::new_refresh_token();
    let refresh_ttl = refresh_ttl(&state);
    let outcome = state
        .store()
        .refresh_session(
            &auth::refresh_token_hash(&request.refresh_token),
            &successor_hash,
            now,
            now + refresh_ttl,
        )
        .await?;
    match outcome {
        RefreshOutcome::Rotated { session, user } => Ok(Json(TokenResponse::issue(
            &state,
            &user,
            session.id,
            refresh_token,
            refresh_ttl,
            now,
        ))),
        RefreshOutcome::Reused {
            session_id,
            user_id,
        } => {
            state.session_ended(Some(session_id)).await;
            tracing::warn!(%user_id, %session_id, "a spent refresh token was presented again; session revoked");
            audit(
                &state,
                &client,
                "auth.refresh_reuse",
                AuditOutcome::Denied,
                None,
                Some(user_id),
                vec![("session_id", session_id.to_string())],
            )
            .await;
            Err(invalid())
        }
        RefreshOutcome::Invalid => Err(invalid()),
    }
}

/// `Set-Cookie` headers that remove a browser session's cookies (harmless for token clients).
pub(crate) type ClearCookies =
    axum::response::AppendHeaders<Vec<(axum::http::HeaderName, axum::http::HeaderValue)>>;

fn clear_cookies(state: &AppState) -> ClearCookies {
    axum::response::AppendHeaders(
        crate::cookies::clearing_cookies(state)
            .into_iter()
            .map(|value| (axum::http::header::SET_COOKIE, value))
            .collect(),
    )
}

/// Ends this session: its refresh token stops working and its access tokens are refused.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"))
)]
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
) -> ApiResult<(ClearCookies, StatusCode)> {
    let session_id = caller.require_session(Permission::ManageOwnAccount)?;
    state
        .store()
        .revoke_session(caller.user_id, session_id, Utc::now())
        .await?;
    state.session_ended(Some(session_id)).await;
    audit(
        &state,
        &client,
        "auth.logout",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        Vec::new(),
    )
    .await;
    Ok((clear_cookies(&state), StatusCode::NO_CONTENT))
}

/// Ends every session of the caller's account, on every device.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere"))
)]
pub async fn logout_all(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
) -> ApiResult<(ClearCookies, StatusCode)> {
    caller.require_session(Permission::ManageOwnAccount)?;
    let ended = state
        .store()
        .revoke_sessions(caller.user_id, None, Utc::now())
        .await?;
    state.session_ended(None).await;
    audit(
        &state,
        &client,
        "auth.logout_all",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("sessions", ended.to_string())],
    )
    .await;
    Ok((clear_cookies(&state), StatusCode::NO_CONTENT))
}
