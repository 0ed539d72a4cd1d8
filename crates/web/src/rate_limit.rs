//! Rate limits: the generic cell rate algorithm (GCRA), in process, keyed by client address or
//! account. Over the limit the caller gets 429 with `Retry-After` and the `RateLimit-*` headers.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Purge idle keys once the table holds this many.
const PURGE_AT: usize = 10_000;

/// `limit` requests per `period`, in bursts of up to `limit`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    period: Duration,
    interval: Duration,
    /// Each key's theoretical arrival time.
    state: Mutex<HashMap<String, Instant>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
        reset: Duration,
    },
    Limited {
        limit: u32,
        retry_after: Duration,
    },
}

impl RateLimiter {
    pub fn new(limit: u32, period: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            period,
            interval: period / limit,
            state: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, key: &str) -> Decision {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, now: Instant) -> Decision {
        let Ok(mut state) = self.state.lock() else {
            // A poisoned lock means a panic elsewhere; failing open keeps the service up.
            return Decision::Allowed {
                limit: self.limit,
                remaining: 0,
                reset: Duration::ZERO,
            };
        };
        if state.len() >= PURGE_AT {
            state.retain(|_, tat| *tat > now);
        }
        let tat = state.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        let ahead = next - now;
        if ahead > self.period {
            return Decision::Limited {
                limit: self.limit,
                retry_after: ahead - self.period,
            };
        }
        state.insert(key.to_owned(), next);
        let spare = self.period - ahead;
        Decision::Allowed {
            limit: self.limit,
            remaining: u32::try_from(spare.as_nanos() / self.interval.as_nanos().max(1))
                .unwrap_or(u32::MAX),
            reset: ahead,
        }
    }
}

/// The global per-address limit on every route but the health probes.
pub async fn global(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let exempt = request.uri().path().starts_with("/health/");
    if !exempt {
        let ip = request
            .extensions()
            .get::<crate::client::Client>()
            .map(|client| client.ip.to_string())
            .unwrap_or_default();
        if let Err(error) = state.check_limit(crate::state::Rule::Global, &ip).await {
            return error.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_limits_then_recovers() {
        let limiter = RateLimiter::new(5, Duration::from_secs(60));
        let start = Instant::now();
        for expected_remaining in (0..5).rev() {
            match limiter.check_at("ip", start) {
                Decision::Allowed { remaining, .. } => assert_eq!(remaining, expected_remaining),
                other => panic!("{other:?}"),
            }
        }
        let Decision::Limited { retry_after, .. } = limiter.check_at("ip", start) else {
            panic!("the sixth request passed");
        };
        assert_eq!(retry_after, Duration::from_secs(12));
        // Other keys are unaffected.
        assert!(matches!(
            limiter.check_at("other", start),
            Decision::Allowed { .. }
        ));
        // One interval later, one more request fits.
        let later = start + Duration::from_secs(12);
        assert!(matches!(
            limiter.check_at("ip", later),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check_at("ip", later),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn idle_keys_are_purged() {
        let limiter = RateLimiter::new(1, Duration::from_millis(1));
        let start = Instant::now();
        for i in 0..PURGE_AT {
            limiter.check_at(&i.to_string(), start);
        }
        limiter.check_at("new", start + Duration::from_secs(1));
        assert_eq!(limiter.state.lock().unwrap().len(), 1);
    }
}
