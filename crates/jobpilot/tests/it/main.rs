//! jobpilot's integration tests: the real server on a free port, over HTTP, against a fresh
//! database per test (SQLite always; PostgreSQL when JOBPILOT_TEST_POSTGRES_URL is set).
//! One test binary, so the suite links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod applications;
mod audit;
mod cli;
mod dashboard;
mod events_socket;
mod harness;
mod hh_apply;
mod http_errors;
mod http_features;
mod identity;
mod jobs;
mod keys;
#[cfg(feature = "local-embeddings")]
mod local_embeddings;
mod object_storage;
mod oidc;
mod openapi;
mod pdf_sandbox;
mod postings;
mod privacy;
mod recruiting;
mod register;
mod replicas;
mod resume_store;
mod resumes;
mod search;
mod store_suite;
mod tasks_api;
