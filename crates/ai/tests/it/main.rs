//! The client and the documents against local stand-in model servers: real HTTP on
//! 127.0.0.1, scripted answers, every request recorded. One test binary, so the suite links
//! once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat;
mod documents;
mod embeddings;
mod support;
