//! HH.ru connections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;
use sqlx::{Row, postgres::PgRow};
use store::{
    StoreResult,
    hh::{HhConnection, HhStore},
    sql::db_error,
};

use crate::PostgresStore;

fn connection_from_row(row: &PgRow) -> StoreResult<HhConnection> {
    Ok(HhConnection {
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        access_sealed: row.try_get("access_sealed").map_err(db_error)?,
        refresh_sealed: row.try_get("refresh_sealed").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

#[async_trait]
impl HhStore for PostgresStore {
    async fn hh_connection(&self, user: UserId) -> StoreResult<Option<HhConnection>> {
        sqlx::query(
            "SELECT user_id, access_sealed, refresh_sealed, expires_at, created_at, updated_at \
             FROM hh_connections WHERE user_id = $1",
        )
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(connection_from_row)
        .transpose()
    }

    async fn save_hh_connection(
        &self,
        user: UserId,
        access: &domain::Sealed,
        refresh: &domain::Sealed,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO hh_connections (user_id, access_sealed, refresh_sealed, expires_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (user_id) DO UPDATE SET access_sealed = excluded.access_sealed, \
             refresh_sealed = excluded.refresh_sealed, expires_at = excluded.expires_at, \
             updated_at = excluded.updated_at",
        )
        .bind(user.as_uuid())
        .bind(access.as_bytes())
        .bind(refresh.as_bytes())
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn replace_hh_tokens(
        &self,
        user: UserId,
        old_refresh: &[u8],
        access: &domain::Sealed,
        refresh: &domain::Sealed,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        sqlx::query(
            "UPDATE hh_connections SET access_sealed = $1, refresh_sealed = $2, \
             expires_at = $3, updated_at = $4 WHERE user_id = $5 AND refresh_sealed = $6",
        )
        .bind(access.as_bytes())
        .bind(refresh.as_bytes())
        .bind(expires_at)
        .bind(now)
        .bind(user.as_uuid())
        .bind(old_refresh)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(db_error)
    }

    async fn delete_hh_connection(&self, user: UserId) -> StoreResult<bool> {
        sqlx::query("DELETE FROM hh_connections WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected() == 1)
            .map_err(db_error)
    }
}
