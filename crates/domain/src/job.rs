//! The one normalised job posting every source produces and the push-ingestion endpoint accepts.
//!
//! "Unknown stays unknown": every field a board may leave out is an `Option` (or an empty list),
//! and connectors fill a field only from what the board states, never from a guess.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The source of postings that recruiters publish on jobpilot itself. Scrapers may not push
/// postings under it: its postings are changed only by their owners.
pub const DIRECT_SOURCE: &str = "jobpilot";
/// Longest source name: short enough for a label in metrics and logs.
pub const SOURCE_MAX_CHARS: usize = 32;
pub const EXTERNAL_ID_MAX_CHARS: usize = 256;
pub const URL_MAX_CHARS: usize = 2048;
pub const TITLE_MAX_CHARS: usize = 300;
pub const COMPANY_MAX_CHARS: usize = 300;
pub const LOCATION_MAX_CHARS: usize = 200;
pub const LOCATIONS_MAX: usize = 50;
pub const SKILL_MAX_CHARS: usize = 100;
pub const SKILLS_MAX: usize = 200;
/// Longest description, each of HTML and text, in bytes. Longer ones are refused rather than
/// cut: a cut description silently loses the part a reader may need.
pub const DESCRIPTION_MAX_BYTES: usize = 200 * 1024;
/// No real pay reaches this in any currency and period; above it a number is a parsing accident
/// (a phone number, cents taken for units, …).
pub const SALARY_CEILING: f64 = 1e9;

/// A job posting as a source delivers it, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    /// Short lowercase name of the source: `hh`, `adzuna`, or a scraper's own name.
    #[schema(pattern = "^[a-z0-9_-]{1,32}$", example = "hh")]
    pub source: String,
    /// The posting's id at its source; (source, external_id) identifies a posting.
    pub external_id: String,
    /// The posting's public page (http or https).
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub remote: Option<Remote>,
    #[serde(default)]
    pub employment_type: Option<EmploymentType>,
    /// Only when the board states a level; never inferred from the title.
    #[serde(default)]
    pub seniority: Option<Seniority>,
    #[serde(default)]
    pub salary: Option<Salary>,
    /// Sanitised HTML.
    #[serde(default)]
    pub description_html: Option<String>,
    #[serde(default)]
    pub description_text: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether the work can be done away from the employer's premises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Remote {
    Yes,
    No,
    Hybrid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Contract,
    Temporary,
    Internship,
    Volunteer,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Seniority {
    Intern,
    Junior,
    Middle,
    Senior,
    Lead,
    Principal,
    Executive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SalaryPeriod {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// Pay as the posting states it: either bound may be missing, but not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Salary {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    pub currency: Currency,
    pub period: SalaryPeriod,
    /// `true`: before income tax; `false`: take-home; absent: not stated.
    #[serde(default)]
    pub gross: Option<bool>,
}

/// One problem with one field of an incoming job, named by its path (`salary.min`,
/// `locations[3]`) so a report can point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl NewJob {
    /// Checks every field and returns every problem found, not only the first, so one report
    /// tells a scraper author everything to fix.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_source(&self.source, &mut errors);
        check_text(
            "external_id",
            &self.external_id,
            EXTERNAL_ID_MAX_CHARS,
            &mut errors,
        );
        check_url(&self.url, &mut errors);
        check_text("title", &self.title, TITLE_MAX_CHARS, &mut errors);
        if let Some(company) = &self.company {
            check_text("company", company, COMPANY_MAX_CHARS, &mut errors);
        }
        check_list(
            "locations",
            &self.locations,
            LOCATIONS_MAX,
            LOCATION_MAX_CHARS,
            &mut errors,
        );
        check_list(
            "skills",
            &self.skills,
            SKILLS_MAX,
            SKILL_MAX_CHARS,
            &mut errors,
        );
        if let Some(salary) = &self.salary {
            salary.check(&mut errors);
        }
        for (field, value) in [
            ("description_html", &self.description_html),
            ("description_text", &self.description_text),
        ] {
            if let Some(value) = value
                && value.len() > DESCRIPTION_MAX_BYTES
            {
                errors.push(too_big(field, value.len()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The error for a description over [`DESCRIPTION_MAX_BYTES`], shared with connectors that
/// refuse an oversized raw description before spending time on it.
pub fn description_too_big(field: &str, bytes: usize) -> FieldError {
    too_big(field, bytes)
}

fn too_big(field: &str, bytes: usize) -> FieldError {
    FieldError::new(
        field,
        format!(
            "is {} bytes; at most {DESCRIPTION_MAX_BYTES} bytes (200 KiB) are accepted",
            bytes
        ),
    )
}

impl Salary {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.min.is_none() && self.max.is_none() {
            errors.push(FieldError::new(
                "salary",
                "needs min, max or both; leave salary out when the pay is unknown",
            ));
        }
        for (field, value) in [("salary.min", self.min), ("salary.max", self.max)] {
            let Some(value) = value else { continue };
            if !value.is_finite() {
                errors.push(FieldError::new(field, "must be a finite number"));
            } else if value < 0.0 {
                errors.push(FieldError::new(field, "must not be negative"));
            } else if value >= SALARY_CEILING {
                errors.push(FieldError::new(
                    field,
                    format!("{value} is not a plausible salary (limit {SALARY_CEILING:e})"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            errors.push(FieldError::new(
                "salary.min",
                format!("{min} is greater than salary.max {max}"),
            ));
        }
    }
}

fn check_source(source: &str, errors: &mut Vec<FieldError>) {
    let valid = (1..=SOURCE_MAX_CHARS).contains(&source.len())
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        errors.push(FieldError::new(
            "source",
            format!("must be 1 to {SOURCE_MAX_CHARS} characters of a-z, 0-9, '_' or '-'"),
        ));
    }
}

/// A required single-line-ish text: not blank once trimmed, not too long, no control characters
/// other than line breaks and tabs (which hide text in logs and UIs).
fn check_text(field: &str, value: &str, max_chars: usize, errors: &mut Vec<FieldError>) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if trimmed.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    } else if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        errors.push(FieldError::new(field, "contains control characters"));
    }
}

fn check_list(
    field: &str,
    values: &[String],
    max_items: usize,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) {
    if values.len() > max_items {
        errors.push(FieldError::new(
            field,
            format!(
                "has {} entries; at most {max_items} are accepted",
                values.len()
            ),
        ));
        return;
    }
    for (index, value) in values.iter().enumerate() {
        check_text(&format!("{field}[{index}]"), value, max_chars, errors);
    }
}

fn check_url(raw: &str, errors: &mut Vec<FieldError>) {
    if raw.chars().count() > URL_MAX_CHARS {
        errors.push(FieldError::new(
            "url",
            format!("is longer than {URL_MAX_CHARS} characters"),
        ));
        return;
    }
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(_) => errors.push(FieldError::new(
            "url",
            "must be an http or https address with a host",
        )),
        Err(err) => errors.push(FieldError::new("url", format!("is not a valid URL: {err}"))),
    }
}

/// An ISO 4217 alphabetic code of a currency in which wages are paid, upper case.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "EUR")]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an active ISO 4217 currency code")]
pub struct CurrencyError(pub String);

impl Currency {
    /// Accepts a code in any case (`eur`, `EUR`); anything not on the list is refused rather
    /// than stored, since a salary in an unknown unit cannot be compared with anything.
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        let code = raw.trim().to_ascii_uppercase();
        if ACTIVE_CURRENCIES.binary_search(&code.as_str()).is_ok() {
            Ok(Self(code))
        } else {
            Err(CurrencyError(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Active ISO 4217 codes (list as amended to 2025), sorted for binary search. Fund codes (BOV,
/// CLF, USN, …), precious metals, SDR and the test/no-currency codes (XTS, XXX) are left out:
/// nobody is paid in them, so a posting that names one is malformed.
const ACTIVE_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_job() -> NewJob {
        NewJob {
            source: "hh".into(),
            external_id: "154820397".into(),
            url: "https://hh.ru/vacancy/154820397".into(),
            title: "Rust developer".into(),
            company: Some("Полярный Код".into()),
            locations: vec!["Москва".into()],
            remote: Some(Remote::Hybrid),
            employment_type: Some(EmploymentType::FullTime),
            seniority: None,
            salary: Some(Salary {
                min: Some(280_000.0),
                max: Some(380_000.0),
                currency: Currency::parse("RUB").unwrap(),
                period: SalaryPeriod::Month,
                gross: Some(false),
            }),
            description_html: Some("<p>Hi</p>".into()),
            description_text: Some("Hi".into()),
            skills: vec!["Rust".into()],
            published_at: Some(Utc::now()),
            expires_at: None,
        }
    }

    fn fields(job: &NewJob) -> Vec<String> {
        job.validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn currency_list_is_sorted_and_unique() {
        assert!(ACTIVE_CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(ACTIVE_CURRENCIES.iter().all(|c| c.len() == 3));
    }

    #[test]
    fn currency_parses_known_codes_in_any_case_only() {
        assert_eq!(Currency::parse(" eur ").unwrap().as_str(), "EUR");
        assert!(Currency::parse("RUR").is_err(), "RUR is HH's code, not ISO");
        assert!(Currency::parse("XXX").is_err());
        assert!(Currency::parse("").is_err());
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }

    #[test]
    fn a_valid_job_passes() {
        valid_job().validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut job = valid_job();
        job.source = "Head Hunter".into();
        job.external_id = " ".into();
        job.url = "javascript:alert(1)".into();
        job.title = "x".repeat(301);
        job.locations = vec!["Berlin".into(), "".into()];
        job.salary = Some(Salary {
            min: Some(-5.0),
            max: Some(f64::NAN),
            currency: Currency::parse("EUR").unwrap(),
            period: SalaryPeriod::Year,
            gross: None,
        });
        job.description_text = Some("a".repeat(10 * 1024 * 1024));
        assert_eq!(
            fields(&job),
            [
                "source",
                "external_id",
                "url",
                "title",
                "locations[1]",
                "salary.min",
                "salary.max",
                "description_text"
            ]
        );
    }

    #[test]
    fn salary_bounds_are_checked() {
        let mut job = valid_job();
        let salary = job.salary.as_mut().unwrap();
        salary.min = Some(10.0);
        salary.max = Some(5.0);
        assert_eq!(fields(&job), ["salary.min"]);

        let salary = job.salary.as_mut().unwrap();
        salary.min = None;
        salary.max = None;
        assert_eq!(fields(&job), ["salary"]);

        let salary = job.salary.as_mut().unwrap();
        salary.max = Some(5e9);
        let errors = job.validate().unwrap_err();
        assert!(errors[0].message.contains("not a plausible salary"));
    }

    #[test]
    fn too_many_locations_is_one_error() {
        let mut job = valid_job();
        job.locations = vec!["Berlin".into(); 51];
        assert_eq!(fields(&job), ["locations"]);
    }

    #[test]
    fn json_body_rejects_unknown_fields_and_fills_defaults() {
        let minimal = r#"{"source":"my_scraper","external_id":"1","url":"https://example.org/1","title":"Dev"}"#;
        let job: NewJob = serde_json::from_str(minimal).unwrap();
        assert_eq!(job.salary, None);
        assert!(job.locations.is_empty());
        job.validate().unwrap();

        let unknown = r#"{"source":"s","external_id":"1","url":"https://e.org","title":"Dev","colour":"red"}"#;
        assert!(serde_json::from_str::<NewJob>(unknown).is_err());

        let salary = r#"{"source":"s","external_id":"1","url":"https://e.org","title":"Dev",
            "salary":{"min":1,"currency":"usd","period":"year"},"remote":"hybrid"}"#;
        let job: NewJob = serde_json::from_str(salary).unwrap();
        assert_eq!(job.salary.unwrap().currency.as_str(), "USD");
        assert_eq!(job.remote, Some(Remote::Hybrid));
    }
}
