//! Cron schedules: a task enqueued at each occurrence of a cron expression (UTC).

use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::{db::Error, task::NewTask};

/// A named schedule. The name identifies its fires: keep it stable across deploys, or a fire may
/// repeat under the new name.
#[derive(Clone)]
pub struct Schedule {
    pub name: String,
    pub expression: String,
    cron: Cron,
    /// The task each fire enqueues.
    pub task: NewTask,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("name", &self.name)
            .field("expression", &self.expression)
            .field("kind", &self.task.kind)
            .finish()
    }
}

impl Schedule {
    /// Five fields (minute to weekday) or six (seconds first), e.g. `0 2 * * *` for 02:00 UTC
    /// daily. A bad expression is refused here, at start-up, not at the first tick.
    pub fn new(
        name: impl Into<String>,
        expression: impl Into<String>,
        task: NewTask,
    ) -> Result<Self, Error> {
        let name = name.into();
        let expression = expression.into();
        let cron = Cron::from_str(&expression).map_err(|e| Error::InvalidSchedule {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            name,
            expression,
            cron,
            task,
        })
    }

    /// The latest occurrence at or before `now`, if it is no older than `catch_up`: a fire
    /// missed while every worker was down for less than that still happens, once.
    pub(crate) fn due(&self, now: DateTime<Utc>, catch_up: Duration) -> Option<DateTime<Utc>> {
        let at = self.cron.find_previous_occurrence(&now, true).ok()?;
        let age = (now - at).to_std().ok()?;
        (age <= catch_up).then_some(at)
    }

    /// The next occurrence after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&now, false).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_occurrence_is_due_within_the_catch_up_window() {
        let daily = Schedule::new(
            "sync",
            "0 2 * * *",
            NewTask::new("sync", serde_json::json!({})),
        )
        .unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            daily.due(at("2026-11-26T02:00:00Z"), hour),
            Some(at("2026-11-26T02:00:00Z"))
        );
        assert_eq!(
            daily.due(at("2026-11-26T02:30:00Z"), hour),
            Some(at("2026-11-26T02:00:00Z"))
        );
        assert_eq!(daily.due(at("2026-11-26T03:30:00Z"), hour), None);
        assert_eq!(
            daily.next_after(at("2026-11-26T02:00:00Z")),
            Some(at("2026-11-27T02:00:00Z"))
        );
    }

    #[test]
    fn a_bad_expression_is_refused_with_its_name() {
        let error = Schedule::new(
            "broken",
            "61 * * * *",
            NewTask::new("x", serde_json::json!({})),
        )
        .unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
    }
}
