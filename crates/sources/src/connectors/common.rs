//! Helpers every connector shares: addresses, envelopes, per-item parsing and the last checks.

use chrono::{DateTime, TimeZone, Utc};
use domain::{Currency, FieldError, NewJob, Salary, SalaryPeriod};
use serde::de::DeserializeOwned;
use url::Url;

use crate::http::{Fetched, HttpClient, redact_url};
use crate::normalize::{html_to_text, sanitize_html, sanitized_html_to_text};
use crate::{Cursor, ItemError, ItemResult, SourceError};

/// A raw description bigger than this is refused before it is parsed: sanitising megabytes of
/// HTML costs real time, and the result could not be stored anyway (the stored limit is
/// [`domain::DESCRIPTION_MAX_BYTES`]; raw markup may legitimately be a few times larger).
const RAW_DESCRIPTION_MAX_BYTES: usize = 4 * domain::DESCRIPTION_MAX_BYTES;

/// Parses a configured base URL; only http(s) addresses that can carry a path are accepted.
pub(crate) fn base_url(source_name: &str, raw: &str) -> Result<Url, SourceError> {
    let url = Url::parse(raw)
        .map_err(|err| SourceError::config(source_name, format!("base_url {raw:?}: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(SourceError::config(
            source_name,
            format!("base_url {raw:?} must be an http or https address"),
        ));
    }
    Ok(url)
}

/// `base` plus path segments, each percent-encoded, so a configured board name or an id from a
/// response can never climb out of the API's path (`../`) or add a query.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// The body of an unconditional request. Such a request cannot be answered "not modified", so
/// a 304 is the board misbehaving.
pub(crate) fn body(
    client: &HttpClient,
    url: &Url,
    fetched: Fetched<serde_json::Value>,
) -> Result<serde_json::Value, SourceError> {
    match fetched {
        Fetched::Modified(value) => Ok(value),
        Fetched::NotModified => Err(SourceError::InvalidJson {
            source_name: client.source_name().to_owned(),
            url: redact_url(url),
            message: "304 Not Modified to a request that was not conditional".to_owned(),
        }),
    }
}

/// Reads a response's outer shape; its items stay raw JSON so each is parsed on its own and
/// one bad posting cannot spoil the page.
pub(crate) fn envelope<T: DeserializeOwned>(
    client: &HttpClient,
    url: &Url,
    value: serde_json::Value,
) -> Result<T, SourceError> {
    serde_path_to_error::deserialize(value).map_err(|err| SourceError::InvalidJson {
        source_name: client.source_name().to_owned(),
        url: redact_url(url),
        message: format!(
            "unexpected response shape at {}: {}",
            err.path(),
            err.inner()
        ),
    })
}

/// Parses one posting, naming the offending field on failure. `id_field` is read from the raw
/// JSON first so even an unreadable posting is reported with its id.
pub(crate) fn parse_item<T: DeserializeOwned>(
    value: serde_json::Value,
    id_field: &str,
) -> Result<T, ItemError> {
    let external_id = match value.get(id_field) {
        Some(serde_json::Value::String(id)) => Some(id.clone()),
        Some(serde_json::Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    serde_path_to_error::deserialize(value).map_err(|err| ItemError {
        external_id,
        errors: vec![FieldError::new(
            err.path().to_string(),
            err.inner().to_string(),
        )],
    })
}

/// The last step of every mapping: problems found while mapping plus those of
/// [`NewJob::validate`], or the valid job.
pub(crate) fn finish(job: NewJob, mut problems: Vec<FieldError>) -> ItemResult {
    if let Err(errors) = job.validate() {
        problems.extend(errors);
    }
    if problems.is_empty() {
        Ok(job)
    } else {
        Err(ItemError {
            external_id: Some(job.external_id),
            errors: problems,
        })
    }
}

/// A job with only the fields every board has; connectors fill in the rest.
pub(crate) fn new_job(source: &str, external_id: String, url: String, title: String) -> NewJob {
    NewJob {
        source: source.to_owned(),
        external_id,
        url,
        title: title.trim().to_owned(),
        company: None,
        locations: Vec::new(),
        remote: None,
        employment_type: None,
        seniority: None,
        salary: None,
        description_html: None,
        description_text: None,
        skills: Vec::new(),
        published_at: None,
        expires_at: None,
    }
}

/// Sanitised HTML and its text, or the reason the description cannot be taken.
pub(crate) fn describe_html(job: &mut NewJob, raw: &str, problems: &mut Vec<FieldError>) {
    if raw.len() > RAW_DESCRIPTION_MAX_BYTES {
        problems.push(domain::description_too_big("description_html", raw.len()));
        return;
    }
    let html = sanitize_html(raw);
    let text = sanitized_html_to_text(&html);
    job.description_html = (!html.trim().is_empty()).then_some(html);
    job.description_text = (!text.is_empty()).then_some(text);
}

/// Plain text that may carry highlight markup (`<strong>`, `<highlighttext>`) or entities.
pub(crate) fn describe_text(job: &mut NewJob, raw: &str, problems: &mut Vec<FieldError>) {
    if raw.len() > RAW_DESCRIPTION_MAX_BYTES {
        problems.push(domain::description_too_big("description_text", raw.len()));
        return;
    }
    let text = html_to_text(raw);
    job.description_text = (!text.is_empty()).then_some(text);
}

/// Trimmed, or `None` when blank: boards send `""` for "not stated".
pub(crate) fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(crate) fn salary(
    min: Option<f64>,
    max: Option<f64>,
    currency: &str,
    period: SalaryPeriod,
    gross: Option<bool>,
    problems: &mut Vec<FieldError>,
) -> Option<Salary> {
    if min.is_none() && max.is_none() {
        return None;
    }
    match Currency::parse(currency) {
        Ok(currency) => Some(Salary {
            min,
            max,
            currency,
            period,
            gross,
        }),
        Err(err) => {
            problems.push(FieldError::new("salary.currency", err.to_string()));
            None
        }
    }
}

pub(crate) fn parse_time(
    field: &str,
    raw: &str,
    format: TimeFormat,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let parsed = match format {
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)),
        // HH writes offsets without a colon (`+0300`), which RFC 3339 parsers refuse.
        TimeFormat::NumericOffset => {
            DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z").map(|t| t.with_timezone(&Utc))
        }
    };
    match parsed {
        Ok(time) => Some(time),
        Err(err) => {
            problems.push(FieldError::new(
                field,
                format!("{raw:?} is not a valid time: {err}"),
            ));
            None
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeFormat {
    Rfc3339,
    NumericOffset,
}

pub(crate) fn unix_seconds(
    field: &str,
    seconds: i64,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    from_unix(
        field,
        Utc.timestamp_opt(seconds, 0).single(),
        seconds,
        problems,
    )
}

pub(crate) fn unix_millis(
    field: &str,
    millis: i64,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    from_unix(
        field,
        Utc.timestamp_millis_opt(millis).single(),
        millis,
        problems,
    )
}

fn from_unix(
    field: &str,
    time: Option<DateTime<Utc>>,
    raw: i64,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    // Zero or negative stamps are "unset" markers, not postings from 1970.
    match time.filter(|t| t.timestamp() > 0) {
        Some(time) => Some(time),
        None => {
            problems.push(FieldError::new(
                field,
                format!("{raw} is not a valid timestamp"),
            ));
            None
        }
    }
}

/// The cursor after the last page of `cursor`'s target.
pub(crate) fn after_target(cursor: Cursor, targets: usize) -> Option<Cursor> {
    let next = cursor.next_target();
    (next.target < targets).then_some(next)
}
