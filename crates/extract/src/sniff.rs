//! Deciding what an upload is from its bytes; the client's name and Content-Type are claims.

use std::io::Cursor;

use crate::{ExtractError, text};

/// The formats we extract text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Docx,
    Text,
    Markdown,
}

impl FileKind {
    /// A short name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Docx => "DOCX",
            Self::Text => "text",
            Self::Markdown => "Markdown",
        }
    }
}

const DOCX_BODY: &str = "word/document.xml";

/// Formats people upload by mistake, named so the error says what we saw.
const KNOWN_BINARIES: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"RIFF", "RIFF media (WebP, WAV, AVI)"),
    (b"II*\0", "TIFF image"),
    (b"MM\0*", "TIFF image"),
    (b"MZ", "Windows executable"),
    (b"\x7FELF", "ELF executable"),
    (b"\xCA\xFE\xBA\xBE", "Java class or Mach-O binary"),
    (b"\xCF\xFA\xED\xFE", "Mach-O executable"),
    (
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "legacy Office document (.doc); save it as .docx or PDF",
    ),
    (b"\x1F\x8B", "gzip archive"),
    (b"7z\xBC\xAF\x27\x1C", "7-Zip archive"),
    (b"Rar!\x1A\x07", "RAR archive"),
    (b"\0asm", "WebAssembly module"),
];

/// Decides the kind of an upload by its content. `file_name` only chooses between plain text and
/// Markdown, which no byte pattern tells apart.
pub fn sniff(bytes: &[u8], file_name: Option<&str>) -> Result<FileKind, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(FileKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return sniff_zip(bytes);
    }
    if bytes.starts_with(b"PK\x05\x06") || bytes.starts_with(b"PK\x07\x08") {
        return Err(ExtractError::UnsupportedType {
            detected: "ZIP archive",
        });
    }
    // RTF is valid text but its markup would be extracted as if it were the resume.
    if bytes.starts_with(b"{\\rtf") {
        return Err(ExtractError::UnsupportedType {
            detected: "RTF document; save it as .docx or PDF",
        });
    }
    // Text is tried before the binary signatures: "MZ" or a gzip header could begin a real
    // text file, and binary formats fail the text check anyway.
    if text::decode(bytes).is_none() {
        let detected = KNOWN_BINARIES
            .iter()
            .find(|(magic, _)| bytes.starts_with(magic))
            .map_or("binary data", |(_, detected)| detected);
        return Err(ExtractError::UnsupportedType { detected });
    }
    let markdown = file_name.is_some_and(|name| {
        let name = name.to_ascii_lowercase();
        name.ends_with(".md") || name.ends_with(".markdown")
    });
    Ok(if markdown {
        FileKind::Markdown
    } else {
        FileKind::Text
    })
}

fn sniff_zip(bytes: &[u8]) -> Result<FileKind, ExtractError> {
    // Only the central directory is read here: names and offsets, no decompression.
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| ExtractError::Corrupt { kind: "ZIP (DOCX)" })?;
    if archive.index_for_name(DOCX_BODY).is_some() {
        return Ok(FileKind::Docx);
    }
    let has = |name: &str| archive.index_for_name(name).is_some();
    let detected = if has("xl/workbook.xml") {
        "Excel workbook (.xlsx)"
    } else if has("ppt/presentation.xml") {
        "PowerPoint presentation (.pptx)"
    } else if has("mimetype") {
        "OpenDocument or EPUB file; save it as .docx or PDF"
    } else if has("META-INF/MANIFEST.MF") {
        "Java archive"
    } else {
        "ZIP archive that is not a Word document"
    };
    Err(ExtractError::UnsupportedType { detected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn unsupported(bytes: &[u8], name: Option<&str>) -> &'static str {
        match sniff(bytes, name) {
            Err(ExtractError::UnsupportedType { detected }) => detected,
            other => panic!("expected UnsupportedType, got {other:?}"),
        }
    }

    #[test]
    fn pdf_docx_text_and_markdown_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n...", None).unwrap(), FileKind::Pdf);
        // The name does not make a PDF a text file, or the reverse.
        assert_eq!(sniff(b"%PDF-1.4", Some("cv.txt")).unwrap(), FileKind::Pdf);
        let docx = fixtures::docx(&["Hello"]);
        assert_eq!(sniff(&docx, Some("cv.pdf")).unwrap(), FileKind::Docx);
        assert_eq!(sniff(b"# Jane", Some("cv.txt")).unwrap(), FileKind::Text);
        assert_eq!(sniff(b"# Jane", None).unwrap(), FileKind::Text);
        assert_eq!(sniff(b"# Jane", Some("CV.MD")).unwrap(), FileKind::Markdown);
        assert_eq!(
            sniff(b"# Jane", Some("cv.markdown")).unwrap(),
            FileKind::Markdown
        );
    }

    #[test]
    fn images_and_executables_renamed_to_pdf_are_refused() {
        assert_eq!(
            unsupported(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("cv.pdf")),
            "PNG image"
        );
        assert_eq!(
            unsupported(b"\xFF\xD8\xFF\xE0\0\x10JFIF", Some("cv.pdf")),
            "JPEG image"
        );
        assert_eq!(
            unsupported(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xFF\xFF", Some("cv.pdf")),
            "Windows executable"
        );
        assert_eq!(
            unsupported(b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", Some("cv.docx")),
            "ELF executable"
        );
        let random: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(unsupported(&random, Some("cv.txt")), "binary data");
    }

    #[test]
    fn message_names_what_was_seen() {
        let error = sniff(b"\x89PNG\r\n\x1a\n", Some("cv.pdf")).unwrap_err();
        assert_eq!(error.code(), "unsupported_type");
        assert!(error.to_string().contains("PNG image"), "{error}");
    }

    #[test]
    fn zips_that_are_not_docx_are_refused() {
        let xlsx = fixtures::zip(&[("xl/workbook.xml", b"<workbook/>".as_slice())]);
        assert_eq!(
            unsupported(&xlsx, Some("cv.docx")),
            "Excel workbook (.xlsx)"
        );
        let odt = fixtures::zip(&[(
            "mimetype",
            b"application/vnd.oasis.opendocument.text".as_slice(),
        )]);
        assert!(unsupported(&odt, Some("cv.docx")).starts_with("OpenDocument"));
        let jar = fixtures::zip(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0".as_slice())]);
        assert_eq!(unsupported(&jar, None), "Java archive");
        let other = fixtures::zip(&[("notes.txt", b"hi".as_slice())]);
        assert_eq!(
            unsupported(&other, None),
            "ZIP archive that is not a Word document"
        );
    }

    #[test]
    fn text_encodings_and_binary_lookalikes() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("Résumé".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(sniff(&utf16, Some("cv.txt")).unwrap(), FileKind::Text);
        assert_eq!(unsupported(b"name\0\0\0\0", Some("cv.txt")), "binary data");
        // UTF-16 without a BOM is full of NULs: not accepted as text.
        let bomless: Vec<u8> = "Resume".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(unsupported(&bomless, Some("cv.txt")), "binary data");
        // Text that happens to begin like a binary signature is still text.
        assert_eq!(
            sniff(b"MZ Consulting, 2019-2024", None).unwrap(),
            FileKind::Text
        );
        assert!(unsupported(b"{\\rtf1\\ansi Jane}", Some("cv.txt")).starts_with("RTF"));
    }

    #[test]
    fn empty_and_unreadable_zip() {
        assert!(matches!(
            sniff(b"", Some("cv.pdf")),
            Err(ExtractError::Empty)
        ));
        let docx = fixtures::docx(&["Hello"]);
        // Cut before the central directory: the archive cannot be listed.
        let truncated = &docx[..docx.len() / 2];
        assert!(matches!(
            sniff(truncated, Some("cv.docx")),
            Err(ExtractError::Corrupt { .. })
        ));
    }
}
