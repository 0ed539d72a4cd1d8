//! jobpilot credentials.

mod password;

pub use password::{HashError, PasswordHasher, Verification};
