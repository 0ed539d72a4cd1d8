use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Email;

crate::id::uuid_id!(
    /// A user's id: a UUIDv7, so ids sort by creation time and index well.
    UserId
);

/// What a user may do. Permission checks compare roles in one place, never ad hoc.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Searches jobs, uploads resumes, tracks applications.
    #[default]
    Seeker,
    /// Ranks resumes shared with them against their postings.
    Recruiter,
    /// Operates the service.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Seeker, Role::Recruiter, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Seeker => "seeker",
            Role::Recruiter => "recruiter",
            Role::Admin => "admin",
        }
    }
}

/// Something a caller may be allowed to do. Which role may do what is decided here, in one
/// place; handlers ask, they never compare roles themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read one's own account.
    ReadOwnAccount,
    /// Change one's own account: password, API keys, sessions.
    ManageOwnAccount,
    /// List users, change roles, lock and unlock accounts.
    ManageUsers,
    /// Read the audit log.
    ReadAudit,
    /// See every task of the queue; retry, cancel and discard them.
    ManageTasks,
    /// Read and search job postings.
    ReadJobs,
    /// See the sources' status, start syncs, push jobs in.
    ManageSources,
    /// Upload, read, edit, delete and match one's own resumes.
    ManageOwnResumes,
    /// See which encryption keys protect stored data; start a key rotation.
    ManageKeys,
    /// Track one's own applications, write their documents and submit them.
    ManageOwnApplications,
    /// Rank the resumes shared with one (or uploaded by one) against postings; upload
    /// resumes in batches.
    RankCandidates,
    /// Publish job postings on jobpilot, and edit and close one's own.
    PostJobs,
}

impl Role {
    pub fn permits(self, permission: Permission) -> bool {
        match permission {
            Permission::ReadOwnAccount
            | Permission::ManageOwnAccount
            | Permission::ReadJobs
            | Permission::ManageOwnResumes
            | Permission::ManageOwnApplications => true,
            Permission::ManageUsers
            | Permission::ReadAudit
            | Permission::ManageTasks
            | Permission::ManageSources
            | Permission::ManageKeys => self == Role::Admin,
            Permission::RankCandidates | Permission::PostJobs => {
                matches!(self, Role::Recruiter | Role::Admin)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected seeker, recruiter or admin")]
pub struct RoleParseError(pub String);

impl FromStr for Role {
    type Err = RoleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| RoleParseError(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    /// PHC string (argon2id); `None` for accounts that only sign in through an identity provider.
    pub password_hash: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Consecutive failed sign-ins since the last success or lockout.
    pub failed_logins: u32,
    /// Locked out (too many failures) until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Locked by an admin: no sign-in until unlocked.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When two-factor authentication was turned on (if it is on).
    pub totp_enabled_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether the account may sign in now (not disabled, not locked out).
    pub fn may_sign_in(&self, now: DateTime<Utc>) -> bool {
        self.disabled_at.is_none() && self.locked_until.is_none_or(|until| until <= now)
    }
}

/// What it takes to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub password_hash: Option<String>,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn only_admins_manage_users() {
        assert!(Role::Admin.permits(Permission::ManageUsers));
        assert!(!Role::Seeker.permits(Permission::ManageUsers));
        assert!(!Role::Recruiter.permits(Permission::ManageUsers));
        assert!(!Role::Recruiter.permits(Permission::ReadAudit));
        for role in Role::ALL {
            assert!(role.permits(Permission::ManageOwnAccount));
        }
    }

    #[test]
    fn user_ids_sort_by_creation() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
    }
}
