//! Storage of job postings and of the sources' sync runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Job, JobId, NewJob, UserId};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

pub mod plan;

/// A validated posting with what the store needs to detect changes and near-duplicates.
#[derive(Debug, Clone)]
pub struct JobWrite {
    pub job: NewJob,
    /// `job` as stored ([`encode_posting`]), encoded when the posting is prepared (on every
    /// core). Shared, so that a statement binds it without copying it again.
    pub data: std::sync::Arc<str>,
    /// Changes iff the posting's content changes.
    pub content_hash: [u8; 32],
    /// SimHash of the posting's text: near-duplicates are a few bits apart.
    pub fingerprint: u64,
    /// Postings are compared for duplication only within one key (company and title).
    pub dedupe_key: Option<String>,
    /// The recruiter publishing it (postings of the `jobpilot` source). Set when the posting
    /// is created; an update never changes it.
    pub owner: Option<UserId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpsertStatus {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub id: JobId,
    pub status: UpsertStatus,
    /// The canonical posting this one duplicates, if any.
    pub duplicate_of: Option<JobId>,
}

/// Which jobs a listing includes.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub source: Option<String>,
    /// Closed postings too (exports).
    pub include_closed: bool,
    /// Near-duplicates too, not only canonical postings.
    pub include_duplicates: bool,
    /// Only the postings this user published.
    pub owner: Option<UserId>,
}

impl JobFilter {
    /// The postings `owner` published on jobpilot, duplicates included; closed ones on request.
    pub fn published_by(owner: UserId, include_closed: bool) -> Self {
        Self {
            source: Some(domain::DIRECT_SOURCE.to_owned()),
            include_closed,
            include_duplicates: true,
            owner: Some(owner),
        }
    }
}

/// The state of a source's latest sync, kept so a sync resumes after a crash and operators can
/// see how each source is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRun {
    pub source: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where a resumed sync goes on from (the source's own cursor, as JSON).
    pub cursor: Option<String>,
    pub pages: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicates: i64,
    pub failed_items: i64,
    pub closed: i64,
    pub last_error: Option<String>,
    /// A sample of per-item problems (JSON array).
    pub item_errors: String,
    pub last_success_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Inserts new postings and rewrites changed ones, in one transaction; a posting whose
    /// content hash is unchanged is only marked as seen. A new posting within `max_distance`
    /// bits of an open canonical posting with the same dedupe key becomes its duplicate.
    async fn upsert_jobs(
        &self,
        batch: &[JobWrite],
        max_distance: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<UpsertOutcome>>;

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>>;

    /// The jobs among `ids` that exist, in no particular order.
    async fn jobs_by_ids(&self, ids: &[JobId]) -> StoreResult<Vec<Job>>;

    /// Jobs changed after a position in the order of changes (`(change_seq, id)`; `None`: from
    /// the start), oldest change first — what the search index follows. Closed postings and
    /// duplicates are included, so a follower can drop them.
    async fn jobs_changed_after(
        &self,
        after: Option<(i64, JobId)>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;

    /// Jobs in id order after the cursor.
    async fn list_jobs(
        &self,
        filter: &JobFilter,
        after: Option<JobId>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;

    /// Closes the open postings of a source not seen since `seen_before` (the start of a
    /// complete sync); returns how many. A closed canonical posting hands its place to its
    /// oldest open duplicate (the same job on another board stays findable), and the other
    /// open duplicates follow the new canonical one.
    async fn close_unseen_jobs(
        &self,
        source: &str,
        seen_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Closes open postings `owner` published: the one given, or all of them (the owner's
    /// account is going). Returns how many closed. A posting of another owner is left alone,
    /// and duplicates of a closed canonical posting are re-clustered as in
    /// [`JobStore::close_unseen_jobs`].
    async fn close_owned_jobs(
        &self,
        owner: UserId,
        only: Option<JobId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// How many open postings `owner` has published.
    async fn count_open_owned_jobs(&self, owner: UserId) -> StoreResult<u64>;

    async fn save_source_run(&self, run: &SourceRun) -> StoreResult<()>;

    async fn source_run(&self, source: &str) -> StoreResult<Option<SourceRun>>;

    async fn source_runs(&self) -> StoreResult<Vec<SourceRun>>;

    /// Deletes up to `limit` postings closed before `closed_before` (data retention); returns
    /// how many. Open postings, and postings a user applied to, are never deleted.
    async fn prune_closed_jobs(&self, closed_before: DateTime<Utc>, limit: u32)
    -> StoreResult<u64>;
}

/// How the open duplicates of closed canonical postings are re-clustered: given them as
/// (duplicate, its closed canonical), oldest first within each canonical, the first of each
/// becomes canonical (`None`) and the rest its duplicates.
pub fn promotions(orphans: &[(JobId, JobId)]) -> Vec<(JobId, Option<JobId>)> {
    let mut out = Vec::with_capacity(orphans.len());
    let mut current: Option<(JobId, JobId)> = None; // (closed canonical, promoted)
    for &(duplicate, closed) in orphans {
        match current {
            Some((c, promoted)) if c == closed => out.push((duplicate, Some(promoted))),
            _ => {
                current = Some((closed, duplicate));
                out.push((duplicate, None));
            }
        }
    }
    out
}

/// The closest open canonical posting within `max_distance` bits, if any.
pub fn nearest_canonical(
    candidates: impl IntoIterator<Item = (JobId, i64)>,
    fingerprint: u64,
    max_distance: u32,
) -> Option<JobId> {
    candidates
        .into_iter()
        // The fingerprint is stored as the signed integer with the same bits.
        .map(|(id, stored)| (id, (stored.cast_unsigned() ^ fingerprint).count_ones()))
        .filter(|(_, distance)| *distance <= max_distance)
        .min_by_key(|(id, distance)| (*distance, *id))
        .map(|(id, _)| id)
}

/// How many duplicate candidates one new posting is compared with.
pub const DEDUPE_CANDIDATES: i64 = 50;

pub fn encode_posting(job: &NewJob) -> StoreResult<String> {
    serde_json::to_string(job).map_err(|e| crate::StoreError::Other(Box::new(e)))
}

pub fn decode_posting(data: &str) -> StoreResult<NewJob> {
    serde_json::from_str(data).map_err(|e| crate::StoreError::Corrupt(format!("jobs.data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_candidate_within_the_distance_wins() {
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        let fingerprint = 0b1111_0000u64;
        let candidates = [
            (a, (fingerprint ^ 0b111).cast_signed()),
            (b, (fingerprint ^ 0b1).cast_signed()),
            (c, (!fingerprint).cast_signed()),
        ];
        assert_eq!(nearest_canonical(candidates, fingerprint, 3), Some(b));
        assert_eq!(
            nearest_canonical(candidates[2..].to_vec(), fingerprint, 3),
            None
        );
        // The sign bit survives the round trip through a signed column.
        let high = u64::MAX - 1;
        assert_eq!(
            nearest_canonical([(a, high.cast_signed())], high, 0),
            Some(a)
        );
    }
}

#[cfg(test)]
mod promotion_tests {
    use super::*;

    #[test]
    fn the_oldest_open_duplicate_of_each_closed_posting_takes_its_place() {
        let (a, b) = (JobId::new(), JobId::new());
        let (a1, a2, a3, b1) = (JobId::new(), JobId::new(), JobId::new(), JobId::new());
        let plan = promotions(&[(a1, a), (a2, a), (a3, a), (b1, b)]);
        assert_eq!(
            plan,
            vec![(a1, None), (a2, Some(a1)), (a3, Some(a1)), (b1, None)]
        );
        assert!(promotions(&[]).is_empty());
    }
}
