//! The audit log for administrators: query, export (CSV or JSON Lines), verify.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use domain::{Permission, StoredAuditEvent, UserId};
use serde::{Deserialize, Serialize};
use store::AuditFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    audit::{AuditError, VerifyReport, verify},
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::ApiQuery,
    state::AppState,
};

/// Rows one export may hold; narrow the filter for more.
const EXPORT_MAX: u32 = 1_000_000;
const EXPORT_PAGE: u32 = 1000;

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The user who acted (also for API-key requests); absent for the system or unknown callers.
    pub actor_id: Option<Uuid>,
    #[schema(example = "auth.login")]
    pub action: String,
    /// success, failure or denied.
    pub outcome: String,
    /// The account concerned, when not the actor.
    pub subject_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// This entry's link in the hash chain (hex).
    pub hash: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<StoredAuditEvent> for AuditEntry {
    fn from(event: StoredAuditEvent) -> Self {
        Self {
            seq: event.seq,
            at: event.at,
            actor_id: event.actor_id.map(|id| id.as_uuid()),
            action: event.action,
            outcome: event.outcome,
            subject_id: event.subject_id.map(|id| id.as_uuid()),
            ip: event.ip,
            user_agent: event.user_agent,
            details: serde_json::from_str(&event.details)
                .unwrap_or(serde_json::Value::String(event.details)),
            hash: event.hash.map(|h| hex(&h)),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries of this actor.
    pub actor_id: Option<Uuid>,
    #[param(max_length = 100, example = "auth.login")]
    pub action: Option<String>,
    /// success, failure or denied.
    pub outcome: Option<String>,
    /// From this time on (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The export's filters (the same as the query's) and its format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditExportQuery {
    pub actor_id: Option<Uuid>,
    #[param(max_length = 100, example = "auth.login")]
    pub action: Option<String>,
    /// success, failure or denied.
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `csv` or `jsonl` (default).
    pub format: Option<String>,
}

impl AuditExportQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        AuditQuery {
            actor_id: self.actor_id,
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            from: self.from,
            to: self.to,
            cursor: None,
            limit: None,
        }
        .filter()
    }
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        let mut problems = Vec::new();
        if let Some(outcome) = &self.outcome
            && !["success", "failure", "denied"].contains(&outcome.as_str())
        {
            problems.push(ErrorDetail::new(
                "outcome",
                "expected success, failure or denied",
            ));
        }
        if self
            .action
            .as_deref()
            .is_some_and(|a| a.len() > 100 || a.chars().any(char::is_control))
        {
            problems.push(ErrorDetail::new(
                "action",
                "at most 100 printable characters",
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            problems.push(ErrorDetail::new("to", "must not be before `from`"));
        }
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
        Ok(AuditFilter {
            actor_id: self.actor_id.map(UserId::from_uuid),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            from: self.from,
            to: self.to,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for older entries; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// Audit entries, newest first, filtered by actor, action, outcome and time.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    params(AuditQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
    )
)]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    caller.require(Permission::ReadAudit)?;
    let filter = query.filter()?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(vec![ErrorDetail::new(
            "limit",
            "must be from 1 to 500",
        )]));
    }
    let entries = state
        .store()
        .query_audit(&filter, query.cursor, limit)
        .await?;
    let next_cursor = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        items: entries.into_iter().map(AuditEntry::from).collect(),
        next_cursor,
    }))
}

fn csv_field(text: &str) -> String {
    // Quote everything; double inner quotes. A leading formula character is defused so a
    // spreadsheet does not run an attacker's user agent as a formula.
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn csv_line(entry: &AuditEntry) -> String {
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    let fields = [
        entry.seq.to_string(),
        entry.at.to_rfc3339(),
        entry.actor_id.map(|u| u.to_string()).unwrap_or_default(),
        entry.action.clone(),
        entry.outcome.clone(),
        entry.subject_id.map(|u| u.to_string()).unwrap_or_default(),
        optional(&entry.ip),
        optional(&entry.user_agent),
        entry.details.to_string(),
        optional(&entry.hash),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

/// Every matching entry, newest first, as CSV or JSON Lines (streamed).
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/export",
    tag = "admin",
    params(AuditExportQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The entries", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
    )
)]
pub async fn export_audit(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<AuditExportQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadAudit)?;
    let filter = query.filter()?;
    let csv = match query.format.as_deref() {
        None | Some("jsonl") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::validation(vec![ErrorDetail::new(
                "format",
                "expected csv or jsonl",
            )]));
        }
    };
    let header_line = csv.then(|| {
        "seq,at,actor_id,action,outcome,subject_id,ip,user_agent,details,hash\n".to_owned()
    });
    struct Cursor {
        before: Option<i64>,
        sent: u32,
        done: bool,
    }
    let store_state = state.clone();
    let pages = futures_util::stream::unfold(
        Cursor {
            before: None,
            sent: 0,
            done: false,
        },
        move |mut cursor| {
            let state = store_state.clone();
            let filter = filter.clone();
            async move {
                if cursor.done || cursor.sent >= EXPORT_MAX {
                    return None;
                }
                let page = match state
                    .store()
                    .query_audit(&filter, cursor.before, EXPORT_PAGE)
                    .await
                {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::error!(error = %crate::error::ErrorChain(&error), "audit export failed");
                        return Some((Err(std::io::Error::other("audit export failed")), cursor));
                    }
                };
                if page.is_empty() {
                    return None;
                }
                cursor.done = page.len() < EXPORT_PAGE as usize;
                cursor.before = page.last().map(|e| e.seq);
                cursor.sent += page.len() as u32;
                let mut chunk = String::new();
                for entry in page.into_iter().map(AuditEntry::from) {
                    if csv {
                        chunk.push_str(&csv_line(&entry));
                    } else {
                        chunk.push_str(&serde_json::to_string(&entry).unwrap_or_default());
                        chunk.push('\n');
                    }
                }
                Some((Ok(chunk), cursor))
            }
        },
    );
    let head = futures_util::stream::iter(header_line.map(Ok::<String, std::io::Error>));
    let body = Body::from_stream(futures_util::StreamExt::fuse(
        futures_util::StreamExt::chain(head, pages),
    ));
    let (content_type, extension) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"audit.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Walks the audit log's hash chain; names the first entry that was edited, deleted or moved.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit/verify",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The chain is intact", body = VerifyReport),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not an administrator", body = ErrorResponse),
        (status = 409, description = "The chain is broken; the message names the first bad entry", body = ErrorResponse),
    )
)]
pub async fn verify_audit(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<VerifyReport>> {
    caller.require(Permission::ReadAudit)?;
    match verify(state.store(), state.key_ring(), None).await {
        Ok(report) => Ok(Json(report)),
        Err(AuditError::Store(error)) => Err(error.into()),
        Err(broken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "audit_tampered",
            broken.to_string(),
        )),
    }
}
