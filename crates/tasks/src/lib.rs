//! jobpilot's durable task queue, kept in the application's own database.
//!
//! - **Enqueue in the caller's transaction**: [`enqueue`] takes the connection (or transaction) the
//!   caller is already writing with, so a domain change and the task it causes commit together or
//!   not at all. [`Queue`] is the shortcut for work that needs no transaction of its own.
//! - **Workers** ([`Worker`]) claim ready tasks in batches (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, a single write statement on SQLite), run them under a lease renewed by heartbeats,
//!   and never hold a transaction open while a handler runs. Wake-ups come from `LISTEN/NOTIFY`
//!   (PostgreSQL) or an in-process signal fired on commit (SQLite), with polling as the fallback.
//! - **Failures** are retried with exponential backoff and jitter up to the task's `max_attempts`,
//!   then discarded (the dead letter), keeping every attempt's error. A panic or a timeout counts as
//!   a failed attempt; malformed arguments discard the task at once.
//! - **Crash recovery**: a task whose lease expired (its worker died) is made retryable again by
//!   the rescuer. Delivery is therefore *at least once*: **write handlers to be idempotent** (guard
//!   a side effect with a unique key, or check whether it already happened). On PostgreSQL the
//!   workers' bookkeeping (claims, outcomes, lease renewals) commits without waiting for the disk
//!   flush, as enqueues do not: a database crash may undo its last fraction of a second, and the
//!   tasks concerned run again.
//! - **Cron** schedules fire once per occurrence however many replicas run them, thanks to a unique
//!   `(schedule, fire_at)` row written in the same transaction as the task.
//! - **Maintenance**: finished tasks are pruned after a retention period.
//! - **Observability**: counters and a duration histogram through the `metrics` facade, and
//!   [`admin::record_gauges`] for per-queue, per-state counts. A task enqueued inside a traced
//!   span keeps its `traceparent`, and its handler's span joins that trace ([`trace`]).
//! - **Following a task**: [`Changes`] wakes whoever watches a task when it changes state (in
//!   process, and over `NOTIFY` from other PostgreSQL replicas).
//! - **Per-kind attempts**: a kind may declare its default max attempts
//!   ([`Handlers::set_max_attempts`]), applied when a worker claims a task enqueued without its
//!   own.

mod changes;
mod db;
mod enqueue;
mod handler;
mod postgres;
mod sqlite;
mod task;
mod worker;

pub mod admin;
pub mod cron;
pub mod maintenance;
pub mod telemetry;
pub mod trace;

pub use changes::{Changes, TaskWatch};
pub use db::{Error, TaskDb};
pub use enqueue::{Connection, Queue, enqueue, enqueue_many};
pub use handler::{Handler, Handlers, Outcome, TaskContext, TaskError};
pub use postgres::{PING_IF_IDLE_FOR, ping_when_idle};
pub use sqlite::{
    OwnedWriteGuard, SqliteWriteGate, background, in_background,
    install_wake_hooks as install_sqlite_wake_hooks, write_gate as sqlite_write_gate,
};
pub use task::{AttemptError, FailureKind, NewTask, Task, TaskId, TaskState};
pub use worker::{Backoff, QueueConfig, ShutdownReport, Worker, WorkerConfig, WorkerHandle};

/// The queue a task goes to when its caller names none.
pub const DEFAULT_QUEUE: &str = "default";
/// How many times a task runs, at most, when neither its caller nor its kind says.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
