//! The rescuer, the pruner and cron: each worker runs them on its intervals; they are safe to run
//! on every replica at once, and public so the CLI can run them by hand.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};

use crate::{
    cron::Schedule,
    db::{Result, TaskDb},
    postgres, sqlite, telemetry,
    worker::error_chain,
};

const LEASE_EXPIRED: &str =
    "the worker running it stopped renewing its lease (it crashed, or lost the database)";
const PRUNE_BATCH: i64 = 1000;

/// Makes tasks whose lease expired retryable again (or discards them when they have used their
/// last attempt); returns how many.
pub async fn rescue(db: &TaskDb) -> Result<u64> {
    let rescued = match db {
        TaskDb::Sqlite(pool) => sqlite::rescue(pool, LEASE_EXPIRED).await?,
        TaskDb::Postgres(pool) => postgres::rescue(pool, LEASE_EXPIRED).await?,
    };
    if rescued > 0 {
        ::metrics::counter!(telemetry::RESCUED_TOTAL).increment(rescued);
        tracing::warn!(rescued, "tasks whose worker disappeared were taken back");
    }
    Ok(rescued)
}

/// Deletes finished tasks (completed, discarded, cancelled) and cron fires older than
/// `retention`, in batches so no statement holds locks for long; returns how many rows went.
pub async fn prune(db: &TaskDb, retention: Duration) -> Result<u64> {
    let before =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut total = 0;
    loop {
        let deleted = match db {
            TaskDb::Sqlite(pool) => sqlite::prune(pool, before, PRUNE_BATCH).await?,
            TaskDb::Postgres(pool) => postgres::prune(pool, before, PRUNE_BATCH).await?,
        };
        total += deleted;
        if deleted < u64::try_from(PRUNE_BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "pruned finished tasks");
    }
    Ok(total)
}

/// Fires every schedule whose latest occurrence has not fired yet. `fired` remembers what this
/// process already handled, so each occurrence costs one insert attempt per replica.
pub(crate) async fn fire_due(
    db: &TaskDb,
    schedules: &[Schedule],
    catch_up: Duration,
    fired: &mut HashMap<String, DateTime<Utc>>,
) {
    let now = Utc::now();
    for schedule in schedules {
        let Some(at) = schedule.due(now, catch_up) else {
            continue;
        };
        if fired.get(&schedule.name) == Some(&at) {
            continue;
        }
        match fire(db, schedule, at).await {
            Ok(_) => {
                fired.insert(schedule.name.clone(), at);
            }
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, error = %error_chain(&error), "firing a cron schedule failed");
            }
        }
    }
}

/// Fires one occurrence unless some worker already did; returns the task it enqueued.
pub async fn fire(
    db: &TaskDb,
    schedule: &Schedule,
    at: DateTime<Utc>,
) -> Result<Option<crate::TaskId>> {
    let id = match db {
        TaskDb::Sqlite(pool) => sqlite::fire_cron(pool, &schedule.name, at, &schedule.task).await?,
        TaskDb::Postgres(pool) => {
            postgres::fire_cron(pool, &schedule.name, at, &schedule.task).await?
        }
    };
    if let Some(id) = id {
        ::metrics::counter!(telemetry::CRON_FIRED_TOTAL, "schedule" => schedule.name.clone())
            .increment(1);
        tracing::info!(schedule = %schedule.name, %at, task = %id, "cron schedule fired");
    }
    Ok(id)
}
