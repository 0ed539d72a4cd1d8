pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod health;
pub mod me;
pub mod metrics;
pub mod tasks;
pub mod two_factor;
