use std::time::Duration;

/// Why no text came out of an upload.
///
/// Every message is safe to show to the user who uploaded the file: none quotes the file's
/// content, which may be hostile (a crafted "error" could otherwise smuggle text into logs or
/// pages) or private.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The bytes are none of the formats we read; `detected` names what they look like.
    #[error(
        "unsupported file type ({detected}); upload a PDF, a Word .docx, or a plain-text or Markdown file"
    )]
    UnsupportedType { detected: &'static str },

    #[error("the file is empty")]
    Empty,

    /// A size limit was reached; `what` says which, in words.
    #[error("the file is too large to process: {what}")]
    TooLarge { what: String },

    /// An archive expands far more than a real document does (a "zip bomb").
    #[error("the file is not a plausible document: {what}")]
    Bomb { what: String },

    #[error("the PDF is password-protected; upload a copy without a password")]
    Encrypted,

    /// The file claims a format (by its first bytes) but is not readable as one.
    #[error("the {kind} file is damaged or not valid, so no text could be read from it")]
    Corrupt { kind: &'static str },

    #[error("the PDF has {pages} pages; at most {limit} are accepted")]
    TooManyPages { pages: u64, limit: u32 },

    #[error("reading the PDF took longer than {} seconds and was stopped", .limit.as_secs())]
    Timeout { limit: Duration },

    #[error("reading the PDF needed more memory than allowed and was stopped")]
    OutOfMemory,

    /// The PDF reader failed in a way the protocol does not name; `reason` is for logs only
    /// (an exit status or signal, never stderr text).
    #[error("the PDF reader stopped unexpectedly on this file; it may be damaged")]
    Crashed { reason: String },

    /// The server could not run the extraction (spawning the sandbox, pipes): not the file's fault.
    #[error("text extraction failed on the server")]
    Io(#[from] std::io::Error),
}

impl ExtractError {
    /// A stable machine-readable name for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedType { .. } => "unsupported_type",
            Self::Empty => "empty",
            Self::TooLarge { .. } => "too_large",
            Self::Bomb { .. } => "bomb",
            Self::Encrypted => "encrypted",
            Self::Corrupt { .. } => "corrupt",
            Self::TooManyPages { .. } => "too_many_pages",
            Self::Timeout { .. } => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::Crashed { .. } => "crashed",
            Self::Io(_) => "io",
        }
    }

    /// Whether the upload itself is at fault (a 4xx), as opposed to the server (a 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Io(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let errors = [
            ExtractError::UnsupportedType {
                detected: "PNG image",
            },
            ExtractError::Empty,
            ExtractError::TooLarge { what: "x".into() },
            ExtractError::Bomb { what: "x".into() },
            ExtractError::Encrypted,
            ExtractError::Corrupt { kind: "PDF" },
            ExtractError::TooManyPages { pages: 9, limit: 1 },
            ExtractError::Timeout {
                limit: Duration::from_secs(1),
            },
            ExtractError::OutOfMemory,
            ExtractError::Crashed { reason: "x".into() },
            ExtractError::Io(std::io::Error::other("x")),
        ];
        let mut codes: Vec<_> = errors.iter().map(ExtractError::code).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        );
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn crash_reason_stays_out_of_the_message() {
        let error = ExtractError::Crashed {
            reason: "stderr: secret resume line".into(),
        };
        assert!(!error.to_string().contains("secret"));
    }
}
