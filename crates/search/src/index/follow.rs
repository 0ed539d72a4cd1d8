//! Keeping the index current: read the jobs changed since the index's committed position, in
//! change order, and apply them in batches. The server runs this in the background (woken by
//! local writes, polling for other replicas' writes); `jobpilot search reindex` runs it from
//! the start.

use std::sync::Arc;
use std::time::Duration;

use store::{JobStore, StoreError};
use tokio::sync::Notify;

use super::{IndexError, JobIndex};

/// Jobs read and committed at a time while catching up.
pub const BATCH: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("the indexing thread stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Applies every change the index has not seen yet; returns how many jobs were applied.
/// `progress` hears the running total after each batch.
pub async fn catch_up(
    index: &Arc<JobIndex>,
    store: &dyn JobStore,
    mut progress: impl FnMut(u64),
) -> Result<u64, FollowError> {
    let mut applied = 0u64;
    loop {
        let after = index.position().as_store_cursor();
        let jobs = store.jobs_changed_after(after, BATCH).await?;
        if jobs.is_empty() {
            return Ok(applied);
        }
        let count = jobs.len() as u64;
        let full = jobs.len() == BATCH as usize;
        let index = Arc::clone(index);
        tokio::task::spawn_blocking(move || index.apply(&jobs)).await??;
        applied += count;
        progress(applied);
        if !full {
            return Ok(applied);
        }
    }
}

/// Follows the jobs' changes until `stop` resolves: after each wake-up (a local write) or
/// poll interval (writes by other replicas), applies what changed. Failures are logged and
/// retried on the next round; the committed position means nothing is skipped.
pub async fn follow(
    index: Arc<JobIndex>,
    store: Arc<dyn JobStore>,
    wake: Arc<Notify>,
    poll: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        match catch_up(&index, store.as_ref(), |_| {}).await {
            Ok(0) => {}
            Ok(applied) => tracing::debug!(applied, "search index caught up"),
            Err(error) => tracing::warn!(error = %error, "search index could not catch up"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}
