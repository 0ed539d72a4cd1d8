//! Extractors whose rejections speak the one error shape.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorDetail};

/// A JSON body: `Content-Type: application/json` (or `application/*+json`) is required, malformed
/// JSON is a 400 that says where, and a body that does not fit the schema (wrong type, missing or
/// unknown field) is a 422 naming the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&request) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is larger than this server accepts",
                    )
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        parse_json_object(&bytes).map(ApiJson)
    }
}

/// Like [`parse_json`], for bodies that must be a JSON object: serde would otherwise accept an
/// array as a struct (fields by position), which no client of this API means.
pub fn parse_json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{') | None) {
        return parse_json(bytes);
    }
    parse_json::<serde::de::IgnoredAny>(bytes)?;
    Err(ApiError::validation(vec![ErrorDetail::new(
        "body",
        "the request body must be a JSON object",
    )]))
}

fn has_json_content_type(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document into `T`, telling syntax errors (400) from schema errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        json_error(&path, &inner)
    })?;
    deserializer
        .end()
        .map_err(|error| json_error(".", &error))?;
    Ok(value)
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            if bytes_empty(error) {
                "the request body is empty; expected a JSON document".to_owned()
            } else {
                format!(
                    "the request body is not valid JSON (line {}, column {})",
                    error.line(),
                    error.column()
                )
            },
        ),
        Category::Data => {
            let target = if path == "." { "body" } else { path };
            ApiError::validation(vec![ErrorDetail::new(target, strip_position(error))])
        }
    }
}

fn bytes_empty(error: &serde_json::Error) -> bool {
    error.classify() == serde_json::error::Category::Eof && error.line() == 1 && error.column() == 0
}

/// serde_json appends " at line L column C" to data errors; the field path says more.
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn syntax_errors_are_400_with_a_position() {
        let error = parse_json::<Probe>(b"{\"name\": ").unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(error.code, "malformed_json");
        let error = parse_json::<Probe>(b"").unwrap_err();
        assert!(error.message.contains("empty"), "{}", error.message);
        let error = parse_json::<Probe>(b"{\"name\":\"a\"} trailing").unwrap_err();
        assert_eq!(error.code, "malformed_json");
    }

    #[test]
    fn schema_errors_are_422_naming_the_field() {
        let error = parse_json::<Probe>(br#"{"name":"a","inner":{"count":"x"}}"#).unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.details[0].target, "inner.count");
        let error = parse_json::<Probe>(br#"{"name":"a","extra":1}"#).unwrap_err();
        assert!(error.details[0].message.contains("unknown field"));
        let error = parse_json::<Probe>(br#"{}"#).unwrap_err();
        assert!(error.details[0].message.contains("missing field `name`"));
        for not_an_object in [
            &br#"["a", null]"#[..],
            b"[1,2,3]",
            b"42",
            b"\"text\"",
            b"null",
        ] {
            let error = parse_json_object::<Probe>(not_an_object).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(error.message.contains("JSON object"), "{}", error.message);
        }
        let error = parse_json_object::<Probe>(b"[1,").unwrap_err();
        assert_eq!(error.code, "malformed_json");
    }
}

/// Query parameters whose rejections are a 422 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let message = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                ApiError::validation(vec![ErrorDetail::new("query", message)])
            })
    }
}

/// A path parameter that must be a UUID: anything else names no resource, so it is a 404.
#[derive(Debug, Clone, Copy)]
pub struct UuidPath(pub uuid::Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UuidPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<uuid::Uuid>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| UuidPath(id))
            .map_err(|_| ApiError::not_found("no such resource"))
    }
}
