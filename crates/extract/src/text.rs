//! Plain text: decoding the bytes and cleaning what any extractor produces.

/// Decodes UTF-8 (with or without BOM) or UTF-16 with a BOM; `None` when the bytes are not text.
///
/// A NUL, or more than a few other control characters, means binary data that happens to decode
/// (UTF-16 without a BOM, executables with long ASCII runs), so it is refused rather than shown.
pub(crate) fn decode(bytes: &[u8]) -> Option<String> {
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        std::str::from_utf8(rest).ok()?.to_owned()
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        decode_utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        decode_utf16(rest, u16::from_be_bytes)?
    } else {
        std::str::from_utf8(bytes).ok()?.to_owned()
    };
    looks_like_text(&text).then_some(text)
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn looks_like_text(text: &str) -> bool {
    let mut chars = 0usize;
    let mut controls = 0usize;
    for ch in text.chars() {
        if ch == '\0' {
            return false;
        }
        chars += 1;
        if ch.is_control() && !matches!(ch, '\n' | '\r' | '\t' | '\x0C') {
            controls += 1;
        }
    }
    // Real documents carry the odd stray control character (copy-paste from terminals, old
    // word processors); binary data carries many.
    controls <= 8 || controls * 100 <= chars
}

/// Unifies newlines, drops control characters, trims trailing spaces on each line, collapses
/// runs of blank lines and caps the length in characters.
///
/// Every extractor's output goes through this, so downstream code can rely on the same shape
/// whatever the source format.
pub fn normalise(raw: &str, max_chars: usize) -> String {
    let unified = raw.replace("\r\n", "\n");
    let mut out = String::with_capacity(unified.len().min(max_chars.saturating_mul(4)));
    let mut chars = 0usize;
    let mut blank_run = 0usize;
    for line in unified.split(['\n', '\r', '\x0C', '\u{2028}', '\u{2029}']) {
        let cleaned: String = line
            .chars()
            .filter(|&ch| ch == '\t' || !(ch.is_control() || ch == '\u{FEFF}'))
            .collect();
        let cleaned = cleaned.trim_end();
        if cleaned.is_empty() {
            blank_run += 1;
            if blank_run > 1 || chars == 0 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        for ch in cleaned.chars().chain(std::iter::once('\n')) {
            if chars == max_chars {
                return finish(out);
            }
            out.push(ch);
            chars += 1;
        }
    }
    finish(out)
}

fn finish(mut out: String) -> String {
    let kept = out.trim_end().len();
    out.truncate(kept);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_with_and_without_bom() {
        assert_eq!(decode(b"hello").as_deref(), Some("hello"));
        assert_eq!(decode(b"\xEF\xBB\xBFhello").as_deref(), Some("hello"));
    }

    #[test]
    fn decodes_utf16_with_bom() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in "Привет, CV".encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode(&le).as_deref(), Some("Привет, CV"));
        assert_eq!(decode(&be).as_deref(), Some("Привет, CV"));
        le.push(0x41);
        assert_eq!(decode(&le), None, "odd length is not UTF-16");
    }

    #[test]
    fn refuses_nul_and_control_heavy_bytes() {
        assert_eq!(decode(b"text\0more"), None);
        assert_eq!(decode(&[0x01; 64]), None);
        assert_eq!(decode(b"\xC3\x28 invalid utf-8"), None);
        assert!(decode(b"one stray \x07 bell is fine").is_some());
    }

    #[test]
    fn normalise_cleans_and_caps() {
        let raw = "  Title\r\n\r\n\r\n\r\nLine\x07 one   \rLine\ttwo\x0Cpage\u{FEFF}\0";
        assert_eq!(normalise(raw, 1000), "  Title\n\nLine one\nLine\ttwo\npage");
        assert_eq!(normalise("абвгд", 3), "абв");
        assert_eq!(normalise("\n\n\nx\n\n", 10), "x");
    }
}
