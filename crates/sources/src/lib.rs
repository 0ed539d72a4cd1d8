//! Job-board connectors: each reads one board page by page through the shared polite HTTP
//! client and turns its postings into validated [`domain::NewJob`] values.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod catalog;
pub mod connectors;
mod error;
pub mod hh_apply;
pub mod http;
pub mod ingest;
pub mod normalize;
mod source;
pub mod sync;

pub use connectors::adzuna::{AdzunaConfig, AdzunaSource};
pub use connectors::arbeitnow::{ArbeitnowConfig, ArbeitnowSource};
pub use connectors::greenhouse::{GreenhouseConfig, GreenhouseSource};
pub use connectors::hh::{HH_SEARCH_DEPTH, HhConfig, HhQuery, HhSource};
pub use connectors::lever::{LeverCompany, LeverConfig, LeverSource};
pub use connectors::remoteok::{RemoteOkConfig, RemoteOkSource};
pub use error::SourceError;
pub use source::{Cursor, ItemError, ItemResult, Page, Source};
