//! HH.ru on behalf of a job seeker: the OAuth authorization-code flow, the user's resumes and
//! applying to a vacancy (`POST /negotiations`).
//!
//! Unlike the search connector, this client sends every request exactly once. Applying is not
//! idempotent and a refresh token works only once, so whether and when to try again is the
//! caller's decision (the task queue's), guided by [`HhError::is_retryable`]. For the same
//! reason no redirect is ever followed: HH's `303` to an employer's site is an answer
//! ([`ApplyOutcome::Redirected`]), not a hop to take with the user's token.
//!
//! HH documents applicant access as closed to third-party applications from 15 December 2025
//! (see the fixtures README); a refusal then arrives as [`HhError::Forbidden`] or
//! [`HhError::BadAuthorization`], never as a success.

mod error;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;
use url::form_urlencoded;

pub use error::HhError;
use error::{ErrorBody, shown};

pub const DEFAULT_AUTHORIZE_URL: &str = "https://hh.ru/oauth/authorize";
pub const DEFAULT_API_BASE: &str = "https://api.hh.ru";
/// An error document larger than this is not one of HH's.
const ERROR_BODY_MAX_BYTES: usize = 64 * 1024;
const FORM: &str = "application/x-www-form-urlencoded";

/// The application's registration at dev.hh.ru and how to reach HH.
#[derive(Debug, Clone)]
pub struct HhOAuthSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where HH sends the browser back with `?code=…`: the registered URI or a refinement of it
    /// (subdomain, longer path, extra query). Empty: HH uses the registered one, and the
    /// parameter is left out of both the authorisation URL and the code exchange.
    pub redirect_uri: String,
    pub authorize_url: Url,
    pub api_base: Url,
    /// Sent as `HH-User-Agent` and `User-Agent`: the application's name and a contact address,
    /// e.g. `JobSearchServer/0.1 (dev@example.org)`. HH refuses requests without one.
    pub user_agent: String,
    /// The whole request, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Larger responses are refused (decompressed size).
    pub max_body_bytes: usize,
}

impl HhOAuthSettings {
    /// HH's own addresses and the default limits.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
        user_agent: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            authorize_url: constant_url(DEFAULT_AUTHORIZE_URL),
            api_base: constant_url(DEFAULT_API_BASE),
            user_agent: user_agent.into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

#[allow(clippy::expect_used)]
fn constant_url(raw: &str) -> Url {
    Url::parse(raw).expect("the default HH addresses are valid URLs")
}

/// The user's tokens. `Debug` shows neither token.
#[derive(Debug, Clone)]
pub struct HhTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// `expires_in` counted from just before the request was sent, so it is never later than
    /// HH's own expiry.
    pub expires_at: DateTime<Utc>,
}

impl HhTokens {
    /// HH refreshes only expired tokens: before this, a refresh is answered
    /// [`HhError::TokenNotExpired`].
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// One of the user's resumes, as much as choosing one to apply with needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HhResume {
    pub id: String,
    pub title: Option<String>,
    /// HH's `resume_status` id: `published`, `not_published`, `blocked`, …
    pub status: Option<String>,
    /// Who may see it: `clients`, `no_one`, `whitelist`, `blacklist`, `direct`, …
    pub access: Option<String>,
    pub visible: Option<bool>,
    pub alternate_url: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl HhResume {
    /// HH accepts applications only with a published resume.
    pub fn is_published(&self) -> bool {
        self.status.as_deref() == Some("published")
    }
}

/// What HH did with an application. Every variant but `Created` means nothing reached the
/// employer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// `201`: sent. The id comes from `Location: /negotiations/{id}`.
    Created {
        negotiation_id: Option<String>,
    },
    /// `303`: a "direct" vacancy; the candidate applies on the employer's own site.
    Redirected {
        location: String,
    },
    /// An application with this resume already exists. After a retried call whose first try
    /// timed out, this is the first try's success.
    AlreadyApplied,
    /// `invalid_vacancy`: archived or hidden.
    VacancyArchived,
    VacancyNotFound,
    /// Hidden, deleted or not this user's.
    ResumeNotFound,
    /// The vacancy requires a test, which the API cannot take.
    TestRequired,
    /// The daily application limit is reached.
    LimitExceeded,
    /// HH wants a captcha solved in the browser first (`captcha_url`, when given).
    CaptchaRequired {
        captcha_url: Option<String>,
    },
    /// Any other refusal, with HH's value (`resume_visibility_conflict`, `application_denied`,
    /// `empty_message`, `too_long_message`, `bad_argument: …`, …).
    Rejected {
        reason: String,
    },
}

/// The applicant side of HH.ru for every user of this server; cheap to clone. Tokens are
/// passed per call and never kept.
#[derive(Debug, Clone)]
pub struct HhApplyClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: HhOAuthSettings,
    http: reqwest::Client,
    user_agent: HeaderValue,
}

impl HhApplyClient {
    pub fn new(settings: HhOAuthSettings) -> Result<Self, HhError> {
        let config = |message: &str| Err(HhError::Config(message.to_owned()));
        let agent = settings.user_agent.trim();
        if agent.is_empty() {
            return config("user_agent is required: HH refuses requests without HH-User-Agent");
        }
        let Ok(user_agent) = HeaderValue::from_str(agent) else {
            return config("user_agent must be printable ASCII");
        };
        if settings.client_id.trim().is_empty() {
            return config("client_id is required");
        }
        if settings.client_secret.expose_secret().trim().is_empty() {
            return config("client_secret is required");
        }
        for (name, url) in [
            ("authorize_url", &settings.authorize_url),
            ("api_base", &settings.api_base),
        ] {
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(HhError::Config(format!(
                    "{name} {url} must be an http or https address"
                )));
            }
        }
        if !settings.redirect_uri.is_empty() && Url::parse(&settings.redirect_uri).is_err() {
            return config(
                "redirect_uri must be an absolute URL (or empty for the registered one)",
            );
        }
        if settings.max_body_bytes == 0 || settings.timeout.is_zero() {
            return config("max_body_bytes and timeout must be above zero");
        }
        let http = reqwest::Client::builder()
            .user_agent(user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| {
                HhError::Config(format!(
                    "cannot build the HTTP client: {}",
                    err.without_url()
                ))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                user_agent,
            }),
        })
    }

    /// Where to send the user's browser. `state` must be an unguessable value bound to the
    /// user's session; HH returns it with the code (RFC 6749 §10.12).
    ///
    /// No PKCE (`code_challenge`): HH documents no such parameter for `/oauth/authorize` or
    /// `/token`. The exchange is server to server and authenticated by `client_secret`, and
    /// `state` guards against forged callbacks.
    pub fn authorize_url(&self, state: &str) -> Url {
        let settings = &self.inner.settings;
        let mut url = settings.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &settings.client_id)
                .append_pair("state", state);
            if !settings.redirect_uri.is_empty() {
                query.append_pair("redirect_uri", &settings.redirect_uri);
            }
        }
        url
    }

    /// Trades the `code` from the callback for the user's tokens. A code works once and briefly.
    pub async fn exchange_code(&self, code: &str) -> Result<HhTokens, HhError> {
        let settings = &self.inner.settings;
        let secret = settings.client_secret.expose_secret();
        // The serializer is not `Send`: it is gone before the request is awaited.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("client_id", &settings.client_id)
                .append_pair("client_secret", secret)
                .append_pair("code", code);
            // HH checks it only when the authorisation URL carried one, and then requires the
            // same.
            if !settings.redirect_uri.is_empty() {
                form.append_pair("redirect_uri", &settings.redirect_uri);
            }
            form.finish()
        };
        self.token_request(form, &[code]).await
    }

    /// New tokens for an expired access token. HH accepts a refresh token once, and only after
    /// the access token expired: earlier is [`HhError::TokenNotExpired`], a second use is
    /// [`HhError::BadAuthorization`]. If this call fails as unavailable, HH may already have
    /// spent the refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<HhTokens, HhError> {
        // HH's documented refresh form has no client credentials.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .finish();
        self.token_request(form, &[refresh_token]).await
    }

    /// The user's resumes (the first page HH gives, which holds all of a job seeker's).
    pub async fn my_resumes(&self, access_token: &str) -> Result<Vec<HhResume>, HhError> {
        const WHAT: &str = "GET /resumes/mine";
        let secrets = [access_token];
        let request = self
            .inner
            .http
            .get(self.endpoint(&["resumes", "mine"]))
            .header(header::AUTHORIZATION, bearer(access_token)?);
        let response = self.send(request, WHAT, &secrets).await?;
        if response.status() != StatusCode::OK {
            return Err(self.failure(response, WHAT, &secrets).await);
        }
        let body = self
            .read_body(response, self.inner.settings.max_body_bytes, WHAT)
            .await?;
        let listed: ResumesBody = parse_json(&body, WHAT)?;
        Ok(listed.items.into_iter().map(HhResume::from).collect())
    }

    /// Applies to `vacancy_id` with `resume_id` (one of [`Self::my_resumes`], published) and an
    /// optional cover letter (HH takes up to 10000 characters; a blank one is not sent).
    ///
    /// Sent once, never retried here. If it fails as unavailable after HH received it, a
    /// retry is answered [`ApplyOutcome::AlreadyApplied`], which then means success.
    pub async fn apply(
        &self,
        access_token: &str,
        vacancy_id: &str,
        resume_id: &str,
        message: Option<&str>,
    ) -> Result<ApplyOutcome, HhError> {
        const WHAT: &str = "POST /negotiations";
        let secrets = [access_token];
        // HH's specification gives multipart/form-data and accepts the urlencoded form too.
        // The serializer is not `Send`: it is gone before the request is awaited.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("vacancy_id", vacancy_id)
                .append_pair("resume_id", resume_id);
            if let Some(message) = message.filter(|m| !m.trim().is_empty()) {
                form.append_pair("message", message);
            }
            form.finish()
        };
        let url = self.endpoint(&["negotiations"]);
        let request = self
            .inner
            .http
            .post(url.clone())
            .header(header::AUTHORIZATION, bearer(access_token)?)
            .header(header::CONTENT_TYPE, FORM)
            .body(form);
        let response = self.send(request, WHAT, &secrets).await?;
        let status = response.status();
        // The body of a 201 is empty and that of a 303 is a page nobody needs: neither is read.
        match status {
            StatusCode::CREATED => Ok(ApplyOutcome::Created {
                negotiation_id: location(&response).and_then(|raw| negotiation_id(&url, raw)),
            }),
            StatusCode::SEE_OTHER => {
                let target = location(&response)
                    .and_then(|raw| url.join(raw).ok())
                    .filter(|target| matches!(target.scheme(), "http" | "https"));
                match target {
                    Some(target) => Ok(ApplyOutcome::Redirected {
                        location: target.to_string(),
                    }),
                    None => Err(HhError::BadResponse(format!(
                        "HH.ru {WHAT} answered 303 without a usable http(s) Location"
                    ))),
                }
            }
            status if status.is_client_error() && !is_transient(status) => {
                let body = self.error_body(response, WHAT).await?;
                let Some(parsed) = ErrorBody::parse(&body) else {
                    return Err(not_hh_error(status, WHAT));
                };
                if let Some(error) = error::common(&parsed, &secrets) {
                    return Err(error);
                }
                error::negotiation(&parsed, &secrets)
                    .ok_or_else(|| unexpected(status, WHAT, &parsed, &secrets))
            }
            _ => Err(self.failure(response, WHAT, &secrets).await),
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.settings.api_base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn token_request(&self, form: String, secrets: &[&str]) -> Result<HhTokens, HhError> {
        const WHAT: &str = "POST /token";
        let client_secret = self.inner.settings.client_secret.expose_secret();
        let secrets: Vec<&str> = secrets.iter().copied().chain([client_secret]).collect();
        let request = self
            .inner
            .http
            .post(self.endpoint(&["token"]))
            .header(header::CONTENT_TYPE, FORM)
            .body(form);
        let now = Utc::now();
        let response = self.send(request, WHAT, &secrets).await?;
        if response.status() != StatusCode::OK {
            return Err(self.failure(response, WHAT, &secrets).await);
        }
        let body = self
            .read_body(response, self.inner.settings.max_body_bytes, WHAT)
            .await?;
        tokens(parse_json(&body, WHAT)?, now)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
        secrets: &[&str],
    ) -> Result<reqwest::Response, HhError> {
        request
            .header(
                HeaderName::from_static("hh-user-agent"),
                self.inner.user_agent.clone(),
            )
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| self.transport_error(err, what, secrets))
    }

    /// Any answer that is not the method's success, for methods whose refusals are all errors.
    async fn failure(&self, response: reqwest::Response, what: &str, secrets: &[&str]) -> HhError {
        let status = response.status();
        if is_transient(status) {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::http::retry::parse_retry_after(v, Utc::now()));
            let wait = retry_after
                .map(|d| format!(" (retry after {}s)", d.as_secs()))
                .unwrap_or_default();
            return HhError::Unavailable {
                message: format!("HH.ru {what} answered HTTP {}{wait}", status.as_u16()),
                retry_after,
            };
        }
        if !status.is_client_error() {
            // Success codes other than the method's, and redirects (never followed).
            return HhError::BadResponse(format!(
                "HH.ru {what} answered an unexpected HTTP {}",
                status.as_u16()
            ));
        }
        let body = match self.error_body(response, what).await {
            Ok(body) => body,
            Err(err) => return err,
        };
        match ErrorBody::parse(&body) {
            Some(parsed) => error::common(&parsed, secrets)
                .unwrap_or_else(|| unexpected(status, what, &parsed, secrets)),
            None => not_hh_error(status, what),
        }
    }

    /// The body of a refusal; HH's error documents are small, so a large one is refused.
    async fn error_body(
        &self,
        response: reqwest::Response,
        what: &str,
    ) -> Result<Vec<u8>, HhError> {
        self.read_body(response, ERROR_BODY_MAX_BYTES, what).await
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, HhError> {
        let too_large = || {
            HhError::BadResponse(format!(
                "HH.ru {what} sent more than {limit} bytes; refusing the response"
            ))
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_error(err, what, &[]))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, err: reqwest::Error, what: &str, secrets: &[&str]) -> HhError {
        if err.is_timeout() {
            return HhError::Unavailable {
                message: format!(
                    "HH.ru {what} did not answer within {:?}",
                    self.inner.settings.timeout
                ),
                retry_after: None,
            };
        }
        let is_builder = err.is_builder();
        let message = shown(&crate::http::error_chain(&err.without_url()), secrets);
        if is_builder {
            return HhError::Config(format!("cannot build the request to {what}: {message}"));
        }
        HhError::Unavailable {
            message: format!("HH.ru {what} failed: {message}"),
            retry_after: None,
        }
    }
}

/// The `Authorization` header for a user's token, marked sensitive so no debug output shows it.
fn bearer(access_token: &str) -> Result<HeaderValue, HhError> {
    let invalid = || HhError::BadAuthorization {
        reason: "the stored access token is empty or not printable ASCII".to_owned(),
    };
    if access_token.trim().is_empty() {
        return Err(invalid());
    }
    let mut value =
        HeaderValue::from_str(&format!("Bearer {access_token}")).map_err(|_| invalid())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Answers that say "not now" rather than "no".
fn is_transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn location(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
}

/// `/negotiations/{id}` (relative or absolute) → the id.
fn negotiation_id(request_url: &Url, location: &str) -> Option<String> {
    let target = request_url.join(location).ok()?;
    let mut segments = target.path_segments()?.rev().filter(|s| !s.is_empty());
    let id = segments.next()?;
    (segments.next() == Some("negotiations")).then(|| id.to_owned())
}

fn not_hh_error(status: StatusCode, what: &str) -> HhError {
    if status == StatusCode::UNAUTHORIZED {
        return HhError::BadAuthorization {
            reason: "HTTP 401".to_owned(),
        };
    }
    HhError::BadResponse(format!(
        "HH.ru {what} answered HTTP {} with a body that is not an HH error document",
        status.as_u16()
    ))
}

fn unexpected(status: StatusCode, what: &str, body: &ErrorBody, secrets: &[&str]) -> HhError {
    HhError::BadResponse(format!(
        "HH.ru {what} answered HTTP {}: {}",
        status.as_u16(),
        body.summary(secrets)
    ))
}

/// Parses a success body. A message names where the JSON went wrong but never quotes it: a
/// token response would otherwise leak tokens into the error.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, HhError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let inner = err.inner();
        let detail = match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let missing = message.starts_with("missing field").then(|| {
                    message
                        .split(" at line")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                });
                format!(
                    "unexpected shape at `{}`{}",
                    err.path(),
                    missing.map(|m| format!(" ({m})")).unwrap_or_default()
                )
            }
            _ => format!(
                "not valid JSON (line {}, column {})",
                inner.line(),
                inner.column()
            ),
        };
        HhError::BadResponse(format!("HH.ru {what} sent a body we cannot read: {detail}"))
    })
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

fn tokens(body: TokenBody, now: DateTime<Utc>) -> Result<HhTokens, HhError> {
    let bad = |why: &str| Err(HhError::BadResponse(format!("HH.ru POST /token: {why}")));
    let (Some(access), Some(refresh)) = (body.access_token, body.refresh_token) else {
        return bad("the answer lacks access_token or refresh_token (not a user token)");
    };
    if access.is_empty() || refresh.is_empty() {
        return bad("the answer has an empty token");
    }
    if let Some(kind) = body
        .token_type
        .filter(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return bad(&format!(
            "token_type {:?} is not bearer",
            shown(&kind, &[&access, &refresh])
        ));
    }
    let Some(expires_in) = body.expires_in else {
        return bad("the answer lacks expires_in");
    };
    let Some(expires_at) = i64::try_from(expires_in)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|lifetime| now.checked_add_signed(lifetime))
    else {
        return bad("expires_in is out of range");
    };
    Ok(HhTokens {
        access_token: access.into(),
        refresh_token: refresh.into(),
        expires_at,
    })
}

#[derive(Deserialize)]
struct ResumesBody {
    items: Vec<ResumeItem>,
}

#[derive(Deserialize)]
struct ResumeItem {
    id: String,
    title: Option<String>,
    status: Option<Dictionary>,
    access: Option<Access>,
    visible: Option<bool>,
    alternate_url: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct Dictionary {
    id: String,
}

#[derive(Deserialize)]
struct Access {
    #[serde(rename = "type")]
    kind: Option<Dictionary>,
}

impl From<ResumeItem> for HhResume {
    fn from(item: ResumeItem) -> Self {
        Self {
            id: item.id,
            title: item.title.filter(|t| !t.trim().is_empty()),
            status: item.status.map(|s| s.id),
            access: item.access.and_then(|a| a.kind).map(|k| k.id),
            visible: item.visible,
            alternate_url: item.alternate_url,
            // `2026-11-18T08:55:10+0300`: the offset has no colon.
            updated_at: item.updated_at.and_then(|raw| {
                DateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%z")
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_are_hh_own() {
        let settings = HhOAuthSettings::new("id", "s".to_owned().into(), "", "ua");
        assert_eq!(settings.authorize_url.as_str(), DEFAULT_AUTHORIZE_URL);
        assert_eq!(settings.api_base.as_str(), "https://api.hh.ru/");
    }

    #[test]
    fn negotiation_ids_come_from_relative_and_absolute_locations() {
        let url = Url::parse("https://api.hh.ru/negotiations").unwrap();
        let id = |raw| negotiation_id(&url, raw);
        assert_eq!(
            id("/negotiations/4418302957").as_deref(),
            Some("4418302957")
        );
        assert_eq!(
            id("https://api.hh.ru/negotiations/77/").as_deref(),
            Some("77")
        );
        assert_eq!(id("/vacancies/1"), None);
        assert_eq!(id("/negotiations"), None);
    }

    #[test]
    fn token_answers_without_a_refresh_token_are_refused() {
        let now = Utc::now();
        let body = |json: &str| serde_json::from_str::<TokenBody>(json).unwrap();
        let app_token = body(r#"{"access_token":"APPLx","token_type":"bearer"}"#);
        assert!(matches!(
            tokens(app_token, now),
            Err(HhError::BadResponse(_))
        ));
        let mac = body(
            r#"{"access_token":"USERa","token_type":"mac","expires_in":5,"refresh_token":"USERb"}"#,
        );
        let err = tokens(mac, now).unwrap_err().to_string();
        assert!(err.contains("\"mac\"") && !err.contains("USERa"), "{err}");
    }

    #[test]
    fn json_errors_never_quote_the_body() {
        let err = parse_json::<TokenBody>(br#"{"access_token": 5, "x": "USERsecret"}"#, "t")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`access_token`"), "{err}");
        let err = parse_json::<TokenBody>(br#"{"expires_in": "USERsecret"}"#, "t")
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("USERsecret"), "{err}");
        let err = parse_json::<ResumesBody>(br#"{"items": [{"title": "x"}]}"#, "t")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing field `id`"), "{err}");
    }
}
