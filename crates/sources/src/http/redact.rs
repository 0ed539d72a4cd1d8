//! Keeping credentials out of errors and logs.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Query parameters whose values are credentials (Adzuna's `app_key`, OAuth secrets, …).
const SECRET_PARAMS: &[&str] = &[
    "app_key",
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "client_secret",
    "password",
];

const REDACTED: &str = "REDACTED";

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The URL as it may appear in an error or a log line: secret query values and any password
/// in the authority replaced.
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(REDACTED));
    }
    if shown.query_pairs().any(|(name, _)| is_secret_param(&name)) {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_param(&name) {
                    REDACTED.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Replaces every occurrence of a known secret in text a board sent back (an error page may
/// echo the request).
pub fn scrub(text: &str, secrets: &[SecretString]) -> String {
    let mut scrubbed = text.to_owned();
    for secret in secrets {
        let secret = secret.expose_secret();
        // Very short values would blank out ordinary words.
        if secret.len() >= 4 {
            scrubbed = scrubbed.replace(secret, REDACTED);
        }
    }
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_values_are_replaced() {
        let url = Url::parse(
            "https://api.adzuna.com/v1/api/jobs/gb/search/1?app_id=4b7e&app_key=s3cr3t&what=rust",
        )
        .unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("app_id=4b7e") && shown.contains("app_key=REDACTED"));

        let url = Url::parse("https://user:pw@example.org/?Token=abc").unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("pw@") && !shown.contains("abc"), "{shown}");
    }

    #[test]
    fn scrub_replaces_known_secrets() {
        let secrets = [SecretString::from("s3cr3t-key")];
        assert_eq!(
            scrub("bad key s3cr3t-key given", &secrets),
            "bad key REDACTED given"
        );
    }
}
