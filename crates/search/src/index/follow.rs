//! Keeping the index current: read the jobs changed since the index's committed position, in
//! change order, and apply them in batches. The server runs this in the background (woken by
//! local writes, polling for other replicas' writes); `jobpilot search reindex` runs it from
//! the start.

use std::sync::Arc;
use std::time::Duration;

use store::{JobStore, StoreError};
use tokio::sync::Notify;

use super::{IndexError, JobIndex};

/// Jobs read at a time while catching up.
pub const BATCH: u32 = 5_000;
/// While catching up on a long backlog (a rebuild), commit after this many jobs rather than
/// after every page: each commit writes new segments that merges must then rewrite.
pub const COMMIT_EVERY: u64 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("the indexing thread stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Applies every change the index has not seen yet; returns how many jobs were applied. A
/// rebuild is over when this returns (see [`JobIndex::is_rebuilding`]).
/// `progress` hears the running total after each batch. The next page is read from the
/// database while the current one is indexed; a backlog is committed every [`COMMIT_EVERY`]
/// jobs and at its end (a crash before a commit redoes those jobs, nothing is skipped).
pub async fn catch_up(
    index: &Arc<JobIndex>,
    store: &dyn JobStore,
    mut progress: impl FnMut(u64),
) -> Result<u64, FollowError> {
    let mut applied = 0u64;
    let mut uncommitted = 0u64;
    let mut staged_to = None;
    let mut jobs = store
        .jobs_changed_after(index.position().as_store_cursor(), BATCH)
        .await?;
    while let Some(last) = jobs.last() {
        let full = jobs.len() == BATCH as usize;
        let count = jobs.len() as u64;
        let cursor = Some((last.change_seq, last.id));
        let staging = {
            let index = Arc::clone(index);
            tokio::task::spawn_blocking(move || index.stage(&jobs))
        };
        let (staged, next) = if full {
            let (staged, next) = tokio::join!(staging, store.jobs_changed_after(cursor, BATCH));
            (staged, Some(next))
        } else {
            (staging.await, None)
        };
        staged_to = staged??.or(staged_to);
        applied += count;
        uncommitted += count;
        if uncommitted >= COMMIT_EVERY || !full {
            commit(index, staged_to).await?;
            uncommitted = 0;
        }
        progress(applied);
        match next {
            Some(next) => jobs = next?,
            None => break,
        }
    }
    if uncommitted > 0 {
        commit(index, staged_to).await?;
    }
    index.caught_up();
    Ok(applied)
}

async fn commit(
    index: &Arc<JobIndex>,
    position: Option<super::Position>,
) -> Result<(), FollowError> {
    let Some(position) = position else {
        return Ok(());
    };
    let index = Arc::clone(index);
    tokio::task::spawn_blocking(move || index.commit_at(position)).await??;
    Ok(())
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
