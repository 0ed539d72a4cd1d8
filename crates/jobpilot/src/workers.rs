//! The task queue's workers as `serve` runs them, and the handlers they know.

use std::time::Duration;

use tasks::{Handlers, QueueConfig, TaskDb, Worker, WorkerConfig, WorkerHandle};

use crate::config::Config;

/// Every kind of task this binary can run. Handlers are idempotent: delivery is at least once.
pub fn handlers() -> Handlers {
    Handlers::new()
}

/// Starts the workers unless this replica is configured to serve HTTP only.
pub fn start(config: &Config, db: TaskDb) -> Option<WorkerHandle> {
    if config.worker_concurrency == 0 {
        tracing::info!("task workers disabled (JOBPILOT_WORKER_CONCURRENCY=0)");
        return None;
    }
    let worker_config = WorkerConfig {
        queues: vec![QueueConfig::new(
            tasks::DEFAULT_QUEUE,
            config.worker_concurrency,
        )],
        retention: config.task_retention,
        shutdown_grace: config.shutdown_timeout,
        ..WorkerConfig::default()
    };
    Some(Worker::new(db, handlers(), worker_config).start())
}

/// How long finished tasks are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
