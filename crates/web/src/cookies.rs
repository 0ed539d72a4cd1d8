//! Browser sessions: the access and refresh tokens in HttpOnly cookies, and a CSRF token that
//! every state-changing cookie-authenticated request must echo in `X-CSRF-Token`.
//!
//! The access cookie is `SameSite=Lax` (sent on top-level navigation), the refresh cookie
//! `SameSite=Strict` and scoped to the browser-session routes; both are `Secure` unless
//! `JOBPILOT_COOKIE_SECURE=false` (plain-HTTP development). The CSRF token is a MAC of the
//! session id, so it cannot be forged and needs no storage; bearer-token calls need none.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use domain::SessionId;
use subtle::ConstantTimeEq as _;

use crate::state::AppState;

pub const ACCESS_COOKIE: &str = "jp_access";
pub const REFRESH_COOKIE: &str = "jp_refresh";
pub const CSRF_COOKIE: &str = "jp_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Carries an identity-provider sign-in's sealed secrets while the browser is at the provider.
pub const OIDC_FLOW_COOKIE: &str = "jp_oidc";
/// Where the flow cookie is sent: the identity-provider routes only.
pub const OIDC_PATH: &str = "/api/v1/auth/oidc";
/// Where the refresh cookie is sent: the browser-session routes only.
pub const REFRESH_PATH: &str = "/api/v1/auth/web";

/// A cookie's value from the request, if present.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

pub fn csrf_token(state: &AppState, session: SessionId) -> String {
    state.tokens().tag("csrf", session.as_uuid().as_bytes())
}

/// Safe methods change nothing, so they need no CSRF token.
pub fn needs_csrf(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request carries this session's CSRF token.
pub fn csrf_ok(state: &AppState, session: SessionId, headers: &HeaderMap) -> bool {
    let Some(given) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    bool::from(
        given
            .as_bytes()
            .ct_eq(csrf_token(state, session).as_bytes()),
    )
}

pub(crate) fn cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    http_only: bool,
    max_age: i64,
) -> HeaderValue {
    let mut text = format!("{name}={value}; Path={path}; SameSite={same_site}; Max-Age={max_age}");
    if http_only {
        text.push_str("; HttpOnly");
    }
    if state.settings().cookie_secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` headers that open (or renew) a browser session.
pub fn session_cookies(
    state: &AppState,
    access_token: &str,
    access_ttl: i64,
    refresh_token: &str,
    refresh_ttl: i64,
    csrf: &str,
) -> Vec<HeaderValue> {
    vec![
        cookie(
            state,
            ACCESS_COOKIE,
            access_token,
            "/",
            "Lax",
            true,
            access_ttl,
        ),
        cookie(
            state,
            REFRESH_COOKIE,
            refresh_token,
            REFRESH_PATH,
            "Strict",
            true,
            refresh_ttl,
        ),
        cookie(state, CSRF_COOKIE, csrf, "/", "Strict", false, refresh_ttl),
    ]
}

/// The `Set-Cookie` headers that end a browser session.
pub fn clearing_cookies(state: &AppState) -> Vec<HeaderValue> {
    vec![
        cookie(state, ACCESS_COOKIE, "", "/", "Lax", true, 0),
        cookie(state, REFRESH_COOKIE, "", REFRESH_PATH, "Strict", true, 0),
        cookie(state, CSRF_COOKIE, "", "/", "Strict", false, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cookie_among_several_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; jp_access=tok"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("jp_csrf=c"));
        assert_eq!(read(&headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(read(&headers, CSRF_COOKIE), Some("c"));
        assert_eq!(read(&headers, REFRESH_COOKIE), None);
        assert!(needs_csrf(&Method::POST) && needs_csrf(&Method::DELETE));
        assert!(!needs_csrf(&Method::GET));
    }
}
