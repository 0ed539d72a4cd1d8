//! Adzuna (api.adzuna.com): one search per configured country.

use std::time::Duration;

use async_trait::async_trait;
use domain::{EmploymentType, SalaryPeriod};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

use super::common::{self, TimeFormat};
use crate::http::{HttpClient, HttpConfig, Request};
use crate::{Cursor, ItemResult, Page, Source, SourceError};

const NAME: &str = "adzuna";
/// Third-party clients report 50 as the most Adzuna returns per page.
const PER_PAGE_MAX: u32 = 50;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdzunaConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub app_id: String,
    pub app_key: SecretString,
    /// Two-letter country of the Adzuna site: `gb`, `us`, `de`, …
    pub country: String,
    #[serde(default)]
    pub what: Option<String>,
    #[serde(default, rename = "where")]
    pub location: Option<String>,
    /// At most 50.
    #[serde(default = "default_per_page")]
    pub results_per_page: u32,
    /// Adzuna's default quota is 250 calls a day; one sync should not spend it all.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

fn default_base_url() -> String {
    "https://api.adzuna.com/v1/api/jobs".to_owned()
}

fn default_per_page() -> u32 {
    PER_PAGE_MAX
}

fn default_max_pages() -> u32 {
    5
}

/// Adzuna's terms allow 25 calls a minute.
fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_millis(2_400))
}

#[derive(Debug)]
pub struct AdzunaSource {
    config: AdzunaConfig,
    base_url: Url,
    country: String,
    client: HttpClient,
}

impl AdzunaSource {
    pub fn new(config: AdzunaConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        let country = config.country.trim().to_ascii_lowercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(SourceError::config(
                NAME,
                "country must be a two-letter code such as gb",
            ));
        }
        if config.app_id.trim().is_empty() || config.app_key.expose_secret().trim().is_empty() {
            return Err(SourceError::config(NAME, "app_id and app_key are required"));
        }
        if !(1..=PER_PAGE_MAX).contains(&config.results_per_page) || config.max_pages == 0 {
            return Err(SourceError::config(
                NAME,
                format!("results_per_page must be 1 to {PER_PAGE_MAX} and max_pages at least 1"),
            ));
        }
        let client =
            HttpClient::new(NAME, config.http.clone())?.with_secrets([config.app_key.clone()]);
        Ok(Self {
            config,
            base_url,
            country,
            client,
        })
    }

    fn search_url(&self, page: u32) -> Url {
        // Adzuna numbers pages from 1, in the path.
        let page = (page + 1).to_string();
        let mut url = common::endpoint(&self.base_url, &[&self.country, "search", &page]);
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("app_id", &self.config.app_id)
                .append_pair("app_key", self.config.app_key.expose_secret())
                .append_pair(
                    "results_per_page",
                    &self.config.results_per_page.to_string(),
                );
            if let Some(what) = &self.config.what {
                pairs.append_pair("what", what);
            }
            if let Some(location) = &self.config.location {
                pairs.append_pair("where", location);
            }
            pairs.append_pair("content-type", "application/json");
        }
        url
    }
}

#[async_trait]
impl Source for AdzunaSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        let cursor = cursor.copied().unwrap_or_default();
        if cursor.target > 0 || cursor.page >= self.config.max_pages {
            return Ok(Page::default());
        }
        let url = self.search_url(cursor.page);
        let fetched = self.client.get_json(&Request::get(url.clone())).await?;
        let value = common::body(&self.client, &url, fetched)?;
        let search: Search = common::envelope(&self.client, &url, value)?;
        let currency = currency_of(&self.country);

        let no_results = search.results.is_empty();
        let mut page = Page::default();
        for raw in search.results {
            let item =
                common::parse_item::<AdzunaJob>(raw, "id").and_then(|job| to_job(job, currency));
            page.items.push(item);
        }

        let per_page = u64::from(self.config.results_per_page);
        let available_pages = search.count.div_ceil(per_page);
        let next_page = cursor.page + 1;
        page.next = if no_results || u64::from(next_page) >= available_pages {
            None
        } else if next_page >= self.config.max_pages {
            page.notes.push(format!(
                "adzuna has {} matches; max_pages = {} reads only the first {}",
                search.count,
                self.config.max_pages,
                u64::from(self.config.max_pages) * per_page
            ));
            None
        } else {
            Some(cursor.next_page())
        };
        Ok(page)
    }
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    count: u64,
    results: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct AdzunaJob {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
    title: String,
    redirect_url: String,
    created: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    salary_min: Option<f64>,
    #[serde(default)]
    salary_max: Option<f64>,
    #[serde(default, deserialize_with = "optional_flag")]
    salary_is_predicted: Option<bool>,
    #[serde(default)]
    contract_type: Option<String>,
    #[serde(default)]
    contract_time: Option<String>,
    #[serde(default)]
    company: Option<DisplayName>,
    #[serde(default)]
    location: Option<DisplayName>,
}

#[derive(Debug, Deserialize)]
struct DisplayName {
    #[serde(default)]
    display_name: Option<String>,
}

fn to_job(raw: AdzunaJob, currency: Option<&str>) -> ItemResult {
    let mut problems = Vec::new();
    // Titles carry `<strong>` around the search terms; the text is what we keep.
    let title = crate::normalize::html_to_text(&raw.title);
    let mut job = common::new_job(NAME, raw.id, raw.redirect_url, title);
    job.company = common::non_blank(raw.company.and_then(|c| c.display_name));
    job.locations = common::non_blank(raw.location.and_then(|l| l.display_name))
        .into_iter()
        .collect();
    job.employment_type =
        employment_type(raw.contract_type.as_deref(), raw.contract_time.as_deref());
    // A predicted salary is Adzuna's estimate, not the employer's offer; only an explicit "0"
    // says the numbers come from the posting. Adzuna salaries are yearly; the currency follows
    // the country's site.
    if raw.salary_is_predicted == Some(false)
        && let Some(currency) = currency
    {
        job.salary = common::salary(
            raw.salary_min,
            raw.salary_max,
            currency,
            SalaryPeriod::Year,
            None,
            &mut problems,
        );
    }
    job.published_at =
        common::parse_time("created", &raw.created, TimeFormat::Rfc3339, &mut problems);
    if let Some(description) = raw.description {
        common::describe_text(&mut job, &description, &mut problems);
    }
    common::finish(job, problems)
}

fn employment_type(
    contract_type: Option<&str>,
    contract_time: Option<&str>,
) -> Option<EmploymentType> {
    if contract_type == Some("contract") {
        return Some(EmploymentType::Contract);
    }
    match contract_time {
        Some("full_time") => Some(EmploymentType::FullTime),
        Some("part_time") => Some(EmploymentType::PartTime),
        _ => None,
    }
}

/// The currency of each Adzuna country site; a site not listed leaves salaries unknown.
fn currency_of(country: &str) -> Option<&'static str> {
    Some(match country {
        "gb" => "GBP",
        "us" => "USD",
        "ca" => "CAD",
        "au" => "AUD",
        "nz" => "NZD",
        "in" => "INR",
        "sg" => "SGD",
        "za" => "ZAR",
        "br" => "BRL",
        "mx" => "MXN",
        "pl" => "PLN",
        "ch" => "CHF",
        "at" | "be" | "de" | "es" | "fr" | "it" | "nl" => "EUR",
        _ => return None,
    })
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

/// `"0"`/`"1"` today, `0`/`1` in older documentation.
fn optional_flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s == "0" || s == "1" => Ok(Some(s == "1")),
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => {
            Ok(Some(n.as_u64() == Some(1)))
        }
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected \"0\" or \"1\", found {other}"
        ))),
    }
}
