//! Users' HH.ru connections: the OAuth2 tokens (sealed by the caller) that let jobpilot apply
//! through HH.ru on a user's behalf.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq)]
pub struct HhConnection {
    pub user_id: UserId,
    /// Sealed at `hh_connections.access_sealed`, row = the user id.
    pub access_sealed: Vec<u8>,
    /// Sealed at `hh_connections.refresh_sealed`, row = the user id.
    pub refresh_sealed: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait HhStore: Send + Sync {
    async fn hh_connection(&self, user: UserId) -> StoreResult<Option<HhConnection>>;

    /// Stores a new connection (replacing any earlier one of the user).
    async fn save_hh_connection(
        &self,
        user: UserId,
        access: &domain::Sealed,
        refresh: &domain::Sealed,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Replaces refreshed tokens if the refresh token is still `old_refresh` (a concurrent
    /// refresh wins; its tokens stand); true if replaced.
    async fn replace_hh_tokens(
        &self,
        user: UserId,
        old_refresh: &[u8],
        access: &domain::Sealed,
        refresh: &domain::Sealed,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Forgets the connection; false if there was none.
    async fn delete_hh_connection(&self, user: UserId) -> StoreResult<bool>;
}
