//! Where the model lives and how long to wait for it.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::LlmError;

/// One OpenAI-compatible server (OpenAI, Azure's v1 API, vLLM, llama.cpp, Ollama, LM Studio, …).
///
/// `Debug` shows the key as `[REDACTED]`: settings may be logged whole.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The server with or without its `/v1` (`http://127.0.0.1:8080`,
    /// `https://api.openai.com/v1/`, `https://host/openai/v1`); requests go to
    /// `{base}/v1/chat/completions` and `{base}/v1/embeddings`.
    pub base_url: Url,
    /// The chat model, as the server names it.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set; local servers usually need none.
    pub api_key: Option<SecretString>,
    /// One whole request, the answer's body included. Generation is slow: allow a minute.
    pub timeout: Duration,
    /// Further attempts after a connection failure, a timeout, a 429 or a 5xx.
    pub max_retries: u32,
}

impl LlmSettings {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
    pub const DEFAULT_MAX_RETRIES: u32 = 2;

    /// No key, the default timeout and retries.
    pub fn new(base_url: Url, model: impl Into<String>) -> Self {
        Self {
            base_url,
            model: model.into(),
            api_key: None,
            timeout: Self::DEFAULT_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }

    /// Refuses settings that cannot work, before any request is sent.
    pub(crate) fn validate(&self) -> Result<(), LlmError> {
        endpoint(&self.base_url, "chat/completions")?;
        if self.model.trim().is_empty() {
            return Err(LlmError::Config("the model name is empty".into()));
        }
        if self.timeout.is_zero() {
            return Err(LlmError::Config("the timeout is zero".into()));
        }
        Ok(())
    }
}

/// `{base}/v1/{leaf}`, whether or not the base already ends in `/v1`. The query, if any, is
/// kept: some gateways route on it.
pub(crate) fn endpoint(base: &Url, leaf: &str) -> Result<Url, LlmError> {
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(LlmError::Config(format!(
            "the base URL must be an http(s) address with a host, not {}",
            shown(base)
        )));
    }
    if !base.username().is_empty() || base.password().is_some() {
        // reqwest would send them as Basic auth, and they would end up in logs.
        return Err(LlmError::Config(
            "the base URL must not carry credentials; set the API key instead".into(),
        ));
    }
    let path = base.path().trim_end_matches('/');
    let has_version = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.eq_ignore_ascii_case("v1"));
    let path = if has_version {
        format!("{path}/{leaf}")
    } else {
        format!("{path}/v1/{leaf}")
    };
    let mut url = base.clone();
    url.set_path(&path);
    url.set_fragment(None);
    Ok(url)
}

/// The address as it may appear in an error: scheme, host, port and path only.
pub(crate) fn shown(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn chat(base: &str) -> String {
        endpoint(&Url::parse(base).unwrap(), "chat/completions")
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_version_segment_is_added_only_when_missing() {
        assert_eq!(
            chat("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            chat("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            chat("https://host/openai/v1"),
            "https://host/openai/v1/chat/completions"
        );
        assert_eq!(
            chat("https://host/openai/"),
            "https://host/openai/v1/chat/completions"
        );
        // "v1" must be a whole segment.
        assert_eq!(
            chat("https://host/apiv1"),
            "https://host/apiv1/v1/chat/completions"
        );
        assert_eq!(
            chat("https://host/v1?api-version=x#frag"),
            "https://host/v1/chat/completions?api-version=x"
        );
    }

    #[test]
    fn unusable_base_urls_are_refused() {
        for base in [
            "ftp://host/",
            "https://user:pw@host/v1",
            "data:text/plain,x",
        ] {
            let error = endpoint(&Url::parse(base).unwrap(), "embeddings").unwrap_err();
            assert!(matches!(error, LlmError::Config(_)), "{base}: {error}");
            assert!(!error.to_string().contains("pw"), "{error}");
        }
    }

    #[test]
    fn debug_hides_the_key_and_bad_settings_are_refused() {
        let mut settings = LlmSettings::new(Url::parse("http://localhost:1").unwrap(), "m");
        settings.api_key = Some(SecretString::from("sk-very-secret"));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(settings.validate().is_ok());
        settings.model = " ".into();
        assert!(settings.validate().is_err());
    }
}
