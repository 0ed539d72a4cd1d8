use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{User, UserId};

crate::id::uuid_id!(
    /// A signed-in device's id (the `sid` claim of its access tokens).
    SessionId
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Session {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A session to open, with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub refresh_token_hash: [u8; 32],
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid and is now spent; its successor is stored.
    Rotated { session: Session, user: Box<User> },
    /// The token had been spent already: someone replayed it, so its session was revoked.
    Reused {
        session_id: SessionId,
        user_id: UserId,
    },
    /// Unknown, expired, or its session or account is no longer valid.
    Invalid,
}

/// After how many failures an account is locked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: chrono::Duration,
}

/// Whether an event succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
        }
    }
}

/// A security-relevant event for the append-only audit log. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// Who did it, when known.
    pub actor_id: Option<UserId>,
    /// e.g. `auth.login`, `auth.refresh_reuse`, `admin.user_role`.
    pub action: &'static str,
    pub outcome: AuditOutcome,
    /// The account it concerned, when not the actor.
    pub subject_id: Option<UserId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Extra facts as key/value pairs (stored as a JSON object).
    pub details: Vec<(&'static str, String)>,
}

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub outcome: String,
    pub subject_id: Option<UserId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A JSON object.
    pub details: String,
    /// SHA-256 over the previous entry's hash and this entry (`None` only for entries written
    /// before the chain existed and not yet sealed into it).
    pub hash: Option<[u8; 32]>,
}

/// A user's TOTP state as stored (secrets sealed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TotpRecord {
    pub secret: Option<Vec<u8>>,
    pub pending: Option<Vec<u8>>,
    pub last_step: Option<i64>,
}
