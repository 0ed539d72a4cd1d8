//! Authentication: who the caller is (a bearer access token whose session is still open) and
//! what they may do (one policy, [`domain::Role::permits`]).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use domain::{ApiKeyId, Permission, Role, Scope, SessionId, User, UserId};

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a signed-in session.
    Session(SessionId),
    /// An API key, limited to its scopes.
    ApiKey { id: ApiKeyId, scopes: Vec<Scope> },
}

/// A caller with a valid access token of an open session, or a valid API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub user_id: UserId,
    /// The account's current role (from the database, not from the token).
    pub role: Role,
    pub credential: Credential,
    /// The account as read at most a few seconds ago.
    pub user: Arc<User>,
}

impl Authenticated {
    /// Fails with 403 unless the caller's role grants `permission` and, for an API key, one of
    /// its scopes covers it.
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        if !self.role.permits(permission) {
            return Err(ApiError::forbidden(
                "your role does not allow this operation",
            ));
        }
        match &self.credential {
            Credential::Session(_) => Ok(()),
            Credential::ApiKey { scopes, .. } => match Scope::for_permission(permission) {
                Some(needed) if scopes.contains(&needed) => Ok(()),
                Some(needed) => Err(ApiError::forbidden(format!(
                    "this API key lacks the {needed} scope"
                ))),
                None => Err(ApiError::forbidden(
                    "this operation needs a signed-in session, not an API key",
                )),
            },
        }
    }

    /// The session this request belongs to, when it comes from one.
    pub fn session_id(&self) -> Option<SessionId> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::ApiKey { .. } => None,
        }
    }

    /// The account as the database holds it now (the cached [`Authenticated::user`] may be a few
    /// seconds old): for changes that re-check the password or the second factor.
    pub async fn fresh_user(&self, state: &AppState) -> ApiResult<User> {
        state
            .store()
            .user_by_id(self.user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "this account no longer exists"))
    }

    /// Like [`Authenticated::require`], and also insists on a session (returning its id).
    pub fn require_session(&self, permission: Permission) -> ApiResult<SessionId> {
        self.require(permission)?;
        self.session_id().ok_or_else(|| {
            ApiError::forbidden("this operation needs a signed-in session, not an API key")
        })
    }
}

fn api_key_header(parts: &Parts) -> Option<&str> {
    parts.headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(key) = api_key_header(parts)
            .or_else(|| bearer_token(parts).filter(|t| auth::looks_like_api_key(t)))
        {
            return authenticate_api_key(state, key).await;
        }
        let (token, from_cookie) = match bearer_token(parts) {
            Some(token) => (token, false),
            None => match crate::cookies::read(&parts.headers, crate::cookies::ACCESS_COOKIE) {
                Some(token) if !token.is_empty() => (token, true),
                _ => {
                    return Err(ApiError::unauthorized(
                        "unauthorized",
                        "sign in first: send Authorization: Bearer <access token>",
                    ));
                }
            },
        };
        let caller = authenticate_session(state, token).await?;
        // A browser sends cookies on its own: a state-changing request must also prove it comes
        // from our pages.
        if let Credential::Session(session_id) = caller.credential
            && from_cookie
            && crate::cookies::needs_csrf(&parts.method)
            && !crate::cookies::csrf_ok(state, session_id, &parts.headers)
        {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf_failed",
                "send this session's CSRF token in the X-CSRF-Token header",
            ));
        }
        Ok(caller)
    }
}

/// The caller behind an access token, if its session is still open. The token may come from a
/// header or a cookie: checking that a cookie-borne request is no forgery is the caller's part.
pub(crate) async fn authenticate_session(
    state: &AppState,
    token: &str,
) -> ApiResult<Authenticated> {
    let claims = state
        .tokens()
        .verify(token, Utc::now())
        .map_err(|e| ApiError::unauthorized("invalid_token", format!("{e}; sign in again")))?;
    let session_id = claims.session_id();
    let Some(user) = state
        .sessions()
        .open_session_user(state, session_id)
        .await?
        .filter(|user| user.id == claims.user_id())
    else {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this session has ended; sign in again",
        ));
    };
    Ok(Authenticated {
        user_id: user.id,
        role: user.role,
        credential: Credential::Session(session_id),
        user,
    })
}

async fn authenticate_api_key(state: &AppState, token: &str) -> ApiResult<Authenticated> {
    let invalid = || {
        ApiError::unauthorized(
            "invalid_api_key",
            "the API key is unknown, revoked or expired",
        )
    };
    let (prefix, presented) = auth::parse_api_key(token).ok_or_else(invalid)?;
    let (key, user) = state
        .store()
        .api_key_by_prefix(prefix)
        .await?
        .ok_or_else(invalid)?;
    let now = Utc::now();
    if !auth::secret_matches(&key.secret_hash, &presented)
        || !key.is_usable(now)
        || user.disabled_at.is_some()
    {
        return Err(invalid());
    }
    state.api_key_usage().record(state, key.id, now).await;
    let user = Arc::new(user);
    Ok(Authenticated {
        user_id: user.id,
        role: user.role,
        user: user.clone(),
        credential: Credential::ApiKey {
            id: key.id,
            // A key never outranks its owner: scopes the role no longer allows are dropped.
            scopes: key
                .scopes
                .into_iter()
                .filter(|scope| scope.allowed_for(user.role))
                .collect(),
        },
    })
}

/// Writes a key's last-used time at most once a minute per key and process.
#[derive(Debug, Default)]
pub struct ApiKeyUsage {
    written: std::sync::Mutex<HashMap<ApiKeyId, Instant>>,
}

const USAGE_WRITE_EVERY: Duration = Duration::from_secs(60);

impl ApiKeyUsage {
    async fn record(&self, state: &AppState, id: ApiKeyId, now: chrono::DateTime<Utc>) {
        let due = self.written.lock().is_ok_and(|mut written| {
            if written.len() >= CACHE_LIMIT {
                written.retain(|_, at| at.elapsed() < USAGE_WRITE_EVERY);
            }
            match written.get(&id) {
                Some(at) if at.elapsed() < USAGE_WRITE_EVERY => false,
                _ => {
                    written.insert(id, Instant::now());
                    true
                }
            }
        });
        if due && let Err(error) = state.store().touch_api_key(id, now).await {
            tracing::warn!(error = %crate::error::ErrorChain(&error), "could not record API key use");
        }
    }
}

/// Remembers for a few seconds whether a session is open, and its account, so an
/// authenticated request costs no database query. Changes made through this process take effect
/// at once (the entries are forgotten); those made by another replica within the cache's
/// lifetime.
#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    entries: RwLock<HashMap<SessionId, CachedSession>>,
}

/// When a session was looked up, and its account if it was open.
type CachedSession = (Instant, Option<Arc<User>>);

const CACHE_LIMIT: usize = 100_000;

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The session's account if the session is open and the account may still sign in.
    pub(crate) async fn open_session_user(
        &self,
        state: &AppState,
        id: SessionId,
    ) -> ApiResult<Option<Arc<User>>> {
        let cached = self
            .entries
            .read()
            .ok()
            .and_then(|entries| entries.get(&id).cloned())
            .filter(|(at, _)| at.elapsed() < self.ttl);
        if let Some((_, user)) = cached {
            return Ok(user);
        }
        let now = Utc::now();
        let user = match state.store().session(id).await? {
            Some(session) if session.is_active(now) => state
                .store()
                .user_by_id(session.user_id)
                .await?
                .filter(|user| user.disabled_at.is_none())
                .map(Arc::new),
            _ => None,
        };
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CACHE_LIMIT {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            entries.insert(id, (Instant::now(), user.clone()));
        }
        Ok(user)
    }

    /// Forgets one session (after it was revoked here or on another replica).
    pub(crate) fn forget_locally(&self, id: SessionId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }

    /// Forgets every session (after several of a user's were revoked).
    pub(crate) fn forget_all_locally(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
