//! What runs a task: handlers registered by kind, what they are given and what they return.

use std::{collections::HashMap, fmt, future::Future, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    db::TaskDb,
    task::{FailureKind, TaskId},
};

/// How long a handler may run when its kind sets no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What a handler knows about the task it runs.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub id: TaskId,
    pub queue: String,
    pub kind: String,
    /// 1 on the first attempt.
    pub attempt: i32,
    pub max_attempts: i32,
    pub user_id: Option<Uuid>,
    pub meta: serde_json::Value,
    pub inserted_at: DateTime<Utc>,
    /// The queue's database, to enqueue follow-up tasks.
    pub db: TaskDb,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl TaskContext {
    /// Resolves when the worker starts shutting down: a long handler may stop early and return
    /// [`Outcome::Snooze`] (or an error) so the task runs again elsewhere.
    pub async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// How a handler's run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    /// Run again after this long; the attempt does not count.
    Snooze(Duration),
    /// Stop for good, with this reason kept in the task's history.
    Cancel(String),
}

/// A failed attempt: retried with backoff (the default for any error converted with `?`), or,
/// with [`TaskError::discard`], never retried.
pub struct TaskError {
    pub(crate) message: String,
    pub(crate) kind: FailureKind,
    pub(crate) retry: bool,
}

impl TaskError {
    /// A failure worth another attempt.
    pub fn retry(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            kind: FailureKind::Error,
            retry: true,
        }
    }

    /// A failure no later attempt can fix: the task is discarded now, with this error kept.
    pub fn discard(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            kind: FailureKind::Error,
            retry: false,
        }
    }

    pub(crate) fn malformed_args(kind: &str, error: &impl fmt::Display) -> Self {
        Self {
            message: format!("malformed arguments for task kind {kind:?}: {error}"),
            kind: FailureKind::MalformedArgs,
            retry: false,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("message", &self.message)
            .field("kind", &self.kind)
            .field("retry", &self.retry)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error converts, keeping its whole cause chain, and is retried.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::retry(message)
    }
}

/// Runs tasks of one kind. Delivery is at least once: a handler may run again for a task it
/// already finished (its worker died before recording the outcome), so make it idempotent.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn run(&self, ctx: TaskContext, args: serde_json::Value) -> Result<Outcome, TaskError>;
}

/// A function of typed arguments as a handler: arguments that do not deserialize discard the
/// task at once with a clear error.
struct TypedFn<A, F> {
    kind: String,
    f: F,
    _args: std::marker::PhantomData<fn() -> A>,
}

#[async_trait]
impl<A, F, Fut> Handler for TypedFn<A, F>
where
    A: DeserializeOwned + Send + 'static,
    F: Fn(TaskContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, TaskError>> + Send + 'static,
{
    async fn run(&self, ctx: TaskContext, args: serde_json::Value) -> Result<Outcome, TaskError> {
        // The error names the offending field (`resume_id: invalid type: …`).
        let args: A = serde_path_to_error::deserialize(args)
            .map_err(|e| TaskError::malformed_args(&self.kind, &e))?;
        (self.f)(ctx, args).await
    }
}

pub(crate) struct Registered {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) timeout: Duration,
}

/// The handlers a worker runs, by task kind. A worker only claims tasks of kinds it has, so
/// replicas of different versions can share a queue.
#[derive(Default)]
pub struct Handlers {
    pub(crate) kinds: HashMap<String, Registered>,
    /// Kinds' default max attempts, for tasks enqueued without their own.
    attempts: HashMap<String, i32>,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kinds: Vec<_> = self.kinds.keys().collect();
        kinds.sort();
        f.debug_struct("Handlers")
            .field("kinds", &kinds)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a handler for `kind`, with the default timeout.
    pub fn add(&mut self, kind: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.add_with_timeout(kind, DEFAULT_TIMEOUT, handler)
    }

    /// Registers a handler for `kind`; a run longer than `timeout` is stopped and retried.
    pub fn add_with_timeout(
        &mut self,
        kind: impl Into<String>,
        timeout: Duration,
        handler: impl Handler,
    ) -> &mut Self {
        self.kinds.insert(
            kind.into(),
            Registered {
                handler: Arc::new(handler),
                timeout,
            },
        );
        self
    }

    /// Registers an async function of typed arguments for `kind`.
    pub fn add_fn<A, F, Fut>(
        &mut self,
        kind: impl Into<String>,
        timeout: Duration,
        f: F,
    ) -> &mut Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(TaskContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, TaskError>> + Send + 'static,
    {
        let kind = kind.into();
        let handler = TypedFn {
            kind: kind.clone(),
            f,
            _args: std::marker::PhantomData,
        };
        self.add_with_timeout(kind, timeout, handler)
    }

    /// Declares how many times a task of `kind` runs at most (at least 1) when its enqueuer did
    /// not say with [`crate::NewTask::with_max_attempts`]. Applied by the worker that claims
    /// the task, since enqueuers need not know the handlers: the task's `max_attempts` becomes
    /// this number (or the attempt it is on, if that is more: an operator's retry adds one).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tasks::{Handlers, Outcome, TaskContext};
    /// let mut handlers = Handlers::new();
    /// handlers
    ///     .add_fn("email.send", Duration::from_secs(30), |_: TaskContext, _: serde_json::Value| async {
    ///         Ok(Outcome::Complete)
    ///     })
    ///     .set_max_attempts("email.send", 8);
    /// ```
    pub fn set_max_attempts(&mut self, kind: impl Into<String>, max_attempts: i32) -> &mut Self {
        self.attempts.insert(kind.into(), max_attempts.max(1));
        self
    }

    /// The default max attempts of the registered kinds that declare one, as a JSON object
    /// (`{"kind": n}`) for the claim statements.
    pub(crate) fn attempts_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.attempts
                .iter()
                .filter(|(kind, _)| self.kinds.contains_key(*kind))
                .map(|(kind, n)| (kind.clone(), serde_json::Value::from(*n)))
                .collect(),
        )
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&Registered> {
        self.kinds.get(kind)
    }

    pub(crate) fn kind_names(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.kinds.keys().cloned().collect();
        kinds.sort();
        kinds
    }
}
