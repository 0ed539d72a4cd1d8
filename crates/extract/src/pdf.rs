//! PDF text with lopdf. Hostile PDFs can still panic, loop or exhaust memory in the parser, so
//! this runs only inside the sandbox child (see [`crate::sandbox`]), never in the server.

use std::panic;

use lopdf::{DecompressError, Document, LoadOptions};

use crate::ExtractError;

const KIND: &str = "PDF";

/// The most one stream (object stream, page content, font map) may inflate to. Résumé pages
/// need kilobytes; this stops a deflate bomb long before the memory limit does.
const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;

/// Extracts the text of every page, one page after another, after refusing encrypted files and
/// files with more than `max_pages` pages. Panics in the parser become
/// [`ExtractError::Crashed`]; the text is not yet normalised.
pub fn pdf_text(bytes: &[u8], max_pages: u32) -> Result<String, ExtractError> {
    panic::catch_unwind(|| read(bytes, max_pages)).unwrap_or_else(|_| {
        Err(ExtractError::Crashed {
            reason: "the PDF parser panicked".into(),
        })
    })
}

fn read(bytes: &[u8], max_pages: u32) -> Result<String, ExtractError> {
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..LoadOptions::default()
    };
    let document = Document::load_mem_with_options(bytes, options).map_err(|error| {
        match error {
            lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
                stream_too_large()
            }
            lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => ExtractError::Encrypted,
            // Unreadable encryption dictionaries fail the load itself; the user still needs
            // to hear that the file is protected, not that it is broken.
            _ if declares_encryption(bytes) => ExtractError::Encrypted,
            _ => ExtractError::Corrupt { kind: KIND },
        }
    })?;
    // lopdf opens files protected by an owner password only (the empty user password works);
    // with any other password it loads nothing, and says so only through this.
    if document.trailer.has(b"Encrypt") && !document.was_encrypted() {
        return Err(ExtractError::Encrypted);
    }

    let pages = document.get_pages();
    if pages.is_empty() {
        return Err(ExtractError::Corrupt { kind: KIND });
    }
    if pages.len() > max_pages as usize {
        return Err(ExtractError::TooManyPages {
            pages: pages.len() as u64,
            limit: max_pages,
        });
    }

    let mut text = String::new();
    let mut unreadable_pages = 0usize;
    for &number in pages.keys() {
        let chunks = document.extract_text_chunks_with_limit(&[number], MAX_STREAM_BYTES);
        let mut page_read = chunks.is_empty();
        for chunk in chunks {
            match chunk {
                Ok(chunk) => {
                    text.push_str(&chunk);
                    page_read = true;
                }
                Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                    return Err(stream_too_large());
                }
                // One font with a broken encoding should not cost the rest of the page.
                Err(_) => {}
            }
        }
        if !page_read {
            unreadable_pages += 1;
        }
        text.push('\n');
    }
    if unreadable_pages == pages.len() {
        return Err(ExtractError::Corrupt { kind: KIND });
    }
    Ok(text)
}

fn stream_too_large() -> ExtractError {
    ExtractError::TooLarge {
        what: format!(
            "a compressed part of the PDF expands beyond {} MiB",
            MAX_STREAM_BYTES / (1024 * 1024)
        ),
    }
}

/// Whether the trailer area names an encryption dictionary. Only the end of the file is
/// searched, where the trailer lives, so a résumé that merely mentions "/Encrypt" in a content
/// stream is not misreported.
fn declares_encryption(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(8).any(|window| window == b"/Encrypt")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn extracts_each_page() {
        let pdf = fixtures::pdf(&["Jane Doe\nRust engineer", "Page (two) \\ done"]);
        let text = pdf_text(&pdf, 50).unwrap();
        let text = crate::text::normalise(&text, 10_000);
        // Pages are set apart by a blank line.
        assert_eq!(text, "Jane Doe\nRust engineer\n\nPage (two) \\ done");
    }

    #[test]
    fn corrupt_pdfs_are_reported_as_corrupt() {
        for bytes in [
            b"%PDF-1.7\nnothing else here".to_vec(),
            b"%PDF-".to_vec(),
            fixtures::pdf(&["Jane"])[..60].to_vec(),
        ] {
            let error = pdf_text(&bytes, 50).unwrap_err();
            assert!(
                matches!(error, ExtractError::Corrupt { kind: "PDF" }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn encrypted_pdf_is_refused() {
        let error = pdf_text(&fixtures::encrypted_pdf(), 50).unwrap_err();
        assert!(matches!(error, ExtractError::Encrypted), "{error:?}");
        assert!(!error.to_string().contains("secret"));
    }

    #[test]
    fn page_limit_is_checked_before_reading() {
        let pages = vec!["page"; 12];
        let error = pdf_text(&fixtures::pdf(&pages), 10).unwrap_err();
        assert!(
            matches!(
                error,
                ExtractError::TooManyPages {
                    pages: 12,
                    limit: 10
                }
            ),
            "{error:?}"
        );
        assert!(pdf_text(&fixtures::pdf(&pages), 12).is_ok());
    }
}
