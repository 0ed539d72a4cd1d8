//! A circuit breaker: a board that keeps failing is left alone for a while instead of being
//! hammered by every sync and retry.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// The breaker is open: calls fail fast until the cool-down ends.
#[derive(Debug, Clone, Copy)]
pub struct Open {
    pub failures: u32,
    pub retry_in: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a request may go out now. After the cool-down one trial is let through
    /// ("half open"): its failure opens the breaker again at once, its success closes it.
    pub fn check(&self) -> Result<(), Open> {
        let mut state = self.lock();
        if let Some(until) = state.open_until {
            let now = Instant::now();
            if now < until {
                return Err(Open {
                    failures: state.consecutive_failures,
                    retry_in: until - now,
                });
            }
            state.open_until = None;
            state.consecutive_failures = self.threshold - 1;
        }
        Ok(())
    }

    pub fn record_success(&self) {
        let mut state = self.lock();
        state.consecutive_failures = 0;
        state.open_until = None;
    }

    /// Returns true when this failure opened the breaker.
    pub fn record_failure(&self) -> bool {
        let mut state = self.lock();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.consecutive_failures >= self.threshold && state.open_until.is_none() {
            state.open_until = Some(Instant::now() + self.cooldown);
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_after_threshold_and_half_opens_after_cooldown() {
        let breaker = Breaker::new(3, Duration::from_millis(50));
        assert!(!breaker.record_failure());
        assert!(!breaker.record_failure());
        breaker.check().unwrap();
        assert!(breaker.record_failure());
        let open = breaker.check().unwrap_err();
        assert_eq!(open.failures, 3);

        tokio::time::sleep(Duration::from_millis(60)).await;
        breaker.check().unwrap();
        assert!(breaker.record_failure(), "one failed trial re-opens");
        breaker.check().unwrap_err();

        tokio::time::sleep(Duration::from_millis(60)).await;
        breaker.check().unwrap();
        breaker.record_success();
        assert!(!breaker.record_failure());
        breaker.check().unwrap();
    }
}
