use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Permission, Role, UserId};

/// What an API key may be used for. A key never grants more than its owner's role allows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    /// Read one's own account.
    #[serde(rename = "account:read")]
    AccountRead,
    /// Read and search job postings.
    #[serde(rename = "jobs:read")]
    JobsRead,
    /// Publish, edit and close one's own job postings (recruiters).
    #[serde(rename = "jobs:write")]
    JobsWrite,
    /// Upload, read, edit and match one's own resumes.
    #[serde(rename = "resumes")]
    Resumes,
    /// Track, write and submit one's own applications.
    #[serde(rename = "applications")]
    Applications,
    /// Administration: users, audit log.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::AccountRead,
        Scope::JobsRead,
        Scope::JobsWrite,
        Scope::Resumes,
        Scope::Applications,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountRead => "account:read",
            Scope::JobsRead => "jobs:read",
            Scope::JobsWrite => "jobs:write",
            Scope::Resumes => "resumes",
            Scope::Applications => "applications",
            Scope::Admin => "admin",
        }
    }

    /// The scope a key needs for a permission; `None`: keys can never do it (only a signed-in
    /// session can, e.g. changing the password or managing keys).
    pub fn for_permission(permission: Permission) -> Option<Scope> {
        match permission {
            Permission::ReadOwnAccount => Some(Scope::AccountRead),
            Permission::ReadJobs => Some(Scope::JobsRead),
            Permission::PostJobs => Some(Scope::JobsWrite),
            Permission::ManageOwnResumes | Permission::RankCandidates => Some(Scope::Resumes),
            Permission::ManageOwnApplications => Some(Scope::Applications),
            Permission::ManageOwnAccount => None,
            Permission::ManageUsers
            | Permission::ReadAudit
            | Permission::ManageTasks
            | Permission::ManageSources
            | Permission::ManageKeys => Some(Scope::Admin),
        }
    }

    /// Whether a user of this role may hold a key with this scope.
    pub fn allowed_for(self, role: Role) -> bool {
        match self {
            Scope::AccountRead | Scope::JobsRead | Scope::Resumes | Scope::Applications => true,
            Scope::JobsWrite => matches!(role, Role::Recruiter | Role::Admin),
            Scope::Admin => role == Role::Admin,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

crate::id::uuid_id!(
    /// An API key's id (the key itself carries a separate random prefix, not this id).
    ApiKeyId
);

/// An API key as stored (its secret only as a SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    /// The public part of the key (`jp_<prefix>_…`), unique, used to look it up.
    pub prefix: String,
    pub secret_hash: [u8; 32],
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Scopes as stored: space-separated.
pub fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn scopes_from_text(text: &str) -> Result<Vec<Scope>, String> {
    text.split_whitespace().map(str::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_respect_roles() {
        let scopes = [Scope::AccountRead, Scope::Admin];
        assert_eq!(scopes_from_text(&scopes_to_text(&scopes)).unwrap(), scopes);
        assert!(scopes_from_text("account:read root").is_err());
        assert!(!Scope::Admin.allowed_for(Role::Seeker));
        assert!(Scope::Admin.allowed_for(Role::Admin));
        assert_eq!(Scope::for_permission(Permission::ManageOwnAccount), None);
    }
}
