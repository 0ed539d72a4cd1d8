//! Cross-cutting request handling: ids, headers, metrics.

pub mod http_metrics;
pub mod request_id;
pub mod security_headers;
