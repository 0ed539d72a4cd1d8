//! Arbeitnow (arbeitnow.com/api/job-board-api): a paged feed of European jobs with no search,
//! so keywords are matched here.

use std::time::Duration;

use async_trait::async_trait;
use domain::{EmploymentType, Remote};
use serde::Deserialize;
use url::Url;

use super::common;
use crate::http::{HttpClient, HttpConfig, Request};
use crate::{Cursor, ItemResult, Page, Source, SourceError};

const NAME: &str = "arbeitnow";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArbeitnowConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Keep only jobs whose title, tags or description contain one of these (any case); none
    /// keeps everything.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The feed is long and has no total; stop after this many pages.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

fn default_base_url() -> String {
    "https://www.arbeitnow.com".to_owned()
}

fn default_max_pages() -> u32 {
    10
}

fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_secs(1))
}

#[derive(Debug)]
pub struct ArbeitnowSource {
    config: ArbeitnowConfig,
    endpoint: Url,
    keywords: Vec<String>,
    client: HttpClient,
}

impl ArbeitnowSource {
    pub fn new(config: ArbeitnowConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        let keywords = config
            .keywords
            .iter()
            .map(|k| k.trim().to_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        Ok(Self {
            endpoint: common::endpoint(&base_url, &["api", "job-board-api"]),
            keywords,
            client: HttpClient::new(NAME, config.http.clone())?,
            config,
        })
    }

    fn page_url(&self, page: u32) -> Url {
        let mut url = self.endpoint.clone();
        // The board counts pages from 1.
        url.query_pairs_mut()
            .append_pair("page", &(page + 1).to_string());
        url
    }

    fn wanted(&self, job: &ArbeitnowJob) -> bool {
        if self.keywords.is_empty() {
            return true;
        }
        let haystack = format!(
            "{}\n{}\n{}",
            job.title,
            job.tags.join("\n"),
            job.description.as_deref().unwrap_or_default()
        )
        .to_lowercase();
        self.keywords.iter().any(|k| haystack.contains(k.as_str()))
    }
}

#[async_trait]
impl Source for ArbeitnowSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        let cursor = cursor.copied().unwrap_or_default();
        if cursor.target > 0 || cursor.page >= self.config.max_pages {
            return Ok(Page::default());
        }
        let url = self.page_url(cursor.page);
        let fetched = self.client.get_json(&Request::get(url.clone())).await?;
        let value = common::body(&self.client, &url, fetched)?;
        let feed: Feed = common::envelope(&self.client, &url, value)?;

        let mut page = Page::default();
        let has_jobs = !feed.data.is_empty();
        for raw in feed.data {
            match common::parse_item::<ArbeitnowJob>(raw, "slug") {
                Ok(job) if !self.wanted(&job) => {}
                Ok(job) => page.items.push(to_job(job)),
                Err(err) => page.items.push(Err(err)),
            }
        }
        let next = feed.links.next.as_deref().filter(|_| has_jobs);
        page.next = match next.map(|next| next_page(next, cursor.page)) {
            None => None,
            Some(Ok(next)) if next >= self.config.max_pages => {
                page.notes.push(format!(
                    "arbeitnow: stopped after max_pages = {}",
                    self.config.max_pages
                ));
                None
            }
            Some(Ok(next)) => Some(Cursor::new(0, next)),
            Some(Err(note)) => {
                tracing::warn!(source = NAME, "{note}");
                page.notes.push(note);
                None
            }
        };
        Ok(page)
    }
}

/// Reads only the page number from the board's `links.next` and always asks the configured
/// host for it: a tampered `next` can neither send us to another address nor loop back.
fn next_page(next: &str, current: u32) -> Result<u32, String> {
    let refuse = |why: &str| format!("arbeitnow: ignoring links.next {next:?}: {why}");
    let url = Url::parse(next).map_err(|_| refuse("not a URL"))?;
    let board_page = url
        .query_pairs()
        .find(|(name, _)| name == "page")
        .and_then(|(_, value)| value.parse::<u32>().ok())
        .ok_or_else(|| refuse("no page number"))?;
    // Board pages count from 1, cursor pages from 0.
    let page = board_page.checked_sub(1).ok_or_else(|| refuse("page 0"))?;
    if page <= current {
        return Err(refuse("it does not move forward"));
    }
    Ok(page)
}

#[derive(Debug, Deserialize)]
struct Feed {
    data: Vec<serde_json::Value>,
    #[serde(default)]
    links: Links,
}

#[derive(Debug, Default, Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ArbeitnowJob {
    slug: String,
    url: String,
    title: String,
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    remote: Option<bool>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    job_types: Vec<String>,
    #[serde(default)]
    location: Option<String>,
    created_at: i64,
}

fn to_job(raw: ArbeitnowJob) -> ItemResult {
    let mut problems = Vec::new();
    let mut job = common::new_job(NAME, raw.slug, raw.url, raw.title);
    job.company = common::non_blank(raw.company_name);
    job.locations = common::non_blank(raw.location).into_iter().collect();
    // `false` covers on-site and hybrid alike, so only `true` says something.
    job.remote = (raw.remote == Some(true)).then_some(Remote::Yes);
    job.employment_type = employment_type(&raw.job_types);
    job.published_at = common::unix_seconds("created_at", raw.created_at, &mut problems);
    if let Some(description) = raw.description {
        common::describe_html(&mut job, &description, &mut problems);
    }
    common::finish(job, problems)
}

/// `job_types` mixes kinds of contract with experience levels, in English and German. A type
/// is taken only when the mapped values agree; experience words are not employment types.
fn employment_type(job_types: &[String]) -> Option<EmploymentType> {
    let mut mapped = job_types.iter().filter_map(|t| {
        let key: String = t
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match key.as_str() {
            "fulltime" | "fulltimepermanent" | "permanentfulltime" | "vollzeit" => {
                Some(EmploymentType::FullTime)
            }
            "parttime" | "teilzeit" => Some(EmploymentType::PartTime),
            "contract" | "freelance" | "freelancer" => Some(EmploymentType::Contract),
            "temporary" | "befristet" => Some(EmploymentType::Temporary),
            "internship" | "intern" | "praktikum" => Some(EmploymentType::Internship),
            "volunteer" | "ehrenamt" => Some(EmploymentType::Volunteer),
            _ => None,
        }
    });
    let first = mapped.next()?;
    mapped.all(|t| t == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_takes_only_a_forward_page_number() {
        assert_eq!(
            next_page("https://www.arbeitnow.com/api/job-board-api?page=2", 0),
            Ok(1)
        );
        assert_eq!(next_page("https://evil.example/steal?page=3", 0), Ok(2));
        assert!(next_page("https://www.arbeitnow.com/api/job-board-api?page=1", 0).is_err());
        assert!(next_page("https://www.arbeitnow.com/api/job-board-api", 0).is_err());
        assert!(next_page("not a url", 0).is_err());
    }

    #[test]
    fn job_types_map_only_when_clear() {
        let types =
            |t: &[&str]| employment_type(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            types(&["Full Time", "berufserfahren"]),
            Some(EmploymentType::FullTime)
        );
        assert_eq!(
            types(&["Full-time permanent", "experienced"]),
            Some(EmploymentType::FullTime)
        );
        assert_eq!(types(&["Working student", "berufseinstieg"]), None);
        assert_eq!(types(&["Full Time", "Part Time"]), None);
    }
}
