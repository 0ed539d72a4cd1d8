//! The mailer against a real SMTP server on 127.0.0.1 (test-support's sink): real TCP, real
//! lettre. One test binary, so the suite links once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod refusals;
mod sending;
mod settings;
mod support;
