//! Request ids: taken from `X-Request-Id` when a proxy sent a sane one, made up otherwise, echoed
//! on the response and attached to every log line and error body of the request.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts a client's id only if it cannot smuggle anything into logs or headers.
    fn from_header(value: &HeaderValue) -> Option<Self> {
        let value = value.to_str().ok()?;
        let sane = !value.is_empty()
            && value.len() <= MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        sane.then(|| Self(value.to_owned()))
    }

    fn generate() -> Self {
        Self(Uuid::now_v7().to_string())
    }
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(RequestId::from_header)
        .unwrap_or_else(RequestId::generate);
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        request.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_sane_ids() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(
            RequestId::from_header(&ok).unwrap().as_str(),
            "abc-123_x.y:z"
        );
        for bad in ["", "has space", "semi;colon", "quote\"", "new\tline"] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert!(RequestId::from_header(&value).is_none(), "{bad:?}");
        }
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert!(RequestId::from_header(&long).is_none());
    }
}
