//! The contract every connector fulfils: a board read page by page, so a sync can stop after
//! any page and resume from the stored cursor.

use async_trait::async_trait;
use domain::{FieldError, NewJob};
use serde::{Deserialize, Serialize};

use crate::SourceError;

#[async_trait]
pub trait Source: Send + Sync {
    /// The short lowercase name stored in each job's `source` field.
    fn name(&self) -> &str;

    /// Fetches the page `cursor` points at (the first page when `None`). A page-level problem
    /// (the board is down, the body is not JSON) is an `Err`; a bad posting is an `Err` item
    /// inside an otherwise good page.
    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError>;
}

/// Where a sync stands: which of the connector's configured targets (HH query, Greenhouse
/// board, Lever site, …; always 0 for a connector with one) and which page of it, counted from
/// 0 whatever the board's own numbering. Serialisable so it can live in a task's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    pub target: usize,
    pub page: u32,
}

impl Cursor {
    pub fn new(target: usize, page: u32) -> Self {
        Self { target, page }
    }

    pub(crate) fn next_page(self) -> Self {
        Self::new(self.target, self.page + 1)
    }

    pub(crate) fn next_target(self) -> Self {
        Self::new(self.target + 1, 0)
    }
}

pub type ItemResult = Result<NewJob, ItemError>;

/// One posting that could not become a valid job, with every reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    /// The posting's id, when it could be read.
    pub external_id: Option<String>,
    pub errors: Vec<FieldError>,
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "posting {}: ",
            self.external_id.as_deref().unwrap_or("(no id)")
        )?;
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<ItemResult>,
    /// Where to continue; `None` when the source has nothing more this sync.
    pub next: Option<Cursor>,
    /// The board answered "304 Not Modified": nothing changed since the last fetch.
    pub not_modified: bool,
    /// Things a person should know about this page, such as results left out by a board's
    /// depth limit.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_json() {
        let cursor = Cursor::new(1, 7);
        let text = serde_json::to_string(&cursor).unwrap();
        assert_eq!(text, r#"{"target":1,"page":7}"#);
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), cursor);
    }

    #[test]
    fn item_errors_list_every_problem() {
        let error = ItemError {
            external_id: Some("42".into()),
            errors: vec![
                FieldError::new("title", "must not be empty"),
                FieldError::new("salary.min", "must not be negative"),
            ],
        };
        assert_eq!(
            error.to_string(),
            "posting 42: title: must not be empty; salary.min: must not be negative"
        );
    }
}
