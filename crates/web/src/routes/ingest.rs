//! Push ingestion: scrapers (JobSpy and the like) send batches of normalised postings.
//!
//! Authenticated by the internal key (`X-Internal-API-Key`, compared in constant time) or by an
//! administrator (API key with the `admin` scope, or session). A JSON array or JSON Lines
//! (`application/x-ndjson`); each posting is parsed, checked and stored on its own merits, so one
//! bad posting gets its errors in the report and the rest of the batch is stored, in one
//! transaction.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
};
use chrono::Utc;
use domain::{AuditOutcome, DIRECT_SOURCE, FieldError, Permission};
use sources::{
    ItemError, ItemResult,
    ingest::{BatchReport, parse_posting, parse_posting_line, store_batch},
};
use subtle::ConstantTimeEq as _;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    routes::auth::audit,
    state::AppState,
};

pub const INTERNAL_KEY_HEADER: &str = "x-internal-api-key";
/// Postings one request may carry; larger sets are sent as several batches.
pub const MAX_BATCH: usize = 10_000;

fn internal_key_matches(state: &AppState, headers: &HeaderMap) -> Option<bool> {
    let given = headers.get(INTERNAL_KEY_HEADER)?;
    let Some(expected) = &state.settings().internal_api_key else {
        return Some(false);
    };
    Some(bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

fn parse_batch(content_type: &str, body: &[u8]) -> ApiResult<Vec<ItemResult>> {
    let malformed =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", message);
    // The size is checked before any posting is read into its type.
    let too_many = |count: usize| {
        (count > MAX_BATCH).then(|| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!("at most {MAX_BATCH} postings per request; split the batch"),
            )
        })
    };
    if content_type.starts_with("application/x-ndjson") {
        let text = std::str::from_utf8(body)
            .map_err(|e| malformed(format!("the body is not UTF-8: {e}")))?;
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .collect();
        if let Some(error) = too_many(lines.len()) {
            return Err(error);
        }
        Ok(lines
            .into_iter()
            .map(|(number, line)| parse_posting_line(number + 1, line.as_bytes()))
            .collect())
    } else if content_type.starts_with("application/json") {
        let values: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| {
            malformed(format!(
                "expected a JSON array of postings (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        if let Some(error) = too_many(values.len()) {
            return Err(error);
        }
        Ok(values.into_iter().map(parse_posting).collect())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json (an array) or application/x-ndjson (one posting per line)",
        ))
    }
}

/// Postings of the `jobpilot` source are their recruiters' own: a pushed one would overwrite
/// a recruiter's posting (same source and id), so it is refused.
fn refuse_direct_source(item: ItemResult) -> ItemResult {
    match item {
        Ok(job) if job.source == DIRECT_SOURCE => Err(ItemError {
            external_id: Some(job.external_id),
            errors: vec![FieldError::new(
                "source",
                format!("`{DIRECT_SOURCE}` is reserved for postings published on jobpilot"),
            )],
        }),
        other => other,
    }
}

/// Stores a batch of postings from a scraper; answers what became of each one.
#[utoipa::path(
    post,
    path = "/internal/v1/jobs",
    tag = "jobs",
    request_body(
        description = "A JSON array of postings, each in the `NewJob` schema (see components). \
                       JSON Lines (one posting per line) are accepted too, with content type \
                       `application/x-ndjson`. Each posting is checked on its own: one that does \
                       not fit the schema is reported as an error item, the others are stored.",
        content((Vec<serde_json::Value> = "application/json")),
    ),
    params(("X-Internal-API-Key" = Option<String>, Header, description = "The internal key (JOBPILOT_INTERNAL_API_KEY); or authenticate as an administrator")),
    security((), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "What became of each posting: created, updated, unchanged (with duplicate_of when it duplicates another) or error", body = BatchReport),
        (status = 400, description = "The body is not a JSON array / JSON Lines", body = ErrorResponse),
        (status = 401, description = "No or a wrong key", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
        (status = 413, description = "More postings or bytes than one request may carry", body = ErrorResponse),
    )
)]
pub async fn push_jobs(
    State(state): State<AppState>,
    client: Client,
    request: Request,
) -> ApiResult<Json<BatchReport>> {
    let (mut parts, body) = request.into_parts();
    let actor = match internal_key_matches(&state, &parts.headers) {
        Some(true) => None,
        Some(false) => {
            return Err(ApiError::unauthorized(
                "invalid_internal_key",
                "the internal API key is wrong or not configured",
            ));
        }
        None => {
            let caller = Authenticated::from_request_parts(&mut parts, &state).await?;
            caller.require(Permission::ManageSources)?;
            Some(caller.user_id)
        }
    };
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than this route accepts",
        )
    })?;
    if body.is_empty() {
        return Err(ApiError::validation(vec![ErrorDetail::new(
            "body",
            "send at least one posting",
        )]));
    }
    let items = parse_batch(&content_type, &body)?
        .into_iter()
        .map(refuse_direct_source)
        .collect();
    let report = store_batch(state.store(), items, Utc::now()).await?;
    state.search_wake().notify_one();
    let counts = report.counts;
    audit(
        &state,
        &client,
        "jobs.push",
        AuditOutcome::Success,
        actor,
        None,
        vec![
            ("created", counts.created.to_string()),
            ("updated", counts.updated.to_string()),
            ("unchanged", counts.unchanged.to_string()),
            ("failed", counts.failed.to_string()),
        ],
    )
    .await;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_posting_is_an_item_error_and_the_others_parse() {
        let body = br#"[{"source":"x","external_id":"1","url":"https://e.org/1","title":"A"},
                        {"source":"x","external_id":"2","url":"https://e.org/2","title":7},
                        {"source":"x","external_id":"3","url":"https://e.org/3","title":"C","bogus":1}]"#;
        let items = parse_batch("application/json", body).unwrap();
        assert!(items[0].is_ok());
        let error = items[1].as_ref().unwrap_err();
        assert_eq!(error.external_id.as_deref(), Some("2"));
        assert_eq!(error.errors[0].field, "title");
        assert!(items[2].is_err(), "unknown fields are refused");
    }

    #[test]
    fn json_lines_report_bad_lines_by_number() {
        let body = b"{\"source\":\"x\",\"external_id\":\"1\",\"url\":\"https://e.org/1\",\"title\":\"A\"}\n{not json\n\n";
        let items = parse_batch("application/x-ndjson; charset=utf-8", body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().unwrap_err().errors[0].field, "line 2");
    }

    #[test]
    fn truncated_arrays_and_other_types_are_refused_whole() {
        assert!(parse_batch("application/json", b"[{\"source\":").is_err());
        assert!(parse_batch("text/plain", b"[]").is_err());
    }
}
