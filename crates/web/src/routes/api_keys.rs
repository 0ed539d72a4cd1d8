//! The caller's API keys, for scripts and integrations. Managing keys needs a signed-in session:
//! a key cannot make or revoke keys.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{ApiKey, ApiKeyId, AuditOutcome, Permission, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::{ApiJson, UuidPath},
    routes::auth::audit,
    state::AppState,
};

const MAX_ACTIVE_KEYS: usize = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, e.g. "nightly export".
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// What the key may do; never more than the owner's role allows.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Days until the key stops working (1 to 3650); no expiry when absent.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// An API key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's public part: keys look like `jp_<prefix>_<secret>`.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A new key, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// Send as `X-API-Key: <secret>` or `Authorization: Bearer <secret>`. Not shown again.
    pub secret: String,
}

/// Creates an API key.
#[utoipa::path(
    post,
    path = "/api/v1/me/api-keys",
    tag = "account",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key, with its secret (shown once)", body = CreatedApiKey),
        (status = 403, description = "API keys cannot create keys, or a scope exceeds your role", body = ErrorResponse),
        (status = 409, description = "Too many active keys", body = ErrorResponse),
    )
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    caller.require_session(Permission::ManageOwnAccount)?;
    let name = request.name.trim().to_owned();
    let mut problems = Vec::new();
    // The length as sent, as the schema's limit counts it: trimming first let a name of 100
    // characters plus leading spaces through.
    if name.is_empty() || request.name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.push(ErrorDetail::new("name", "1 to 100 printable characters"));
    }
    if request.scopes.is_empty() {
        problems.push(ErrorDetail::new("scopes", "at least one scope"));
    }
    if request
        .expires_in_days
        .is_some_and(|days| !(1..=3650).contains(&days))
    {
        problems.push(ErrorDetail::new("expires_in_days", "from 1 to 3650"));
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    if let Some(scope) = request.scopes.iter().find(|s| !s.allowed_for(caller.role)) {
        return Err(ApiError::forbidden(format!(
            "your role cannot grant the {scope} scope"
        )));
    }
    let now = Utc::now();
    let active = state
        .store()
        .api_keys(caller.user_id)
        .await?
        .iter()
        .filter(|k| k.is_usable(now))
        .count();
    if active >= MAX_ACTIVE_KEYS {
        return Err(ApiError::conflict(
            "too_many_api_keys",
            format!("at most {MAX_ACTIVE_KEYS} active keys; revoke one first"),
        ));
    }
    let mut scopes = request.scopes;
    scopes.sort();
    scopes.dedup();
    let generated = auth::new_api_key();
    let key = ApiKey {
        id: ApiKeyId::new(),
        user_id: caller.user_id,
        name,
        prefix: generated.prefix,
        secret_hash: generated.secret_hash,
        scopes,
        created_at: now,
        expires_at: request
            .expires_in_days
            .map(|days| now + chrono::Duration::days(i64::from(days))),
        last_used_at: None,
        revoked_at: None,
    };
    state.store().create_api_key(&key).await?;
    audit(
        &state,
        &client,
        "apikey.create",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![
            ("key_id", key.id.to_string()),
            ("scopes", domain::scopes_to_text(&key.scopes)),
        ],
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: key.into(),
            secret: generated.token,
        }),
    ))
}

/// Lists the caller's API keys, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/me/api-keys",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The keys (without secrets)", body = Vec<ApiKeyView>),
        (status = 403, description = "API keys cannot list keys", body = ErrorResponse),
    )
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    caller.require_session(Permission::ManageOwnAccount)?;
    let keys = state.store().api_keys(caller.user_id).await?;
    Ok(Json(keys.into_iter().map(Into::into).collect()))
}

/// Revokes one of the caller's API keys at once.
#[utoipa::path(
    delete,
    path = "/api/v1/me/api-keys/{id}",
    tag = "account",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "API keys cannot revoke keys", body = ErrorResponse),
        (status = 404, description = "No such active key of yours", body = ErrorResponse),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<StatusCode> {
    caller.require_session(Permission::ManageOwnAccount)?;
    let id = ApiKeyId::from_uuid(id);
    if !state
        .store()
        .revoke_api_key(caller.user_id, id, Utc::now())
        .await?
    {
        return Err(ApiError::not_found("no such active API key"));
    }
    audit(
        &state,
        &client,
        "apikey.revoke",
        AuditOutcome::Success,
        Some(caller.user_id),
        None,
        vec![("key_id", id.to_string())],
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
