//! Greenhouse job boards (boards-api.greenhouse.io): each configured board in one response.

use std::time::Duration;

use async_trait::async_trait;
use domain::Remote;
use serde::Deserialize;
use url::Url;

use super::common::{self, TimeFormat};
use crate::http::{Fetched, HttpClient, HttpConfig, Request};
use crate::normalize::unescape_once;
use crate::{Cursor, ItemResult, Page, Source, SourceError};

const NAME: &str = "greenhouse";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GreenhouseConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Board tokens: the slug in `job-boards.greenhouse.io/{token}`.
    pub boards: Vec<String>,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

fn default_base_url() -> String {
    "https://boards-api.greenhouse.io".to_owned()
}

fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_millis(500))
}

#[derive(Debug)]
pub struct GreenhouseSource {
    config: GreenhouseConfig,
    base_url: Url,
    client: HttpClient,
}

impl GreenhouseSource {
    pub fn new(config: GreenhouseConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        if config.boards.iter().any(|b| b.trim().is_empty()) {
            return Err(SourceError::config(NAME, "board tokens must not be empty"));
        }
        Ok(Self {
            client: HttpClient::new(NAME, config.http.clone())?,
            config,
            base_url,
        })
    }
}

#[async_trait]
impl Source for GreenhouseSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        let cursor = cursor.copied().unwrap_or_default();
        let Some(board) = self.config.boards.get(cursor.target) else {
            return Ok(Page::default());
        };
        let mut url = common::endpoint(&self.base_url, &["v1", "boards", board.trim(), "jobs"]);
        url.query_pairs_mut().append_pair("content", "true");
        let next = common::after_target(cursor, self.config.boards.len());

        // A whole board comes in one response, so "not modified" means the board is unchanged.
        let value = match self
            .client
            .get_json(&Request::get(url.clone()).conditional())
            .await?
        {
            Fetched::Modified(value) => value,
            Fetched::NotModified => {
                return Ok(Page {
                    next,
                    not_modified: true,
                    ..Page::default()
                });
            }
        };
        let board: Board = common::envelope(&self.client, &url, value)?;
        let items = board
            .jobs
            .into_iter()
            .map(|raw| common::parse_item::<GreenhouseJob>(raw, "id").and_then(to_job))
            .collect();
        Ok(Page {
            items,
            next,
            ..Page::default()
        })
    }
}

#[derive(Debug, Deserialize)]
struct Board {
    jobs: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct GreenhouseJob {
    /// Often above 2^32.
    id: u64,
    title: String,
    absolute_url: String,
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    first_published: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    metadata: Option<Vec<Metadata>>,
}

#[derive(Debug, Deserialize)]
struct Location {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    value: serde_json::Value,
}

fn to_job(raw: GreenhouseJob) -> ItemResult {
    let mut problems = Vec::new();
    let mut job = common::new_job(NAME, raw.id.to_string(), raw.absolute_url, raw.title);
    job.company = common::non_blank(raw.company_name);
    job.locations = raw
        .location
        .and_then(|l| l.name)
        .map(|names| {
            names
                .split("; ")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    job.remote = raw.metadata.as_deref().and_then(remote);
    if let Some(time) = raw.first_published.or(raw.updated_at) {
        job.published_at =
            common::parse_time("first_published", &time, TimeFormat::Rfc3339, &mut problems);
    }
    if let Some(content) = raw.content {
        // Greenhouse entity-encodes its HTML once; decoding it a second time would turn text
        // like `&amp;nbsp;` into markup.
        common::describe_html(&mut job, &unescape_once(&content), &mut problems);
    }
    common::finish(job, problems)
}

/// Companies state the workplace in a custom field; only the common names and values are
/// read, anything else stays unknown.
fn remote(metadata: &[Metadata]) -> Option<Remote> {
    metadata
        .iter()
        .filter(|m| {
            let name = m.name.trim().to_ascii_lowercase();
            matches!(name.as_str(), "location type" | "workplace type" | "remote")
        })
        .find_map(|m| {
            let value = m.value.as_str()?.trim().to_ascii_lowercase();
            match value.as_str() {
                "remote" | "fully remote" => Some(Remote::Yes),
                "hybrid" => Some(Remote::Hybrid),
                "on-site" | "onsite" | "on site" | "in office" | "office" => Some(Remote::No),
                _ => None,
            }
        })
}
