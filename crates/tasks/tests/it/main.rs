//! The task queue's integration tests, against real databases: SQLite always, PostgreSQL when
//! JOBPILOT_TEST_POSTGRES_URL is set (a fresh database per test). One test binary, so the suite
//! links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod enqueue;
mod failures;
mod follow;
mod harness;
mod process;
mod recovery;
mod scheduling;
