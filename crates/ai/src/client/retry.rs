//! How long to wait before trying again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// Waits between attempts. The defaults suit a real server; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait; each further one doubles, up to `max`, with jitter.
    pub base: Duration,
    pub max: Duration,
    /// A server's `Retry-After` is honoured up to this long.
    pub retry_after_cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1`, where the server may have asked for one.
    pub(crate) fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        match asked {
            Some(asked) => asked.min(self.retry_after_cap),
            None => self.jittered(attempt),
        }
    }

    /// Exponential with "equal jitter": half the delay fixed, half random, so clients retrying
    /// after one outage spread out instead of arriving together.
    fn jittered(&self, attempt: u32) -> Duration {
        let exponential = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)));
        let half = exponential.min(self.max) / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

/// Reads `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3). An unreadable
/// value is ignored (the normal backoff applies); a date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_bounds_and_asked_waits_are_capped() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(5),
        };
        for attempt in 0..10 {
            let expected = (backoff.base * 2u32.pow(attempt)).min(backoff.max);
            let delay = backoff.delay(attempt, None);
            assert!(delay >= expected / 2 && delay <= expected, "{delay:?}");
        }
        assert!(backoff.delay(u32::MAX, None) <= backoff.max);
        assert_eq!(
            backoff.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff.delay(3, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
