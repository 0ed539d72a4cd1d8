//! Job postings and source runs on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Job, JobId, UserId};
use sqlx::{Row, postgres::PgRow};
use store::{
    JobFilter, JobStore, JobWrite, SourceRun, StoreResult, UpsertOutcome, UpsertStatus,
    jobs::{DEDUPE_CANDIDATES, decode_posting, nearest_canonical},
    sql::db_error,
};
use uuid::Uuid;

use crate::PostgresStore;

const JOB_COLUMNS: &str = "id, data, owner_id, canonical_id, first_seen_at, last_seen_at, \
                           updated_at, closed_at, change_seq";

fn job_from_row(row: &PgRow) -> StoreResult<Job> {
    let id: Uuid = row.try_get("id").map_err(db_error)?;
    let canonical: Option<Uuid> = row.try_get("canonical_id").map_err(db_error)?;
    let owner: Option<Uuid> = row.try_get("owner_id").map_err(db_error)?;
    let data: &str = row.try_get("data").map_err(db_error)?;
    Ok(Job {
        id: JobId::from_uuid(id),
        posting: decode_posting(data)?,
        owner_id: owner.map(UserId::from_uuid),
        canonical_id: canonical.map(JobId::from_uuid),
        first_seen_at: row.try_get("first_seen_at").map_err(db_error)?,
        last_seen_at: row.try_get("last_seen_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        closed_at: row.try_get("closed_at").map_err(db_error)?,
        change_seq: row.try_get("change_seq").map_err(db_error)?,
    })
}

fn run_from_row(row: &PgRow) -> StoreResult<SourceRun> {
    let get = |name: &str| row.try_get::<i64, _>(name).map_err(db_error);
    Ok(SourceRun {
        source: row.try_get("source").map_err(db_error)?,
        state: row.try_get("state").map_err(db_error)?,
        started_at: row.try_get("started_at").map_err(db_error)?,
        finished_at: row.try_get("finished_at").map_err(db_error)?,
        cursor: row.try_get("cursor").map_err(db_error)?,
        pages: get("pages")?,
        created: get("created")?,
        updated: get("updated")?,
        unchanged: get("unchanged")?,
        duplicates: get("duplicates")?,
        failed_items: get("failed_items")?,
        closed: get("closed")?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        item_errors: row.try_get("item_errors").map_err(db_error)?,
        last_success_at: row.try_get("last_success_at").map_err(db_error)?,
    })
}

/// Takes the next change sequence number. The counter is written first, so the write lock is
/// taken before anything is read.
async fn take_change_seq(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> StoreResult<i64> {
    sqlx::query_scalar(
        "UPDATE job_counters SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)
}

/// The open duplicates of the postings just closed (at change `last`) follow a new canonical
/// posting: the oldest of them.
async fn recluster_orphans(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    last: i64,
) -> StoreResult<()> {
    // Grouped by the posting they duplicated, oldest first.
    let orphans: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT d.id, d.canonical_id FROM jobs c JOIN jobs d ON d.canonical_id = c.id \
         WHERE c.change_seq = $1 AND c.closed_at IS NOT NULL AND d.closed_at IS NULL \
         ORDER BY d.canonical_id, d.first_seen_at, d.id",
    )
    .bind(last)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let orphans: Vec<(JobId, JobId)> = orphans
        .into_iter()
        .map(|(d, c)| (JobId::from_uuid(d), JobId::from_uuid(c)))
        .collect();
    for (id, canonical) in store::jobs::promotions(&orphans) {
        sqlx::query("UPDATE jobs SET canonical_id = $1, change_seq = $2 WHERE id = $3")
            .bind(canonical.map(|c| c.as_uuid()))
            .bind(last)
            .bind(id.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// The open canonical posting `write` duplicates, if any (never `itself`).
async fn nearest_open(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    write: &JobWrite,
    itself: Option<JobId>,
    max_distance: u32,
) -> StoreResult<Option<JobId>> {
    let Some(key) = &write.dedupe_key else {
        return Ok(None);
    };
    let candidates = sqlx::query(
        "SELECT id, fingerprint FROM jobs WHERE dedupe_key = $1 \
         AND canonical_id IS NULL AND closed_at IS NULL \
         AND ($3::uuid IS NULL OR id <> $3) LIMIT $2",
    )
    .bind(key)
    .bind(DEDUPE_CANDIDATES)
    .bind(itself.map(|id| id.as_uuid()))
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| {
        let id: Uuid = row.try_get("id").map_err(db_error)?;
        let fingerprint: i64 = row.try_get("fingerprint").map_err(db_error)?;
        Ok((JobId::from_uuid(id), fingerprint))
    })
    .collect::<StoreResult<Vec<_>>>()?;
    Ok(nearest_canonical(
        candidates,
        write.fingerprint,
        max_distance,
    ))
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn upsert_jobs(
        &self,
        batch: &[JobWrite],
        max_distance: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<UpsertOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A write first: it takes SQLite's write lock now (no stale-snapshot failure later)
        // and reserves the batch's sequence numbers.
        let reserved = i64::try_from(batch.len()).unwrap_or(i64::MAX);
        let last: i64 = sqlx::query_scalar(
            "UPDATE job_counters SET change_seq = change_seq + $1 WHERE id = 1 RETURNING change_seq",
        )
        .bind(reserved)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut next_seq = last - reserved;
        let mut outcomes = Vec::with_capacity(batch.len());
        for write in batch {
            let job = &write.job;
            let data: &str = &write.data;
            let existing = sqlx::query(
                "SELECT id, content_hash, canonical_id, closed_at FROM jobs \
                 WHERE source = $1 AND external_id = $2",
            )
            .bind(&job.source)
            .bind(&job.external_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if let Some(row) = existing {
                let id: Uuid = row.try_get("id").map_err(db_error)?;
                let hash: Vec<u8> = row.try_get("content_hash").map_err(db_error)?;
                let canonical: Option<Uuid> = row.try_get("canonical_id").map_err(db_error)?;
                let closed: Option<DateTime<Utc>> = row.try_get("closed_at").map_err(db_error)?;
                let mut duplicate_of = canonical.map(JobId::from_uuid);
                let job_id = JobId::from_uuid(id);
                let status = if hash == write.content_hash && closed.is_none() {
                    sqlx::query("UPDATE jobs SET last_seen_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    UpsertStatus::Unchanged
                } else {
                    next_seq += 1;
                    // Seen again after it closed: while it was closed its duplicates were
                    // promoted (or its canonical closed too), so it joins whatever cluster is
                    // open now, or leads one.
                    let reclustered = match closed {
                        Some(_) => {
                            Some(nearest_open(&mut tx, write, Some(job_id), max_distance).await?)
                        }
                        None => None,
                    };
                    if let Some(canonical) = reclustered {
                        duplicate_of = canonical;
                    }
                    sqlx::query(
                        "UPDATE jobs SET title = $1, company = $2, published_at = $3, data = $4, \
                         content_hash = $5, fingerprint = $6, dedupe_key = $7, last_seen_at = $8, \
                         updated_at = $9, closed_at = NULL, change_seq = $10, \
                         canonical_id = CASE WHEN $12 THEN $13 ELSE canonical_id END WHERE id = $11",
                    )
                    .bind(&job.title)
                    .bind(&job.company)
                    .bind(job.published_at)
                    .bind(data)
                    .bind(&write.content_hash[..])
                    .bind(write.fingerprint.cast_signed())
                    .bind(&write.dedupe_key)
                    .bind(now)
                    .bind(now)
                    .bind(next_seq)
                    .bind(id)
                    .bind(reclustered.is_some())
                    .bind(reclustered.flatten().map(|c| c.as_uuid()))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    UpsertStatus::Updated
                };
                outcomes.push(UpsertOutcome {
                    id: job_id,
                    status,
                    duplicate_of,
                });
                continue;
            }
            let duplicate_of = nearest_open(&mut tx, write, None, max_distance).await?;
            let id = JobId::new();
            next_seq += 1;
            sqlx::query(
                "INSERT INTO jobs (id, source, external_id, title, company, published_at, data, \
                 content_hash, fingerprint, dedupe_key, canonical_id, first_seen_at, \
                 last_seen_at, updated_at, change_seq, owner_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $13, $14)",
            )
            .bind(id.as_uuid())
            .bind(&job.source)
            .bind(&job.external_id)
            .bind(&job.title)
            .bind(&job.company)
            .bind(job.published_at)
            .bind(data)
            .bind(&write.content_hash[..])
            .bind(write.fingerprint.cast_signed())
            .bind(&write.dedupe_key)
            .bind(duplicate_of.map(|c| c.as_uuid()))
            .bind(now)
            .bind(next_seq)
            .bind(write.owner.map(|o| o.as_uuid()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            outcomes.push(UpsertOutcome {
                id,
                status: UpsertStatus::Created,
                duplicate_of,
            });
        }
        tx.commit().await.map_err(db_error)?;
        Ok(outcomes)
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn jobs_by_ids(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1)"
        )))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(job_from_row)
        .collect()
    }

    async fn jobs_changed_after(
        &self,
        after: Option<(i64, JobId)>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let (seq, id) = after.map_or((-1, uuid::Uuid::nil()), |(seq, id)| (seq, id.as_uuid()));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE change_seq >= $1 AND (change_seq > $1 OR id > $2) \
             ORDER BY change_seq, id LIMIT $3"
        )))
        .bind(seq)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(job_from_row)
        .collect()
    }

    async fn list_jobs(
        &self,
        filter: &JobFilter,
        after: Option<JobId>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE ($1::text IS NULL OR source = $1) AND ($2 OR closed_at IS NULL) \
             AND ($3 OR canonical_id IS NULL) AND ($4::uuid IS NULL OR id > $4) \
             AND ($6::uuid IS NULL OR owner_id = $6) \
             ORDER BY id LIMIT $5"
        )))
        .bind(&filter.source)
        .bind(filter.include_closed)
        .bind(filter.include_duplicates)
        .bind(after.map(|id| id.as_uuid()))
        .bind(i64::from(limit))
        .bind(filter.owner.map(|o| o.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(job_from_row)
        .collect()
    }

    async fn close_unseen_jobs(
        &self,
        source: &str,
        seen_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let last = take_change_seq(&mut tx).await?;
        let closed = sqlx::query(
            "UPDATE jobs SET closed_at = $1, change_seq = $2 \
             WHERE source = $3 AND closed_at IS NULL AND last_seen_at < $4",
        )
        .bind(now)
        .bind(last)
        .bind(source)
        .bind(seen_before)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        recluster_orphans(&mut tx, last).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(closed)
    }

    async fn close_owned_jobs(
        &self,
        owner: UserId,
        only: Option<JobId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let last = take_change_seq(&mut tx).await?;
        let closed = sqlx::query(
            "UPDATE jobs SET closed_at = $1, change_seq = $2 \
             WHERE owner_id = $3 AND closed_at IS NULL AND ($4::uuid IS NULL OR id = $4)",
        )
        .bind(now)
        .bind(last)
        .bind(owner.as_uuid())
        .bind(only.map(|id| id.as_uuid()))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if closed > 0 {
            recluster_orphans(&mut tx, last).await?;
            tx.commit().await.map_err(db_error)?;
        }
        Ok(closed)
    }

    async fn count_open_owned_jobs(&self, owner: UserId) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE owner_id = $1 AND closed_at IS NULL",
        )
        .bind(owner.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn prune_closed_jobs(
        &self,
        closed_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
             WHERE closed_at IS NOT NULL AND closed_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.job_id = jobs.id) \
             AND NOT EXISTS (SELECT 1 FROM application_submissions s WHERE s.job_id = jobs.id) \
             LIMIT $2)",
        )
        .bind(closed_before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(db_error)
    }

    async fn save_source_run(&self, run: &SourceRun) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO source_runs (source, state, started_at, finished_at, cursor, pages, \
             created, updated, unchanged, duplicates, failed_items, closed, last_error, \
             item_errors, last_success_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (source) DO UPDATE SET state = EXCLUDED.state, \
             started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, \
             cursor = EXCLUDED.cursor, pages = EXCLUDED.pages, created = EXCLUDED.created, \
             updated = EXCLUDED.updated, unchanged = EXCLUDED.unchanged, \
             duplicates = EXCLUDED.duplicates, failed_items = EXCLUDED.failed_items, \
             closed = EXCLUDED.closed, last_error = EXCLUDED.last_error, \
             item_errors = EXCLUDED.item_errors, last_success_at = EXCLUDED.last_success_at",
        )
        .bind(&run.source)
        .bind(&run.state)
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(&run.cursor)
        .bind(run.pages)
        .bind(run.created)
        .bind(run.updated)
        .bind(run.unchanged)
        .bind(run.duplicates)
        .bind(run.failed_items)
        .bind(run.closed)
        .bind(&run.last_error)
        .bind(&run.item_errors)
        .bind(run.last_success_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn source_run(&self, source: &str) -> StoreResult<Option<SourceRun>> {
        sqlx::query("SELECT * FROM source_runs WHERE source = $1")
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(run_from_row)
            .transpose()
    }

    async fn source_runs(&self) -> StoreResult<Vec<SourceRun>> {
        sqlx::query("SELECT * FROM source_runs ORDER BY source")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(run_from_row)
            .collect()
    }
}
