//! Authentication: who the caller is (a bearer access token whose session is still open) and
//! what they may do (one policy, [`domain::Role::permits`]).

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use domain::{Permission, Role, SessionId, UserId};

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// A caller with a valid access token of an open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub user_id: UserId,
    pub role: Role,
    pub session_id: SessionId,
}

impl Authenticated {
    /// Fails with 403 unless the caller's role grants `permission`.
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        if self.role.permits(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "your role does not allow this operation",
            ))
        }
    }
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
        let Some(token) = bearer_token(parts) else {
            return Err(ApiError::unauthorized(
                "unauthorized",
                "sign in first: send Authorization: Bearer <access token>",
            ));
        };
        let claims = state
            .tokens()
            .verify(token, Utc::now())
            .map_err(|e| ApiError::unauthorized("invalid_token", format!("{e}; sign in again")))?;
        let session_id = claims.session_id();
        if !state.sessions().is_open(state, session_id).await? {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "this session has ended; sign in again",
            ));
        }
        Ok(Self {
            user_id: claims.user_id(),
            role: claims.role,
            session_id,
        })
    }
}

/// Remembers for a few seconds whether a session is open, so an authenticated request does not
/// cost a database query. Revocations made through this process take effect at once; those
/// made by another replica within the cache's lifetime.
#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    entries: RwLock<HashMap<SessionId, (Instant, bool)>>,
}

const CACHE_LIMIT: usize = 100_000;

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    async fn is_open(&self, state: &AppState, id: SessionId) -> ApiResult<bool> {
        let cached = self
            .entries
            .read()
            .ok()
            .and_then(|entries| entries.get(&id).copied())
            .filter(|(at, _)| at.elapsed() < self.ttl);
        if let Some((_, open)) = cached {
            return Ok(open);
        }
        let open = state
            .store()
            .session(id)
            .await?
            .is_some_and(|session| session.is_active(Utc::now()));
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CACHE_LIMIT {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            entries.insert(id, (Instant::now(), open));
        }
        Ok(open)
    }

    /// Forgets one session (after revoking it).
    pub fn forget(&self, id: SessionId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }

    /// Forgets every session (after revoking several of a user's).
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
