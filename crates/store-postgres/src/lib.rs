//! jobpilot's store on PostgreSQL: the scale-out choice, shared by any number of stateless
//! replicas.

mod alerts;
mod applications;
mod audit;
mod events;
mod hh;
mod jobs;
mod resumes;
mod sealed;

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ApiKey, ApiKeyId, Email, ExternalIdentity, LockoutPolicy, NewSession, NewUser, RefreshOutcome,
    Role, Session, SessionId, TotpRecord, User, UserId,
};
use sqlx::{
    Row,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow},
};
use store::{
    ApiKeyColumns, Backend, PoolStats, Readiness, Store, StoreError, StoreResult, UserColumns,
    sql::{db_error, is_unique_violation, known_migrations, pool_stats},
};
use uuid::Uuid;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds every statement so a stuck query cannot hold a connection for ever.
const STATEMENT_TIMEOUT: &str = "30s";

/// How to reach a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Other replicas' user-event announcements.
    user_events: std::sync::Arc<events::Listener>,
}

impl PostgresStore {
    pub async fn connect(settings: &PostgresSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            .application_name("jobpilot")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = tasks::ping_when_idle(
            PgPoolOptions::new()
                .max_connections(settings.pool_size.max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT),
        )
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self {
            pool,
            user_events: std::sync::Arc::default(),
        })
    }

    /// The pool, for crates (such as the task queue) that keep their own tables in this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, role, created_at, updated_at, \
                            failed_logins, locked_until, disabled_at, totp_enabled_at";
const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip";

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    user_from_prefixed_row(row, "")
}

/// A user from columns named `<prefix><column>` (joined queries alias them, e.g. `u_email`).
fn user_from_prefixed_row(row: &PgRow, prefix: &str) -> StoreResult<User> {
    let column = |name: &str| format!("{prefix}{name}");
    UserColumns {
        id: row.try_get(column("id").as_str()).map_err(db_error)?,
        email: row.try_get(column("email").as_str()).map_err(db_error)?,
        password_hash: row
            .try_get(column("password_hash").as_str())
            .map_err(db_error)?,
        role: row.try_get(column("role").as_str()).map_err(db_error)?,
        created_at: row
            .try_get(column("created_at").as_str())
            .map_err(db_error)?,
        updated_at: row
            .try_get(column("updated_at").as_str())
            .map_err(db_error)?,
        failed_logins: i64::from(
            row.try_get::<i32, _>(column("failed_logins").as_str())
                .map_err(db_error)?,
        ),
        locked_until: row
            .try_get(column("locked_until").as_str())
            .map_err(db_error)?,
        disabled_at: row
            .try_get(column("disabled_at").as_str())
            .map_err(db_error)?,
        totp_enabled_at: row
            .try_get(column("totp_enabled_at").as_str())
            .map_err(db_error)?,
    }
    .into_user()
}

fn session_from_row(row: &PgRow) -> StoreResult<Session> {
    Ok(Session {
        id: SessionId::from_uuid(row.try_get("id").map_err(db_error)?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
        created_at: row.try_get("created_at").map_err(db_error)?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
        user_agent: row.try_get("user_agent").map_err(db_error)?,
        ip: row.try_get("ip").map_err(db_error)?,
    })
}

/// The owner's columns in a join with api_keys, prefixed so they do not clash with the key's.
const OWNER_COLUMNS: &str = "u.id AS u_id, u.email AS u_email, u.password_hash AS u_password_hash, \
     u.role AS u_role, u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
     u.failed_logins AS u_failed_logins, u.locked_until AS u_locked_until, \
     u.disabled_at AS u_disabled_at, u.totp_enabled_at AS u_totp_enabled_at";
const API_KEY_COLUMNS: &str = "k.id, k.user_id, k.name, k.prefix, k.secret_hash, k.scopes, \
     k.created_at, k.expires_at, k.last_used_at, k.revoked_at";

fn api_key_from_row(row: &PgRow) -> StoreResult<ApiKey> {
    ApiKeyColumns {
        id: row.try_get("id").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        prefix: row.try_get("prefix").map_err(db_error)?,
        secret_hash: row.try_get("secret_hash").map_err(db_error)?,
        scopes: row.try_get("scopes").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
    }
    .into_api_key()
}

impl PostgresStore {
    async fn insert_user(executor: impl sqlx::PgExecutor<'_>, new: NewUser) -> StoreResult<User> {
        let now = truncate_to_micros(Utc::now());
        let id = UserId::new();
        let result = sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.as_uuid())
        .bind(new.email.as_str())
        .bind(new.password_hash.as_deref())
        .bind(new.role.as_str())
        .bind(now)
        .execute(executor)
        .await;
        match result {
            Ok(_) => Ok(User {
                id,
                email: new.email,
                password_hash: new.password_hash,
                role: new.role,
                created_at: now,
                updated_at: now,
                failed_logins: 0,
                locked_until: None,
                disabled_at: None,
                totp_enabled_at: None,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("users.email")),
            Err(e) => Err(db_error(e)),
        }
    }

    async fn insert_identity(
        executor: impl sqlx::PgExecutor<'_>,
        user_id: UserId,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        linked_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO user_identities (issuer, subject, user_id, email, linked_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id.as_uuid())
        .bind(email)
        .bind(linked_at)
        .execute(executor)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("user_identities")),
            Err(e) => Err(db_error(e)),
        }
    }

    async fn fetch_user(
        &self,
        executor: impl sqlx::PgExecutor<'_>,
        id: UserId,
    ) -> StoreResult<Option<User>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id.as_uuid())
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock, so replicas starting together migrate once.
        store::sql::migrate(&MIGRATOR, &self.pool).await?;
        // Entries written before the audit chain existed join it now.
        store::AuditStore::seal_unchained_audit(self).await?;
        Ok(())
    }

    async fn readiness(&self) -> StoreResult<Readiness> {
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?
        } else {
            Vec::new()
        };
        Ok(Readiness::compare(known_migrations(&MIGRATOR), &applied))
    }

    fn pool_stats(&self) -> PoolStats {
        pool_stats(&self.pool)
    }

    async fn close(&self) {
        // The listener holds a pooled connection: closing would wait for it for ever.
        self.user_events.stop().await;
        self.pool.close().await;
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        Self::insert_user(&self.pool, new).await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.fetch_user(&self.pool, id).await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after.map(|id| id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET role = $1, updated_at = now() WHERE id = $2 RETURNING {USER_COLUMNS}"
        )))
        .bind(role.as_str())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let sql = if disabled {
            format!(
                "UPDATE users SET disabled_at = coalesce(disabled_at, $1), updated_at = $1 \
                 WHERE id = $2 RETURNING {USER_COLUMNS}"
            )
        } else {
            format!(
                "UPDATE users SET disabled_at = NULL, locked_until = NULL, failed_logins = 0, \
                 updated_at = $1 WHERE id = $2 RETURNING {USER_COLUMNS}"
            )
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = now() WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn record_login_failure(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let until = now + policy.lock_for;
        // One statement, so concurrent failures cannot lose a count.
        let locked: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "UPDATE users SET \
               failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END, \
               locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE id = $3 RETURNING CASE WHEN failed_logins = 0 THEN locked_until END",
        )
        .bind(i32::try_from(policy.max_failures).unwrap_or(i32::MAX))
        .bind(until)
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(locked.flatten())
    }

    async fn record_login_success(&self, id: UserId) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL \
             WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
        )
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        let now = truncate_to_micros(Utc::now());
        let session = Session {
            id: SessionId::new(),
            user_id: new.user_id,
            created_at: now,
            last_used_at: now,
            expires_at: truncate_to_micros(new.expires_at),
            revoked_at: None,
            user_agent: new.user_agent,
            ip: new.ip,
        };
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(session.id.as_uuid())
        .bind(session.user_id.as_uuid())
        .bind(now)
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&new.refresh_token_hash[..])
        .bind(session.id.as_uuid())
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(session)
    }

    async fn refresh_session(
        &self,
        token_hash: &[u8; 32],
        successor_hash: &[u8; 32],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshOutcome> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The row lock this UPDATE takes makes concurrent uses of one token queue up: exactly
        // one spends it, the others see it spent.
        let spent: Option<Uuid> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING session_id",
        )
        .bind(now)
        .bind(&token_hash[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(session_id) = spent else {
            let replayed: Option<Uuid> = sqlx::query_scalar(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
            )
            .bind(&token_hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(session_id) = replayed else {
                return Ok(RefreshOutcome::Invalid);
            };
            let user_id: Option<Uuid> = sqlx::query_scalar(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 \
                 RETURNING user_id",
            )
            .bind(now)
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return Ok(match user_id {
                Some(user_id) => RefreshOutcome::Reused {
                    session_id: SessionId::from_uuid(session_id),
                    user_id: UserId::from_uuid(user_id),
                },
                None => RefreshOutcome::Invalid,
            });
        };
        let session = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET last_used_at = $1, expires_at = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1 RETURNING {SESSION_COLUMNS}"
        )))
        .bind(now)
        .bind(expires_at)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_from_row)
        .transpose()?;
        let Some(session) = session else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(user) = self.fetch_user(&mut *tx, session.user_id).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        if user.disabled_at.is_some() {
            return Ok(RefreshOutcome::Invalid);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&successor_hash[..])
        .bind(session_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(RefreshOutcome::Rotated {
            session,
            user: Box::new(user),
        })
    }

    async fn session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        )))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn user_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC"
        )))
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(session_from_row)
        .collect()
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn revoke_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .bind(user_id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn revoke_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
        )
        .bind(now)
        .bind(user_id.as_uuid())
        .bind(except.map(|id| id.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.id.as_uuid())
        .bind(key.user_id.as_uuid())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash[..])
        .bind(domain::scopes_to_text(&key.scopes))
        .bind(key.created_at)
        .bind(key.expires_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("api_keys.prefix")),
            Err(e) => Err(db_error(e)),
        }
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> StoreResult<Option<(ApiKey, User)>> {
        // One round trip: this runs on every request authenticated by an API key.
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS}, {OWNER_COLUMNS} FROM api_keys k \
             JOIN users u ON u.id = k.user_id WHERE k.prefix = $1"
        )))
        .bind(prefix)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some((
            api_key_from_row(&row)?,
            user_from_prefixed_row(&row, "u_")?,
        )))
    }

    async fn api_keys(&self, user_id: UserId) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 ORDER BY k.id DESC"
        )))
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .bind(user_id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn touch_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn totp(&self, user_id: UserId) -> StoreResult<TotpRecord> {
        let row = sqlx::query(
            "SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE id = $1",
        )
        .bind(user_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(TotpRecord::default());
        };
        Ok(TotpRecord {
            secret: row.try_get("totp_secret").map_err(db_error)?,
            pending: row.try_get("totp_pending").map_err(db_error)?,
            last_step: row.try_get("totp_last_step").map_err(db_error)?,
        })
    }

    async fn set_totp_pending(
        &self,
        user_id: UserId,
        sealed: Option<&domain::Sealed>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(sealed.map(domain::Sealed::as_bytes))
            .bind(user_id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn enable_totp(
        &self,
        user_id: UserId,
        sealed_secret: &domain::Sealed,
        step: i64,
        backup_code_hashes: &[[u8; 32]],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let id = user_id.as_uuid();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let enabled = sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_enabled_at = $2, \
             totp_last_step = $3 WHERE id = $4 AND totp_pending IS NOT NULL",
        )
        .bind(sealed_secret.as_bytes())
        .bind(now)
        .bind(step)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected()
            == 1;
        if !enabled {
            return Ok(false);
        }
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for hash in backup_code_hashes {
            sqlx::query("INSERT INTO backup_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(id)
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn disable_totp(&self, user_id: UserId) -> StoreResult<()> {
        let id = user_id.as_uuid();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL, \
             totp_last_step = NULL WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn accept_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE users SET totp_last_step = $1 \
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn use_backup_code(
        &self,
        user_id: UserId,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE backup_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id.as_uuid())
        .bind(&code_hash[..])
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn user_by_external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<User>> {
        sqlx::query(
            "SELECT u.id, u.email, u.password_hash, u.role, u.created_at, u.updated_at, u.failed_logins, u.locked_until, u.disabled_at, u.totp_enabled_at \
             FROM user_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.issuer = $1 AND i.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn link_external_identity(&self, identity: &ExternalIdentity) -> StoreResult<()> {
        Self::insert_identity(
            &self.pool,
            identity.user_id,
            &identity.issuer,
            &identity.subject,
            identity.email.as_deref(),
            identity.linked_at,
        )
        .await
    }

    async fn create_user_with_identity(
        &self,
        new: NewUser,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
    ) -> StoreResult<User> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let user = Self::insert_user(&mut *tx, new).await?;
        Self::insert_identity(&mut *tx, user.id, issuer, subject, email, user.created_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(user)
    }

    async fn external_identities(&self, user_id: UserId) -> StoreResult<Vec<ExternalIdentity>> {
        sqlx::query(
            "SELECT user_id, issuer, subject, email, linked_at FROM user_identities \
             WHERE user_id = $1 ORDER BY linked_at, issuer, subject",
        )
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(ExternalIdentity {
                user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
                issuer: row.try_get("issuer").map_err(db_error)?,
                subject: row.try_get("subject").map_err(db_error)?,
                email: row.try_get("email").map_err(db_error)?,
                linked_at: row.try_get("linked_at").map_err(db_error)?,
            })
        })
        .collect()
    }
}

/// What PostgreSQL keeps of a time: microseconds.
fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
