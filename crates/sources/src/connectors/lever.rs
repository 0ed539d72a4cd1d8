//! Lever postings (api.lever.co): each configured site, whole or in `skip`/`limit` pages.

use std::time::Duration;

use async_trait::async_trait;
use domain::{EmploymentType, FieldError, Remote, SalaryPeriod};
use serde::Deserialize;
use url::Url;

use super::common;
use crate::http::{Fetched, HttpClient, HttpConfig, Request};
use crate::{Cursor, ItemResult, Page, Source, SourceError};

const NAME: &str = "lever";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeverConfig {
    /// `https://api.eu.lever.co` for EU accounts.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub companies: Vec<LeverCompany>,
    /// Postings per request; none means each site in one response (Lever's default).
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeverCompany {
    /// The site name in `jobs.lever.co/{site}`.
    pub site: String,
    /// The company's name as it should appear on its jobs: Lever's API does not send one.
    #[serde(default)]
    pub name: Option<String>,
}

fn default_base_url() -> String {
    "https://api.lever.co".to_owned()
}

fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_millis(500))
}

#[derive(Debug)]
pub struct LeverSource {
    config: LeverConfig,
    base_url: Url,
    client: HttpClient,
}

impl LeverSource {
    pub fn new(config: LeverConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        if config.companies.iter().any(|c| c.site.trim().is_empty()) {
            return Err(SourceError::config(NAME, "company sites must not be empty"));
        }
        if config.page_size == Some(0) {
            return Err(SourceError::config(NAME, "page_size must be at least 1"));
        }
        Ok(Self {
            client: HttpClient::new(NAME, config.http.clone())?,
            config,
            base_url,
        })
    }
}

#[async_trait]
impl Source for LeverSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        let cursor = cursor.copied().unwrap_or_default();
        let Some(company) = self.config.companies.get(cursor.target) else {
            return Ok(Page::default());
        };
        let mut url = common::endpoint(&self.base_url, &["v0", "postings", company.site.trim()]);
        url.query_pairs_mut().append_pair("mode", "json");
        if let Some(limit) = self.config.page_size {
            let skip = u64::from(cursor.page) * u64::from(limit);
            url.query_pairs_mut()
                .append_pair("skip", &skip.to_string())
                .append_pair("limit", &limit.to_string());
        }
        let request = match self.config.page_size {
            Some(_) => Request::get(url.clone()),
            // The whole site in one document: worth asking whether it changed.
            None => Request::get(url.clone()).conditional(),
        };
        let after_site = common::after_target(cursor, self.config.companies.len());

        let value = match self.client.get_json(&request).await? {
            Fetched::Modified(value) => value,
            Fetched::NotModified => {
                return Ok(Page {
                    next: after_site,
                    not_modified: true,
                    ..Page::default()
                });
            }
        };
        // A bare array, not an object.
        let postings: Vec<serde_json::Value> = common::envelope(&self.client, &url, value)?;
        // Lever returns no total: a short page is the last one.
        let full_page = self
            .config
            .page_size
            .is_some_and(|limit| postings.len() as u64 >= u64::from(limit));
        let company_name = company.name.as_deref();
        let items = postings
            .into_iter()
            .map(|raw| {
                common::parse_item::<Posting>(raw, "id").and_then(|p| to_job(p, company_name))
            })
            .collect();
        Ok(Page {
            items,
            next: if full_page {
                Some(cursor.next_page())
            } else {
                after_site
            },
            ..Page::default()
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Posting {
    id: String,
    text: String,
    hosted_url: String,
    created_at: i64,
    #[serde(default)]
    categories: Option<Categories>,
    #[serde(default)]
    workplace_type: Option<String>,
    #[serde(default)]
    salary_range: Option<SalaryRange>,
    #[serde(default)]
    opening: Option<String>,
    #[serde(default)]
    description_body: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    lists: Vec<List>,
    #[serde(default)]
    additional: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Categories {
    #[serde(default)]
    commitment: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    all_locations: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct SalaryRange {
    currency: String,
    interval: String,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct List {
    #[serde(default)]
    text: String,
    #[serde(default)]
    content: String,
}

fn to_job(raw: Posting, company: Option<&str>) -> ItemResult {
    let mut problems = Vec::new();
    let mut job = common::new_job(NAME, raw.id, raw.hosted_url, raw.text);
    job.company = common::non_blank(company.map(str::to_owned));
    if let Some(categories) = raw.categories {
        job.locations = match categories.all_locations {
            Some(all) if !all.is_empty() => all,
            _ => categories.location.into_iter().collect(),
        }
        .into_iter()
        .filter_map(|l| common::non_blank(Some(l)))
        .collect();
        job.employment_type = categories.commitment.as_deref().and_then(employment_type);
    }
    job.remote = match raw.workplace_type.as_deref() {
        Some("remote") => Some(Remote::Yes),
        Some("hybrid") => Some(Remote::Hybrid),
        Some("on-site") => Some(Remote::No),
        _ => None,
    };
    if let Some(range) = raw.salary_range {
        job.salary = salary(range, &mut problems);
    }
    job.published_at = common::unix_millis("createdAt", raw.created_at, &mut problems);
    let html = description_html(
        raw.opening,
        raw.description_body,
        raw.description,
        &raw.lists,
        raw.additional,
    );
    if !html.is_empty() {
        common::describe_html(&mut job, &html, &mut problems);
    }
    common::finish(job, problems)
}

/// Lever splits a posting into an opening, a body, titled lists and a closing; the reader sees
/// them in that order. List content is a run of `<li>` with no `<ul>` around it.
fn description_html(
    opening: Option<String>,
    body: Option<String>,
    description: Option<String>,
    lists: &[List],
    additional: Option<String>,
) -> String {
    let opening = opening.unwrap_or_default();
    let body = body.unwrap_or_default();
    let mut html = if opening.is_empty() && body.is_empty() {
        description.unwrap_or_default()
    } else {
        opening + &body
    };
    for list in lists {
        if !list.text.trim().is_empty() {
            html.push_str("<h3>");
            html.push_str(&html_escape::encode_text(list.text.trim()));
            html.push_str("</h3>");
        }
        html.push_str("<ul>");
        html.push_str(&list.content);
        html.push_str("</ul>");
    }
    html.push_str(&additional.unwrap_or_default());
    html
}

fn salary(range: SalaryRange, problems: &mut Vec<FieldError>) -> Option<domain::Salary> {
    let period = match range.interval.as_str() {
        "per-hour-wage" => SalaryPeriod::Hour,
        "per-day-wage" => SalaryPeriod::Day,
        "per-week-salary" => SalaryPeriod::Week,
        "per-month-salary" => SalaryPeriod::Month,
        "per-year-salary" => SalaryPeriod::Year,
        // A one-time amount is not pay per period.
        _ => return None,
    };
    common::salary(
        range.min,
        range.max,
        &range.currency,
        period,
        None,
        problems,
    )
}

/// Commitments are free text chosen by each company; only unambiguous ones are mapped.
fn employment_type(commitment: &str) -> Option<EmploymentType> {
    let key: String = commitment
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    match key.as_str() {
        "fulltime" | "permanentfulltime" => Some(EmploymentType::FullTime),
        "parttime" | "permanentparttime" => Some(EmploymentType::PartTime),
        "contract" | "contractor" | "freelance" => Some(EmploymentType::Contract),
        "temporary" | "temp" | "fixedterm" => Some(EmploymentType::Temporary),
        "intern" | "internship" => Some(EmploymentType::Internship),
        "volunteer" => Some(EmploymentType::Volunteer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_wrapped_and_titled() {
        let html = description_html(
            Some("<div>Open</div>".into()),
            Some("<div>Body</div>".into()),
            None,
            &[List {
                text: "Tools & more".into(),
                content: "<li>a</li><li>b</li>".into(),
            }],
            Some("<div>Bye</div>".into()),
        );
        assert_eq!(
            html,
            "<div>Open</div><div>Body</div><h3>Tools &amp; more</h3><ul><li>a</li><li>b</li></ul><div>Bye</div>"
        );
    }

    #[test]
    fn commitments_map_only_when_clear() {
        assert_eq!(employment_type("Full-time"), Some(EmploymentType::FullTime));
        assert_eq!(employment_type("Part Time"), Some(EmploymentType::PartTime));
        assert_eq!(employment_type("Full-time or contract"), None);
    }
}
