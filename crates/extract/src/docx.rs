//! Word .docx: the text of `word/document.xml`, read without trusting any size the archive
//! declares.

use std::io::{self, BufReader, Cursor, Read};

use quick_xml::{
    Reader,
    escape::resolve_predefined_entity,
    events::{BytesRef, Event},
};

use crate::{ExtractError, Limits, text};

const BODY: &str = "word/document.xml";
const KIND: &str = "DOCX";

/// Below this many inflated bytes the ratio is not checked: a small, repetitive document can
/// legitimately compress very well.
const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// Extracts the body text of a .docx: paragraphs become lines, tabs and line breaks are kept,
/// everything else (styles, headers, footers, fields, deleted text) is ignored.
pub fn docx_text(bytes: &[u8], limits: &Limits) -> Result<String, ExtractError> {
    let corrupt = |_| ExtractError::Corrupt { kind: KIND };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    if archive.len() > limits.docx_max_entries {
        return Err(ExtractError::Bomb {
            what: format!(
                "the archive lists more than {} entries",
                limits.docx_max_entries
            ),
        });
    }
    let body = archive.by_name(BODY).map_err(corrupt)?;
    // The declared compressed size is a claim too; the real one cannot exceed the upload.
    let compressed = body.compressed_size().min(bytes.len() as u64).max(1);
    let meter = Meter {
        inner: body,
        inflated: 0,
        max_bytes: limits.docx_max_uncompressed_bytes,
        ratio_budget: compressed
            .saturating_mul(limits.docx_max_ratio)
            .max(RATIO_FLOOR_BYTES),
        tripped: None,
    };
    let mut xml = Reader::from_reader(BufReader::new(meter));
    let result = collect_text(&mut xml, limits.max_output_chars);
    if let Some(trip) = xml.get_mut().get_mut().tripped.take() {
        return Err(trip.into_error(limits));
    }
    let raw = result.map_err(|_| ExtractError::Corrupt { kind: KIND })?;
    Ok(text::normalise(&raw, limits.max_output_chars))
}

/// Walks the XML events, keeping what a reader of the document would see.
fn collect_text<R: io::BufRead>(
    xml: &mut Reader<R>,
    max_chars: usize,
) -> Result<String, quick_xml::Error> {
    // Local names: the `w:` prefix is conventional, not required, and DrawingML text boxes
    // (`a:p`, `a:t`) hold resume text too.
    let mut out = String::new();
    let mut in_text = false;
    let mut in_run = 0usize;
    let mut buf = Vec::new();
    // Whole characters are capped later; this bound only stops reading early.
    let max_bytes = max_chars.saturating_mul(4);
    while out.len() <= max_bytes {
        match xml.read_event_into(&mut buf)? {
            Event::Start(tag) => match tag.local_name().as_ref() {
                "t" => in_text = true,
                "r" => in_run += 1,
                _ => {}
            },
            Event::End(tag) => match tag.local_name().as_ref() {
                "t" => in_text = false,
                "r" => in_run = in_run.saturating_sub(1),
                "p" => out.push('\n'),
                _ => {}
            },
            // `w:tab` also defines tab stops in paragraph properties; only one inside a run
            // is a tab character.
            Event::Empty(tag) => match tag.local_name().as_ref() {
                "tab" if in_run > 0 => out.push('\t'),
                "br" | "cr" if in_run > 0 => out.push('\n'),
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Text(content) if in_text => out.push_str(&content.xml10_content()),
            Event::CData(content) if in_text => out.push_str(&content),
            Event::GeneralRef(reference) if in_text => push_reference(&mut out, &reference)?,
            Event::Eof => break,
            // A DOCTYPE's entity declarations are never expanded by quick-xml, so neither
            // external entities nor "billion laughs" can be triggered from here.
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn push_reference(out: &mut String, reference: &BytesRef<'_>) -> Result<(), quick_xml::Error> {
    if let Some(ch) = reference.resolve_char_ref()? {
        out.push(ch);
    } else if let Some(resolved) = resolve_predefined_entity(&reference.xml10_content()) {
        out.push_str(resolved);
    }
    Ok(())
}

/// Why the meter stopped the inflation.
#[derive(Debug, Clone, Copy)]
enum Trip {
    Size,
    Ratio,
}

impl Trip {
    fn into_error(self, limits: &Limits) -> ExtractError {
        match self {
            Self::Size => ExtractError::TooLarge {
                what: format!(
                    "the document text expands beyond {} MiB",
                    limits.docx_max_uncompressed_bytes / (1024 * 1024)
                ),
            },
            Self::Ratio => ExtractError::Bomb {
                what: format!(
                    "it expands more than {}-fold when unpacked",
                    limits.docx_max_ratio
                ),
            },
        }
    }
}

/// Counts the bytes that really come out of the decompressor and stops at the first limit,
/// so a bomb costs at most one buffer beyond the limit, never its declared size.
struct Meter<R> {
    inner: R,
    inflated: u64,
    max_bytes: u64,
    ratio_budget: u64,
    tripped: Option<Trip>,
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Err(io::Error::other("inflation limit reached"));
        }
        // Never ask for more than one byte past the limit, so the count is exact.
        let room = self
            .max_bytes
            .saturating_sub(self.inflated)
            .saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..want])?;
        self.inflated += read as u64;
        if self.inflated > self.max_bytes {
            self.tripped = Some(Trip::Size);
        } else if self.inflated > self.ratio_budget {
            self.tripped = Some(Trip::Ratio);
        }
        if self.tripped.is_some() {
            return Err(io::Error::other("inflation limit reached"));
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::fixtures;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn paragraphs_tabs_breaks_and_cyrillic() {
        let body = r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>
            <w:r><w:t>Иван Петров</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Role:</w:t><w:tab/><w:t>Engineer</w:t></w:r></w:p>
            <w:p><w:r><w:t>Line one</w:t><w:br/><w:t>Line two &amp; more &#x2014; done</w:t></w:r></w:p>
            <w:p><w:r><w:delText>deleted</w:delText><w:instrText>PAGE</w:instrText></w:r></w:p>
            <w:p/>
            <w:p><w:r><w:t>Last</w:t></w:r></w:p>"#;
        let docx = fixtures::docx_with_body(body);
        assert_eq!(
            docx_text(&docx, &limits()).unwrap(),
            "Иван Петров\nRole:\tEngineer\nLine one\nLine two & more — done\n\nLast"
        );
    }

    #[test]
    fn fixture_paragraphs_round_trip() {
        let docx = fixtures::docx(&["Jane Doe", "Rust <developer> & \"SRE\""]);
        assert_eq!(
            docx_text(&docx, &limits()).unwrap(),
            "Jane Doe\nRust <developer> & \"SRE\""
        );
    }

    #[test]
    fn doctype_entities_are_not_expanded() {
        let body = r#"<w:p><w:r><w:t>a&lol;b&xxe;c</w:t></w:r></w:p>"#;
        let xml = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY lol \"LOLLOL\"><!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
            fixtures::document_xml(body)
        );
        let docx = fixtures::zip(&[("word/document.xml", xml.as_bytes())]);
        assert_eq!(docx_text(&docx, &limits()).unwrap(), "abc");
    }

    #[test]
    fn output_is_capped() {
        let docx = fixtures::docx(&["0123456789"; 100]);
        let limits = Limits {
            max_output_chars: 25,
            ..limits()
        };
        assert_eq!(docx_text(&docx, &limits).unwrap().chars().count(), 25);
    }

    #[test]
    fn zip_bomb_is_refused_without_inflating_it() {
        // 200 MiB of zeros inside the text: a few hundred KiB compressed.
        let docx = fixtures::docx_bomb(200 * 1024 * 1024);
        assert!(docx.len() < 1024 * 1024, "{}", docx.len());
        let started = Instant::now();
        let error = docx_text(&docx, &limits()).unwrap_err();
        assert!(matches!(error, ExtractError::Bomb { .. }), "{error:?}");
        assert!(error.to_string().contains("100-fold"), "{error}");
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn size_limit_applies_when_the_ratio_is_allowed() {
        let docx = fixtures::docx_bomb(8 * 1024 * 1024);
        let limits = Limits {
            docx_max_uncompressed_bytes: 2 * 1024 * 1024,
            docx_max_ratio: u64::MAX,
            ..limits()
        };
        let error = docx_text(&docx, &limits).unwrap_err();
        assert!(matches!(error, ExtractError::TooLarge { .. }), "{error:?}");
    }

    #[test]
    fn too_many_entries_is_a_bomb() {
        let names: Vec<String> = (0..20).map(|i| format!("word/media/{i}.bin")).collect();
        let mut entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), b"x".as_slice()))
            .collect();
        let xml = fixtures::document_xml("<w:p><w:r><w:t>x</w:t></w:r></w:p>");
        entries.push(("word/document.xml", xml.as_bytes()));
        let docx = fixtures::zip(&entries);
        let limits = Limits {
            docx_max_entries: 10,
            ..limits()
        };
        let error = docx_text(&docx, &limits).unwrap_err();
        assert!(matches!(error, ExtractError::Bomb { .. }), "{error:?}");
    }

    #[test]
    fn malformed_xml_and_damaged_archives_are_corrupt() {
        let docx = fixtures::zip(&[(
            "word/document.xml",
            b"<w:document><w:body><w:p></w:x>".as_slice(),
        )]);
        assert!(matches!(
            docx_text(&docx, &limits()),
            Err(ExtractError::Corrupt { kind: "DOCX" })
        ));

        let docx = fixtures::docx(&["Some text that fills the deflate stream a little"]);
        assert!(matches!(
            docx_text(&docx[..docx.len() / 2], &limits()),
            Err(ExtractError::Corrupt { kind: "DOCX" })
        ));

        // Damage the compressed body but keep the directory: the CRC or inflater notices.
        let mut damaged = docx.clone();
        let body_at = find(&damaged, b"word/document.xml").unwrap() + "word/document.xml".len();
        for byte in &mut damaged[body_at..body_at + 16] {
            *byte ^= 0x5A;
        }
        assert!(matches!(
            docx_text(&damaged, &limits()),
            Err(ExtractError::Corrupt { kind: "DOCX" })
        ));
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
}
