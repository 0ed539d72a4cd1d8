//! One module per job board. Each maps only what its board states; anything else stays `None`.

pub mod adzuna;
pub mod arbeitnow;
mod common;
pub mod greenhouse;
pub mod hh;
pub mod lever;
pub mod remoteok;
