//! Job postings and source runs on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Job, JobId, UserId};
use sqlx::{Row, postgres::PgRow};
use store::{
    JobFilter, JobStore, JobWrite, SourceRun, StoreResult, UpsertOutcome,
    jobs::{
        decode_posting,
        plan::{Existing, Insert, Plan, Update},
    },
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

/// One column of the new rows, as the array bound for it.
fn column<'r, 'a, T>(rows: &'r [Insert<'a>], value: impl Fn(&'r Insert<'a>) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

/// Inserts new postings in one statement, each column bound as one array.
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    rows: &[Insert<'_>],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO jobs (id, source, external_id, title, company, published_at, data, \
         content_hash, fingerprint, dedupe_key, canonical_id, first_seen_at, last_seen_at, \
         updated_at, change_seq, owner_id) \
         SELECT id, source, external_id, title, company, published_at, data, content_hash, \
                fingerprint, dedupe_key, canonical_id, $12, $12, $12, change_seq, owner_id \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::timestamptz[], $7::text[], $8::bytea[], $9::int8[], $10::text[], \
                     $11::uuid[], $13::int8[], $14::uuid[]) \
           AS t(id, source, external_id, title, company, published_at, data, content_hash, \
                fingerprint, dedupe_key, canonical_id, change_seq, owner_id)",
    )
    .bind(column(rows, |r| r.id.as_uuid()))
    .bind(column(rows, |r| r.write.job.source.as_str()))
    .bind(column(rows, |r| r.write.job.external_id.as_str()))
    .bind(column(rows, |r| r.write.job.title.as_str()))
    .bind(column(rows, |r| r.write.job.company.as_deref()))
    .bind(column(rows, |r| r.write.job.published_at))
    .bind(column(rows, |r| &*r.write.data))
    .bind(column(rows, |r| &r.write.content_hash[..]))
    .bind(column(rows, |r| r.write.fingerprint.cast_signed()))
    .bind(column(rows, |r| r.write.dedupe_key.as_deref()))
    .bind(column(rows, |r| r.canonical_id.map(|c| c.as_uuid())))
    .bind(now)
    .bind(column(rows, |r| r.seq))
    .bind(column(rows, |r| r.write.owner.map(|o| o.as_uuid())))
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
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
        let mut plan = Plan::new(last - reserved, max_distance);
        // The batch's existing postings and duplicate candidates, each in one query, and its
        // new postings in one statement: a batch costs a handful of round trips, not three
        // per posting. Every job writer takes the counter row first, so nothing read here
        // changes before the commit.
        let (sources, external_ids): (Vec<&str>, Vec<&str>) = batch
            .iter()
            .map(|w| (w.job.source.as_str(), w.job.external_id.as_str()))
            .unzip();
        let rows = sqlx::query(
            "SELECT j.id, j.source, j.external_id, j.content_hash, j.canonical_id, \
                    j.closed_at IS NOT NULL AS closed \
             FROM UNNEST($1::text[], $2::text[]) AS k(source, external_id) \
             JOIN jobs j ON j.source = k.source AND j.external_id = k.external_id",
        )
        .bind(&sources)
        .bind(&external_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        for row in &rows {
            let canonical: Option<Uuid> = row.try_get("canonical_id").map_err(db_error)?;
            plan.existing.insert(
                (
                    row.try_get("source").map_err(db_error)?,
                    row.try_get("external_id").map_err(db_error)?,
                ),
                Existing {
                    id: JobId::from_uuid(row.try_get("id").map_err(db_error)?),
                    hash: row.try_get("content_hash").map_err(db_error)?,
                    canonical_id: canonical.map(JobId::from_uuid),
                    closed: row.try_get("closed").map_err(db_error)?,
                },
            );
        }
        let dedupe_keys: Vec<&str> = batch
            .iter()
            .filter_map(|w| w.dedupe_key.as_deref())
            .collect();
        if !dedupe_keys.is_empty() {
            let rows = sqlx::query(
                "SELECT id, fingerprint, dedupe_key FROM jobs \
                 WHERE dedupe_key = ANY($1) AND canonical_id IS NULL AND closed_at IS NULL",
            )
            .bind(&dedupe_keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in &rows {
                plan.add_candidate(
                    row.try_get("dedupe_key").map_err(db_error)?,
                    JobId::from_uuid(row.try_get("id").map_err(db_error)?),
                    row.try_get("fingerprint").map_err(db_error)?,
                );
            }
        }
        for write in batch {
            plan.decide(write)?;
        }
        insert_rows(&mut tx, &plan.inserts, now).await?;
        if !plan.seen.is_empty() {
            let ids: Vec<Uuid> = plan.seen.iter().map(JobId::as_uuid).collect();
            sqlx::query("UPDATE jobs SET last_seen_at = $1 WHERE id = ANY($2)")
                .bind(now)
                .bind(&ids)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for Update {
            id,
            write,
            seq,
            reclustered,
        } in &plan.updates
        {
            let job = &write.job;
            sqlx::query(
                "UPDATE jobs SET title = $1, company = $2, published_at = $3, data = $4, \
                 content_hash = $5, fingerprint = $6, dedupe_key = $7, last_seen_at = $8, \
                 updated_at = $9, closed_at = NULL, change_seq = $10, \
                 canonical_id = CASE WHEN $12 THEN $13 ELSE canonical_id END WHERE id = $11",
            )
            .bind(&job.title)
            .bind(&job.company)
            .bind(job.published_at)
            .bind(&*write.data)
            .bind(&write.content_hash[..])
            .bind(write.fingerprint.cast_signed())
            .bind(&write.dedupe_key)
            .bind(now)
            .bind(now)
            .bind(seq)
            .bind(id.as_uuid())
            .bind(reclustered.is_some())
            .bind(reclustered.flatten().map(|c| c.as_uuid()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(plan.outcomes)
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
