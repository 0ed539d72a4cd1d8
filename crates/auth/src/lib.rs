//! jobpilot credentials: password hashing and policy, access and refresh tokens.

mod common;
mod password;
mod tokens;

pub use common::is_common_password;
pub use password::{HashError, PasswordHasher, Verification};
pub use tokens::{Claims, TokenError, TokenIssuer, new_refresh_token, refresh_token_hash};
