//! Connectors against a local server replaying recorded board responses, and the shared HTTP
//! client against a misbehaving one. One test binary, so the suite links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adzuna;
mod arbeitnow;
mod fingerprint;
mod greenhouse;
mod hh;
mod hh_apply;
mod http_client;
mod lever;
mod remoteok;
mod support;
