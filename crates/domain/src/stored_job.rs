//! A job as jobpilot keeps it: the normalised posting plus what the store knows about it.

use chrono::{DateTime, Utc};

use crate::{NewJob, UserId};

crate::id::uuid_id!(
    /// A stored job posting.
    JobId
);

/// A stored job posting.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub posting: NewJob,
    /// The recruiter who published it on jobpilot (source `jobpilot`); `None` for postings
    /// from boards and scrapers, and once its owner's account is deleted.
    pub owner_id: Option<UserId>,
    /// When this posting is a near-duplicate of another (the same job on another board), the
    /// one shown for both; `None` for a canonical posting.
    pub canonical_id: Option<JobId>,
    pub first_seen_at: DateTime<Utc>,
    /// The last sync or push that delivered it.
    pub last_seen_at: DateTime<Utc>,
    /// The last time its content changed.
    pub updated_at: DateTime<Utc>,
    /// Set when its source stopped listing it; it is kept, not deleted.
    pub closed_at: Option<DateTime<Utc>>,
    /// Position in the order of changes, for followers such as the search index.
    pub change_seq: i64,
}
