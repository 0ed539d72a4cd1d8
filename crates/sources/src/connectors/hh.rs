//! HH.ru (api.hh.ru): vacancy search, optionally each vacancy's detail for the full text.

use std::time::Duration;

use async_trait::async_trait;
use domain::{EmploymentType, FieldError, NewJob, Remote, SalaryPeriod, Seniority};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::common::{self, TimeFormat};
use crate::http::{HttpClient, HttpConfig, Request};
use crate::{Cursor, ItemError, ItemResult, Page, Source, SourceError};

const NAME: &str = "hh";
/// HH refuses `page * per_page >= 2000` with a 400: results past this depth are unreachable.
pub const HH_SEARCH_DEPTH: u32 = 2000;
const PER_PAGE_MAX: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HhConfig {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Sent as `HH-User-Agent`: the application's name and a contact address, e.g.
    /// `JobSearchServer/0.1 (dev@example.org)`. HH refuses requests without one.
    pub user_agent: String,
    /// An application token (`grant_type=client_credentials`); HH asks tokenless searches for
    /// a captcha.
    #[serde(default)]
    pub app_token: Option<SecretString>,
    pub queries: Vec<HhQuery>,
    /// At most 100.
    #[serde(default = "default_per_page")]
    pub per_page: u32,
    /// Fetch `/vacancies/{id}` for each result: the full description and key skills, at one
    /// more request per vacancy. Without it the description is the search snippet.
    #[serde(default = "default_fetch_details")]
    pub fetch_details: bool,
    #[serde(default = "default_http")]
    pub http: HttpConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HhQuery {
    pub text: String,
    /// HH area ids (`113` Russia, `1` Moscow); none means everywhere.
    #[serde(default)]
    pub areas: Vec<String>,
}

fn default_base_url() -> String {
    "https://api.hh.ru".to_owned()
}

fn default_per_page() -> u32 {
    PER_PAGE_MAX
}

fn default_fetch_details() -> bool {
    true
}

/// Established HH clients keep at least 0.35 s between requests.
fn default_http() -> HttpConfig {
    HttpConfig::with_min_interval(Duration::from_millis(350))
}

#[derive(Debug)]
pub struct HhSource {
    config: HhConfig,
    base_url: Url,
    hh_user_agent: HeaderValue,
    authorization: Option<HeaderValue>,
    client: HttpClient,
}

impl HhSource {
    pub fn new(config: HhConfig) -> Result<Self, SourceError> {
        let base_url = common::base_url(NAME, &config.base_url)?;
        let agent = config.user_agent.trim();
        if agent.is_empty() {
            return Err(SourceError::config(
                NAME,
                "user_agent is required: HH refuses requests without HH-User-Agent",
            ));
        }
        let hh_user_agent = HeaderValue::from_str(agent)
            .map_err(|_| SourceError::config(NAME, "user_agent must be printable ASCII"))?;
        if !(1..=PER_PAGE_MAX).contains(&config.per_page) {
            return Err(SourceError::config(
                NAME,
                format!("per_page must be 1 to {PER_PAGE_MAX}"),
            ));
        }
        let authorization = match &config.app_token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| SourceError::config(NAME, "app_token must be printable ASCII"))?;
                // Kept out of reqwest's debug output.
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let secrets = config.app_token.clone();
        let client = HttpClient::new(NAME, config.http.clone())?.with_secrets(secrets);
        Ok(Self {
            config,
            base_url,
            hh_user_agent,
            authorization,
            client,
        })
    }

    fn request(&self, url: Url) -> Request {
        let mut request = Request::get(url).header(
            HeaderName::from_static("hh-user-agent"),
            self.hh_user_agent.clone(),
        );
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        request
    }

    fn search_url(&self, query: &HhQuery, page: u32) -> Url {
        let mut url = common::endpoint(&self.base_url, &["vacancies"]);
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("text", &query.text);
            for area in &query.areas {
                pairs.append_pair("area", area);
            }
            pairs
                .append_pair("order_by", "publication_time")
                .append_pair("page", &page.to_string())
                .append_pair("per_page", &self.config.per_page.to_string());
        }
        url
    }

    async fn get(&self, url: Url) -> Result<serde_json::Value, SourceError> {
        let fetched = self.client.get_json(&self.request(url.clone())).await?;
        common::body(&self.client, &url, fetched)
    }

    /// The vacancy with its full description, or `None` when HH no longer shows it.
    async fn detail(&self, id: &str) -> Result<Option<serde_json::Value>, SourceError> {
        let url = common::endpoint(&self.base_url, &["vacancies", id]);
        match self.get(url).await {
            Ok(value) => Ok(Some(value)),
            Err(err) if err.status() == Some(404) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn item(&self, raw: serde_json::Value) -> Result<ItemResult, SourceError> {
        let listed: Vacancy = match common::parse_item(raw, "id") {
            Ok(vacancy) => vacancy,
            Err(err) => return Ok(Err(err)),
        };
        if !self.config.fetch_details {
            return Ok(to_job(listed));
        }
        let Some(detail) = self.detail(&listed.id).await? else {
            return Ok(Err(ItemError {
                external_id: Some(listed.id),
                errors: vec![FieldError::new(
                    "id",
                    "HH no longer shows this vacancy (404 on its detail)",
                )],
            }));
        };
        Ok(common::parse_item::<Vacancy>(detail, "id").and_then(to_job))
    }
}

#[async_trait]
impl Source for HhSource {
    fn name(&self) -> &str {
        NAME
    }

    async fn fetch_page(&self, cursor: Option<&Cursor>) -> Result<Page, SourceError> {
        let cursor = cursor.copied().unwrap_or_default();
        let targets = self.config.queries.len();
        let Some(query) = self.config.queries.get(cursor.target) else {
            return Ok(Page::default());
        };
        let url = self.search_url(query, cursor.page);
        let search: Search = common::envelope(&self.client, &url, self.get(url.clone()).await?)?;

        let next_page = cursor.page + 1;
        let last = search.items.is_empty()
            || next_page >= search.pages
            || next_page.saturating_mul(self.config.per_page) >= HH_SEARCH_DEPTH;

        let mut page = Page::default();
        for raw in search.items {
            page.items.push(self.item(raw).await?);
        }
        if !last {
            page.next = Some(cursor.next_page());
            return Ok(page);
        }
        page.next = common::after_target(cursor, targets);
        if search.found > u64::from(HH_SEARCH_DEPTH) {
            let note = format!(
                "hh query {:?} matches {} vacancies; HH lists only the first {HH_SEARCH_DEPTH}: \
                 narrow the query (areas, more specific text) to reach the rest",
                query.text, search.found
            );
            tracing::warn!(source = NAME, "{note}");
            page.notes.push(note);
        }
        Ok(page)
    }
}

#[derive(Debug, Deserialize)]
struct Search {
    items: Vec<serde_json::Value>,
    #[serde(default)]
    found: u64,
    pages: u32,
}

#[derive(Debug, Deserialize)]
struct Vacancy {
    id: String,
    name: String,
    alternate_url: String,
    published_at: String,
    #[serde(default)]
    employer: Option<Employer>,
    #[serde(default)]
    area: Option<Named>,
    #[serde(default)]
    salary: Option<HhSalary>,
    #[serde(default)]
    salary_range: Option<HhSalary>,
    #[serde(default)]
    work_format: Option<Vec<Id>>,
    #[serde(default)]
    schedule: Option<Id>,
    #[serde(default)]
    employment_form: Option<Id>,
    #[serde(default)]
    employment: Option<Id>,
    #[serde(default)]
    internship: Option<bool>,
    #[serde(default)]
    snippet: Option<Snippet>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    branded_description: Option<String>,
    #[serde(default)]
    key_skills: Vec<Named>,
}

#[derive(Debug, Deserialize)]
struct Employer {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct HhSalary {
    #[serde(default)]
    from: Option<f64>,
    #[serde(default)]
    to: Option<f64>,
    currency: String,
    #[serde(default)]
    gross: Option<bool>,
    /// Only in `salary_range`; the older `salary` is always per month.
    #[serde(default)]
    mode: Option<Id>,
}

#[derive(Debug, Deserialize)]
struct Snippet {
    #[serde(default)]
    requirement: Option<String>,
    #[serde(default)]
    responsibility: Option<String>,
}

fn to_job(vacancy: Vacancy) -> ItemResult {
    let mut problems = Vec::new();
    let remote = remote(vacancy.work_format.as_deref(), vacancy.schedule.as_ref());
    let employment_type = employment_type(&vacancy);
    let mut job = common::new_job(NAME, vacancy.id, vacancy.alternate_url, vacancy.name);
    job.remote = remote;
    job.employment_type = employment_type;
    job.company = common::non_blank(vacancy.employer.and_then(|e| e.name));
    job.locations = vacancy.area.into_iter().map(|a| a.name).collect();
    if vacancy.internship == Some(true) {
        job.seniority = Some(Seniority::Intern);
    }
    // `salary_range` is the newer form of the same data and also carries the period.
    if let Some(pay) = vacancy.salary_range.or(vacancy.salary) {
        job.salary = salary(pay, &mut problems);
    }
    job.published_at = common::parse_time(
        "published_at",
        &vacancy.published_at,
        TimeFormat::NumericOffset,
        &mut problems,
    );
    describe(
        &mut job,
        vacancy.description,
        vacancy.branded_description,
        vacancy.snippet,
        &mut problems,
    );
    job.skills = vacancy.key_skills.into_iter().map(|s| s.name).collect();
    common::finish(job, problems)
}

fn describe(
    job: &mut NewJob,
    description: Option<String>,
    branded: Option<String>,
    snippet: Option<Snippet>,
    problems: &mut Vec<FieldError>,
) {
    // The branded description is the same text dressed in the employer's styling; it is only
    // worth taking when the plain one is missing.
    if let Some(html) = common::non_blank(description).or(common::non_blank(branded)) {
        common::describe_html(job, &html, problems);
    } else if let Some(snippet) = snippet {
        let text: Vec<String> = [snippet.requirement, snippet.responsibility]
            .into_iter()
            .filter_map(common::non_blank)
            .collect();
        if !text.is_empty() {
            common::describe_text(job, &text.join("\n"), problems);
        }
    }
}

fn salary(pay: HhSalary, problems: &mut Vec<FieldError>) -> Option<domain::Salary> {
    let period = match pay.mode.as_ref().map(|m| m.id.as_str()) {
        None | Some("MONTH") => SalaryPeriod::Month,
        Some("HOUR") => SalaryPeriod::Hour,
        // Per shift or per rotation: no period of ours says the same, so the pay stays unknown.
        Some(_) => return None,
    };
    // HH's rouble code predates ISO 4217's RUB.
    let currency = if pay.currency == "RUR" {
        "RUB"
    } else {
        pay.currency.as_str()
    };
    common::salary(pay.from, pay.to, currency, period, pay.gross, problems)
}

fn remote(work_format: Option<&[Id]>, schedule: Option<&Id>) -> Option<Remote> {
    match work_format {
        Some(formats) if !formats.is_empty() => {
            let has = |id: &str| formats.iter().any(|f| f.id == id);
            if has("REMOTE") {
                Some(Remote::Yes)
            } else if has("HYBRID") {
                Some(Remote::Hybrid)
            } else if has("ON_SITE") || has("FIELD_WORK") {
                Some(Remote::No)
            } else {
                None
            }
        }
        // Older vacancies state remote work only through the schedule.
        _ => schedule.filter(|s| s.id == "remote").map(|_| Remote::Yes),
    }
}

fn employment_type(vacancy: &Vacancy) -> Option<EmploymentType> {
    if vacancy.internship == Some(true) {
        return Some(EmploymentType::Internship);
    }
    let current = vacancy
        .employment_form
        .as_ref()
        .and_then(|form| match form.id.as_str() {
            "FULL" => Some(EmploymentType::FullTime),
            "PART" => Some(EmploymentType::PartTime),
            "PROJECT" => Some(EmploymentType::Contract),
            "FLY_IN_FLY_OUT" => Some(EmploymentType::Other),
            _ => None,
        });
    current.or_else(|| {
        vacancy
            .employment
            .as_ref()
            .and_then(|e| match e.id.as_str() {
                "full" => Some(EmploymentType::FullTime),
                "part" => Some(EmploymentType::PartTime),
                "project" => Some(EmploymentType::Contract),
                "volunteer" => Some(EmploymentType::Volunteer),
                "probation" => Some(EmploymentType::Internship),
                _ => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_with_defaults() {
        let config: HhConfig = serde_json::from_value(serde_json::json!({
            "user_agent": "JobSearchServer/0.1 (dev@example.org)",
            "app_token": "APPL-secret",
            "queries": [{"text": "Rust", "areas": ["1", "2"]}]
        }))
        .unwrap();
        assert_eq!(config.base_url, "https://api.hh.ru");
        assert_eq!(config.per_page, 100);
        assert!(config.fetch_details);
        assert_eq!(config.http.min_interval, Duration::from_millis(350));
        assert!(!format!("{config:?}").contains("APPL-secret"));
    }

    #[test]
    fn rur_becomes_rub_and_unknown_periods_stay_unknown() {
        let pay = |mode: &str| HhSalary {
            from: Some(100.0),
            to: None,
            currency: "RUR".into(),
            gross: Some(true),
            mode: Some(Id { id: mode.into() }),
        };
        let mut problems = Vec::new();
        let month = salary(pay("MONTH"), &mut problems).unwrap();
        assert_eq!(month.currency.as_str(), "RUB");
        assert_eq!(month.period, SalaryPeriod::Month);
        assert_eq!(salary(pay("SHIFT"), &mut problems), None);
        assert!(problems.is_empty());
    }
}
