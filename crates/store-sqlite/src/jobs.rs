//! Job postings and source runs on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Job, JobId, UserId};
use sqlx::{Row, sqlite::SqliteRow};
use store::{
    JobFilter, JobStore, JobWrite, SourceRun, StoreError, StoreResult, UpsertOutcome,
    jobs::{
        decode_posting,
        plan::{Existing, Insert, Plan, Update},
    },
    sql::db_error,
};

use crate::{SqliteStore, parse_id, text_id};

const JOB_COLUMNS: &str = "id, data, owner_id, canonical_id, first_seen_at, last_seen_at, \
                           updated_at, closed_at, change_seq";

fn job_from_row(row: &SqliteRow) -> StoreResult<Job> {
    let id: &str = row.try_get("id").map_err(db_error)?;
    let canonical: Option<&str> = row.try_get("canonical_id").map_err(db_error)?;
    let owner: Option<&str> = row.try_get("owner_id").map_err(db_error)?;
    let data: &str = row.try_get("data").map_err(db_error)?;
    Ok(Job {
        id: JobId::from_uuid(parse_id("jobs.id", id)?),
        posting: decode_posting(data)?,
        owner_id: owner
            .map(|o| parse_id("jobs.owner_id", o).map(UserId::from_uuid))
            .transpose()?,
        canonical_id: canonical
            .map(|c| parse_id("jobs.canonical_id", c).map(JobId::from_uuid))
            .transpose()?,
        first_seen_at: row.try_get("first_seen_at").map_err(db_error)?,
        last_seen_at: row.try_get("last_seen_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
        closed_at: row.try_get("closed_at").map_err(db_error)?,
        change_seq: row.try_get("change_seq").map_err(db_error)?,
    })
}

fn run_from_row(row: &SqliteRow) -> StoreResult<SourceRun> {
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

/// Takes the next change sequence number. The counter is written first, so SQLite's write
/// lock is taken before anything is read.
async fn take_change_seq(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> StoreResult<i64> {
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
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    last: i64,
) -> StoreResult<()> {
    // Grouped by the posting they duplicated, oldest first.
    let orphans: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.id, d.canonical_id FROM jobs c JOIN jobs d ON d.canonical_id = c.id \
         WHERE c.change_seq = ? AND c.closed_at IS NOT NULL AND d.closed_at IS NULL \
         ORDER BY d.canonical_id, d.first_seen_at, d.id",
    )
    .bind(last)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let orphans = orphans
        .iter()
        .map(|(d, c)| {
            Ok((
                JobId::from_uuid(parse_id("jobs.id", d)?),
                JobId::from_uuid(parse_id("jobs.canonical_id", c)?),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    for (id, canonical) in store::jobs::promotions(&orphans) {
        sqlx::query("UPDATE jobs SET canonical_id = ?, change_seq = ? WHERE id = ?")
            .bind(canonical.map(|c| text_id(c.as_uuid())))
            .bind(last)
            .bind(text_id(id.as_uuid()))
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Columns of a new posting's row, in the order [`insert_rows`] binds them.
const INSERT_COLUMNS: &str = "id, source, external_id, title, company, published_at, data, \
                              content_hash, fingerprint, dedupe_key, canonical_id, \
                              first_seen_at, last_seen_at, updated_at, change_seq, owner_id";
/// Rows per `INSERT`: 8,000 bound values (16 columns), well under SQLite's limit of 32,766.
const INSERT_ROWS: usize = 500;

/// Inserts new postings, many rows per statement, every value bound as itself (no JSON for
/// SQLite to parse again).
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    rows: &[Insert<'_>],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in rows.chunks(INSERT_ROWS) {
        // Ids as text, times as SQLite keeps them.
        let text: Vec<(String, Option<String>, Option<String>)> = chunk
            .iter()
            .map(|insert| {
                (
                    text_id(insert.id.as_uuid()),
                    insert
                        .write
                        .job
                        .published_at
                        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
                    insert.canonical_id.map(|c| text_id(c.as_uuid())),
                )
            })
            .collect();
        let columns = INSERT_COLUMNS.split(',').count();
        let row = format!("({})", vec!["?"; columns].join(", "));
        let sql = format!(
            "INSERT INTO jobs ({INSERT_COLUMNS}) VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (insert, (id, published_at, canonical_id)) in chunk.iter().zip(&text) {
            let job = &insert.write.job;
            query = query
                .bind(id)
                .bind(&job.source)
                .bind(&job.external_id)
                .bind(&job.title)
                .bind(&job.company)
                .bind(published_at)
                .bind(std::sync::Arc::clone(&insert.write.data))
                .bind(&insert.write.content_hash[..])
                .bind(insert.write.fingerprint.cast_signed())
                .bind(&insert.write.dedupe_key)
                .bind(canonical_id)
                .bind(now)
                .bind(now)
                .bind(now)
                .bind(insert.seq)
                .bind(insert.write.owner.map(|o| text_id(o.as_uuid())));
        }
        query.execute(&mut **tx).await.map_err(db_error)?;
    }
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
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
            "UPDATE job_counters SET change_seq = change_seq + ? WHERE id = 1 RETURNING change_seq",
        )
        .bind(reserved)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut plan = Plan::new(last - reserved, max_distance);
        // The batch's existing postings and duplicate candidates, each in one query: a batch
        // costs a handful of statements, not several per posting.
        let keys: Vec<[&str; 2]> = batch
            .iter()
            .map(|w| [w.job.source.as_str(), w.job.external_id.as_str()])
            .collect();
        let rows = sqlx::query(
            "SELECT j.id, j.source, j.external_id, j.content_hash, j.canonical_id, \
                    j.closed_at IS NOT NULL AS closed \
             FROM json_each(?) k \
             JOIN jobs j ON j.source = k.value ->> 0 AND j.external_id = k.value ->> 1",
        )
        .bind(serde_json::to_string(&keys).map_err(|e| StoreError::Other(Box::new(e)))?)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        for row in &rows {
            let id: String = row.try_get("id").map_err(db_error)?;
            let canonical: Option<String> = row.try_get("canonical_id").map_err(db_error)?;
            plan.existing.insert(
                (
                    row.try_get("source").map_err(db_error)?,
                    row.try_get("external_id").map_err(db_error)?,
                ),
                Existing {
                    id: JobId::from_uuid(parse_id("jobs.id", &id)?),
                    hash: row.try_get("content_hash").map_err(db_error)?,
                    canonical_id: canonical
                        .map(|c| parse_id("jobs.canonical_id", &c).map(JobId::from_uuid))
                        .transpose()?,
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
                 WHERE dedupe_key IN (SELECT value FROM json_each(?)) \
                   AND canonical_id IS NULL AND closed_at IS NULL",
            )
            .bind(serde_json::to_string(&dedupe_keys).map_err(|e| StoreError::Other(Box::new(e)))?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in &rows {
                let id: String = row.try_get("id").map_err(db_error)?;
                plan.add_candidate(
                    row.try_get("dedupe_key").map_err(db_error)?,
                    JobId::from_uuid(parse_id("jobs.id", &id)?),
                    row.try_get("fingerprint").map_err(db_error)?,
                );
            }
        }
        for write in batch {
            plan.decide(write)?;
        }
        insert_rows(&mut tx, &plan.inserts, now).await?;
        if !plan.seen.is_empty() {
            let ids: Vec<String> = plan.seen.iter().map(|id| text_id(id.as_uuid())).collect();
            sqlx::query(
                "UPDATE jobs SET last_seen_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
            )
            .bind(now)
            .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Other(Box::new(e)))?)
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
                "UPDATE jobs SET title = ?, company = ?, published_at = ?, data = ?, \
                 content_hash = ?, fingerprint = ?, dedupe_key = ?, last_seen_at = ?, \
                 updated_at = ?, closed_at = NULL, change_seq = ?, \
                 canonical_id = CASE WHEN ? THEN ? ELSE canonical_id END WHERE id = ?",
            )
            .bind(&job.title)
            .bind(&job.company)
            .bind(job.published_at)
            .bind(std::sync::Arc::clone(&write.data))
            .bind(&write.content_hash[..])
            .bind(write.fingerprint.cast_signed())
            .bind(&write.dedupe_key)
            .bind(now)
            .bind(now)
            .bind(seq)
            .bind(reclustered.is_some())
            .bind(reclustered.flatten().map(|c| text_id(c.as_uuid())))
            .bind(text_id(id.as_uuid()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(plan.outcomes)
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
        )))
        .bind(text_id(id.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    async fn jobs_by_ids(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let ids: Vec<String> = ids.iter().map(|id| text_id(id.as_uuid())).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Other(Box::new(e)))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
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
        let (seq, id) = after.map_or((-1, String::new()), |(seq, id)| {
            (seq, text_id(id.as_uuid()))
        });
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE change_seq >= ?1 AND (change_seq > ?1 OR id > ?2) \
             ORDER BY change_seq, id LIMIT ?3"
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
             WHERE (?1 IS NULL OR source = ?1) AND (?2 OR closed_at IS NULL) \
             AND (?3 OR canonical_id IS NULL) AND (?4 IS NULL OR id > ?4) \
             AND (?6 IS NULL OR owner_id = ?6) \
             ORDER BY id LIMIT ?5"
        )))
        .bind(&filter.source)
        .bind(filter.include_closed)
        .bind(filter.include_duplicates)
        .bind(after.map(|id| text_id(id.as_uuid())))
        .bind(i64::from(limit))
        .bind(filter.owner.map(|o| text_id(o.as_uuid())))
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
            "UPDATE jobs SET closed_at = ?, change_seq = ? \
             WHERE source = ? AND closed_at IS NULL AND last_seen_at < ?",
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
            "UPDATE jobs SET closed_at = ?1, change_seq = ?2 \
             WHERE owner_id = ?3 AND closed_at IS NULL AND (?4 IS NULL OR id = ?4)",
        )
        .bind(now)
        .bind(last)
        .bind(text_id(owner.as_uuid()))
        .bind(only.map(|id| text_id(id.as_uuid())))
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
            "SELECT count(*) FROM jobs WHERE owner_id = ? AND closed_at IS NULL",
        )
        .bind(text_id(owner.as_uuid()))
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
             WHERE closed_at IS NOT NULL AND closed_at < ? \
             AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.job_id = jobs.id) \
             AND NOT EXISTS (SELECT 1 FROM application_submissions s WHERE s.job_id = jobs.id) \
             LIMIT ?)",
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
             item_errors, last_success_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (source) DO UPDATE SET state = excluded.state, \
             started_at = excluded.started_at, finished_at = excluded.finished_at, \
             cursor = excluded.cursor, pages = excluded.pages, created = excluded.created, \
             updated = excluded.updated, unchanged = excluded.unchanged, \
             duplicates = excluded.duplicates, failed_items = excluded.failed_items, \
             closed = excluded.closed, last_error = excluded.last_error, \
             item_errors = excluded.item_errors, last_success_at = excluded.last_success_at",
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
        sqlx::query("SELECT * FROM source_runs WHERE source = ?")
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
