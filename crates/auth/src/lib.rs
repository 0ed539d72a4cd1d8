//! jobpilot credentials: password hashing and policy, access and refresh tokens.

mod api_keys;
mod common;
mod keyring;
pub mod oidc;
mod password;
mod tokens;
mod totp;

pub use api_keys::{NewApiKey, looks_like_api_key, new_api_key, parse_api_key, secret_matches};
pub use common::is_common_password;
pub use keyring::{KeyRing, Place, SealError};
pub use password::{HashError, PasswordHasher, Verification};
pub use tokens::{Claims, TokenError, TokenIssuer, new_refresh_token, refresh_token_hash};
pub use totp::{
    DIGITS as TOTP_DIGITS, backup_code_hash, base32, code_at, new_backup_codes, new_totp_secret,
    otpauth_uri, percent_encode, qr_png, qr_svg, step_at, verify_totp,
};
