//! Workers: claim ready tasks, run their handlers under a lease, record what happened.
//!
//! Per queue, a producer claims as many tasks as it has free slots (one statement) and spawns one
//! execution per task. An execution runs the handler in its own tokio task (so a panic is caught
//! and the worker lives) under the kind's timeout, then hands the result to the completer, which
//! records outcomes in batches. No transaction is open while a handler runs: the claim commits
//! first, and a heartbeat renews the leases of everything this worker runs.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use rand::Rng as _;
use tokio::{
    sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch},
    task::JoinHandle,
};
use tracing::Instrument as _;

use crate::{
    DEFAULT_QUEUE, changes,
    cron::Schedule,
    db::{Result, TaskDb},
    handler::{Handlers, Outcome, TaskContext, TaskError},
    maintenance, postgres, sqlite,
    sqlite::background,
    task::{AttemptError, FailureKind, Task, TaskId, TaskState},
    telemetry, trace,
};

/// One queue a worker serves, and how many of its tasks may run at once.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub name: String,
    pub concurrency: usize,
}

impl QueueConfig {
    pub fn new(name: impl Into<String>, concurrency: usize) -> Self {
        Self {
            name: name.into(),
            concurrency: concurrency.max(1),
        }
    }
}

/// Exponential backoff between attempts: `base × 2^(attempt−1)`, capped at `max`, then ±20 %
/// jitter so tasks that failed together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 31)).unwrap_or(0);
        let raw = self
            .base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max);
        raw.mul_f64(rand::rng().random_range(0.8..=1.2))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        }
    }
}

/// How a worker behaves. Every interval is here so tests can make them tiny.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker in `lease_owner`; a fresh UUID when `None`.
    pub id: Option<String>,
    pub queues: Vec<QueueConfig>,
    /// Claims at most this many tasks per statement.
    pub max_batch: usize,
    /// How often to look for work when no wake-up came (scheduled tasks, missed notifications).
    pub poll_interval: Duration,
    /// After a claim that left slots free, the least time before the next one: a trickle of
    /// wake-ups is gathered into one claim instead of one statement per task.
    pub fetch_cooldown: Duration,
    /// How long a claim holds a task before the rescuer may take it back.
    pub lease: Duration,
    /// How often leases are renewed; well under `lease`.
    pub heartbeat_interval: Duration,
    pub backoff: Backoff,
    /// How often expired leases are looked for.
    pub rescue_interval: Duration,
    /// Finished tasks (and cron fires) older than this are deleted.
    pub retention: Duration,
    pub prune_interval: Duration,
    pub schedules: Vec<Schedule>,
    pub cron_interval: Duration,
    /// A cron occurrence missed by at most this much (every worker was down) still fires, once.
    pub cron_catch_up: Duration,
    /// On shutdown, how long running tasks may take to finish before they are stopped and
    /// handed back to the queue.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: None,
            queues: vec![QueueConfig::new(DEFAULT_QUEUE, 10)],
            max_batch: 100,
            poll_interval: Duration::from_secs(1),
            fetch_cooldown: Duration::from_millis(5),
            lease: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(15),
            backoff: Backoff::default(),
            rescue_interval: Duration::from_secs(15),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(600),
            schedules: Vec::new(),
            cron_interval: Duration::from_secs(1),
            cron_catch_up: Duration::from_secs(15 * 60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A non-complete end of an attempt, as the database records it.
#[derive(Debug)]
pub(crate) struct Finish {
    pub(crate) state: TaskState,
    /// The task runs again after this long.
    pub(crate) run_after: Option<Duration>,
    pub(crate) error: Option<AttemptError>,
    /// The attempt does not count (a snooze).
    pub(crate) give_back_attempt: bool,
}

/// What an execution hands to the completer.
struct Finished {
    id: TaskId,
    queue: String,
    kind: String,
    attempt: i32,
    max_attempts: i32,
    result: Result<Outcome, TaskError>,
    elapsed: Duration,
}

enum Message {
    Finished(Box<Finished>),
    Flush(oneshot::Sender<()>),
}

struct Inner {
    db: TaskDb,
    handlers: Handlers,
    config: WorkerConfig,
    owner: String,
    /// Registered kinds, as each backend's claim wants them.
    kinds: Vec<String>,
    kinds_json: String,
    /// Kinds' default max attempts (`{"kind": n}`), applied as tasks are claimed.
    attempts: serde_json::Value,
    attempts_json: String,
    stop: watch::Receiver<bool>,
    hard_stop: watch::Receiver<bool>,
    completer: mpsc::UnboundedSender<Message>,
}

/// A configured worker; [`Worker::start`] sets it running.
///
/// Size the pool for it: on PostgreSQL a worker keeps one connection for `LISTEN`, and each of
/// its loops (a producer per queue, the completer, the heartbeat, maintenance) borrows one for a
/// statement at a time.
#[derive(Debug)]
pub struct Worker {
    db: TaskDb,
    handlers: Handlers,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(db: TaskDb, handlers: Handlers, config: WorkerConfig) -> Self {
        Self {
            db,
            handlers,
            config,
        }
    }

    /// Spawns the worker's loops on the current tokio runtime.
    pub fn start(self) -> WorkerHandle {
        let owner = self
            .config
            .id
            .clone()
            .unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4()));
        let (stop_tx, stop) = watch::channel(false);
        let (hard_stop_tx, hard_stop) = watch::channel(false);
        let (completer_tx, completer_rx) = mpsc::unbounded_channel();
        let kinds = self.handlers.kind_names();
        let kinds_json = serde_json::Value::from(kinds.clone()).to_string();
        let attempts = self.handlers.attempts_json();
        let attempts_json = attempts.to_string();
        let queues: Vec<(QueueConfig, Arc<Semaphore>, Arc<Notify>)> = self
            .config
            .queues
            .iter()
            .map(|q| {
                (
                    q.clone(),
                    Arc::new(Semaphore::new(q.concurrency)),
                    Arc::new(Notify::new()),
                )
            })
            .collect();
        let inner = Arc::new(Inner {
            db: self.db,
            handlers: self.handlers,
            config: self.config,
            owner: owner.clone(),
            kinds,
            kinds_json,
            attempts,
            attempts_json,
            stop,
            hard_stop,
            completer: completer_tx,
        });

        let mut loops = Vec::new();
        for (queue, slots, wake) in &queues {
            loops.push(tokio::spawn(background(produce(
                inner.clone(),
                queue.clone(),
                slots.clone(),
                wake.clone(),
            ))));
        }
        loops.push(tokio::spawn(background(maintain(inner.clone()))));
        if let TaskDb::Postgres(pool) = &inner.db {
            let wakes = queues
                .iter()
                .map(|(q, _, wake)| (q.name.clone(), wake.clone()))
                .collect();
            loops.push(tokio::spawn(background(listen(
                inner.clone(),
                pool.clone(),
                wakes,
            ))));
        }
        // The worker's own writes and its handlers' stand aside for requests' writes.
        let heartbeat = tokio::spawn(background(heartbeat(inner.clone())));
        let completer = tokio::spawn(background(complete(inner.clone(), completer_rx)));
        tracing::info!(worker = %owner, queues = ?inner.config.queues, kinds = ?inner.kinds, "task worker started");
        WorkerHandle {
            owner,
            inner,
            stop: stop_tx,
            hard_stop: hard_stop_tx,
            slots: queues
                .into_iter()
                .map(|(q, slots, _)| (slots, q.concurrency))
                .collect(),
            loops,
            heartbeat: Some(heartbeat),
            completer: Some(completer),
        }
    }
}

/// A running worker. Call [`WorkerHandle::shutdown`] to stop it cleanly; dropping it stops it as
/// a crash would.
pub struct WorkerHandle {
    owner: String,
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    hard_stop: watch::Sender<bool>,
    slots: Vec<(Arc<Semaphore>, usize)>,
    loops: Vec<JoinHandle<()>>,
    heartbeat: Option<JoinHandle<()>>,
    completer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// What a clean shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks still running at the end of the grace period, stopped and made available again.
    pub released: u64,
}

impl WorkerHandle {
    /// The worker's name, as `lease_owner` shows it.
    pub fn id(&self) -> &str {
        &self.owner
    }

    /// Stops claiming, lets running tasks finish for up to the configured grace period, then
    /// stops the rest and makes them available again (their attempt does not count).
    pub async fn shutdown(mut self) -> Result<ShutdownReport> {
        let _ = self.stop.send(true);
        for handle in std::mem::take(&mut self.loops) {
            let _ = handle.await;
        }
        let grace = self.inner.config.shutdown_grace;
        if tokio::time::timeout(grace, self.idle()).await.is_err() {
            tracing::warn!(worker = %self.owner, ?grace, "tasks still running after the grace period: stopping them");
            let _ = self.hard_stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(5), self.idle()).await;
        }
        // Record every outcome that is in, then hand back whatever this worker still holds.
        let (flushed_tx, flushed) = oneshot::channel();
        if self
            .inner
            .completer
            .send(Message::Flush(flushed_tx))
            .is_ok()
        {
            let _ = flushed.await;
        }
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        if let Some(completer) = self.completer.take() {
            completer.abort();
        }
        let released = match &self.inner.db {
            TaskDb::Sqlite(pool) => sqlite::release(pool, &self.owner).await?,
            TaskDb::Postgres(pool) => postgres::release(pool, &self.owner).await?,
        };
        tracing::info!(worker = %self.owner, released, "task worker stopped");
        Ok(ShutdownReport { released })
    }

    /// Every slot of every queue free: nothing runs.
    async fn idle(&self) {
        for (slots, size) in &self.slots {
            let size = u32::try_from(*size).unwrap_or(u32::MAX);
            if let Ok(all) = slots.acquire_many(size).await {
                drop(all);
            }
        }
    }

    /// Stops everything at once without recording anything, as a crash would: the tasks this
    /// worker held stay leased until the rescuer finds their leases expired.
    pub fn kill(mut self) {
        self.abort_all();
    }

    fn abort_all(&mut self) {
        let _ = self.stop.send(true);
        let _ = self.hard_stop.send(true);
        for handle in self.loops.drain(..) {
            handle.abort();
        }
        if let Some(handle) = self.heartbeat.take() {
            handle.abort();
        }
        if let Some(handle) = self.completer.take() {
            handle.abort();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Resolves once the signal is raised (or its sender is gone).
async fn raised(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|raised| *raised).await;
}

/// Sleeps, or returns early (true) when the signal is raised.
async fn sleep_or(signal: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => *signal.borrow(),
        _ = raised(signal) => true,
    }
}

async fn produce(inner: Arc<Inner>, queue: QueueConfig, slots: Arc<Semaphore>, wake: Arc<Notify>) {
    let mut stop = inner.stop.clone();
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => permit,
            _ = raised(&mut stop) => break,
        };
        let Ok(first) = first else { break };
        let limit = (1 + slots.available_permits()).min(inner.config.max_batch.max(1));
        // Listen before claiming, so a wake-up that arrives during the claim is not lost.
        let own_wake = wake.notified();
        let sqlite_wake = sqlite::WAKE.notified();
        tokio::pin!(own_wake, sqlite_wake);
        own_wake.as_mut().enable();
        sqlite_wake.as_mut().enable();

        let claimed_at = Instant::now();
        let claimed = match &inner.db {
            TaskDb::Sqlite(pool) => {
                sqlite::claim(
                    pool,
                    &queue.name,
                    &inner.kinds_json,
                    &inner.attempts_json,
                    &inner.owner,
                    inner.config.lease,
                    limit,
                )
                .await
            }
            TaskDb::Postgres(pool) => {
                postgres::claim(
                    pool,
                    &queue.name,
                    &inner.kinds,
                    &inner.attempts,
                    &inner.owner,
                    inner.config.lease,
                    limit,
                )
                .await
            }
        };
        let tasks = match claimed {
            Ok(tasks) => {
                failures = 0;
                changes::announce(tasks.iter().map(|t| t.id));
                tasks
            }
            Err(error) => {
                drop(first);
                failures = failures.saturating_add(1);
                let pause = inner
                    .config
                    .poll_interval
                    .saturating_mul(2u32.saturating_pow(failures.min(5)))
                    .min(Duration::from_secs(30));
                tracing::warn!(queue = %queue.name, error = %error_chain(&error), ?pause, "claiming tasks failed");
                if sleep_or(&mut stop, pause).await {
                    break;
                }
                continue;
            }
        };
        let full = tasks.len() >= limit;
        let mut first = Some(first);
        for task in tasks {
            let permit = match first.take() {
                Some(permit) => permit,
                // Only this producer takes slots, and it claimed no more than were free.
                None => match slots.clone().try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => {
                        tracing::error!(task = %task.id, "no free slot for a claimed task");
                        continue;
                    }
                },
            };
            tokio::spawn(background(execute(inner.clone(), task, permit)));
        }
        drop(first);
        if full {
            continue;
        }
        tokio::select! {
            _ = &mut own_wake => {}
            _ = &mut sqlite_wake, if matches!(inner.db, TaskDb::Sqlite(_)) => {}
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
            _ = raised(&mut stop) => break,
        }
        let since = claimed_at.elapsed();
        if since < inner.config.fetch_cooldown
            && sleep_or(&mut stop, inner.config.fetch_cooldown - since).await
        {
            break;
        }
    }
}

/// Aborts the handler's tokio task when the execution ends early (timeout, hard stop, kill).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn execute(inner: Arc<Inner>, task: Task, permit: OwnedSemaphorePermit) {
    let Some(registered) = inner.handlers.get(&task.kind) else {
        // Unreachable: the claim only takes registered kinds. Left leased, it will be rescued.
        tracing::error!(task = %task.id, kind = %task.kind, "claimed a task of an unknown kind");
        return;
    };
    let traceparent = task
        .meta
        .get("traceparent")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "task",
        id = %task.id,
        queue = %task.queue,
        kind = %task.kind,
        attempt = task.attempt,
        traceparent = %traceparent,
    );
    // The handler's span continues the enqueuer's trace (when tracing exports one).
    trace::set_parent(&span, &traceparent);
    let ctx = TaskContext {
        id: task.id,
        queue: task.queue.clone(),
        kind: task.kind.clone(),
        attempt: task.attempt,
        max_attempts: task.max_attempts,
        user_id: task.user_id,
        meta: task.meta.clone(),
        inserted_at: task.inserted_at,
        db: inner.db.clone(),
        shutdown: inner.stop.clone(),
    };
    let handler = registered.handler.clone();
    let timeout = registered.timeout;
    let args = task.args;
    let started = Instant::now();
    let mut running = AbortOnDrop(tokio::spawn(background(
        async move { handler.run(ctx, args).await }.instrument(span.clone()),
    )));
    let mut hard_stop = inner.hard_stop.clone();
    let result = tokio::select! {
        joined = tokio::time::timeout(timeout, &mut running.0) => match joined {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) if join_error.is_panic() => Err(TaskError {
                message: format!("the handler panicked: {}", panic_message(join_error.into_panic())),
                kind: FailureKind::Panic,
                retry: true,
            }),
            Ok(Err(_)) => Err(TaskError::retry("the handler was aborted")),
            Err(_) => Err(TaskError {
                message: format!("the handler ran past its timeout of {timeout:?}"),
                kind: FailureKind::Timeout,
                retry: true,
            }),
        },
        // Shutdown ran out of grace: no outcome; the worker hands the task back.
        _ = raised(&mut hard_stop) => return,
    };
    drop(running);
    let finished = Finished {
        id: task.id,
        queue: task.queue,
        kind: task.kind,
        attempt: task.attempt,
        max_attempts: task.max_attempts,
        result,
        elapsed: started.elapsed(),
    };
    let _ = inner.completer.send(Message::Finished(Box::new(finished)));
    drop(permit);
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Records outcomes: completions in one statement per batch, anything else one by one.
async fn complete(inner: Arc<Inner>, mut inbox: mpsc::UnboundedReceiver<Message>) {
    const BATCH: usize = 1000;
    while let Some(message) = inbox.recv().await {
        let mut finished = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(message);
        while let Some(message) = next {
            match message {
                Message::Finished(f) => finished.push(*f),
                Message::Flush(ack) => flushes.push(ack),
            }
            next = if finished.len() < BATCH {
                inbox.try_recv().ok()
            } else {
                None
            };
        }
        record(&inner, finished).await;
        for ack in flushes {
            let _ = ack.send(());
        }
    }
}

async fn record(inner: &Inner, finished: Vec<Finished>) {
    let mut completed = Vec::new();
    for f in finished {
        let seconds = f.elapsed.as_secs_f64();
        let finish = match f.result {
            Ok(Outcome::Complete) => {
                telemetry::duration(&f.queue, &f.kind, "completed", seconds);
                completed.push(f);
                continue;
            }
            Ok(Outcome::Snooze(after)) => {
                telemetry::duration(&f.queue, &f.kind, "snoozed", seconds);
                telemetry::count(telemetry::SNOOZED_TOTAL, &f.queue, &f.kind);
                Finish {
                    state: TaskState::Scheduled,
                    run_after: Some(after),
                    error: None,
                    give_back_attempt: true,
                }
            }
            Ok(Outcome::Cancel(reason)) => {
                telemetry::duration(&f.queue, &f.kind, "cancelled", seconds);
                telemetry::count(telemetry::CANCELLED_TOTAL, &f.queue, &f.kind);
                Finish {
                    state: TaskState::Cancelled,
                    run_after: None,
                    error: Some(AttemptError {
                        attempt: f.attempt,
                        at: chrono::Utc::now(),
                        kind: FailureKind::Cancelled,
                        message: reason,
                    }),
                    give_back_attempt: false,
                }
            }
            Err(error) => {
                telemetry::duration(&f.queue, &f.kind, "failed", seconds);
                telemetry::count(telemetry::FAILED_TOTAL, &f.queue, &f.kind);
                let last = !error.retry || f.attempt >= f.max_attempts;
                let entry = AttemptError {
                    attempt: f.attempt,
                    at: chrono::Utc::now(),
                    kind: error.kind,
                    message: error.message,
                };
                if last {
                    telemetry::count(telemetry::DISCARDED_TOTAL, &f.queue, &f.kind);
                    tracing::error!(task = %f.id, kind = %f.kind, attempt = f.attempt, error = %entry.message, "task discarded");
                    Finish {
                        state: TaskState::Discarded,
                        run_after: None,
                        error: Some(entry),
                        give_back_attempt: false,
                    }
                } else {
                    telemetry::count(telemetry::RETRIED_TOTAL, &f.queue, &f.kind);
                    tracing::warn!(task = %f.id, kind = %f.kind, attempt = f.attempt, error = %entry.message, "task failed; will retry");
                    Finish {
                        state: TaskState::Retryable,
                        run_after: Some(inner.config.backoff.delay(f.attempt)),
                        error: Some(entry),
                        give_back_attempt: false,
                    }
                }
            }
        };
        let recorded = retrying(inner, || async {
            match &inner.db {
                TaskDb::Sqlite(pool) => {
                    sqlite::finish(pool, &inner.owner, f.id, f.attempt, &finish).await
                }
                TaskDb::Postgres(pool) => {
                    postgres::finish(pool, &inner.owner, f.id, f.attempt, &finish).await
                }
            }
        })
        .await;
        match recorded {
            Some(true) => changes::announce([f.id]),
            Some(false) => {
                tracing::warn!(task = %f.id, "outcome not recorded: the task was taken back (lease lost) or changed by an operator");
            }
            None => {}
        }
    }
    if completed.is_empty() {
        return;
    }
    let attempts: Vec<(TaskId, i32)> = completed.iter().map(|f| (f.id, f.attempt)).collect();
    let recorded = retrying(inner, || async {
        match &inner.db {
            TaskDb::Sqlite(pool) => sqlite::complete(pool, &inner.owner, &attempts).await,
            TaskDb::Postgres(pool) => postgres::complete(pool, &inner.owner, &attempts).await,
        }
    })
    .await;
    if recorded.is_some() {
        changes::announce(attempts.iter().map(|(id, _)| *id));
        for f in &completed {
            telemetry::count(telemetry::COMPLETED_TOTAL, &f.queue, &f.kind);
        }
    }
}

/// Runs a write until it succeeds, a few times with backoff: an outcome lost to a database hiccup
/// would make the task run again once its lease expires.
async fn retrying<T, F, Fut>(inner: &Inner, mut write: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=8 {
        match write().await {
            Ok(value) => return Some(value),
            Err(error) => {
                tracing::warn!(attempt, error = %error_chain(&error), "recording task outcomes failed");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(inner.config.lease / 4);
            }
        }
    }
    None
}

async fn heartbeat(inner: Arc<Inner>) {
    // Runs until the handle stops it: tasks still need their leases during the shutdown grace.
    loop {
        tokio::time::sleep(inner.config.heartbeat_interval).await;
        let renewed = match &inner.db {
            TaskDb::Sqlite(pool) => sqlite::heartbeat(pool, &inner.owner, inner.config.lease).await,
            TaskDb::Postgres(pool) => {
                postgres::heartbeat(pool, &inner.owner, inner.config.lease).await
            }
        };
        if let Err(error) = renewed {
            tracing::warn!(error = %error_chain(&error), "renewing task leases failed");
        }
    }
}

/// Rescuer, pruner and cron, each on its own interval.
async fn maintain(inner: Arc<Inner>) {
    let mut stop = inner.stop.clone();
    let mut rescue = tokio::time::interval(inner.config.rescue_interval);
    let mut prune = tokio::time::interval(inner.config.prune_interval);
    let mut cron = tokio::time::interval(inner.config.cron_interval);
    for timer in [&mut rescue, &mut prune, &mut cron] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    let mut fired: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    loop {
        tokio::select! {
            _ = rescue.tick() => {
                if let Err(error) = maintenance::rescue(&inner.db).await {
                    tracing::warn!(error = %error_chain(&error), "rescuing tasks failed");
                }
            }
            _ = prune.tick() => {
                if let Err(error) = maintenance::prune(&inner.db, inner.config.retention).await {
                    tracing::warn!(error = %error_chain(&error), "pruning tasks failed");
                }
            }
            _ = cron.tick(), if !inner.config.schedules.is_empty() => {
                maintenance::fire_due(&inner.db, &inner.config.schedules, inner.config.cron_catch_up, &mut fired).await;
            }
            _ = raised(&mut stop) => break,
        }
    }
}

/// Turns PostgreSQL notifications into wake-ups of the matching queue's producer.
async fn listen(inner: Arc<Inner>, pool: sqlx::PgPool, wakes: HashMap<String, Arc<Notify>>) {
    let mut stop = inner.stop.clone();
    let mut listener = loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(postgres::CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match connected {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "listening for task notifications failed; polling meanwhile");
                if sleep_or(
                    &mut stop,
                    inner.config.poll_interval.max(Duration::from_secs(1)),
                )
                .await
                {
                    return;
                }
            }
        }
    };
    loop {
        let received = tokio::select! {
            // `recv` reconnects by itself; notifications sent while it was away are caught up
            // by the producers' polling.
            received = listener.recv() => received,
            _ = raised(&mut stop) => return,
        };
        match received {
            Ok(notification) => {
                if let Some(wake) = wakes.get(notification.payload()) {
                    wake.notify_waiters();
                }
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "task notifications interrupted");
                if sleep_or(&mut stop, inner.config.poll_interval).await {
                    return;
                }
            }
        }
    }
}
