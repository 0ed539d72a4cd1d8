//! The storage interface the rest of jobpilot talks to.
//!
//! One trait, one implementation per database (`store-sqlite`, `store-postgres`), each with its own
//! migrations; the database URL's scheme picks the implementation. Every read of user data takes
//! the caller's identity, so tenant isolation is enforced here and not only in handlers.

pub mod alerts;
pub mod applications;
pub mod audit;
pub mod events;
pub mod hh;
pub mod jobs;
pub mod resumes;
pub mod sealed;
#[cfg(feature = "sqlx")]
pub mod sql;

pub use alerts::{AlertHit, AlertStore, MatchAlert};
pub use applications::ApplicationStore;
use async_trait::async_trait;
pub use audit::{AuditCheckpoint, AuditFilter, AuditStore};
use chrono::{DateTime, Utc};
use domain::{
    ApiKey, ApiKeyId, Email, ExternalIdentity, LockoutPolicy, NewSession, NewUser, RefreshOutcome,
    Role, Session, SessionId, TotpRecord, User, UserId,
};
pub use events::{UserEvent, UserEventStore};
pub use hh::{HhConnection, HhStore};
pub use jobs::{JobFilter, JobStore, JobWrite, SourceRun, UpsertOutcome, UpsertStatus};
pub use resumes::{NewResume, ParsedResume, Resume, ResumeShare, ResumeStore};
pub use sealed::{PlainValue, SealedColumn, SealedSwap, SealedValue, SealedValues};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; names the rule (e.g. `users.email`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back into a domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the readiness probe reports about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Migrations this binary knows that the database has not applied.
    pub pending_migrations: Vec<i64>,
    /// Migrations the database has applied that this binary does not know (a newer version ran).
    pub unknown_migrations: Vec<i64>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.pending_migrations.is_empty()
    }
}

/// Connection-pool figures for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max_size: u32,
}

#[async_trait]
pub trait Store:
    JobStore
    + ResumeStore
    + AlertStore
    + ApplicationStore
    + UserEventStore
    + HhStore
    + AuditStore
    + SealedValues
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies the migrations this binary carries. Idempotent.
    async fn migrate(&self) -> StoreResult<()>;

    /// Answers whether the database is reachable and fully migrated.
    async fn readiness(&self) -> StoreResult<Readiness>;

    fn pool_stats(&self) -> PoolStats;

    /// Waits for in-flight queries and closes every connection.
    async fn close(&self);

    /// Creates a user; `Conflict("users.email")` if the address is taken in any letter case.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;

    async fn count_users(&self) -> StoreResult<u64>;

    /// Users in id (creation) order, after the cursor.
    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>>;

    /// Changes a role; `None` if there is no such user.
    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>>;

    /// Locks (disables) or unlocks an account; unlocking also clears a failed-login lockout.
    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()>;

    /// Counts a failed sign-in; at the policy's limit the account is locked and the count starts
    /// over. Returns the lock's end when this failure engaged it.
    async fn record_login_failure(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>>;

    /// Clears the failure count after a successful sign-in.
    async fn record_login_success(&self, id: UserId) -> StoreResult<()>;

    /// Opens a session together with its first refresh token.
    async fn create_session(&self, new: NewSession) -> StoreResult<Session>;

    /// Spends a refresh token and stores its successor, atomically. A spent token presented
    /// again revokes its session.
    async fn refresh_session(
        &self,
        token_hash: &[u8; 32],
        successor_hash: &[u8; 32],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome>;

    async fn session(&self, id: SessionId) -> StoreResult<Option<Session>>;

    /// A user's sessions, newest first (the account's data export).
    async fn user_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>>;

    /// Deletes an account and everything hanging off it (sessions, keys, second factor, linked
    /// provider accounts); false if there was none. The audit log keeps its entries: they name
    /// the account only by its id, which then points nowhere.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    /// Revokes one of this user's sessions; false if it is not theirs or already revoked.
    async fn revoke_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Revokes every active session of a user but `except`; returns how many.
    async fn revoke_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Stores a new API key; `Conflict("api_keys.prefix")` on a prefix collision.
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;

    /// A key and its owner, by the key's public prefix.
    async fn api_key_by_prefix(&self, prefix: &str) -> StoreResult<Option<(ApiKey, User)>>;

    /// A user's keys, newest first (revoked ones included).
    async fn api_keys(&self, user_id: UserId) -> StoreResult<Vec<ApiKey>>;

    /// Revokes one of this user's keys; false if it is not theirs or already revoked.
    async fn revoke_api_key(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records that a key was used.
    async fn touch_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;

    async fn totp(&self, user_id: UserId) -> StoreResult<TotpRecord>;

    /// Stores (or clears) a sealed secret awaiting its first code.
    async fn set_totp_pending(
        &self,
        user_id: UserId,
        sealed: Option<&domain::Sealed>,
    ) -> StoreResult<()>;

    /// Turns two-factor authentication on with the confirmed secret and new backup codes
    /// (replacing any old ones); false if nothing was pending.
    async fn enable_totp(
        &self,
        user_id: UserId,
        sealed_secret: &domain::Sealed,
        step: i64,
        backup_code_hashes: &[[u8; 32]],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Turns it off and deletes the secret and backup codes.
    async fn disable_totp(&self, user_id: UserId) -> StoreResult<()>;

    /// Accepts a code's time step only if it is later than the last accepted one (atomic, so a
    /// code cannot be used twice even by concurrent requests).
    async fn accept_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool>;

    /// Spends a backup code; false if unknown or already used.
    async fn use_backup_code(
        &self,
        user_id: UserId,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The account linked to an identity provider's subject, if any.
    async fn user_by_external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<User>>;

    /// Links a provider's subject to an account; `Conflict("user_identities")` if that subject
    /// is linked already.
    async fn link_external_identity(&self, identity: &ExternalIdentity) -> StoreResult<()>;

    /// Creates an account and links the provider's subject to it, atomically.
    /// `Conflict("users.email")` or `Conflict("user_identities")` when either exists.
    async fn create_user_with_identity(
        &self,
        new: NewUser,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
    ) -> StoreResult<User>;

    /// The provider accounts linked to a user, oldest first.
    async fn external_identities(&self, user_id: UserId) -> StoreResult<Vec<ExternalIdentity>>;
}

impl Readiness {
    /// Compares the migrations a binary carries with those a database has applied.
    pub fn compare(known: impl IntoIterator<Item = i64>, applied: &[i64]) -> Self {
        let known: Vec<i64> = known.into_iter().collect();
        Readiness {
            pending_migrations: known
                .iter()
                .copied()
                .filter(|v| !applied.contains(v))
                .collect(),
            unknown_migrations: applied
                .iter()
                .copied()
                .filter(|v| !known.contains(v))
                .collect(),
        }
    }
}

/// The columns every store keeps for a user, as read from a row.
#[derive(Debug)]
pub struct UserColumns<'a> {
    pub id: uuid::Uuid,
    pub email: &'a str,
    pub password_hash: Option<String>,
    pub role: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub totp_enabled_at: Option<DateTime<Utc>>,
}

impl UserColumns<'_> {
    /// Rebuilds the [`User`], checking what the database cannot.
    pub fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            email: Email::parse(self.email)
                .map_err(|e| StoreError::Corrupt(format!("users.email: {e}")))?,
            password_hash: self.password_hash,
            role: self
                .role
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("users.role: {e}")))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            failed_logins: u32::try_from(self.failed_logins).unwrap_or(0),
            locked_until: self.locked_until,
            disabled_at: self.disabled_at,
            totp_enabled_at: self.totp_enabled_at,
        })
    }
}

/// The columns every store keeps for an API key.
#[derive(Debug)]
pub struct ApiKeyColumns {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyColumns {
    pub fn into_api_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self
                .secret_hash
                .try_into()
                .map_err(|_| StoreError::Corrupt("api_keys.secret_hash: not 32 bytes".into()))?,
            scopes: domain::scopes_from_text(&self.scopes)
                .map_err(|e| StoreError::Corrupt(format!("api_keys.scopes: {e}")))?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// An audit event's details as the JSON object the stores keep.
pub fn audit_details_json(details: &[(&'static str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in details.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(key, &mut out);
        out.push(':');
        json_string(value, &mut out);
    }
    out.push('}');
    out
}

fn json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_are_a_json_object_with_escapes() {
        let json = audit_details_json(&[
            ("reason", "bad \"quote\"\n".to_owned()),
            ("n", "1".to_owned()),
        ]);
        assert_eq!(json, r#"{"reason":"bad \"quote\"\u000a","n":"1"}"#);
        assert_eq!(audit_details_json(&[]), "{}");
    }
}
