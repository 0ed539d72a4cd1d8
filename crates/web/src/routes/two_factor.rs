//! Two-factor authentication (TOTP) for the caller's account: enrol with a QR code, confirm with
//! a first code (which yields ten single-use backup codes), turn off with password and code.

use axum::{Json, extract::State, http::StatusCode};
use base64::Engine as _;
use chrono::Utc;
use domain::{AuditOutcome, Permission, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::ApiJson,
    routes::auth::{audit, password_matches},
    state::AppState,
    state::Rule,
};

/// Where a user's TOTP secrets are sealed: bound to the row, so a sealed secret copied to
/// another user does not open.
fn place<'a>(column: &'a str, row: &'a str) -> auth::Place<'a> {
    auth::Place {
        table: "users",
        column,
        row,
    }
}

/// Opens a sealed TOTP secret of a user.
pub(crate) fn open_secret(
    state: &AppState,
    user_id: UserId,
    column: &str,
    sealed: &[u8],
) -> ApiResult<zeroize::Zeroizing<Vec<u8>>> {
    let row = user_id.to_string();
    state
        .key_ring()
        .open(sealed, place(column, &row))
        .map_err(|e| ApiError::internal(&e))
}

/// Checks a second factor: a current TOTP code (each usable once) or an unused backup code.
/// Returns which kind matched.
pub(crate) async fn check_second_factor(
    state: &AppState,
    user: &User,
    code: &str,
) -> ApiResult<Option<&'static str>> {
    let record = state.store().totp(user.id).await?;
    let Some(sealed) = record.secret else {
        return Ok(None);
    };
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() == auth::TOTP_DIGITS as usize && compact.bytes().all(|b| b.is_ascii_digit()) {
        let secret = open_secret(state, user.id, "totp_secret", &sealed)?;
        let Some(step) = auth::verify_totp(&secret, &compact, Utc::now().timestamp()) else {
            return Ok(None);
        };
        return Ok(state
            .store()
            .accept_totp_step(user.id, step)
            .await?
            .then_some("totp"));
    }
    Ok(state
        .store()
        .use_backup_code(user.id, &auth::backup_code_hash(code), Utc::now())
        .await?
        .then_some("backup_code"))
}

/// What an authenticator app needs to enrol.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorSetup {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code encodes.
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
    /// The QR code as a PNG image, base64-encoded.
    pub qr_png_base64: String,
}

/// Starts enrolment: a new secret, shown once as text, URI and QR code. Two-factor
/// authentication is on only after `/api/v1/me/2fa/confirm` accepts a first code.
#[utoipa::path(
    post,
    path = "/api/v1/me/2fa/setup",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret; not active until confirmed", body = TwoFactorSetup),
        (status = 403, description = "API keys cannot do this", body = ErrorResponse),
        (status = 409, description = "Two-factor authentication is already on", body = ErrorResponse),
    )
)]
pub async fn setup_two_factor(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<TwoFactorSetup>> {
    caller.require_session(Permission::ManageOwnAccount)?;
    let user = caller.fresh_user(&state).await?;
    if user.totp_enabled_at.is_some() {
        return Err(ApiError::conflict(
            "two_factor_enabled",
            "two-factor authentication is already on; turn it off first to enrol again",
        ));
    }
    let secret = zeroize::Zeroizing::new(auth::new_totp_secret());
    let row = user.id.to_string();
    let sealed = state.key_ring().seal(&secret, place("totp_pending", &row));
    state
        .store()
        .set_totp_pending(user.id, Some(&sealed))
        .await?;
    let uri = auth::otpauth_uri(&secret, "jobpilot", user.email.as_str());
    let (Some(svg), Some(png)) = (auth::qr_svg(&uri), auth::qr_png(&uri)) else {
        return Err(ApiError::internal(&std::io::Error::other(
            "the QR code could not be drawn",
        )));
    };
    Ok(Json(TwoFactorSetup {
        secret: auth::base32(&secret),
        otpauth_uri: uri,
        qr_svg: svg,
        qr_png_base64: base64::engine::general_purpose::STANDARD.encode(png),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTwoFactorRequest {
    /// The 6-digit code the authenticator app shows now.
    #[schema(max_length = 16, example = "123456")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodes {
    /// Ten single-use codes for when the authenticator is lost. Shown this once.
    pub backup_codes: Vec<String>,
}

/// Turns two-factor authentication on after checking a first code from the app.
#[utoipa::path(
    post,
    path = "/api/v1/me/2fa/confirm",
    tag = "account",
    security(("bearer" = [])),
    request_body = ConfirmTwoFactorRequest,
    responses(
        (status = 200, description = "On; the backup codes (shown once)", body = BackupCodes),
        (status = 403, description = "API keys cannot do this", body = ErrorResponse),
        (status = 409, description = "No enrolment is in progress", body = ErrorResponse),
    )
)]
pub async fn confirm_two_factor(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<ConfirmTwoFactorRequest>,
) -> ApiResult<Json<BackupCodes>> {
    caller.require_session(Permission::ManageOwnAccount)?;
    state
        .check_limit(Rule::AuthByAccount, &caller.user_id.to_string())
        .await?;
    let record = state.store().totp(caller.user_id).await?;
    let Some(pending) = record.pending else {
        return Err(ApiError::conflict(
            "no_pending_setup",
            "start with POST /api/v1/me/2fa/setup",
        ));
    };
    let secret = open_secret(&state, caller.user_id, "totp_pending", &pending)?;
    let Some(step) = auth::verify_totp(&secret, &request.code, Utc::now().timestamp()) else {
        return Err(ApiError::validation(vec![ErrorDetail::new(
            "code",
            "the code is wrong or expired; check the device's clock",
        )]));
    };
    let row = caller.user_id.to_string();
    let sealed = state.key_ring().seal(&secret, place("totp_secret", &row));
    let codes = auth::new_backup_codes();
    let hashes: Vec<[u8; 32]> = codes.iter().map(|(_, hash)| *hash).collect();
    if !state
        .store()
        .enable_totp(caller.user_id, &sealed, step, &hashes, Utc::now())
        .await?
    {
        return Err(ApiError::conflict(
            "no_pending_setup",
            "start with POST /api/v1/me/2fa/setup",
        ));
    }
    audit(
        &state,
        &client,
        "account.2fa_enable",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        Vec::new(),
    )
    .await;
    Ok(Json(BackupCodes {
        backup_codes: codes.into_iter().map(|(code, _)| code).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTwoFactorRequest {
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
    /// A current code from the app, or an unused backup code.
    #[schema(max_length = 64)]
    pub code: String,
}

/// Turns two-factor authentication off; needs the password and a code.
#[utoipa::path(
    post,
    path = "/api/v1/me/2fa/disable",
    tag = "account",
    security(("bearer" = [])),
    request_body = DisableTwoFactorRequest,
    responses(
        (status = 204, description = "Off; the secret and backup codes are deleted"),
        (status = 403, description = "Wrong password or code, or an API key", body = ErrorResponse),
        (status = 409, description = "Two-factor authentication is not on", body = ErrorResponse),
    )
)]
pub async fn disable_two_factor(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<DisableTwoFactorRequest>,
) -> ApiResult<StatusCode> {
    caller.require_session(Permission::ManageOwnAccount)?;
    state
        .check_limit(Rule::AuthByAccount, &caller.user_id.to_string())
        .await?;
    let user = caller.fresh_user(&state).await?;
    if user.totp_enabled_at.is_none() {
        return Err(ApiError::conflict(
            "two_factor_disabled",
            "two-factor authentication is not on",
        ));
    }
    let password_ok = password_matches(&state, &user, &request.password).await?;
    let code_ok = password_ok
        && request.code.chars().count() <= 64
        && check_second_factor(&state, &user, &request.code)
            .await?
            .is_some();
    if !code_ok {
        audit(
            &state,
            &client,
            "account.2fa_disable",
            AuditOutcome::Failure,
            Some(user.id),
            None,
            Vec::new(),
        )
        .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the password or the code is wrong",
        ));
    }
    state.store().disable_totp(user.id).await?;
    audit(
        &state,
        &client,
        "account.2fa_disable",
        AuditOutcome::Success,
        Some(user.id),
        None,
        Vec::new(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
