//! Security headers on every response. A route may set its own `Content-Security-Policy` (the API
//! docs page needs inline styles); everything else gets the strict default.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

pub const STRICT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const HSTS: &str = "max-age=63072000; includeSubDomains";

#[derive(Debug, Clone, Copy)]
pub struct SecurityHeaders {
    /// Send `Strict-Transport-Security`: only when the service is reached over HTTPS.
    pub hsts: bool,
}

impl SecurityHeaders {
    pub async fn apply(self, request: Request, next: Next) -> Response {
        // API answers carry tokens, secrets and personal data: no cache may keep them.
        let api = request.uri().path().starts_with("/api/v1/");
        let mut response = next.run(request).await;
        let headers = response.headers_mut();
        if api && !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        let mut set = |name: HeaderName, value: &'static str| {
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        };
        set(header::CONTENT_SECURITY_POLICY, STRICT_CSP);
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
        set(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        set(
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        );
        set(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        );
        if self.hsts {
            set(header::STRICT_TRANSPORT_SECURITY, HSTS);
        }
        response
    }
}
