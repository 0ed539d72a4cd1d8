//! Key-ring housekeeping: which keys the stored values are sealed with, and re-sealing them all
//! with the active key (rotation) while the service keeps running.

use std::collections::BTreeMap;

use auth::{KeyRing, Place};
use store::{SealedColumn, SealedValue, Store, StoreError};

/// Values read per query.
const PAGE: u32 = 500;

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Walks one column's sealed values page by page, in row order.
struct Pages<'a> {
    store: &'a dyn Store,
    column: SealedColumn,
    after: Option<String>,
}

impl<'a> Pages<'a> {
    fn new(store: &'a dyn Store, column: SealedColumn) -> Self {
        Self {
            store,
            column,
            after: None,
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<SealedValue>>, StoreError> {
        let page = self
            .store
            .sealed_values(self.column, self.after.as_deref(), PAGE)
            .await?;
        self.after = page.last().map(|value| value.row.clone());
        Ok(Some(page).filter(|page| !page.is_empty()))
    }
}

/// How many stored values each key id seals (`"(unreadable)"` for malformed values).
pub async fn status(store: &dyn Store) -> Result<BTreeMap<String, u64>, KeysError> {
    let mut counts = BTreeMap::new();
    for column in SealedColumn::ALL {
        let mut pages = Pages::new(store, column);
        while let Some(page) = pages.next().await? {
            for value in &page {
                let id =
                    KeyRing::key_id_of(&value.sealed).unwrap_or_else(|_| "(unreadable)".to_owned());
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

/// Fails when stored values need a key the ring lacks: starting without it would only fail
/// later, value by value.
pub async fn check_present(store: &dyn Store, ring: &KeyRing) -> Result<(), KeysError> {
    let missing: Vec<String> = status(store)
        .await?
        .into_keys()
        .filter(|id| !ring.has_key(id))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(KeysError::MissingKeys(missing))
    }
}

/// Re-seals every value not sealed with the active key; returns how many. Safe to run while
/// the service writes (each value is swapped only if unchanged meanwhile) and to run again
/// after a crash (it picks up what is left).
pub async fn rotate(
    store: &dyn Store,
    ring: &KeyRing,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, KeysError> {
    let active = ring.active_key_id().to_owned();
    let mut rotated = 0;
    for column in SealedColumn::ALL {
        let (table, column_name) = column.place();
        let mut pages = Pages::new(store, column);
        while let Some(page) = pages.next().await? {
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
                let resealed = ring.seal(&plain, place);
                if store
                    .replace_sealed(column, &value.row, &value.sealed, &resealed)
                    .await?
                {
                    rotated += 1;
                    progress(rotated);
                }
            }
        }
    }
    Ok(rotated)
}
