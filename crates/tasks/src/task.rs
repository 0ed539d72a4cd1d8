//! What a task is: its row, its states and what a caller gives to enqueue one.

use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE};

/// A task's id: a UUIDv7, so ids sort by creation time (the list cursor relies on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl TaskId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TaskId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a task is in its life.
///
/// `scheduled`, `available` and `retryable` are all waiting: a worker takes any of them once its
/// `scheduled_at` has passed. `completed`, `discarded` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for a time in the future (enqueued with a delay, or snoozed).
    Scheduled,
    /// Ready to run.
    Available,
    /// A worker holds its lease and runs it.
    Executing,
    /// Failed; waits for its backoff to pass before the next attempt.
    Retryable,
    Completed,
    /// Failed for the last time, or could never succeed (the dead letter); the errors are kept.
    Discarded,
    Cancelled,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        TaskState::Scheduled,
        TaskState::Available,
        TaskState::Executing,
        TaskState::Retryable,
        TaskState::Completed,
        TaskState::Discarded,
        TaskState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Available => "available",
            TaskState::Executing => "executing",
            TaskState::Retryable => "retryable",
            TaskState::Completed => "completed",
            TaskState::Discarded => "discarded",
            TaskState::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Discarded | TaskState::Cancelled
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown task state {s:?}"))
    }
}

/// Why an attempt did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The handler returned an error.
    Error,
    /// The handler panicked.
    Panic,
    /// The handler ran past its kind's timeout.
    Timeout,
    /// The worker running it stopped renewing its lease (it crashed, or lost the database).
    LeaseExpired,
    /// The arguments do not fit the kind: no attempt could ever succeed.
    MalformedArgs,
    /// The handler, or an operator, cancelled it.
    Cancelled,
    /// An operator discarded it.
    Discarded,
}

/// One entry of a task's error history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub kind: FailureKind,
    pub message: String,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: TaskId,
    pub queue: String,
    pub kind: String,
    pub args: serde_json::Value,
    pub state: TaskState,
    /// Higher runs first.
    pub priority: i16,
    /// Attempts started so far (the running one included).
    pub attempt: i32,
    pub max_attempts: i32,
    pub scheduled_at: DateTime<Utc>,
    pub attempted_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub errors: Vec<AttemptError>,
    pub unique_key: Option<String>,
    pub user_id: Option<Uuid>,
    /// Free-form context carried from the enqueuer to the handler (e.g. a W3C `traceparent`).
    pub meta: serde_json::Value,
    pub inserted_at: DateTime<Utc>,
    /// When it reached a final state (completed, discarded or cancelled).
    pub finished_at: Option<DateTime<Utc>>,
}

/// The `meta` key that marks a task's `max_attempts` as chosen by its enqueuer. Without it, a
/// worker whose handler declares a default for the kind applies that default when it claims the
/// task (the enqueuer may not know the handlers: it may run on another replica, or be the CLI).
pub(crate) const EXPLICIT_ATTEMPTS: &str = "explicit_max_attempts";

/// A task to enqueue. Built with [`NewTask::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub kind: String,
    pub args: serde_json::Value,
    pub queue: String,
    pub priority: i16,
    /// `None`: the default its kind declares where it runs ([`crate::Handlers::set_max_attempts`]),
    /// or [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: Option<i32>,
    /// Not before this time; `None` is now (by the database's clock on PostgreSQL).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// At most one task with this key exists: a second enqueue returns the first task's id.
    pub unique_key: Option<String>,
    /// Confines [`NewTask::unique_key`] to the current period of this length (aligned to the Unix
    /// epoch), so one task per key per period.
    pub unique_period: Option<Duration>,
    pub user_id: Option<Uuid>,
    pub meta: serde_json::Value,
}

impl NewTask {
    /// A task of `kind` with these arguments, on the default queue, with default attempts.
    pub fn new(kind: impl Into<String>, args: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            args,
            queue: DEFAULT_QUEUE.to_owned(),
            priority: 0,
            max_attempts: None,
            scheduled_at: None,
            unique_key: None,
            unique_period: None,
            user_id: None,
            meta: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// A task whose arguments are any serialisable value.
    pub fn from_args<A: Serialize>(
        kind: impl Into<String>,
        args: &A,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(kind, serde_json::to_value(args)?))
    }

    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    pub fn with_priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// At least 1: a task runs at least once. Set here, it wins over the default its kind
    /// declares.
    pub fn with_max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = Some(max_attempts.max(1));
        self
    }

    pub fn with_scheduled_at(mut self, at: DateTime<Utc>) -> Self {
        self.scheduled_at = Some(at);
        self
    }

    pub fn with_delay(self, delay: Duration) -> Self {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        self.with_scheduled_at(at)
    }

    /// Enqueued at most once for this key, ever (until the finished task is pruned).
    pub fn with_unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self.unique_period = None;
        self
    }

    /// Enqueued at most once for this key within each period of this length.
    pub fn with_unique_key_within(mut self, key: impl Into<String>, period: Duration) -> Self {
        self.unique_key = Some(key.into());
        self.unique_period = Some(period);
        self
    }

    pub fn with_user(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// Context for the handler; keep it a JSON object, so the queue can add its own keys (the
    /// enqueuer's `traceparent`).
    pub fn with_meta(mut self, meta: serde_json::Value) -> Self {
        self.meta = meta;
        self
    }

    /// The attempts as stored: the kind's default is applied later, when a worker claims it.
    pub(crate) fn stored_max_attempts(&self) -> i32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1)
    }

    /// The meta as stored: the caller's, plus the enqueuer's trace context (unless the caller
    /// set one) and a mark when the attempts were chosen explicitly, so that a worker leaves
    /// them alone. A null meta becomes an object; any other that is not an object is kept as
    /// it is, and so are its attempts.
    pub(crate) fn stored_meta(&self, traceparent: Option<&str>) -> serde_json::Value {
        let mut meta = self.meta.clone();
        if meta.is_null() {
            meta = serde_json::Value::Object(serde_json::Map::new());
        }
        if let serde_json::Value::Object(map) = &mut meta {
            if self.max_attempts.is_some() {
                map.insert(EXPLICIT_ATTEMPTS.to_owned(), serde_json::Value::Bool(true));
            }
            if let Some(traceparent) = traceparent
                && !map.contains_key(crate::trace::TRACEPARENT)
            {
                map.insert(crate::trace::TRACEPARENT.to_owned(), traceparent.into());
            }
        }
        meta
    }

    /// The key as stored: with a period, the start of the current period is part of it, so the
    /// database's unique index does the deduplication without any race.
    pub(crate) fn stored_unique_key(&self, now: DateTime<Utc>) -> Option<String> {
        let key = self.unique_key.as_ref()?;
        match self.unique_period {
            Some(period) if period.as_millis() > 0 => {
                let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
                let start = now.timestamp_millis().div_euclid(period_ms) * period_ms;
                Some(format!("{key}@{start}"))
            }
            _ => Some(key.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>().unwrap(), state);
        }
        assert!("running".parse::<TaskState>().is_err());
    }

    #[test]
    fn a_unique_period_buckets_the_key() {
        let task = NewTask::new("k", serde_json::json!({}))
            .with_unique_key_within("sync:hh", Duration::from_secs(60));
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let a = task.stored_unique_key(at("2026-11-26T10:00:05Z"));
        let b = task.stored_unique_key(at("2026-11-26T10:00:59Z"));
        let c = task.stored_unique_key(at("2026-11-26T10:01:00Z"));
        assert_eq!(a, b);
        assert_ne!(b, c);
        let forever = NewTask::new("k", serde_json::json!({})).with_unique_key("once");
        assert_eq!(
            forever.stored_unique_key(at("2026-11-26T10:00:05Z")),
            Some("once".into())
        );
    }
}
