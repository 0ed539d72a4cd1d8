//! Skill extraction, the job search index, matching and the estimates built on them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod index;
pub mod money;
pub mod skills;
