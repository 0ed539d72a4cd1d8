//! Text out of uploaded résumés: PDF, Word .docx, plain text and Markdown.
//!
//! Uploads are hostile input. The format is decided from the bytes ([`sniff`]), never from the
//! client's name or Content-Type; archives are read under size, ratio and entry-count limits;
//! PDFs are parsed only in a resource-limited child process ([`PdfSandbox`]); and no error
//! message quotes the file.
//!
//! ```no_run
//! # async fn demo(upload: Vec<u8>) -> Result<(), extract::ExtractError> {
//! use extract::{Limits, PdfSandbox};
//! let exe = std::env::current_exe()?;
//! let sandbox = PdfSandbox::new(exe, vec!["pdf-sandbox".into()], Limits::default());
//! let extracted = extract::extract(upload, Some("cv.pdf"), &sandbox).await?;
//! println!("{:?}: {}", extracted.kind, extracted.text);
//! # Ok(()) }
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod docx;
mod error;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod ocr;
mod pdf;
pub mod sandbox;
mod sniff;
mod text;

use std::time::Duration;

pub use docx::docx_text;
pub use error::ExtractError;
pub use ocr::Ocr;
pub use pdf::pdf_text;
pub use sandbox::{PdfSandbox, child_main};
pub use sniff::{FileKind, sniff};
pub use text::normalise;

/// Bounds on the work one upload may cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Characters of text kept; the rest is cut off.
    pub max_output_chars: usize,
    /// Largest PDF handed to the sandbox (other formats are bounded by the upload limit).
    pub max_input_bytes: u64,
    /// Most bytes `word/document.xml` may inflate to.
    pub docx_max_uncompressed_bytes: u64,
    /// Most entries a .docx archive may list.
    pub docx_max_entries: usize,
    /// Most `word/document.xml` may expand relative to its compressed size (N for N:1), once
    /// it exceeds 1 MiB.
    pub docx_max_ratio: u64,
    pub pdf_max_pages: u32,
    /// Wall-clock time for the whole sandboxed run; also the child's CPU-time limit.
    pub pdf_timeout: Duration,
    /// The child's address-space limit (`RLIMIT_AS`), which includes the mapped program.
    pub pdf_memory_bytes: u64,
    /// Wall-clock time added for OCR of a scanned PDF, when OCR is on.
    pub ocr_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A long CV is 10–20 thousand characters.
            max_output_chars: 200_000,
            max_input_bytes: 20 * 1024 * 1024,
            docx_max_uncompressed_bytes: 50 * 1024 * 1024,
            docx_max_entries: 1_000,
            docx_max_ratio: 100,
            pdf_max_pages: 50,
            pdf_timeout: Duration::from_secs(10),
            pdf_memory_bytes: 512 * 1024 * 1024,
            // A page takes a few seconds to read.
            ocr_timeout: Duration::from_secs(60),
        }
    }
}

/// The text of an upload and the format it turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub kind: FileKind,
    pub text: String,
}

/// Sniffs `bytes` and extracts their text with the sandbox's limits: PDFs in the sandbox,
/// DOCX on a blocking thread, text inline.
pub async fn extract(
    bytes: Vec<u8>,
    file_name: Option<&str>,
    sandbox: &PdfSandbox,
) -> Result<Extracted, ExtractError> {
    let kind = sniff(&bytes, file_name)?;
    let limits = sandbox.limits();
    let text = match kind {
        FileKind::Pdf => sandbox.extract(bytes).await?,
        FileKind::Docx => {
            let limits = limits.clone();
            tokio::task::spawn_blocking(move || docx_text(&bytes, &limits))
                .await
                .map_err(|_| ExtractError::Crashed {
                    reason: "the DOCX reader panicked".into(),
                })??
        }
        FileKind::Text | FileKind::Markdown => {
            let decoded = text::decode(&bytes).ok_or(ExtractError::UnsupportedType {
                detected: "binary data",
            })?;
            normalise(&decoded, limits.max_output_chars)
        }
    };
    Ok(Extracted { kind, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_pdf_sandbox() -> PdfSandbox {
        PdfSandbox::new("/nonexistent", vec![], Limits::default())
    }

    #[tokio::test]
    async fn text_and_docx_end_to_end() {
        let sandbox = no_pdf_sandbox();
        let got = extract(
            b"# Jane\r\n\r\n\r\nRust\x07".to_vec(),
            Some("cv.md"),
            &sandbox,
        )
        .await
        .unwrap();
        assert_eq!(got.kind, FileKind::Markdown);
        assert_eq!(got.text, "# Jane\n\nRust");

        let got = extract(fixtures::docx(&["Jane", "Rust"]), Some("cv.pdf"), &sandbox)
            .await
            .unwrap();
        assert_eq!(
            got,
            Extracted {
                kind: FileKind::Docx,
                text: "Jane\nRust".into()
            }
        );
    }

    #[tokio::test]
    async fn refusals_happen_before_any_parsing() {
        let sandbox = no_pdf_sandbox();
        let error = extract(b"\x89PNG\r\n\x1a\n".to_vec(), Some("cv.pdf"), &sandbox)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "unsupported_type");
        let error = extract(Vec::new(), None, &sandbox).await.unwrap_err();
        assert_eq!(error.code(), "empty");
    }
}
