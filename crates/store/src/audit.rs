//! The audit log's hash chain: each entry's hash covers the previous entry's hash and the entry
//! itself, so editing, deleting, inserting or reordering any entry breaks every hash after it.
//! Pruning old entries leaves a checkpoint (the last pruned entry's sequence number and hash,
//! sealed with the key ring) from which verification starts.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use domain::{AuditEvent, StoredAuditEvent};
use sha2::{Digest as _, Sha256};

use crate::StoreResult;

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// Times are kept to the microsecond, the finest both databases store.
pub fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The entry as hashed: every field length-prefixed in a fixed order, absent values marked
/// apart from empty ones.
#[allow(clippy::too_many_arguments)]
fn entry_hash(
    previous: &[u8; 32],
    seq: i64,
    at: DateTime<Utc>,
    actor_id: Option<uuid::Uuid>,
    action: &str,
    outcome: &str,
    subject_id: Option<uuid::Uuid>,
    ip: Option<&str>,
    user_agent: Option<&str>,
    details: &str,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    let mut field = |value: Option<&[u8]>| match value {
        None => hasher.update([0]),
        Some(bytes) => {
            hasher.update([1]);
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        }
    };
    let at = stored_time(at).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let actor = actor_id.map(|id| id.hyphenated().to_string());
    let subject = subject_id.map(|id| id.hyphenated().to_string());
    field(Some(at.as_bytes()));
    field(actor.as_deref().map(str::as_bytes));
    field(Some(action.as_bytes()));
    field(Some(outcome.as_bytes()));
    field(subject.as_deref().map(str::as_bytes));
    field(ip.map(str::as_bytes));
    field(user_agent.map(str::as_bytes));
    field(Some(details.as_bytes()));
    hasher.finalize().into()
}

/// The hash of a new entry at `seq`, as it will be stored.
pub fn hash_new(previous: &[u8; 32], seq: i64, event: &AuditEvent, details: &str) -> [u8; 32] {
    entry_hash(
        previous,
        seq,
        event.at,
        event.actor_id.map(|id| id.as_uuid()),
        event.action,
        event.outcome.as_str(),
        event.subject_id.map(|id| id.as_uuid()),
        event.ip.as_deref(),
        event.user_agent.as_deref(),
        details,
    )
}

/// The hash a stored entry should have after `previous`.
pub fn hash_stored(previous: &[u8; 32], event: &StoredAuditEvent) -> [u8; 32] {
    entry_hash(
        previous,
        event.seq,
        event.at,
        event.actor_id.map(|id| id.as_uuid()),
        &event.action,
        &event.outcome,
        event.subject_id.map(|id| id.as_uuid()),
        event.ip.as_deref(),
        event.user_agent.as_deref(),
        &event.details,
    )
}

/// Where verification starts: the genesis, or the checkpoint left by pruning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStart {
    /// The last entry before the chain's first one (0 at the genesis).
    pub seq: i64,
    pub hash: [u8; 32],
}

impl Default for ChainStart {
    fn default() -> Self {
        Self {
            seq: 0,
            hash: GENESIS,
        }
    }
}

/// The first entry that does not belong where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Walks entries in sequence order, page by page: feed each page to [`Verifier::check`].
#[derive(Debug, Clone)]
pub struct Verifier {
    previous_seq: i64,
    previous_hash: [u8; 32],
    /// Entries checked so far.
    pub checked: u64,
}

impl Verifier {
    pub fn new(start: ChainStart) -> Self {
        Self {
            previous_seq: start.seq,
            previous_hash: start.hash,
            checked: 0,
        }
    }

    /// Checks the next entries. Sequence numbers must follow on without a gap (a gap is a
    /// deleted entry), and each stored hash must be the one its content and predecessor give.
    pub fn check(&mut self, entries: &[StoredAuditEvent]) -> Result<(), ChainBreak> {
        for entry in entries {
            if entry.seq != self.previous_seq + 1 {
                return Err(ChainBreak {
                    seq: entry.seq,
                    reason: format!(
                        "follows entry {} (entries between are missing or out of order)",
                        self.previous_seq
                    ),
                });
            }
            let Some(stored) = entry.hash else {
                return Err(ChainBreak {
                    seq: entry.seq,
                    reason: "has no hash".to_owned(),
                });
            };
            let expected = hash_stored(&self.previous_hash, entry);
            if stored != expected {
                return Err(ChainBreak {
                    seq: entry.seq,
                    reason: "its content or its predecessor was changed (hash mismatch)".to_owned(),
                });
            }
            self.previous_seq = entry.seq;
            self.previous_hash = stored;
            self.checked += 1;
        }
        Ok(())
    }

    /// The last entry checked.
    pub fn head(&self) -> ChainStart {
        ChainStart {
            seq: self.previous_seq,
            hash: self.previous_hash,
        }
    }
}

/// What filters an audit query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<domain::UserId>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// What pruning leaves behind: the last pruned entry, sealed with the key ring so that the
/// start of the remaining chain cannot be forged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub seq: i64,
    pub hash: [u8; 32],
    /// Entries deleted by this pruning.
    pub pruned: i64,
    pub pruned_at: DateTime<Utc>,
    pub seal: domain::Sealed,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the audit log, chained onto the entry before.
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        self.append_audit_batch(std::slice::from_ref(&event)).await
    }

    /// Appends several entries in one transaction, in order (group commit).
    async fn append_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()>;

    /// The newest entries, newest first.
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<StoredAuditEvent>> {
        self.query_audit(&AuditFilter::default(), None, limit).await
    }

    /// Entries after `after_seq`, oldest first (verification, export).
    async fn audit_entries(&self, after_seq: i64, limit: u32)
    -> StoreResult<Vec<StoredAuditEvent>>;

    /// Entries matching the filter with a sequence number below `before_seq`, newest first.
    async fn query_audit(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<StoredAuditEvent>>;

    /// Chains entries written before the chain existed (after an upgrade); returns how many.
    async fn seal_unchained_audit(&self) -> StoreResult<u64>;

    async fn audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>>;

    /// The chain's recorded head: the last entry appended (a removed tail shows up here).
    async fn audit_head(&self) -> StoreResult<ChainStart>;

    /// The newest entry older than `before` (where pruning would cut), if any.
    async fn audit_prune_point(&self, before: DateTime<Utc>) -> StoreResult<Option<ChainStart>>;

    /// Deletes the entries up to the checkpoint's and stores the checkpoint, atomically.
    async fn prune_audit(&self, checkpoint: &AuditCheckpoint) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AuditOutcome, UserId};

    fn chain(n: i64) -> Vec<StoredAuditEvent> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|seq| {
                let event = AuditEvent {
                    at: stored_time(Utc::now()),
                    actor_id: Some(UserId::new()),
                    action: "auth.login",
                    outcome: AuditOutcome::Success,
                    subject_id: None,
                    ip: Some("10.0.0.1".into()),
                    user_agent: None,
                    details: Vec::new(),
                };
                let hash = hash_new(&previous, seq, &event, "{}");
                previous = hash;
                StoredAuditEvent {
                    seq,
                    at: event.at,
                    actor_id: event.actor_id,
                    action: event.action.to_owned(),
                    outcome: "success".into(),
                    subject_id: None,
                    ip: event.ip,
                    user_agent: None,
                    details: "{}".into(),
                    hash: Some(hash),
                }
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_page_by_page() {
        let entries = chain(5);
        let mut verifier = Verifier::new(ChainStart::default());
        verifier.check(&entries[..2]).unwrap();
        verifier.check(&entries[2..]).unwrap();
        assert_eq!(verifier.checked, 5);
        assert_eq!(verifier.head().seq, 5);
    }

    #[test]
    fn edits_deletions_and_reordering_name_the_first_bad_entry() {
        let mut edited = chain(5);
        edited[2].ip = Some("203.0.113.9".into());
        let error = Verifier::new(ChainStart::default())
            .check(&edited)
            .unwrap_err();
        assert_eq!(error.seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(
            Verifier::new(ChainStart::default())
                .check(&deleted)
                .unwrap_err()
                .seq,
            3
        );

        let mut reordered = chain(5);
        reordered.swap(3, 4);
        assert_eq!(
            Verifier::new(ChainStart::default())
                .check(&reordered)
                .unwrap_err()
                .seq,
            5
        );

        // Renumbered to hide a deletion: the hashes still break.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for entry in renumbered.iter_mut().skip(1) {
            entry.seq -= 1;
        }
        assert_eq!(
            Verifier::new(ChainStart::default())
                .check(&renumbered)
                .unwrap_err()
                .seq,
            2
        );
    }

    #[test]
    fn a_checkpoint_starts_the_chain_after_pruned_entries() {
        let entries = chain(6);
        let start = ChainStart {
            seq: 3,
            hash: entries[2].hash.unwrap(),
        };
        Verifier::new(start.clone()).check(&entries[3..]).unwrap();
        assert!(
            Verifier::new(ChainStart::default())
                .check(&entries[3..])
                .is_err()
        );
    }
}
