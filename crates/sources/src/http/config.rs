//! Settings of the shared client, one set per source.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Durations are written in milliseconds in configuration (`timeout_ms = 30000`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub user_agent: String,
    /// The whole request, body included.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    #[serde(rename = "connect_timeout_ms", with = "millis")]
    pub connect_timeout: Duration,
    /// Politeness: the least time between the starts of two requests to this source.
    #[serde(rename = "min_interval_ms", with = "millis")]
    pub min_interval: Duration,
    /// Further attempts after a 429, a 5xx, a timeout or a connection failure.
    pub max_retries: u32,
    /// The first backoff; each further one doubles, up to `backoff_max`, with jitter.
    #[serde(rename = "backoff_base_ms", with = "millis")]
    pub backoff_base: Duration,
    #[serde(rename = "backoff_max_ms", with = "millis")]
    pub backoff_max: Duration,
    /// A board's `Retry-After` is honoured up to this long.
    #[serde(rename = "retry_after_cap_ms", with = "millis")]
    pub retry_after_cap: Duration,
    /// Consecutive failed requests after which the source is paused.
    pub breaker_threshold: u32,
    #[serde(rename = "breaker_cooldown_ms", with = "millis")]
    pub breaker_cooldown: Duration,
    /// Larger responses are refused, decompressed size counted.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            user_agent: concat!("jobpilot/", env!("CARGO_PKG_VERSION")).to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            min_interval: Duration::from_secs(1),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(120),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(300),
            max_body_bytes: 20 * 1024 * 1024,
        }
    }
}

impl HttpConfig {
    /// The defaults with another politeness interval, for boards that ask for a pace.
    pub fn with_min_interval(min_interval: Duration) -> Self {
        Self {
            min_interval,
            ..Self::default()
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_and_missing_fields_default() {
        let config: HttpConfig =
            serde_json::from_str(r#"{"timeout_ms": 5000, "max_retries": 1}"#).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_retries, 1);
        assert_eq!(config.max_body_bytes, HttpConfig::default().max_body_bytes);
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["timeout_ms"], 5000);
        assert!(serde_json::from_str::<HttpConfig>(r#"{"timeout": 5}"#).is_err());
    }
}
