//! Checking and pruning the audit log's hash chain (the CLI, the retention task and the admin
//! API share these).

use chrono::{DateTime, Utc};
use store::{
    AuditCheckpoint, Store, StoreError,
    audit::{ChainBreak, ChainStart, Verifier},
};

/// Entries read per query while walking the chain.
const PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log was tampered with: {0}")]
    Broken(#[from] ChainBreak),
    #[error(
        "the audit checkpoint at entry {0} does not carry a valid seal (forged or sealed with a key not in the key ring)"
    )]
    ForgedCheckpoint(i64),
    #[error(
        "the audit log ends at entry {found} but its head records entry {recorded}: the newest entries were removed"
    )]
    Truncated { found: i64, recorded: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// Entries checked.
    pub checked: u64,
    /// The checkpoint the chain starts from (0: the beginning).
    pub starts_after: i64,
    /// The last entry.
    pub head: i64,
}

fn seal_place(seq: &str) -> auth::Place<'_> {
    auth::Place {
        table: "audit_checkpoints",
        column: "seal",
        row: seq,
    }
}

/// The verified start of the chain: the genesis, or a checkpoint whose seal opens.
async fn chain_start(store: &dyn Store, keys: &auth::KeyRing) -> Result<ChainStart, AuditError> {
    let Some(checkpoint) = store.audit_checkpoint().await? else {
        return Ok(ChainStart::default());
    };
    let row = checkpoint.seq.to_string();
    let sealed = keys.open(&checkpoint.seal, seal_place(&row));
    match sealed {
        Ok(hash) if hash.as_slice() == checkpoint.hash => Ok(ChainStart {
            seq: checkpoint.seq,
            hash: checkpoint.hash,
        }),
        _ => Err(AuditError::ForgedCheckpoint(checkpoint.seq)),
    }
}

/// Walks the chain from its start to `until` (its head when `None`); names the first entry
/// that does not belong.
pub async fn verify(
    store: &dyn Store,
    keys: &auth::KeyRing,
    until: Option<i64>,
) -> Result<VerifyReport, AuditError> {
    let start = chain_start(store, keys).await?;
    let recorded = store.audit_head().await?;
    let mut verifier = Verifier::new(start.clone());
    let limit = until.unwrap_or(i64::MAX);
    loop {
        let after = verifier.head().seq;
        if after >= limit {
            break;
        }
        let page = store.audit_entries(after, PAGE).await?;
        let page: Vec<_> = page.into_iter().filter(|e| e.seq <= limit).collect();
        if page.is_empty() {
            break;
        }
        verifier.check(&page)?;
    }
    let head = verifier.head();
    if until.is_none() && (head.seq != recorded.seq || head.hash != recorded.hash) {
        return Err(AuditError::Truncated {
            found: head.seq,
            recorded: recorded.seq,
        });
    }
    Ok(VerifyReport {
        checked: verifier.checked,
        starts_after: start.seq,
        head: head.seq,
    })
}

/// Deletes entries older than `before` after checking them, leaving a sealed checkpoint;
/// returns how many were deleted.
pub async fn prune(
    store: &dyn Store,
    keys: &auth::KeyRing,
    before: DateTime<Utc>,
) -> Result<u64, AuditError> {
    let Some(point) = store.audit_prune_point(before).await? else {
        return Ok(0);
    };
    // Nothing is discarded unverified: tampering in the pruned part would go unseen forever.
    let report = verify(store, keys, Some(point.seq)).await?;
    let row = point.seq.to_string();
    let checkpoint = AuditCheckpoint {
        seq: point.seq,
        hash: point.hash,
        pruned: i64::try_from(report.checked).unwrap_or(i64::MAX),
        pruned_at: Utc::now(),
        seal: keys.seal(&point.hash, seal_place(&row)),
    };
    store.prune_audit(&checkpoint).await?;
    Ok(report.checked)
}
