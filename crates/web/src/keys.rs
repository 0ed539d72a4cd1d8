//! Key-ring housekeeping: which keys the stored values and files are sealed with, and
//! re-sealing them all with the active key (rotation) while the service keeps running.

use std::collections::BTreeMap;

use auth::{KeyRing, Place};
use domain::ResumeId;
use store::{PlainValue, SealedColumn, SealedSwap, SealedValue, Store, StoreError};

use crate::files::Files;
use crate::resumes::{FILE_PLACE, file_place};

/// Values read per query, and re-sealed per transaction, unless told otherwise.
pub const DEFAULT_BATCH: u32 = 500;
const PAGE: u32 = DEFAULT_BATCH;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "stored values are sealed with key(s) {0:?}, which JOBPILOT_ENCRYPTION_KEYS does not hold; \
         add them back (rotation can then re-seal the values and retire them)"
    )]
    MissingKeys(Vec<String>),
    #[error("a value in {table}.{column} (row {row}) cannot be opened: {reason}")]
    Unreadable {
        table: &'static str,
        column: &'static str,
        row: String,
        reason: String,
    },
    #[error("the resume file {key} cannot be read or written: {error}")]
    File { key: String, error: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where sealed data lives: columns of the database, and files (resumes) on disk.
#[derive(Clone, Copy)]
pub struct Sealed<'a> {
    pub store: &'a dyn Store,
    pub files: &'a Files,
}

impl std::fmt::Debug for Sealed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("files", self.files)
            .finish_non_exhaustive()
    }
}

/// Walks every resume file, page by page, in id order.
struct FilePages<'a> {
    store: &'a dyn Store,
    after: Option<ResumeId>,
}

impl FilePages<'_> {
    async fn next(&mut self) -> Result<Option<Vec<(ResumeId, String)>>, StoreError> {
        let page = self.store.resume_files(self.after, PAGE).await?;
        self.after = page.last().map(|(id, _)| *id);
        Ok(Some(page).filter(|page| !page.is_empty()))
    }
}

/// A file's key id from its first bytes; `None` when the file is gone (deleted meanwhile).
async fn file_key_id(files: &Files, key: &str) -> Result<Option<String>, KeysError> {
    match files.head(key, KeyRing::KEY_ID_PREFIX_LEN).await {
        Ok(head) => Ok(Some(
            KeyRing::key_id_of(&head).unwrap_or_else(|_| UNREADABLE.to_owned()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(KeysError::File {
            key: key.to_owned(),
            error,
        }),
    }
}

const UNREADABLE: &str = "(unreadable)";
/// What `status` counts values under that are not sealed yet (written before their column
/// was sealed); rotation seals them.
pub const PLAIN: &str = "(plain)";

/// Walks one column's sealed values page by page, in row order.
struct Pages<'a> {
    store: &'a dyn Store,
    column: SealedColumn,
    after: Option<String>,
    limit: u32,
}

impl<'a> Pages<'a> {
    fn new(store: &'a dyn Store, column: SealedColumn) -> Self {
        Self {
            store,
            column,
            after: None,
            limit: PAGE,
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<SealedValue>>, StoreError> {
        let page = self
            .store
            .sealed_values(self.column, self.after.as_deref(), self.limit)
            .await?;
        self.after = page.last().map(|value| value.row.clone());
        Ok(Some(page).filter(|page| !page.is_empty()))
    }

    /// The next page of the column's values still in plain text (a walk of its own: start
    /// it from a fresh `Pages`).
    async fn next_plain(&mut self) -> Result<Option<Vec<PlainValue>>, StoreError> {
        let page = self
            .store
            .plain_values(self.column, self.after.as_deref(), self.limit)
            .await?;
        self.after = page.last().map(|value| value.row.clone());
        Ok(Some(page).filter(|page| !page.is_empty()))
    }
}

/// How many stored values and files each key id seals (`"(unreadable)"` for malformed ones).
pub async fn status(sealed: Sealed<'_>) -> Result<BTreeMap<String, u64>, KeysError> {
    let mut counts = column_status(sealed.store).await?;
    let mut files = FilePages {
        store: sealed.store,
        after: None,
    };
    while let Some(page) = files.next().await? {
        for (_, key) in &page {
            if let Some(id) = file_key_id(sealed.files, key).await? {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

/// How many values in the database's sealed columns each key id seals: one pass over the
/// columns, no file read.
async fn column_status(store: &dyn Store) -> Result<BTreeMap<String, u64>, KeysError> {
    let mut counts = BTreeMap::new();
    for column in SealedColumn::ALL {
        let mut plain = Pages::new(store, column);
        while let Some(page) = plain.next_plain().await? {
            *counts.entry(PLAIN.to_owned()).or_insert(0) += page.len() as u64;
        }
        let mut pages = Pages::new(store, column);
        while let Some(page) = pages.next().await? {
            for value in &page {
                let id =
                    KeyRing::key_id_of(&value.sealed).unwrap_or_else(|_| UNREADABLE.to_owned());
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

fn missing_from(counts: BTreeMap<String, u64>, ring: &KeyRing) -> Result<(), KeysError> {
    let missing: Vec<String> = counts
        .into_keys()
        .filter(|id| id != PLAIN && !ring.has_key(id))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(KeysError::MissingKeys(missing))
    }
}

/// Fails when stored values or files need a key the ring lacks: starting without it would only
/// fail later, value by value. Reads the head of every file: for `keys status`, not start-up.
pub async fn check_present(sealed: Sealed<'_>, ring: &KeyRing) -> Result<(), KeysError> {
    missing_from(status(sealed).await?, ring)
}

/// [`check_present`] over the database's sealed columns only, as `serve` runs it at start-up:
/// reading every file's head there (one request per object on S3) would delay readiness by
/// the number of resumes. A resume's text is sealed with the key its file was, at the same
/// moment, and rotation re-seals files before columns, so a key any file still needs shows in
/// the columns too (a text re-sealed before its file never happens).
pub async fn check_columns_present(store: &dyn Store, ring: &KeyRing) -> Result<(), KeysError> {
    missing_from(column_status(store).await?, ring)
}

/// Re-seals every value not sealed with the active key, and seals those still in plain text
/// (written before their column was sealed); returns how many. Safe to run while
/// the service writes (each value is swapped only if unchanged meanwhile) and to run again
/// after a crash (it picks up what is left).
pub async fn rotate(
    sealed: Sealed<'_>,
    ring: &KeyRing,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, KeysError> {
    rotate_in_batches(sealed, ring, DEFAULT_BATCH, progress).await
}

/// [`rotate`], re-sealing `batch` values per transaction (at least one): smaller batches hold
/// row locks for less time, larger ones flush the disk less often.
pub async fn rotate_in_batches(
    sealed: Sealed<'_>,
    ring: &KeyRing,
    batch: u32,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, KeysError> {
    let store = sealed.store;
    let active = ring.active_key_id().to_owned();
    let mut rotated = 0;
    // Files first: until the columns are done too, the old key still shows in them, which is
    // what the start-up check reads (see `check_columns_present`).
    let mut files = FilePages { store, after: None };
    while let Some(page) = files.next().await? {
        for (id, key) in page {
            if rotate_file(sealed, ring, id, &key).await? {
                rotated += 1;
                progress(rotated);
            }
        }
    }
    for column in SealedColumn::ALL {
        rotated += seal_plain(store, ring, column, batch, rotated, progress).await?;
        let (table, column_name) = column.place();
        let mut pages = Pages::new(store, column);
        pages.limit = batch.max(1);
        while let Some(page) = pages.next().await? {
            let mut swaps = Vec::new();
            for value in page {
                if KeyRing::key_id_of(&value.sealed).is_ok_and(|id| id == active) {
                    continue;
                }
                let place = Place {
                    table,
                    column: column_name,
                    row: &value.row,
                };
                let plain = ring
                    .open(&value.sealed, place)
                    .map_err(|e| KeysError::Unreadable {
                        table,
                        column: column_name,
                        row: value.row.clone(),
                        reason: e.to_string(),
                    })?;
                let new = ring.seal(&plain, place);
                swaps.push(SealedSwap {
                    row: value.row,
                    old: value.sealed,
                    new,
                });
            }
            // One transaction per page: one disk flush, not one per value. A value changed
            // meanwhile keeps its change (compare-and-swap).
            if !swaps.is_empty() {
                rotated += store.replace_sealed_batch(column, &swaps).await?;
                progress(rotated);
            }
        }
    }
    Ok(rotated)
}

/// Seals the column's values still in plain text with the active key; returns how many.
async fn seal_plain(
    store: &dyn Store,
    ring: &KeyRing,
    column: SealedColumn,
    batch: u32,
    done_before: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, KeysError> {
    let (table, column_name) = column.place();
    let mut sealed = 0;
    let mut pages = Pages::new(store, column);
    pages.limit = batch.max(1);
    while let Some(page) = pages.next_plain().await? {
        let seals: Vec<(String, domain::Sealed)> = page
            .into_iter()
            .map(|value| {
                let place = Place {
                    table,
                    column: column_name,
                    row: &value.row,
                };
                let new = ring.seal(value.plain.as_bytes(), place);
                (value.row, new)
            })
            .collect();
        sealed += store.seal_plain_batch(column, &seals).await?;
        progress(done_before + sealed);
    }
    Ok(sealed)
}

/// Re-seals one resume file with the active key; false when it already was, or is gone.
/// The new file replaces the old atomically, so a crash leaves one or the other, both
/// readable while the old key is in the ring.
async fn rotate_file(
    sealed: Sealed<'_>,
    ring: &KeyRing,
    id: ResumeId,
    key: &str,
) -> Result<bool, KeysError> {
    let file_error = |error| KeysError::File {
        key: key.to_owned(),
        error,
    };
    if file_key_id(sealed.files, key)
        .await?
        .is_none_or(|key_id| key_id == ring.active_key_id())
    {
        return Ok(false);
    }
    let old = match sealed.files.get(key).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(file_error(e)),
    };
    let row = id.to_string();
    let place = file_place(&row);
    let plain = ring.open(&old, place).map_err(|e| KeysError::Unreadable {
        table: FILE_PLACE.0,
        column: FILE_PLACE.1,
        row: row.clone(),
        reason: e.to_string(),
    })?;
    sealed
        .files
        .put(key, ring.seal(&plain, place))
        .await
        .map_err(file_error)?;
    // The owner may have deleted the resume while the file was re-sealed: its row went first,
    // then its file, so a file written back after that is removed here.
    if sealed.store.resume_unscoped(id).await?.is_none() {
        sealed.files.delete(key).await.map_err(file_error)?;
        return Ok(false);
    }
    Ok(true)
}
