//! The server-rendered web UI: plain HTML forms (askama templates, escaped by default), one
//! vendored script and one stylesheet from our own origin, so the strict Content-Security-Policy
//! holds. Pages sign in through the browser-session cookies of [`crate::cookies`]; every form
//! that changes something carries a CSRF token in a hidden field, checked in constant time.
//!
//! Today the UI is the operator's task-queue dashboard: queue lengths by state, the tasks with
//! their errors, and retry, cancel and discard.

mod login;
mod tasks;

use askama::Template;
use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequestParts},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use domain::{Permission, SessionId};
use subtle::ConstantTimeEq as _;

use crate::{
    authn::{Authenticated, Credential, authenticate_session},
    cookies,
    error::{ApiError, HtmlPage},
    state::AppState,
};

/// Where a signed-in operator lands.
pub(crate) const HOME: &str = "/ui/admin/tasks";

/// The UI's routes; the caller adds the server's usual layers.
pub fn router(state: AppState, body_limit: usize) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::to(HOME) }))
        .route("/ui/", get(|| async { Redirect::to(HOME) }))
        .route("/ui/login", get(login::page).post(login::submit))
        .route("/ui/login/2fa", post(login::second_factor))
        .route("/ui/logout", post(login::logout))
        .route("/ui/admin/tasks", get(tasks::list))
        .route("/ui/admin/tasks/{id}", get(tasks::detail))
        .route("/ui/admin/tasks/{id}/{action}", post(tasks::act))
        .route("/ui/static/ui.css", get(stylesheet))
        .route("/ui/static/ui.js", get(script))
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
}

/// What every page's frame shows and what the page script reads.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// The signed-in account's e-mail address (no sign-out form without it).
    pub signed_in_as: Option<String>,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// Seconds between renewals of the session while the page is open (0: none).
    pub renew_after: u64,
    /// Seconds until the page reloads itself (0: never).
    pub auto_refresh: u64,
    /// The sign-in page first tries the refresh cookie.
    pub try_renew: bool,
    /// Where to go after signing in.
    pub next: String,
}

impl Layout {
    pub(crate) fn signed_in(state: &AppState, signed_in: &SignedIn) -> Self {
        // Renew well before the access cookie runs out.
        let renew_after = (state.settings().access_token_ttl.as_secs() / 2).max(30);
        Self {
            signed_in_as: Some(signed_in.caller.user.email.as_str().to_owned()),
            csrf: cookies::csrf_token(state, signed_in.session),
            renew_after,
            ..Self::default()
        }
    }
}

/// Renders a page with this status. The response is marked as a page, so the API's error
/// envelope leaves an error page as it is.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (
                status,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                html,
            )
                .into_response();
            response.extensions_mut().insert(HtmlPage);
            response
        }
        Err(error) => ApiError::internal(&error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "ui/message.html")]
struct MessagePage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    back: &'a str,
}

/// A page that explains why something did not happen, with a link back (none when `back` is
/// empty).
pub(crate) fn message_page(
    status: StatusCode,
    layout: Layout,
    message: &str,
    back: &str,
) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Something went wrong",
        _ => "Cannot do that",
    };
    let mut response = render(
        status,
        &MessagePage {
            layout,
            heading,
            message,
            back,
        },
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}

/// An API error as a page (its message is written for people and never holds internals).
pub(crate) fn error_page(error: &ApiError, layout: Layout, back: &str) -> Response {
    let mut response = message_page(error.status, layout, &error.message, back);
    copy_retry_after(error, &mut response);
    response
}

/// Passes a rate limit's `Retry-After` on to the page.
pub(crate) fn copy_retry_after(error: &ApiError, response: &mut Response) {
    for (name, value) in &error.headers {
        if name == header::RETRY_AFTER {
            response.headers_mut().insert(name, value.clone());
        }
    }
}

/// A browser signed in with the session cookies (any role).
pub(crate) struct SignedIn {
    pub caller: Authenticated,
    pub session: SessionId,
}

impl SignedIn {
    /// Whether a form came from one of this session's pages.
    pub(crate) fn form_is_genuine(&self, state: &AppState, given: &str) -> bool {
        let expected = cookies::csrf_token(state, self.session);
        bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// A signed-in browser whose account may steer the task queue.
pub(crate) struct Operator(pub SignedIn);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if let Err(error) = signed_in.caller.require(Permission::ManageTasks) {
            let layout = Layout::signed_in(state, &signed_in);
            return Err(message_page(
                StatusCode::FORBIDDEN,
                layout,
                &format!(
                    "{}: the task dashboard is for administrators",
                    error.message
                ),
                "",
            ));
        }
        Ok(Self(signed_in))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // After signing in, come back here (a form's target is not a page to come back to).
        let here = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or(HOME, |p| p.as_str())
                .to_owned()
        } else {
            HOME.to_owned()
        };
        let to_sign_in =
            || Redirect::to(&format!("/ui/login?next={}", encode(&here))).into_response();
        let Some(token) =
            cookies::read(&parts.headers, cookies::ACCESS_COOKIE).filter(|token| !token.is_empty())
        else {
            return Err(to_sign_in());
        };
        let caller = match authenticate_session(state, token).await {
            Ok(caller) => caller,
            Err(error) if error.status == StatusCode::UNAUTHORIZED => return Err(to_sign_in()),
            Err(error) => return Err(error_page(&error, Layout::default(), HOME)),
        };
        let Credential::Session(session) = caller.credential else {
            return Err(to_sign_in());
        };
        Ok(Self { caller, session })
    }
}

/// Percent-encodes a query value.
pub(crate) use auth::percent_encode as encode;

/// A place inside the UI to return to, or `fallback`: a path under `/ui/`, so never another
/// site (`//host`, `https://…`) nor the API.
pub(crate) fn local_target<'a>(given: Option<&'a str>, fallback: &'a str) -> &'a str {
    match given {
        Some(target)
            if target.starts_with("/ui/")
                && !target.contains('\\')
                && target.len() <= 2048
                && !target.chars().any(char::is_control) =>
        {
            target
        }
        _ => fallback,
    }
}

async fn stylesheet() -> impl IntoResponse {
    static_asset(
        "text/css; charset=utf-8",
        include_str!("../../static/ui.css"),
    )
}

async fn script() -> impl IntoResponse {
    static_asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/ui.js"),
    )
}

fn static_asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_ui_targets_are_followed() {
        assert_eq!(
            local_target(Some("/ui/admin/tasks?state=discarded"), HOME),
            "/ui/admin/tasks?state=discarded"
        );
        for hostile in [
            "//evil.example/ui/",
            "https://evil.example/ui/",
            "/ui/\\evil",
            "/api/v1/me",
            "/ui/\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(local_target(Some(hostile), HOME), HOME, "{hostile:?}");
        }
        assert_eq!(local_target(None, HOME), HOME);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode("/ui/admin/tasks?state=a b&x=é"),
            "%2Fui%2Fadmin%2Ftasks%3Fstate%3Da%20b%26x%3D%C3%A9"
        );
        assert_eq!(encode("plain-text_1.0~"), "plain-text_1.0~");
    }
}
