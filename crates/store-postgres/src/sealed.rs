//! Sealed values on PostgreSQL, for key status and rotation.

use async_trait::async_trait;
use sqlx::Row;
use store::{
    PlainValue, SealedColumn, SealedSwap, SealedValue, SealedValues, StoreResult, sql::db_error,
};

use crate::PostgresStore;

/// (read page, compare-and-swap) statements per column; rows are keyed by their id as text.
fn statements(column: SealedColumn) -> (&'static str, &'static str) {
    match column {
        SealedColumn::TotpSecret => (
            "SELECT id::text AS row_key, totp_secret AS sealed FROM users \
             WHERE totp_secret IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid) \
             ORDER BY id LIMIT $2",
            "UPDATE users SET totp_secret = $1 WHERE id = $2::uuid AND totp_secret = $3",
        ),
        SealedColumn::TotpPending => (
            "SELECT id::text AS row_key, totp_pending AS sealed FROM users \
             WHERE totp_pending IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid) \
             ORDER BY id LIMIT $2",
            "UPDATE users SET totp_pending = $1 WHERE id = $2::uuid AND totp_pending = $3",
        ),
        SealedColumn::AuditCheckpointSeal => (
            "SELECT seq::text AS row_key, seal AS sealed FROM audit_checkpoints \
             WHERE $1::text IS NULL OR seq > $1::bigint ORDER BY seq LIMIT $2",
            "UPDATE audit_checkpoints SET seal = $1 WHERE seq = $2::bigint AND seal = $3",
        ),
        SealedColumn::ResumeText => (
            "SELECT id::text AS row_key, text_sealed AS sealed FROM resumes \
             WHERE text_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid) \
             ORDER BY id LIMIT $2",
            "UPDATE resumes SET text_sealed = $1 WHERE id = $2::uuid AND text_sealed = $3",
        ),
        SealedColumn::HhAccessToken => (
            "SELECT user_id::text AS row_key, access_sealed AS sealed FROM hh_connections \
             WHERE $1::uuid IS NULL OR user_id > $1::uuid ORDER BY user_id LIMIT $2",
            "UPDATE hh_connections SET access_sealed = $1 \
             WHERE user_id = $2::uuid AND access_sealed = $3",
        ),
        SealedColumn::HhRefreshToken => (
            "SELECT user_id::text AS row_key, refresh_sealed AS sealed FROM hh_connections \
             WHERE $1::uuid IS NULL OR user_id > $1::uuid ORDER BY user_id LIMIT $2",
            "UPDATE hh_connections SET refresh_sealed = $1 \
             WHERE user_id = $2::uuid AND refresh_sealed = $3",
        ),
        SealedColumn::ApplicationDocuments => (
            "SELECT id AS row_key, content_sealed AS sealed FROM application_documents \
             WHERE content_sealed IS NOT NULL AND ($1::text IS NULL OR id > $1) \
             ORDER BY id LIMIT $2",
            "UPDATE application_documents SET content_sealed = $1 \
             WHERE id = $2 AND content_sealed = $3",
        ),
        SealedColumn::ApplicationNote => (
            "SELECT note_id AS row_key, detail_sealed AS sealed FROM application_events \
             WHERE detail_sealed IS NOT NULL AND ($1::text IS NULL OR note_id > $1) \
             ORDER BY note_id LIMIT $2",
            "UPDATE application_events SET detail_sealed = $1 \
             WHERE note_id = $2 AND detail_sealed = $3",
        ),
    }
}

/// (read page, seal) statements for the columns that may still hold plain text; the page
/// reads `row_key` and the plain columns.
fn plain_statements(column: SealedColumn) -> Option<(&'static str, &'static str)> {
    match column {
        SealedColumn::ApplicationDocuments => Some((
            "SELECT id AS row_key, cover_letter, cv_summary, \
             interview_questions::text AS interview_questions FROM application_documents \
             WHERE content_sealed IS NULL AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2",
            "UPDATE application_documents SET content_sealed = $1, cover_letter = '', \
             cv_summary = '', interview_questions = '[]'::jsonb \
             WHERE id = $2 AND content_sealed IS NULL",
        )),
        SealedColumn::ApplicationNote => Some((
            "SELECT note_id AS row_key, detail FROM application_events \
             WHERE note_id IS NOT NULL AND detail_sealed IS NULL AND detail IS NOT NULL \
             AND ($1::text IS NULL OR note_id > $1) ORDER BY note_id LIMIT $2",
            "UPDATE application_events SET detail_sealed = $1, detail = NULL \
             WHERE note_id = $2 AND detail_sealed IS NULL",
        )),
        _ => None,
    }
}

type Update<'a> =
    sqlx::query::Query<'a, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>;

/// Runs `statement` once per item, bound by `bind`, in one transaction (one disk flush for a
/// page); returns how many rows changed.
async fn update_each<'a, T: Sync>(
    pool: &sqlx::PgPool,
    statement: &'static str,
    items: &'a [T],
    bind: impl Fn(Update<'a>, &'a T) -> Update<'a> + Send,
) -> StoreResult<u64> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let mut changed = 0;
    for item in items {
        changed += bind(sqlx::query(statement), item)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    tx.commit().await.map_err(db_error)?;
    Ok(changed)
}

#[async_trait]
impl SealedValues for PostgresStore {
    async fn sealed_values(
        &self,
        column: SealedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SealedValue>> {
        sqlx::query(statements(column).0)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| {
                Ok(SealedValue {
                    row: row.try_get("row_key").map_err(db_error)?,
                    sealed: row.try_get("sealed").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn replace_sealed_batch(
        &self,
        column: SealedColumn,
        swaps: &[SealedSwap],
    ) -> StoreResult<u64> {
        update_each(&self.pool, statements(column).1, swaps, |query, swap| {
            query
                .bind(swap.new.as_bytes())
                .bind(&swap.row)
                .bind(&swap.old)
        })
        .await
    }

    async fn plain_values(
        &self,
        column: SealedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PlainValue>> {
        let Some((read, _)) = plain_statements(column) else {
            return Ok(Vec::new());
        };
        sqlx::query(read)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| PlainValue::from_columns(column, |name| row.try_get(name).map_err(db_error)))
            .collect()
    }

    async fn seal_plain_batch(
        &self,
        column: SealedColumn,
        seals: &[(String, domain::Sealed)],
    ) -> StoreResult<u64> {
        let Some((_, seal)) = plain_statements(column) else {
            return Ok(0);
        };
        update_each(&self.pool, seal, seals, |query, (row, value)| {
            query.bind(value.as_bytes()).bind(row)
        })
        .await
    }
}
