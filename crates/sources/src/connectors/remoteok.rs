//! Remote OK (remoteok.com/api): one unpaged feed of the newest remote jobs.

use std::time::Duration;

use async_trait::async_trait;
use domain::{Remote, SalaryPeriod};
use serde::Deserialize;
use url::Url;

use super::common::{self, TimeFormat};
use crate::http::{Fetched, HttpClient, HttpConfig, Request};
use crate::{Cursor, ItemResult, Page, Source, SourceError};

const NAME: &str = "remoteok";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteOkConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

impl Default for RemoteOkConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
            http: default_http(),
        }
    }
}

fn default_base_url() -> String {
    "https://remoteok.com".to_owned()
}

/// The site's robots.txt asks for a one-second crawl delay.
fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_secs(1))
}

#[derive(Debug)]
pub struct RemoteOkSource {
    url: Url,
    client: HttpClient,
}

impl RemoteOkSource {
    pub fn new(config: RemoteOkConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        Ok(Self {
            url: common::endpoint(&base_url, &["api"]),
            client: HttpClient::new(NAME, config.http)?,
        })
    }
}

#[async_trait]
impl Source for RemoteOkSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        if cursor.is_some_and(|c| *c != Cursor::default()) {
            return Ok(Page::default());
        }
        let request = Request::get(self.url.clone()).conditional();
        let value = match self.client.get_json(&request).await? {
            Fetched::Modified(value) => value,
            Fetched::NotModified => {
                return Ok(Page {
                    not_modified: true,
                    ..Page::default()
                });
            }
        };
        let elements: Vec<serde_json::Value> = common::envelope(&self.client, &self.url, value)?;
        let items = elements
            .into_iter()
            .filter(|element| !is_legal_notice(element))
            .map(|raw| common::parse_item::<RemoteOkJob>(raw, "id").and_then(to_job))
            .collect();
        Ok(Page {
            items,
            ..Page::default()
        })
    }
}

/// The feed opens with a terms-of-service notice, not a job. Recognised by its shape rather
/// than its position, so a feed holding only the notice reads as "no jobs".
fn is_legal_notice(element: &serde_json::Value) -> bool {
    element.get("legal").is_some() && element.get("id").is_none()
}

#[derive(Debug, Deserialize)]
struct RemoteOkJob {
    id: String,
    url: String,
    position: String,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    salary_min: Option<f64>,
    #[serde(default)]
    salary_max: Option<f64>,
    #[serde(default)]
    epoch: Option<i64>,
    #[serde(default)]
    date: Option<String>,
}

fn to_job(raw: RemoteOkJob) -> ItemResult {
    let mut problems = Vec::new();
    let mut job = common::new_job(NAME, raw.id, raw.url, raw.position);
    job.company = common::non_blank(raw.company);
    job.locations = common::non_blank(raw.location).into_iter().collect();
    // Every job on Remote OK is remote; `location` says where the employer hires.
    job.remote = Some(Remote::Yes);
    // 0 means "not stated"; the feed has no currency field and means US dollars a year.
    let known = |amount: Option<f64>| amount.filter(|a| *a != 0.0);
    job.salary = common::salary(
        known(raw.salary_min),
        known(raw.salary_max),
        "USD",
        SalaryPeriod::Year,
        None,
        &mut problems,
    );
    job.published_at = match (raw.epoch, raw.date) {
        (Some(epoch), _) => common::unix_seconds("epoch", epoch, &mut problems),
        (None, Some(date)) => common::parse_time("date", &date, TimeFormat::Rfc3339, &mut problems),
        (None, None) => None,
    };
    if let Some(description) = raw.description {
        common::describe_html(&mut job, &description, &mut problems);
    }
    common::finish(job, problems)
}
