//! Turning what boards send into clean [`domain::NewJob`] values, and telling jobs apart.

mod content_hash;
mod fingerprint;
mod html;
mod simple_html;

pub use content_hash::content_hash;
pub use fingerprint::{NEAR_DUPLICATE_MAX_DISTANCE, fingerprint, hamming};
pub(crate) use html::sanitized_html_to_text;
pub use html::{html_to_text, sanitize_html, unescape_once};
