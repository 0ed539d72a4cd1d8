//! Key rotation benchmark: re-sealing N stored TOTP secrets (default 100,000) with a new key on
//! SQLite, as `jobpilot keys rotate` does it.
//!
//! Run through `bench/keys/run` (see bench/README.md). Each run makes a fresh database in a
//! temporary directory, opened as the server opens it (WAL, `synchronous=FULL`, pool of 8) and
//! migrated; inserts N users, each with a TOTP secret sealed with key "old" for its own row
//! (batched inserts, untimed); then times `web::keys::rotate` with the ring `new, old`, and checks
//! with `web::keys::status` that every value is now sealed with "new" (exit 1 otherwise).
//! Prints one JSON line: `values`, `seconds`, `values_per_s` (and the untimed setup).
//!
//!   rotation_bench [--values 100000] [--dir PARENT]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, time::Instant};

use auth::{KeyRing, Place};
use chrono::Utc;
use domain::UserId;
use serde_json::json;
use store::Store as _;
use store_sqlite::{SqliteSettings, SqliteStore};

/// Users per insert statement (7 bound values each, well under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 1_000;
/// Insert statements per transaction.
const INSERTS_PER_TRANSACTION: usize = 10;

struct Options {
    values: usize,
    dir: Option<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        values: 100_000,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match arg.as_str() {
            "--values" => options.values = value().parse().expect("a number"),
            "--dir" => options.dir = Some(value().into()),
            other => panic!("unknown option {other} (expected --values N, --dir PARENT)"),
        }
    }
    options
}

fn key(id: &str, byte: u8) -> (String, Vec<u8>) {
    (id.to_owned(), vec![byte; 32])
}

#[tokio::main]
async fn main() {
    let options = options();
    let tmp = match &options.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    let store = SqliteStore::connect(&SqliteSettings {
        url: format!("sqlite://{}", tmp.path().join("jobpilot.db").display()),
        create_if_missing: true,
        pool_size: 8,
        bulk: false,
    })
    .await
    .expect("the database opens");
    store.migrate().await.expect("migrations run");

    let setup = Instant::now();
    let old = KeyRing::new(vec![key("old", 1)]).expect("a ring");
    insert_users(&store, &old, options.values).await;
    let setup_seconds = setup.elapsed().as_secs_f64();

    let ring = KeyRing::new(vec![key("new", 2), key("old", 1)]).expect("a ring");
    let files = web::files::Files::local(tmp.path().join("files"));
    let sealed = web::keys::Sealed {
        store: &store,
        files: &files,
    };
    let started = Instant::now();
    let rotated = web::keys::rotate(sealed, &ring, &|_| {})
        .await
        .expect("rotation succeeds");
    let seconds = started.elapsed().as_secs_f64();

    let counts = web::keys::status(sealed).await.expect("status reads");
    println!(
        "{}",
        json!({
            "values": options.values,
            "rotated": rotated,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "values_per_s": (options.values as f64 / seconds).round(),
            "setup_seconds": (setup_seconds * 100.0).round() / 100.0,
            "status_after": counts,
        })
    );
    store.close().await;
    let expected = u64::try_from(options.values).expect("fits");
    let all_new = counts.len() == 1 && counts.get("new") == Some(&expected);
    if rotated != expected || !all_new {
        eprintln!("rotation incomplete: {rotated} re-sealed, status {counts:?}");
        std::process::exit(1);
    }
}

/// Inserts `count` users with enabled TOTP, each secret sealed with `ring` for its own row.
async fn insert_users(store: &SqliteStore, ring: &KeyRing, count: usize) {
    let now = Utc::now();
    let mut inserted = 0;
    while inserted < count {
        let mut tx = store.pool().begin().await.expect("a transaction");
        for _ in 0..INSERTS_PER_TRANSACTION {
            let rows = ROWS_PER_INSERT.min(count - inserted);
            if rows == 0 {
                break;
            }
            let users: Vec<(String, Vec<u8>)> = (0..rows)
                .map(|_| {
                    let row = UserId::new().to_string();
                    let place = Place {
                        table: "users",
                        column: "totp_secret",
                        row: &row,
                    };
                    let secret = ring.seal(&auth::new_totp_secret(), place).into_bytes();
                    (row, secret)
                })
                .collect();
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO users (id, email, role, created_at, updated_at, totp_secret, \
                 totp_enabled_at) ",
            );
            insert.push_values(users, |mut values, (id, secret)| {
                let email = format!("{id}@bench.example.org");
                values
                    .push_bind(id)
                    .push_bind(email)
                    .push_bind("seeker")
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(secret)
                    .push_bind(now);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .expect("users insert");
            inserted += rows;
        }
        tx.commit().await.expect("commit");
    }
}
