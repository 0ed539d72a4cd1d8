//! A sync: a source read page by page into the store, with its progress saved after every page
//! so a crashed or interrupted sync resumes where it stopped, and postings the board no longer
//! lists closed at the end of a complete run.

use chrono::{DateTime, Utc};
use store::{JobStore, SourceRun, StoreError};

use crate::{Cursor, Source, SourceError, ingest};

/// How many per-item problems a run keeps for operators to read.
const ITEM_ERRORS_KEPT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("storing jobs failed: {0}")]
    Store(#[from] StoreError),
}

pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

fn fresh_run(
    source: &str,
    now: DateTime<Utc>,
    last_success_at: Option<DateTime<Utc>>,
) -> SourceRun {
    SourceRun {
        source: source.to_owned(),
        state: RUNNING.to_owned(),
        started_at: now,
        finished_at: None,
        cursor: None,
        pages: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        duplicates: 0,
        failed_items: 0,
        closed: 0,
        last_error: None,
        item_errors: "[]".to_owned(),
        last_success_at,
    }
}

/// Whether a run may close the postings it did not see: only when it saw the whole board. A
/// page answered "not modified", a board's depth limit or a posting that failed to parse means
/// some open postings went unseen without having gone away.
#[derive(Debug, Default)]
struct Completeness {
    partial: bool,
}

/// Runs (or resumes) a sync of one source to its end. `on_page` sees the run after each page
/// (progress bars, logs).
pub async fn run(
    source: &dyn Source,
    store: &dyn JobStore,
    on_page: &(dyn Fn(&SourceRun) + Send + Sync),
) -> Result<SourceRun, SyncError> {
    let now = Utc::now();
    let previous = store.source_run(source.name()).await?;
    let (mut run, resumed) = match previous {
        // An interrupted run goes on from its last saved page.
        Some(run) if run.state == RUNNING => (run, true),
        Some(run) => (fresh_run(source.name(), now, run.last_success_at), false),
        None => (fresh_run(source.name(), now, None), false),
    };
    // A resumed run does not know what its earlier pages left unseen: it closes nothing.
    let mut completeness = Completeness { partial: resumed };
    let mut cursor: Option<Cursor> = run
        .cursor
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    store.save_source_run(&run).await?;
    let mut item_errors: Vec<serde_json::Value> =
        serde_json::from_str(&run.item_errors).unwrap_or_default();
    loop {
        if run.pages > 0 && cursor.is_none() {
            break;
        }
        let page = match source.fetch_page(cursor.as_ref()).await {
            Ok(page) => page,
            Err(error) => {
                // Kept as running with its cursor: the next attempt resumes from this page.
                run.last_error = Some(error.to_string());
                store.save_source_run(&run).await?;
                return Err(error.into());
            }
        };
        completeness.partial |= page.not_modified || !page.notes.is_empty();
        let report = ingest::store_batch(store, page.items, Utc::now()).await?;
        completeness.partial |= report.counts.failed > 0;
        for item in &report.items {
            if let ingest::ItemStatus::Error { errors } = &item.status
                && item_errors.len() < ITEM_ERRORS_KEPT
            {
                item_errors.push(serde_json::json!({
                    "external_id": item.external_id,
                    "errors": errors,
                }));
            }
        }
        let add = |total: &mut i64, n: u64| *total += i64::try_from(n).unwrap_or(i64::MAX);
        add(&mut run.created, report.counts.created);
        add(&mut run.updated, report.counts.updated);
        add(&mut run.unchanged, report.counts.unchanged);
        add(&mut run.duplicates, report.counts.duplicates);
        add(&mut run.failed_items, report.counts.failed);
        for note in page.notes {
            tracing::warn!(source = source.name(), %note, "sync note");
        }
        run.pages += 1;
        cursor = page.next;
        run.cursor = cursor.and_then(|c| serde_json::to_string(&c).ok());
        run.item_errors = serde_json::Value::Array(item_errors.clone()).to_string();
        store.save_source_run(&run).await?;
        on_page(&run);
    }
    let finished = Utc::now();
    if !completeness.partial {
        let closed = store
            .close_unseen_jobs(source.name(), run.started_at, finished)
            .await?;
        run.closed = i64::try_from(closed).unwrap_or(i64::MAX);
    }
    run.state = SUCCEEDED.to_owned();
    run.finished_at = Some(finished);
    run.last_error = None;
    run.last_success_at = Some(finished);
    store.save_source_run(&run).await?;
    on_page(&run);
    Ok(run)
}

/// Records that a run gave up for good (its task ran out of attempts): the next sync starts
/// over instead of resuming.
pub async fn give_up(store: &dyn JobStore, source: &str, error: &str) -> Result<(), StoreError> {
    let Some(mut run) = store.source_run(source).await? else {
        return Ok(());
    };
    run.state = FAILED.to_owned();
    run.finished_at = Some(Utc::now());
    run.last_error = Some(error.to_owned());
    run.cursor = None;
    store.save_source_run(&run).await
}
