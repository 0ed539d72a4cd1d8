//! What a batch of upserts does, decided in memory from what the database already holds:
//! which postings are inserted, rewritten, or only marked as seen, and which cluster each joins.
//! Both stores read the batch's existing postings and duplicate candidates in one query each,
//! while holding the job write lock (the change counter), then write the plan.

use std::collections::HashMap;

use domain::JobId;

use super::{DEDUPE_CANDIDATES, JobWrite, UpsertOutcome, UpsertStatus, nearest_canonical};
use crate::{StoreError, StoreResult};

/// A reopened posting's cluster: `Some(canonical)` (or `Some(None)`: it leads its own) when it
/// is decided again, `None` when an update leaves it as it was.
pub type Reclustered = Option<Option<JobId>>;

/// A stored posting with the same (source, external id) as one of the batch.
#[derive(Debug, Clone)]
pub struct Existing {
    pub id: JobId,
    pub hash: Vec<u8>,
    pub canonical_id: Option<JobId>,
    pub closed: bool,
}

/// A new posting's row.
#[derive(Debug)]
pub struct Insert<'a> {
    pub id: JobId,
    pub write: &'a JobWrite,
    pub canonical_id: Option<JobId>,
    pub seq: i64,
}

/// A changed (or reopened) posting's rewrite.
#[derive(Debug)]
pub struct Update<'a> {
    pub id: JobId,
    pub write: &'a JobWrite,
    pub seq: i64,
    pub reclustered: Reclustered,
}

#[derive(Debug)]
pub struct Plan<'a> {
    next_seq: i64,
    max_distance: u32,
    /// By (source, external id): fill with the batch's stored postings before deciding.
    pub existing: HashMap<(String, String), Existing>,
    candidates: HashMap<String, Vec<(JobId, i64)>>,
    pub inserts: Vec<Insert<'a>>,
    pub updates: Vec<Update<'a>>,
    /// Unchanged postings, only seen again.
    pub seen: Vec<JobId>,
    /// One per posting of the batch, in its order.
    pub outcomes: Vec<UpsertOutcome>,
}

impl<'a> Plan<'a> {
    /// A plan whose postings take the change sequence numbers after `next_seq`.
    pub fn new(next_seq: i64, max_distance: u32) -> Self {
        Self {
            next_seq,
            max_distance,
            existing: HashMap::new(),
            candidates: HashMap::new(),
            inserts: Vec::new(),
            updates: Vec::new(),
            seen: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// An open canonical posting under `key` (its fingerprint stored signed) that the batch's
    /// postings may duplicate.
    pub fn add_candidate(&mut self, key: String, id: JobId, fingerprint: i64) {
        let list = self.candidates.entry(key).or_default();
        if list.len() < DEDUPE_CANDIDATES as usize {
            list.push((id, fingerprint));
        }
    }

    /// The open canonical posting this one duplicates, if any (never `itself`).
    fn nearest(&self, write: &JobWrite, itself: Option<JobId>) -> Option<JobId> {
        let candidates = self.candidates.get(write.dedupe_key.as_ref()?)?;
        nearest_canonical(
            candidates
                .iter()
                .copied()
                .filter(|(id, _)| Some(*id) != itself),
            write.fingerprint,
            self.max_distance,
        )
    }

    /// Decides the batch's next posting (in batch order).
    pub fn decide(&mut self, write: &'a JobWrite) -> StoreResult<()> {
        let job = &write.job;
        let key = (job.source.clone(), job.external_id.clone());
        if let Some(existing) = self.existing.get(&key) {
            let (id, reopened) = (existing.id, existing.closed);
            if existing.hash == write.content_hash && !reopened {
                self.seen.push(id);
                self.outcomes.push(UpsertOutcome {
                    id,
                    status: UpsertStatus::Unchanged,
                    duplicate_of: existing.canonical_id,
                });
                return Ok(());
            }
            // Seen again after it closed: while it was closed its duplicates were promoted (or
            // its canonical closed too), so it joins whatever cluster is open now, or leads one.
            let reclustered = reopened.then(|| self.nearest(write, Some(id)));
            self.next_seq += 1;
            let existing = self
                .existing
                .get_mut(&key)
                .ok_or_else(|| StoreError::Corrupt("jobs: a planned posting vanished".into()))?;
            existing.hash = write.content_hash.to_vec();
            existing.closed = false;
            if let Some(canonical) = reclustered {
                existing.canonical_id = canonical;
            }
            let duplicate_of = existing.canonical_id;
            if reclustered == Some(None)
                && let Some(dedupe_key) = &write.dedupe_key
            {
                self.add_candidate(dedupe_key.clone(), id, write.fingerprint.cast_signed());
            }
            self.updates.push(Update {
                id,
                write,
                seq: self.next_seq,
                reclustered,
            });
            self.outcomes.push(UpsertOutcome {
                id,
                status: UpsertStatus::Updated,
                duplicate_of,
            });
            return Ok(());
        }
        let duplicate_of = self.nearest(write, None);
        let id = JobId::new();
        self.next_seq += 1;
        self.inserts.push(Insert {
            id,
            write,
            canonical_id: duplicate_of,
            seq: self.next_seq,
        });
        // A posting later in the same batch sees this one, as a stored one or a candidate.
        self.existing.insert(
            key,
            Existing {
                id,
                hash: write.content_hash.to_vec(),
                canonical_id: duplicate_of,
                closed: false,
            },
        );
        if duplicate_of.is_none()
            && let Some(dedupe_key) = &write.dedupe_key
        {
            self.add_candidate(dedupe_key.clone(), id, write.fingerprint.cast_signed());
        }
        self.outcomes.push(UpsertOutcome {
            id,
            status: UpsertStatus::Created,
            duplicate_of,
        });
        Ok(())
    }
}
