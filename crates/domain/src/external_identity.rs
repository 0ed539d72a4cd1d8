//! Accounts at identity providers (OpenID Connect) linked to jobpilot accounts.

use chrono::{DateTime, Utc};

use crate::UserId;

/// A person as an identity provider knows them: the issuer's stable subject id, never the
/// e-mail address, which can change hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub user_id: UserId,
    pub issuer: String,
    pub subject: String,
    /// The address the provider vouched for when the link was made.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}
