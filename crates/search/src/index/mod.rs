//! The job search index: a tantivy index built from the database and kept current by following
//! the jobs' change order, so every replica can hold its own and a crash loses nothing (the
//! position followed is committed with the documents).

mod analyzer;
mod facets;
pub mod follow;
pub mod insights;
pub mod matching;
pub mod query;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use domain::{Job, JobId};
use serde::{Deserialize, Serialize};
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

pub use analyzer::{TEXT_ANALYZER, text_analyzer};
pub use query::{Facets, Highlighter, Highlights, SearchHit, SearchRequest, SearchResults, Sort};
pub use schema::{
    SCHEMA_VERSION, enum_name, is_searchable, skill_display, skill_key, top_pay_usd_year,
};

use crate::money::Rates;
use schema::Fields;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the search index folder {path} is in use by another process")]
    Busy { path: PathBuf },
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the index stands in the jobs' order of changes. Committed with the documents, so
/// after a crash the follower resumes from what the index really holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Position {
    pub change_seq: i64,
    pub job_id: Option<JobId>,
}

impl Position {
    pub fn as_store_cursor(&self) -> Option<(i64, JobId)> {
        self.job_id.map(|id| (self.change_seq, id))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    schema: u32,
    position: Position,
}

/// Memory for the writer's in-progress segments, shared by its threads.
const WRITER_MEMORY_BYTES: usize = 96 * 1024 * 1024;

pub struct JobIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    position: Mutex<Position>,
    fields: Fields,
    rates: Rates,
    /// Totals and facet counts of recent searches (see [`query::CountCache`]).
    counts: Mutex<query::CountCache>,
    /// Set while the index is being built again from the database (it was created, wiped for
    /// another schema version, or cleared) and has not yet caught up: searches then see only
    /// the postings indexed so far.
    rebuilding: AtomicBool,
}

impl std::fmt::Debug for JobIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobIndex")
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl JobIndex {
    /// Opens the index in `dir`, creating it when absent. An index of another schema version,
    /// or one that cannot be read, is wiped: the follower rebuilds it from the database.
    pub fn open(dir: &Path, rates: Rates) -> Result<Self, IndexError> {
        let io = |source| IndexError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, fields) = schema::build_schema();
        let (index, fresh) = match Self::open_existing(dir, &schema) {
            Some(index) => (index, false),
            None => {
                for entry in std::fs::read_dir(dir).map_err(io)? {
                    let path = entry.map_err(io)?.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path).map_err(io)?;
                    } else {
                        std::fs::remove_file(&path).map_err(io)?;
                    }
                }
                (Index::create_in_dir(dir, schema)?, true)
            }
        };
        Self::from_index(index, fields, rates, fresh).map_err(|e| match e {
            IndexError::Tantivy(tantivy::TantivyError::LockFailure(..)) => IndexError::Busy {
                path: dir.to_owned(),
            },
            other => other,
        })
    }

    fn open_existing(dir: &Path, schema: &Schema) -> Option<Index> {
        let index = Index::open_in_dir(dir).ok()?;
        let current = index.schema() == *schema
            && read_payload(&index).is_some_and(|payload| payload.schema == SCHEMA_VERSION);
        if !current {
            tracing::warn!(dir = %dir.display(), "search index is of another version: rebuilding it");
        }
        current.then_some(index)
    }

    /// An index held in memory (tests, one-off tools).
    pub fn in_memory(rates: Rates) -> Result<Self, IndexError> {
        let (schema, fields) = schema::build_schema();
        Self::from_index(Index::create_in_ram(schema), fields, rates, false)
    }

    /// `fresh`: the index was just created, so it is rebuilt from the database.
    fn from_index(
        mut index: Index,
        fields: Fields,
        rates: Rates,
        fresh: bool,
    ) -> Result<Self, IndexError> {
        index.tokenizers().register(TEXT_ANALYZER, text_analyzer());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        // A query searches the index's segments in parallel, one thread per core: a search's
        // latency falls with the cores, though not the total work.
        index.set_multithread_executor(threads)?;
        let writer = index.writer_with_num_threads(threads, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let position = read_payload(&index)
            .map(|payload| payload.position)
            .unwrap_or_default();
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            position: Mutex::new(position),
            fields,
            rates,
            counts: Mutex::new(query::CountCache::default()),
            rebuilding: AtomicBool::new(fresh),
        })
    }

    /// How far the index has followed the jobs' changes.
    pub fn position(&self) -> Position {
        *self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the index is being built again from the database and has not caught up yet:
    /// until then searches see only part of the postings.
    pub fn is_rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::Relaxed)
    }

    /// Changes whenever searches may see different postings (each reload of the reader): a
    /// cache of results keyed by it is never stale.
    pub fn generation(&self) -> u64 {
        self.reader.searcher().generation().generation_id()
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    /// Applies a run of changed jobs (in change order) and commits them together with the
    /// position of the last one. Blocking: call from a blocking thread.
    pub fn apply(&self, jobs: &[Job]) -> Result<(), IndexError> {
        match self.stage(jobs)? {
            Some(position) => self.commit_at(position),
            None => Ok(()),
        }
    }

    /// Adds a run of changed jobs (in change order) without committing them: searches see them,
    /// and the position moves, only at the next [`JobIndex::commit_at`]. Returns the position of
    /// the last one. Staging a job again (after a crash, or a failed commit) replaces it.
    /// Blocking: call from a blocking thread.
    pub fn stage(&self, jobs: &[Job]) -> Result<Option<Position>, IndexError> {
        let Some(last) = jobs.last() else {
            return Ok(None);
        };
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        for job in jobs {
            writer.delete_term(Term::from_field_text(self.fields.id, &job.id.to_string()));
            if is_searchable(job) {
                writer.add_document(schema::document(job, &self.fields, &self.rates))?;
            }
        }
        Ok(Some(Position {
            change_seq: last.change_seq,
            job_id: Some(last.id),
        }))
    }

    /// Commits what was staged, recording `position` as followed. Blocking.
    pub fn commit_at(&self, position: Position) -> Result<(), IndexError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.commit(&mut writer, position)
    }

    /// Empties the index and rewinds it to the start of the change order (a rebuild follows).
    pub fn clear(&self) -> Result<(), IndexError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        writer.delete_all_documents()?;
        self.commit(&mut writer, Position::default())?;
        self.rebuilding.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Records that the index has applied every change the database had (a rebuild is over).
    pub(crate) fn caught_up(&self) {
        if self.rebuilding.swap(false, Ordering::Relaxed) {
            tracing::info!(postings = self.num_docs(), "search index rebuilt");
        }
    }

    fn commit(&self, writer: &mut IndexWriter, position: Position) -> Result<(), IndexError> {
        let payload = serde_json::to_string(&CommitPayload {
            schema: SCHEMA_VERSION,
            position,
        })
        .unwrap_or_default();
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&payload);
        commit.commit()?;
        self.reader.reload()?;
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = position;
        Ok(())
    }
}

fn read_payload(index: &Index) -> Option<CommitPayload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

#[cfg(test)]
mod tests;
