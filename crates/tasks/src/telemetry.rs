//! Metric names, through the `metrics` facade (the binary installs the exporter). Labels are the
//! queue and the kind, both from code, never from user input.

pub const COMPLETED_TOTAL: &str = "tasks_completed_total";
/// Every attempt that failed (error, panic, timeout, malformed arguments).
pub const FAILED_TOTAL: &str = "tasks_failed_total";
/// Failed attempts that will run again.
pub const RETRIED_TOTAL: &str = "tasks_retried_total";
/// Tasks moved to the dead letter.
pub const DISCARDED_TOTAL: &str = "tasks_discarded_total";
pub const CANCELLED_TOTAL: &str = "tasks_cancelled_total";
pub const SNOOZED_TOTAL: &str = "tasks_snoozed_total";
/// Tasks whose worker's lease expired, made retryable by the rescuer.
pub const RESCUED_TOTAL: &str = "tasks_rescued_total";
pub const CRON_FIRED_TOTAL: &str = "tasks_cron_fired_total";
/// How long handlers ran, by queue, kind and outcome.
pub const DURATION_SECONDS: &str = "task_duration_seconds";
/// Tasks by queue and state (set by [`crate::admin::record_gauges`]).
pub const TASKS: &str = "tasks";

pub(crate) fn count(name: &'static str, queue: &str, kind: &str) {
    ::metrics::counter!(name, "queue" => queue.to_owned(), "kind" => kind.to_owned()).increment(1);
}

pub(crate) fn duration(queue: &str, kind: &str, outcome: &'static str, seconds: f64) {
    ::metrics::histogram!(
        DURATION_SECONDS,
        "queue" => queue.to_owned(),
        "kind" => kind.to_owned(),
        "outcome" => outcome
    )
    .record(seconds);
}
