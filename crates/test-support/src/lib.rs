//! Scratch databases for tests: a SQLite file in a temporary directory, or a fresh PostgreSQL
//! database created through `JOBPILOT_TEST_POSTGRES_URL` and dropped when the test ends; and
//! [`smtp::SmtpSink`], a small SMTP server for mail tests; and [`browser::Browser`], a headless
//! Chromium for the web UI's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod smtp;

use sqlx::{Connection as _, PgConnection};

pub const POSTGRES_ENV: &str = "JOBPILOT_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database made for one test; PostgreSQL ones are dropped with it.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// `sqlite://…` (the file does not exist yet) or `postgres://…/<fresh database>`.
    pub url: String,
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// `None` (with a note on stderr) when PostgreSQL is asked for but not configured.
    /// `name_prefix` names the PostgreSQL database, e.g. `jobpilot_test`.
    pub async fn create(db: Db, name_prefix: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        match db {
            Db::Sqlite => Some(Self {
                url: format!("sqlite://{}", dir.path().join("test.db").display()),
                dir,
                postgres: None,
            }),
            Db::Postgres => {
                let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
                    note_postgres_skipped();
                    return None;
                };
                let name = format!("{name_prefix}_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&admin_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                Some(Self {
                    url: database_url(&admin_url, &name),
                    dir,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }
}

/// Says once per run, past the test harness's output capture, that the PostgreSQL half of a
/// suite did not run (those tests pass without doing anything).
fn note_postgres_skipped() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: {POSTGRES_ENV} is not set, so the PostgreSQL tests did not run"
        );
    });
}

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..authority_end])
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime's async context: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Runs raw SQL against a test database, as someone with direct access to it could (tests of
/// tamper detection and of what lies on disk).
pub async fn execute_raw(url: &str, statements: &[&str]) {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    } else {
        let mut conn = PgConnection::connect(url).await.unwrap();
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_admin_urls() {
        assert_eq!(
            database_url("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(database_url("postgres://h", "t2"), "postgres://h/t2");
    }
}
