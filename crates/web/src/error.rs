//! The one error shape.
//!
//! Every non-2xx response leaves the server as
//! `{"error":{"code":"snake_case","message":"…","request_id":"…","timestamp":"RFC 3339"}}`.
//! Handlers return [`ApiError`]; responses that the framework or a layer makes on its own
//! (no route, wrong method, body too large, timeout, panic) are rewritten into the same shape by
//! [`envelope`], which is also where the request id and the time are filled in.

use axum::{
    Json,
    body::Body,
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::middleware::request_id::RequestId;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable reason, e.g. `validation_failed`, `not_found`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Human-readable explanation; never contains internals.
    pub message: String,
    /// The request's id, also sent as the `X-Request-Id` header; quote it in bug reports.
    pub request_id: String,
    /// When the error happened (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// What exactly failed: the fields of a `validation_failed`, the checks of a `not_ready`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// One part of a request or of the service that failed.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The JSON field (a dotted path such as `salary.min`) or the check (`database`) concerned.
    pub target: String,
    pub message: String,
}

impl ErrorDetail {
    pub fn new(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            message: message.into(),
        }
    }
}

/// An error a handler returns; rendered by [`envelope`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    /// Headers the response needs (`WWW-Authenticate`, `Retry-After`, …).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        let challenge = if code == "unauthorized" {
            HeaderValue::from_static("Bearer")
        } else {
            HeaderValue::from_static("Bearer error=\"invalid_token\"")
        };
        Self::new(StatusCode::UNAUTHORIZED, code, message)
            .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn validation(details: Vec<ErrorDetail>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("{}: {}", one.target, one.message),
            _ => "the request has invalid fields; see details".to_owned(),
        };
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message,
            details,
            headers: Vec::new(),
        }
    }

    /// An unexpected failure: the cause is logged here, the client learns nothing of it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Unavailable(_) => {
                tracing::error!(error = %ErrorChain(&error), "database unavailable");
                ApiError::unavailable("the database is unavailable; try again shortly")
            }
            other => ApiError::internal(&other),
        }
    }
}

/// Prints an error with its whole cause chain: `outer: middle: root`.
#[derive(Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let mut response = self.status.into_response();
        response
            .headers_mut()
            .extend(std::mem::take(&mut self.headers));
        response.extensions_mut().insert(self);
        response
    }
}

/// The code and message for an error response that no handler described.
fn default_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication is required"),
        StatusCode::FORBIDDEN => ("forbidden", "you may not do this"),
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this resource; see the Allow header",
        ),
        StatusCode::NOT_ACCEPTABLE => ("not_acceptable", "no acceptable representation"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this server accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body's content type is not supported here",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ("validation_failed", "the request body is not acceptable")
        }
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; slow down"),
        StatusCode::SERVICE_UNAVAILABLE => (
            "service_unavailable",
            "the service is unavailable; try again shortly",
        ),
        StatusCode::GATEWAY_TIMEOUT => ("timeout", "the request took too long"),
        s if s.is_server_error() => ("internal_error", "an internal error occurred"),
        _ => ("error", "the request failed"),
    }
}

/// Marks a response as a page of the web UI: an error page there is HTML for a person, so the
/// envelope leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct HtmlPage;

/// Rewrites every non-2xx/3xx response into the one error shape (web UI pages aside).
pub async fn envelope(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<HtmlPage>().is_some()
    {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let body = match parts.extensions.remove::<ApiError>() {
        Some(error) => ErrorBody {
            code: error.code.to_owned(),
            message: error.message,
            request_id,
            timestamp: now_rfc3339(),
            details: error.details,
        },
        None => {
            let (code, message) = default_for(status);
            ErrorBody {
                code: code.to_owned(),
                message: message.to_owned(),
                request_id,
                timestamp: now_rfc3339(),
                details: Vec::new(),
            }
        }
    };
    // The old body may have had another length and encoding.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json = Json(ErrorResponse { error: body }).into_response();
    let (_, json_body) = json.into_parts();
    Response::from_parts(parts, Body::new(json_body))
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
