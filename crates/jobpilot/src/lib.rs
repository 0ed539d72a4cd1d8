//! The jobpilot server as a library: configuration, start-up and the server itself. `main.rs`
//! puts a command line in front of it; tests start it in-process.

pub mod app;
pub mod config;
pub mod secrets;
pub mod telemetry;
pub mod workers;
