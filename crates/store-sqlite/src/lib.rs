//! jobpilot's store on SQLite: the embedded default.
//!
//! One file under the data directory, in WAL mode with `synchronous=FULL` (the queue and the
//! account tables must survive a power cut), foreign keys on and a busy timeout so writers queue
//! instead of failing.

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
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};
use store::{
    ApiKeyColumns, Backend, PoolStats, Readiness, Store, StoreError, StoreResult, UserColumns,
    sql::{db_error, is_unique_violation, known_migrations, pool_stats},
};
use uuid::Uuid;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to open a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    pub url: String,
    /// Create the file when it is missing. Off unless the operator asked for it (`?mode=rwc`) or
    /// this is the first run on the default path, so a typo in a path never starts an empty
    /// database silently.
    pub create_if_missing: bool,
    pub pool_size: u32,
    /// A process that loads many rows at once (`jobpilot jobs import`): each connection keeps
    /// a [`BULK_CACHE_KIB`] page cache and checkpoints the log every [`BULK_CHECKPOINT_PAGES`]
    /// pages, then cuts the log file back to [`BULK_LOG_KEPT_BYTES`]. Durability is unchanged:
    /// every commit is still synced.
    pub bulk: bool,
}

/// Page cache of a bulk-loading connection, in KiB (SQLite's default is 2 MiB).
pub const BULK_CACHE_KIB: u32 = 64 * 1024;
/// Log pages between automatic checkpoints on a bulk-loading connection (default 1,000): about
/// 400 MB of log with 4 KiB pages. A checkpoint writes each page once however many commits
/// changed it, and postings land all over the lookup indexes, so every transaction dirties
/// pages there that the next ones dirty again: at 1,000 postings per transaction, a
/// 1,000,000-posting import wrote 23.3 GB with 10,000 pages between checkpoints and 19.8 GB
/// with 250,000 (see bench/README.md).
pub const BULK_CHECKPOINT_PAGES: u32 = 100_000;
/// What a bulk-loading connection leaves of the log file after a checkpoint, in bytes, so the
/// disk gets the space back while other connections keep the database open.
pub const BULK_LOG_KEPT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(settings: &SqliteSettings) -> StoreResult<Self> {
        let mut options = SqliteConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if settings.bulk {
            // Bulk loads insert in the random order of the lookup indexes: with SQLite's default
            // 2 MiB page cache and a checkpoint every 4 MB of log, each transaction read their
            // pages back and the log rewrote them again and again.
            options = options
                .pragma("cache_size", format!("-{BULK_CACHE_KIB}"))
                .pragma("wal_autocheckpoint", BULK_CHECKPOINT_PAGES.to_string())
                .pragma("journal_size_limit", BULK_LOG_KEPT_BYTES.to_string());
        }
        if settings.create_if_missing {
            options = options.create_if_missing(true);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection to a file in this process has no server to lose: sqlx's ping before
            // each lend would only be one more round trip to the connection's thread.
            .test_before_acquire(false)
            // Tasks enqueued on any connection wake this process's workers when they commit.
            .after_connect(|conn, _| Box::pin(tasks::install_sqlite_wake_hooks(conn)))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self { pool })
    }

    /// The pool, for crates (such as the task queue) that keep their own tables in this database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, role, created_at, updated_at, \
                            failed_logins, locked_until, disabled_at, totp_enabled_at";
const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip";

/// Ids are kept as hyphenated text, so the database stays readable with the sqlite3 shell.
fn text_id(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn parse_id(column: &str, text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    user_from_prefixed_row(row, "")
}

/// A user from columns named `<prefix><column>` (joined queries alias them, e.g. `u_email`).
fn user_from_prefixed_row(row: &SqliteRow, prefix: &str) -> StoreResult<User> {
    let column = |name: &str| format!("{prefix}{name}");
    let id: String = row.try_get(column("id").as_str()).map_err(db_error)?;
    UserColumns {
        id: parse_id("users.id", &id)?,
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
        failed_logins: row
            .try_get(column("failed_logins").as_str())
            .map_err(db_error)?,
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

fn session_from_row(row: &SqliteRow) -> StoreResult<Session> {
    let id: String = row.try_get("id").map_err(db_error)?;
    let user_id: String = row.try_get("user_id").map_err(db_error)?;
    Ok(Session {
        id: SessionId::from_uuid(parse_id("sessions.id", &id)?),
        user_id: UserId::from_uuid(parse_id("sessions.user_id", &user_id)?),
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

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    let id: String = row.try_get("id").map_err(db_error)?;
    let user_id: String = row.try_get("user_id").map_err(db_error)?;
    ApiKeyColumns {
        id: parse_id("api_keys.id", &id)?,
        user_id: parse_id("api_keys.user_id", &user_id)?,
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

impl SqliteStore {
    async fn insert_user(
        executor: impl sqlx::SqliteExecutor<'_>,
        new: NewUser,
    ) -> StoreResult<User> {
        let now = Utc::now();
        let id = UserId::new();
        let result = sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(text_id(id.as_uuid()))
        .bind(new.email.as_str())
        .bind(new.password_hash.as_deref())
        .bind(new.role.as_str())
        .bind(now)
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
        executor: impl sqlx::SqliteExecutor<'_>,
        user_id: UserId,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        linked_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO user_identities (issuer, subject, user_id, email, linked_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(text_id(user_id.as_uuid()))
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
        executor: impl sqlx::SqliteExecutor<'_>,
        id: UserId,
    ) -> StoreResult<Option<User>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ?"
        )))
        .bind(text_id(id.as_uuid()))
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> StoreResult<()> {
        store::sql::migrate(&MIGRATOR, &self.pool).await?;
        // Entries written before the audit chain existed join it now.
        store::AuditStore::seal_unchained_audit(self).await?;
        Ok(())
    }

    async fn readiness(&self) -> StoreResult<Readiness> {
        let has_table: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let applied: Vec<i64> = if has_table == 0 {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?
        };
        Ok(Readiness::compare(known_migrations(&MIGRATOR), &applied))
    }

    fn pool_stats(&self) -> PoolStats {
        pool_stats(&self.pool)
    }

    async fn close(&self) {
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
            "SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower(?)"
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
        // UUIDv7 text sorts by creation time.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?"
        )))
        .bind(after.map(|id| text_id(id.as_uuid())).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        sqlx::query("UPDATE users SET role = ?, updated_at = ? WHERE id = ?")
            .bind(role.as_str())
            .bind(Utc::now())
            .bind(text_id(id.as_uuid()))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        self.user_by_id(id).await
    }

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let sql = if disabled {
            "UPDATE users SET disabled_at = coalesce(disabled_at, ?), updated_at = ? WHERE id = ?"
        } else {
            "UPDATE users SET disabled_at = NULL, locked_until = NULL, failed_logins = 0, \
             updated_at = ?2 WHERE id = ?3 AND ?1 IS NOT NULL"
        };
        sqlx::query(sql)
            .bind(now)
            .bind(now)
            .bind(text_id(id.as_uuid()))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        self.user_by_id(id).await
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(Utc::now())
            .bind(text_id(id.as_uuid()))
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
               failed_logins = CASE WHEN failed_logins + 1 >= ?1 THEN 0 ELSE failed_logins + 1 END, \
               locked_until = CASE WHEN failed_logins + 1 >= ?1 THEN ?2 ELSE locked_until END \
             WHERE id = ?3 RETURNING CASE WHEN failed_logins = 0 THEN locked_until END",
        )
        .bind(i64::from(policy.max_failures))
        .bind(until)
        .bind(text_id(id.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(locked.flatten())
    }

    async fn record_login_success(&self, id: UserId) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL \
             WHERE id = ? AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
        )
        .bind(text_id(id.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        let now = Utc::now();
        let session = Session {
            id: SessionId::new(),
            user_id: new.user_id,
            created_at: now,
            last_used_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            user_agent: new.user_agent,
            ip: new.ip,
        };
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(text_id(session.id.as_uuid()))
        .bind(text_id(session.user_id.as_uuid()))
        .bind(now)
        .bind(now)
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&new.refresh_token_hash[..])
        .bind(text_id(session.id.as_uuid()))
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
        // The first statement writes, so the transaction holds SQLite's write lock from the
        // start and cannot fail to upgrade later.
        let spent: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING session_id",
        )
        .bind(now)
        .bind(&token_hash[..])
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(session_id) = spent else {
            let replayed: Option<String> = sqlx::query_scalar(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = ? AND used_at IS NOT NULL",
            )
            .bind(&token_hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(session_id) = replayed else {
                return Ok(RefreshOutcome::Invalid);
            };
            let user_id: Option<String> = sqlx::query_scalar(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? \
                 RETURNING user_id",
            )
            .bind(now)
            .bind(&session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return match user_id {
                Some(user_id) => Ok(RefreshOutcome::Reused {
                    session_id: SessionId::from_uuid(parse_id("sessions.id", &session_id)?),
                    user_id: UserId::from_uuid(parse_id("sessions.user_id", &user_id)?),
                }),
                None => Ok(RefreshOutcome::Invalid),
            };
        };
        let session = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET last_used_at = ?, expires_at = ? \
             WHERE id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING {SESSION_COLUMNS}"
        )))
        .bind(now)
        .bind(expires_at)
        .bind(&session_id)
        .bind(now)
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
             VALUES (?, ?, ?, ?)",
        )
        .bind(&successor_hash[..])
        .bind(&session_id)
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
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        )))
        .bind(text_id(id.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn user_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at DESC"
        )))
        .bind(text_id(user_id.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(session_from_row)
        .collect()
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(text_id(id.as_uuid()))
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
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(text_id(id.as_uuid()))
        .bind(text_id(user_id.as_uuid()))
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
            "UPDATE sessions SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
        )
        .bind(now)
        .bind(text_id(user_id.as_uuid()))
        .bind(except.map(|id| text_id(id.as_uuid())).unwrap_or_default())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(text_id(key.id.as_uuid()))
        .bind(text_id(key.user_id.as_uuid()))
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
             JOIN users u ON u.id = k.user_id WHERE k.prefix = ?"
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
            "SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ? ORDER BY k.id DESC"
        )))
        .bind(text_id(user_id.as_uuid()))
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
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(text_id(id.as_uuid()))
        .bind(text_id(user_id.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn touch_api_key(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(text_id(id.as_uuid()))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn totp(&self, user_id: UserId) -> StoreResult<TotpRecord> {
        let row =
            sqlx::query("SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE id = ?")
                .bind(text_id(user_id.as_uuid()))
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
        sqlx::query("UPDATE users SET totp_pending = ? WHERE id = ?")
            .bind(sealed.map(domain::Sealed::as_bytes))
            .bind(text_id(user_id.as_uuid()))
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
        let id = text_id(user_id.as_uuid());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let enabled = sqlx::query(
            "UPDATE users SET totp_secret = ?, totp_pending = NULL, totp_enabled_at = ?, \
             totp_last_step = ? WHERE id = ? AND totp_pending IS NOT NULL",
        )
        .bind(sealed_secret.as_bytes())
        .bind(now)
        .bind(step)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected()
            == 1;
        if !enabled {
            return Ok(false);
        }
        sqlx::query("DELETE FROM backup_codes WHERE user_id = ?")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for hash in backup_code_hashes {
            sqlx::query("INSERT INTO backup_codes (user_id, code_hash) VALUES (?, ?)")
                .bind(&id)
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn disable_totp(&self, user_id: UserId) -> StoreResult<()> {
        let id = text_id(user_id.as_uuid());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL, \
             totp_last_step = NULL WHERE id = ?",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = ?")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn accept_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE users SET totp_last_step = ?1 \
             WHERE id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
        )
        .bind(step)
        .bind(text_id(user_id.as_uuid()))
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
            "UPDATE backup_codes SET used_at = ? \
             WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(text_id(user_id.as_uuid()))
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
             WHERE i.issuer = ? AND i.subject = ?",
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
             WHERE user_id = ? ORDER BY linked_at, issuer, subject",
        )
        .bind(text_id(user_id.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| {
            Ok(ExternalIdentity {
                user_id: UserId::from_uuid(parse_id(
                    "user_identities.user_id",
                    &row.try_get::<String, _>("user_id").map_err(db_error)?,
                )?),
                issuer: row.try_get("issuer").map_err(db_error)?,
                subject: row.try_get("subject").map_err(db_error)?,
                email: row.try_get("email").map_err(db_error)?,
                linked_at: row.try_get("linked_at").map_err(db_error)?,
            })
        })
        .collect()
    }
}

/// A store on a new scratch database (dropped with the first value), for unit tests.
#[cfg(test)]
pub(crate) async fn scratch_store(
    name: &str,
    bulk: bool,
) -> (test_support::ScratchDatabase, SqliteStore) {
    let scratch = test_support::ScratchDatabase::create(test_support::Db::Sqlite, name)
        .await
        .unwrap();
    let store = SqliteStore::connect(&SqliteSettings {
        url: scratch.url.clone(),
        create_if_missing: true,
        pool_size: 2,
        bulk,
    })
    .await
    .unwrap();
    (scratch, store)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page cache, pages between checkpoints and log size limit of a new connection.
    async fn pragmas(bulk: bool) -> [i64; 3] {
        let (_scratch, store) = scratch_store("jobpilot_bulk", bulk).await;
        let mut conn = store.pool().acquire().await.unwrap();
        let mut values = [0; 3];
        for (value, pragma) in
            values
                .iter_mut()
                .zip(["cache_size", "wal_autocheckpoint", "journal_size_limit"])
        {
            *value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {pragma}")))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        }
        values
    }

    #[tokio::test]
    async fn bulk_connections_keep_a_larger_cache_and_checkpoint_less_often() {
        assert_eq!(pragmas(false).await, [-2000, 1000, -1], "SQLite's defaults");
        assert_eq!(
            pragmas(true).await,
            [
                -i64::from(BULK_CACHE_KIB),
                i64::from(BULK_CHECKPOINT_PAGES),
                i64::try_from(BULK_LOG_KEPT_BYTES).unwrap()
            ]
        );
    }
}
