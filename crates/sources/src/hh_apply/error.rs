//! What HH.ru answers when it does not do what was asked, and how each answer is classified.
//!
//! HH has two error shapes. Ordinary API errors are
//! `{"description": …, "errors": [{"type": …, "value": …}], "request_id": …}`, sometimes with the
//! deprecated `bad_argument`/`bad_arguments` and, for token problems, `oauth_error`. The token
//! endpoint (`POST /token`) uses the OAuth shape `{"error": …, "error_description": …}` instead.

use std::time::Duration;

use serde::Deserialize;

use super::ApplyOutcome;

/// HH's words put into an error message are cut to this many characters.
const SHOWN_MAX_CHARS: usize = 200;
const REDACTED: &str = "REDACTED";

/// A failed call. No message ever contains a token, a code or the client secret: what HH sends
/// back is scrubbed of every credential the call carried before it goes into a message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HhError {
    /// The access token has expired (`oauth`/`token_expired`): refresh it once, then retry.
    #[error("HH.ru: the access token has expired; refresh it and retry")]
    TokenExpired,
    /// The authorisation is gone for good (token unknown, revoked or already refreshed; code
    /// used or expired; account locked): the user has to connect HH.ru again.
    #[error("HH.ru refused the user's authorisation ({reason}); the user must connect HH.ru again")]
    BadAuthorization { reason: String },
    /// A refresh before the access token expired (`invalid_grant`/`token not expired`): the
    /// current access token is still good, keep using it.
    #[error(
        "HH.ru: the access token has not expired yet, so it cannot be refreshed; keep using it"
    )]
    TokenNotExpired,
    /// HH refuses this application the method (`forbidden`, e.g. an application token where a
    /// user token is needed). Neither a retry nor a new authorisation helps. HH is reported to
    /// have closed applicant methods to third-party applications from 15 December 2025; such a
    /// refusal is expected to arrive as this (or as `BadAuthorization`).
    #[error("HH.ru refused access ({reason})")]
    Forbidden { reason: String },
    /// HH could not be reached, timed out, failed (5xx) or asked us to slow down (429): try
    /// again later, not before `retry_after` when HH gave one.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// HH answered something this client cannot read or did not expect.
    #[error("{0}")]
    BadResponse(String),
    /// Our side is misconfigured (settings, client credentials, User-Agent).
    #[error("HH.ru configuration: {0}")]
    Config(String),
}

impl HhError {
    /// Whether the same call may succeed later unchanged. [`HhError::TokenExpired`] is not: it
    /// needs a refresh first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// HH's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ErrorBody {
    description: Option<String>,
    errors: Vec<ApiError>,
    oauth_error: Option<String>,
    /// The OAuth shape of the token endpoint.
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ApiError {
    #[serde(rename = "type")]
    kind: String,
    value: Option<String>,
    captcha_url: Option<String>,
}

impl ErrorBody {
    /// `None` when the body is not an HH error document (an HTML page from a proxy, say).
    pub(super) fn parse(body: &[u8]) -> Option<Self> {
        let parsed: Self = serde_json::from_slice(body).ok()?;
        let recognised =
            !parsed.errors.is_empty() || parsed.error.is_some() || parsed.oauth_error.is_some();
        recognised.then_some(parsed)
    }

    fn find(&self, kind: &str) -> Option<&ApiError> {
        self.errors.iter().find(|e| e.kind == kind)
    }

    /// Every `type: value` pair (and the description), for a message about an unexpected answer.
    pub(super) fn summary(&self, secrets: &[&str]) -> String {
        let mut parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| match &e.value {
                Some(value) => format!("{}: {value}", e.kind),
                None => e.kind.clone(),
            })
            .collect();
        parts.extend(self.error.clone());
        parts.extend(self.error_description.clone());
        parts.extend(self.description.clone());
        shown(&parts.join("; "), secrets)
    }
}

/// Errors that mean the same whatever the method: authorisation, configuration, access.
pub(super) fn common(body: &ErrorBody, secrets: &[&str]) -> Option<HhError> {
    if let Some(oauth) = body.find("oauth") {
        return Some(match oauth.value.as_deref() {
            Some("token_expired") => HhError::TokenExpired,
            Some("application_not_found") => HhError::Config(
                "HH.ru says this application no longer exists (application_not_found); \
                 check client_id"
                    .to_owned(),
            ),
            value => HhError::BadAuthorization {
                reason: shown(value.unwrap_or("oauth"), secrets),
            },
        });
    }
    if let Some(oauth_error) = body.oauth_error.as_deref() {
        return Some(match oauth_error {
            "token-expired" => HhError::TokenExpired,
            "client-id-deleted" => HhError::Config(
                "HH.ru says this application's client_id was deleted (client-id-deleted)"
                    .to_owned(),
            ),
            other => HhError::BadAuthorization {
                reason: shown(other, secrets),
            },
        });
    }
    if let Some(agent) = body.find("bad_user_agent") {
        return Some(HhError::Config(format!(
            "HH.ru refused the User-Agent ({}); set user_agent to the application's name and a \
             contact address",
            shown(agent.value.as_deref().unwrap_or("bad_user_agent"), secrets)
        )));
    }
    if let Some(error) = body.error.as_deref() {
        return Some(oauth_shape(
            error,
            body.error_description.as_deref().unwrap_or_default(),
            secrets,
        ));
    }
    if body.find("forbidden").is_some() {
        return Some(HhError::Forbidden {
            reason: body.summary(secrets),
        });
    }
    None
}

/// The token endpoint's `{error, error_description}` (HH's errors.md lists the descriptions).
fn oauth_shape(error: &str, description: &str, secrets: &[&str]) -> HhError {
    let reason = || shown(&format!("{error}: {description}"), secrets);
    match (error, description) {
        ("invalid_grant", "token not expired") => HhError::TokenNotExpired,
        // A wrong client_id/client_secret pair, or a redirect_uri HH does not accept: nothing
        // the user can fix by connecting again.
        ("invalid_client", _) | ("invalid_request", "account not found" | "bad redirect url") => {
            HhError::Config(format!(
                "HH.ru refused the client credentials ({})",
                reason()
            ))
        }
        // Token already refreshed, revoked, deactivated or unknown; code used, expired or
        // unknown; account locked, password outdated, login not verified.
        ("invalid_grant" | "invalid_request", _) => HhError::BadAuthorization { reason: reason() },
        ("forbidden", _) => HhError::Forbidden { reason: reason() },
        _ => HhError::BadResponse(format!("HH.ru refused the token request ({})", reason())),
    }
}

/// The answer of `POST /negotiations` when HH declined to create the application.
pub(super) fn negotiation(body: &ErrorBody, secrets: &[&str]) -> Option<ApplyOutcome> {
    if let Some(refusal) = body.find("negotiations") {
        let value = refusal.value.as_deref().unwrap_or("negotiations");
        return Some(match value {
            "already_applied" => ApplyOutcome::AlreadyApplied,
            "invalid_vacancy" => ApplyOutcome::VacancyArchived,
            "vacancy_not_found" => ApplyOutcome::VacancyNotFound,
            "resume_not_found" => ApplyOutcome::ResumeNotFound,
            "test_required" => ApplyOutcome::TestRequired,
            "limit_exceeded" => ApplyOutcome::LimitExceeded,
            other => ApplyOutcome::Rejected {
                reason: shown(other, secrets),
            },
        });
    }
    if let Some(captcha) = body.find("captcha_required") {
        return Some(ApplyOutcome::CaptchaRequired {
            captcha_url: captcha.captcha_url.clone(),
        });
    }
    // HH's general "resource not found" (`404`, `{"type": "not_found"}`): the vacancy is
    // unknown or hidden.
    if body.find("not_found").is_some() {
        return Some(ApplyOutcome::VacancyNotFound);
    }
    if let Some(argument) = body.find("bad_argument") {
        return Some(ApplyOutcome::Rejected {
            reason: shown(
                &format!(
                    "bad_argument: {}",
                    argument.value.as_deref().unwrap_or_default()
                ),
                secrets,
            ),
        });
    }
    None
}

/// Text that came from HH, made fit for a message: credentials replaced, control characters and
/// runs of whitespace collapsed, length bounded.
pub(super) fn shown(text: &str, secrets: &[&str]) -> String {
    let mut scrubbed = text.to_owned();
    for secret in secrets {
        // Very short values would blank out ordinary words; no real credential is that short.
        if secret.len() >= 4 {
            scrubbed = scrubbed.replace(secret, REDACTED);
        }
    }
    let collapsed = scrubbed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    if collapsed.chars().count() > SHOWN_MAX_CHARS {
        let mut cut: String = collapsed.chars().take(SHOWN_MAX_CHARS).collect();
        cut.push('…');
        cut
    } else {
        collapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> ErrorBody {
        ErrorBody::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn oauth_errors_win_over_everything_else() {
        let both = body(
            r#"{"errors":[{"type":"negotiations","value":"already_applied"},
                          {"type":"oauth","value":"token_expired"}]}"#,
        );
        assert_eq!(common(&both, &[]), Some(HhError::TokenExpired));
        let revoked = body(r#"{"errors":[],"oauth_error":"token-revoked"}"#);
        assert!(matches!(
            common(&revoked, &[]),
            Some(HhError::BadAuthorization { reason }) if reason == "token-revoked"
        ));
    }

    #[test]
    fn token_endpoint_descriptions_are_told_apart() {
        let cases = [
            ("invalid_grant", "token not expired", "TokenNotExpired"),
            (
                "invalid_grant",
                "token has already been refreshed",
                "BadAuthorization",
            ),
            (
                "invalid_grant",
                "code has already been used",
                "BadAuthorization",
            ),
            ("invalid_request", "account is locked", "BadAuthorization"),
            ("invalid_request", "account not found", "Config"),
            (
                "invalid_client",
                "client_id or client_secret not found",
                "Config",
            ),
            (
                "unsupported_grant_type",
                "unsupported grant_type",
                "BadResponse",
            ),
        ];
        for (error, description, expected) in cases {
            let got = oauth_shape(error, description, &[]);
            let name = format!("{got:?}");
            assert!(name.starts_with(expected), "{error}/{description}: {name}");
        }
    }

    #[test]
    fn unknown_bodies_are_not_hh_errors() {
        assert!(ErrorBody::parse(b"<html>Bad Gateway</html>").is_none());
        assert!(ErrorBody::parse(b"{}").is_none());
        assert!(ErrorBody::parse(br#"{"errors":[{"type":"bad_gateway"}]}"#).is_some());
    }

    #[test]
    fn shown_text_is_scrubbed_and_bounded() {
        assert_eq!(
            shown("bad\ntoken   USER-abc-123 seen", &["USER-abc-123", "ab"]),
            "bad token REDACTED seen"
        );
        let long = shown(&"x".repeat(1000), &[]);
        assert_eq!(long.chars().count(), SHOWN_MAX_CHARS + 1);
    }
}
