//! The task queue's workers as `serve` runs them, and the handlers they know.

use std::{sync::Arc, time::Duration};

use sources::catalog::Catalog;
use store::Store;
use tasks::{
    Handlers, NewTask, Outcome, QueueConfig, TaskContext, TaskDb, TaskError, Worker, WorkerConfig,
    WorkerHandle, cron::Schedule,
};

use crate::config::Config;

/// The task kind that syncs one source.
pub const SOURCE_SYNC: &str = web::routes::sources::SYNC_TASK;
/// The task kind that prunes the audit log to its retention period.
pub const AUDIT_PRUNE: &str = "audit.prune";
/// Daily, at a quiet hour (UTC).
const AUDIT_PRUNE_CRON: &str = "15 3 * * *";
/// The task kind that deletes job postings closed longer ago than the retention period.
pub const JOBS_PRUNE: &str = "jobs.prune";
/// Daily, after the audit pruning.
const JOBS_PRUNE_CRON: &str = "45 3 * * *";
/// How long the per-user event log keeps an event (for sockets that reconnect).
const USER_EVENT_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// Postings deleted per statement, so no transaction grows large.
const JOBS_PRUNE_BATCH: u32 = 1000;
/// The task kind that re-seals stored values with the active key.
pub const KEYS_ROTATE: &str = web::routes::admin_keys::ROTATE_TASK;
/// One attempt's share of a long rotation; the next attempt resumes.
const KEYS_ROTATE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Reading one resume, PDF sandbox included, takes seconds at most.
const RESUME_PARSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Evaluating every alert: a ranking per alert, a few milliseconds each.
const ALERTS_TIMEOUT: Duration = Duration::from_secs(600);
/// A sync resumes page by page, so a long one is cut into attempts rather than killed.
const SOURCE_SYNC_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncArgs {
    source: String,
}

/// The resume parser's PDF sandbox: this binary (or the one configured), run as a child with
/// the extraction limits.
pub fn pdf_sandbox(
    config: &Config,
    ocr: Option<extract::Ocr>,
) -> anyhow::Result<extract::PdfSandbox> {
    let program = match &config.pdf_helper {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot find this program for the PDF sandbox: {e}"))?,
    };
    Ok(extract::PdfSandbox::new(
        program,
        vec!["pdf-sandbox".into()],
        extract::Limits::default(),
    )
    .with_ocr(ocr))
}

/// OCR for scanned PDFs as configured: automatic (on when the programs are installed), off,
/// or with named languages (which must then be installed: only then is it an error).
pub fn ocr(config: &Config) -> anyhow::Result<Option<extract::Ocr>> {
    match &config.ocr_languages {
        None => match extract::Ocr::detect(&["eng", "rus"]) {
            Ok(ocr) => {
                tracing::info!(languages = %ocr.languages, "scanned PDFs are read with OCR");
                Ok(Some(ocr))
            }
            Err(reason) => {
                tracing::info!(%reason, "no OCR: scanned PDFs read as having no text");
                Ok(None)
            }
        },
        Some(languages) if languages.is_empty() => Ok(None),
        Some(languages) => {
            let wanted: Vec<&str> = languages.iter().map(String::as_str).collect();
            let ocr = extract::Ocr::detect(&wanted)
                .map_err(|reason| anyhow::anyhow!("JOBPILOT_OCR: {reason}"))?;
            if ocr.languages.split('+').count() < wanted.len() {
                anyhow::bail!(
                    "JOBPILOT_OCR: tesseract has only {} of {}",
                    ocr.languages,
                    wanted.join("+")
                );
            }
            Ok(Some(ocr))
        }
    }
}

/// Every kind of task this binary can run. Handlers are idempotent: delivery is at least once.
pub fn handlers(
    store: Arc<dyn Store>,
    catalog: Catalog,
    config: &Config,
    index: Arc<search::index::JobIndex>,
    ocr: Option<extract::Ocr>,
) -> Handlers {
    let mut handlers = Handlers::new();
    match (pdf_sandbox(config, ocr), config.key_ring()) {
        (Err(error), _) => tracing::error!(%error, "resumes cannot be parsed on this replica"),
        // A throwaway key could not open what the server sealed.
        (Ok(_), None) => tracing::error!(
            "resumes cannot be parsed on this replica: JOBPILOT_ENCRYPTION_KEYS is not set"
        ),
        (Ok(sandbox), Some(keys)) => {
            let context = web::resumes::ParseContext {
                store: store.clone(),
                files: config.files.clone(),
                keys,
                sandbox: Arc::new(sandbox),
            };
            handlers.add_fn(
                web::resumes::PARSE_TASK,
                RESUME_PARSE_TIMEOUT,
                move |_ctx: TaskContext, args: web::resumes::ParseArgs| {
                    let context = context.clone();
                    async move {
                        web::resumes::parse(
                            context.store.as_ref(),
                            &context.files,
                            &context.keys,
                            &context.sandbox,
                            domain::ResumeId::from_uuid(args.resume_id),
                        )
                        .await
                        .map(|()| Outcome::Complete)
                        .map_err(TaskError::retry)
                    }
                },
            );
        }
    }
    add_key_rotation(&mut handlers, store.clone(), config);
    add_applications(&mut handlers, store.clone(), config);
    add_job_pruning(&mut handlers, store.clone(), config.job_retention);
    add_alerts(&mut handlers, store.clone(), config, index);
    let audit_store = store.clone();
    let keys = config.key_ring();
    let retention =
        chrono::Duration::from_std(config.audit_retention).unwrap_or(chrono::Duration::days(365));
    handlers.add_fn(
        AUDIT_PRUNE,
        Duration::from_secs(3600),
        move |_ctx: TaskContext, _args: serde_json::Value| {
            let store = audit_store.clone();
            let keys = keys.clone();
            async move {
                // A checkpoint sealed with a throwaway key could never be verified: without a
                // configured key ring, nothing is pruned.
                let Some(keys) = keys else {
                    tracing::warn!("audit pruning skipped: no JOBPILOT_ENCRYPTION_KEYS");
                    return Ok(Outcome::Complete);
                };
                let before = chrono::Utc::now() - retention;
                match web::audit::prune(store.as_ref(), &keys, before).await {
                    Ok(pruned) => {
                        tracing::info!(pruned, %before, "audit log pruned");
                        Ok(Outcome::Complete)
                    }
                    Err(web::audit::AuditError::Store(error)) => {
                        Err(TaskError::retry(web::error::ErrorChain(&error)))
                    }
                    // Tampering is for a person to look at, not for retries.
                    Err(error) => {
                        tracing::error!(%error, "audit log not pruned");
                        Err(TaskError::discard(error))
                    }
                }
            }
        },
    );
    handlers.add_fn(
        SOURCE_SYNC,
        SOURCE_SYNC_TIMEOUT,
        move |ctx: TaskContext, args: SyncArgs| {
            let store = store.clone();
            let source = catalog.get(&args.source);
            async move {
                let Some(source) = source else {
                    return Err(TaskError::discard(format!(
                        "the source {:?} is not configured on this replica",
                        args.source
                    )));
                };
                let progress = |run: &store::SourceRun| {
                    tracing::info!(
                        source = %run.source, pages = run.pages, created = run.created,
                        updated = run.updated, failed = run.failed_items, "sync progress"
                    );
                };
                match sources::sync::run(source.as_ref(), store.as_ref(), &progress).await {
                    Ok(run) => {
                        tracing::info!(
                            source = %run.source, created = run.created, updated = run.updated,
                            unchanged = run.unchanged, closed = run.closed, "sync finished"
                        );
                        Ok(Outcome::Complete)
                    }
                    Err(error) => {
                        if ctx.is_last_attempt() {
                            let _ = sources::sync::give_up(
                                store.as_ref(),
                                &args.source,
                                &error.to_string(),
                            )
                            .await;
                        }
                        Err(TaskError::retry(error))
                    }
                }
            }
        },
    );
    handlers
}

/// `keys.rotate`: re-seals every value and file with the active key. Resumable, so a timeout
/// or crash only means the next attempt starts where this one was.
fn add_key_rotation(handlers: &mut Handlers, store: Arc<dyn Store>, config: &Config) {
    let keys = config.key_ring();
    let files = config.files.clone();
    handlers.add_fn(
        KEYS_ROTATE,
        KEYS_ROTATE_TIMEOUT,
        move |_ctx: TaskContext, _args: serde_json::Value| {
            let (store, files, keys) = (store.clone(), files.clone(), keys.clone());
            async move {
                // A throwaway key would make every value unreadable after a restart.
                let Some(keys) = keys else {
                    return Err(TaskError::discard(
                        "JOBPILOT_ENCRYPTION_KEYS is not set on the replica that ran the rotation",
                    ));
                };
                let sealed = web::keys::Sealed {
                    store: store.as_ref(),
                    files: &files,
                };
                let progress = |n: u64| {
                    if n.is_multiple_of(10_000) {
                        tracing::info!(rotated = n, "key rotation progress");
                    }
                };
                match web::keys::rotate(sealed, &keys, &progress).await {
                    Ok(rotated) => {
                        tracing::info!(
                            rotated,
                            active = keys.active_key_id(),
                            "key rotation finished"
                        );
                        Ok(Outcome::Complete)
                    }
                    Err(
                        error
                        @ (web::keys::KeysError::Store(_) | web::keys::KeysError::File { .. }),
                    ) => Err(TaskError::retry(web::error::ErrorChain(&error))),
                    // A value no key opens, or a key missing: for a person to look at.
                    Err(error) => {
                        tracing::error!(%error, "key rotation stopped");
                        Err(TaskError::discard(error))
                    }
                }
            }
        },
    );
}

/// `applications.generate` and `applications.submit`.
fn add_applications(handlers: &mut Handlers, store: Arc<dyn Store>, config: &Config) {
    let llm = config
        .llm
        .clone()
        .and_then(|settings| match ai::LlmClient::new(settings) {
            Ok(client) => Some(Arc::new(client)),
            Err(error) => {
                tracing::error!(%error, "the language model is not used: templates write documents");
                None
            }
        });
    let mailer = config
        .smtp
        .clone()
        .and_then(|settings| match notify::Mailer::new(settings) {
            Ok(mailer) => Some(mailer),
            Err(error) => {
                tracing::error!(%error, "applications cannot be e-mailed from this replica");
                None
            }
        });
    let context = Arc::new(web::applications::ApplyContext {
        store,
        files: config.files.clone(),
        keys: config.key_ring(),
        llm,
        mailer,
        hh: config.hh_apply_client(),
        caps: config.apply_caps,
    });
    let generate = context.clone();
    handlers.add_fn(
        web::applications::GENERATE_TASK,
        web::applications::GENERATE_TIMEOUT,
        move |ctx: TaskContext, args: web::applications::TaskArgs| {
            let context = generate.clone();
            async move { web::applications::generate(&context, &ctx, &args).await }
        },
    );
    handlers.add_fn(
        web::applications::SUBMIT_TASK,
        web::applications::SUBMIT_TIMEOUT,
        move |ctx: TaskContext, args: web::applications::TaskArgs| {
            let context = context.clone();
            async move { web::applications::submit(&context, &ctx, &args).await }
        },
    );
}

/// `matches.alerts`: tells seekers of new postings matching their resumes.
fn add_alerts(
    handlers: &mut Handlers,
    store: Arc<dyn Store>,
    config: &Config,
    index: Arc<search::index::JobIndex>,
) {
    let context = web::alerts::AlertContext {
        store,
        index,
        keys: config.key_ring(),
        weights: config.match_weights.clone(),
    };
    handlers.add_fn(
        web::alerts::EVALUATE_TASK,
        ALERTS_TIMEOUT,
        move |_ctx: TaskContext, _args: serde_json::Value| {
            let context = context.clone();
            async move {
                match web::alerts::evaluate(&context, chrono::Utc::now()).await {
                    Ok(report) => {
                        tracing::info!(
                            alerts = report.alerts,
                            skipped = report.skipped,
                            reported = report.reported,
                            "match alerts evaluated"
                        );
                        Ok(Outcome::Complete)
                    }
                    // What was recorded stays recorded: the next attempt reports the rest.
                    Err(error) => Err(TaskError::retry(web::error::ErrorChain(&error))),
                }
            }
        },
    );
}

/// `jobs.prune`: deletes postings closed longer ago than the retention period, in batches,
/// user events older than a week and what match alerts reported before then.
fn add_job_pruning(handlers: &mut Handlers, store: Arc<dyn Store>, retention: Option<Duration>) {
    handlers.add_fn(
        JOBS_PRUNE,
        Duration::from_secs(3600),
        move |_ctx: TaskContext, _args: serde_json::Value| {
            let store = store.clone();
            async move {
                // The event log only serves reconnecting sockets: a few days is plenty.
                let events_before = chrono::Utc::now() - USER_EVENT_RETENTION;
                let events = store
                    .prune_user_events(events_before)
                    .await
                    .map_err(|e| TaskError::retry(web::error::ErrorChain(&e)))?;
                tracing::info!(pruned = events, "user events pruned");
                // Alerts look back an hour: a week-old report is never needed again.
                let hits = store
                    .prune_alert_hits(events_before)
                    .await
                    .map_err(|e| TaskError::retry(web::error::ErrorChain(&e)))?;
                tracing::info!(pruned = hits, "match alert reports pruned");
                let Some(retention) = retention.and_then(|r| chrono::Duration::from_std(r).ok())
                else {
                    return Ok(Outcome::Complete);
                };
                let before = chrono::Utc::now() - retention;
                let mut pruned = 0;
                loop {
                    let deleted = store
                        .prune_closed_jobs(before, JOBS_PRUNE_BATCH)
                        .await
                        .map_err(|e| TaskError::retry(web::error::ErrorChain(&e)))?;
                    pruned += deleted;
                    if deleted < u64::from(JOBS_PRUNE_BATCH) {
                        break;
                    }
                }
                tracing::info!(pruned, %before, "closed job postings pruned");
                Ok(Outcome::Complete)
            }
        },
    );
}

/// One daily (by default) sync per configured source, the daily audit pruning, the daily
/// pruning of closed postings and old events, and the match alerts (every five minutes by
/// default); with several replicas each fire runs once.
pub fn schedules(config: &Config) -> anyhow::Result<Vec<Schedule>> {
    let mut schedules = Vec::new();
    for name in config.source_names() {
        let task = NewTask::new(SOURCE_SYNC, serde_json::json!({ "source": name }));
        let schedule = Schedule::new(
            format!("{SOURCE_SYNC}:{name}"),
            &config.sources_sync_cron,
            task,
        )
        .map_err(|e| anyhow::anyhow!("sync schedule: {e}"))?;
        schedules.push(schedule);
    }
    let prune = NewTask::new(AUDIT_PRUNE, serde_json::json!({}));
    schedules.push(
        Schedule::new(AUDIT_PRUNE, AUDIT_PRUNE_CRON, prune)
            .map_err(|e| anyhow::anyhow!("audit schedule: {e}"))?,
    );
    // Always: it also prunes the user event log, whatever the postings' retention.
    let prune = NewTask::new(JOBS_PRUNE, serde_json::json!({}));
    schedules.push(
        Schedule::new(JOBS_PRUNE, JOBS_PRUNE_CRON, prune)
            .map_err(|e| anyhow::anyhow!("job retention schedule: {e}"))?,
    );
    let alerts = NewTask::new(web::alerts::EVALUATE_TASK, serde_json::json!({}));
    schedules.push(
        Schedule::new(web::alerts::EVALUATE_TASK, &config.alerts_cron, alerts)
            .map_err(|e| anyhow::anyhow!("match alert schedule: {e}"))?,
    );
    Ok(schedules)
}

/// Starts the workers unless this replica is configured to serve HTTP only.
pub fn start(
    config: &Config,
    db: TaskDb,
    store: Arc<dyn Store>,
    catalog: Catalog,
    index: Arc<search::index::JobIndex>,
) -> anyhow::Result<Option<WorkerHandle>> {
    if config.worker_concurrency == 0 {
        tracing::info!("task workers disabled (JOBPILOT_WORKER_CONCURRENCY=0)");
        return Ok(None);
    }
    // OCR asked for by name must work: an operator who named languages hears at start that
    // they are missing, not from failed uploads later.
    let ocr = ocr(config)?;
    let worker_config = WorkerConfig {
        queues: vec![QueueConfig::new(
            tasks::DEFAULT_QUEUE,
            config.worker_concurrency,
        )],
        retention: config.task_retention,
        shutdown_grace: config.shutdown_timeout,
        schedules: schedules(config)?,
        ..WorkerConfig::default()
    };
    Ok(Some(
        Worker::new(
            db,
            handlers(store, catalog, config, index, ocr),
            worker_config,
        )
        .start(),
    ))
}

/// How long finished tasks are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
