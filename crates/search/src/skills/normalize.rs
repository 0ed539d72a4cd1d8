//! Folding text so that spellings compare equal: lowercase, `ё` as `е`, every dash as `-`,
//! whitespace runs as one space (or one newline, which list detection needs to keep).
//!
//! Folding changes byte lengths (`\r\n`, a no-break space, an en dash, a few exotic capitals), so
//! [`Normalized`] keeps checkpoints that map a folded offset back to the original text. Plain
//! ASCII and Cyrillic fold byte for byte and leave no checkpoints, which keeps the map tiny.

/// Folds a name or alias into the key lookups compare, trimmed.
pub(crate) fn normalize_key(text: &str) -> String {
    let mut normalized = Normalized::default();
    normalized.fold(text);
    normalized.text.trim().to_owned()
}

#[derive(Debug, Default)]
pub(crate) struct Normalized {
    pub text: String,
    checkpoints: Vec<Checkpoint>,
}

/// Where folded and original offsets line up again after a stretch whose length changed.
/// `inside` marks the start of such a stretch: offsets within it all map to its start.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    folded: usize,
    original: usize,
    inside: bool,
}

impl Normalized {
    pub fn new(text: &str) -> Normalized {
        let mut normalized = Normalized {
            text: String::with_capacity(text.len() + 16),
            checkpoints: Vec::new(),
        };
        normalized.fold(text);
        normalized
    }

    fn fold(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            if byte.is_ascii_graphic() {
                // The common case, byte for byte; a run at once saves a char decode per byte. A
                // single space between two such bytes folds to itself, so it joins the run.
                let mut run_end = at + 1;
                while let Some(&b) = bytes.get(run_end) {
                    let joins = b.is_ascii_graphic()
                        || (b == b' ' && bytes.get(run_end + 1).is_some_and(u8::is_ascii_graphic));
                    if !joins {
                        break;
                    }
                    run_end += 1;
                }
                let start = self.text.len();
                self.text.push_str(&text[at..run_end]);
                self.text[start..].make_ascii_lowercase();
                at = run_end;
                continue;
            }
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            // Russian letters, the other common case, fold without a table lookup.
            if matches!(c, '\u{430}'..='\u{44f}') {
                self.text.push(c);
                at += 2;
                continue;
            }
            if let 'А'..='Я' = c {
                self.text
                    .push(char::from_u32(u32::from(c) + 0x20).unwrap_or(c));
                at += 2;
                continue;
            }
            if c.is_whitespace() {
                let run = text[at..]
                    .char_indices()
                    .find(|(_, c)| !c.is_whitespace())
                    .map_or(bytes.len() - at, |(n, _)| n);
                let breaks_line = text[at..at + run]
                    .chars()
                    .any(|c| matches!(c, '\n' | '\u{2028}' | '\u{2029}'));
                self.push_folded(at, run, if breaks_line { "\n" } else { " " });
                at += run;
                continue;
            }
            let width = c.len_utf8();
            match c {
                'ё' | 'Ё' => self.text.push('е'),
                '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => {
                    self.push_folded(at, width, "-")
                }
                // Soft hyphens and zero-width characters split words invisibly in pasted text.
                '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {
                    self.push_folded(at, width, "")
                }
                _ => {
                    let mut lower = c.to_lowercase();
                    match (lower.next(), lower.next()) {
                        (Some(l), None) if l.len_utf8() == width => self.text.push(l),
                        _ => {
                            let folded: String = c.to_lowercase().collect();
                            self.push_folded(at, width, &folded);
                        }
                    }
                }
            }
            at += width;
        }
    }

    /// Appends `folded` in place of the `width` original bytes at `original`, leaving
    /// checkpoints only when the lengths differ.
    fn push_folded(&mut self, original: usize, width: usize, folded: &str) {
        if folded.len() == width {
            self.text.push_str(folded);
            return;
        }
        self.checkpoints.push(Checkpoint {
            folded: self.text.len(),
            original,
            inside: true,
        });
        self.text.push_str(folded);
        self.checkpoints.push(Checkpoint {
            folded: self.text.len(),
            original: original + width,
            inside: false,
        });
    }

    /// The original offset of a folded offset; an offset within a stretch whose length changed
    /// maps to the stretch's start, which is always a char boundary of the original.
    pub fn original_offset(&self, folded: usize) -> usize {
        let after = self.checkpoints.partition_point(|cp| cp.folded <= folded);
        match after.checked_sub(1).map(|i| self.checkpoints[i]) {
            None => folded,
            Some(cp) if cp.inside => cp.original,
            Some(cp) => cp.original + (folded - cp.folded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_yo_dashes_and_whitespace() {
        let n = Normalized::new("Ёлка  Tree\u{00A0}—\r\nПостгрес");
        assert_eq!(n.text, "елка tree -\nпостгрес");
        assert_eq!(normalize_key("  Machine\tLearning "), "machine learning");
    }

    #[test]
    fn offsets_map_back_across_length_changes() {
        let original = "a\u{00A0}\u{00A0}b — Node.js\r\nİx K";
        let n = Normalized::new(original);
        for needle in ["b", "node.js", "x", "k"] {
            let folded_at = n.text.find(needle).unwrap();
            let original_at = n.original_offset(folded_at);
            let end = n.original_offset(folded_at + needle.len());
            assert_eq!(
                original[original_at..end].to_lowercase(),
                needle,
                "{needle}"
            );
        }
        assert_eq!(n.original_offset(0), 0);
        assert_eq!(n.original_offset(n.text.len()), original.len());
    }

    /// Folding as the module describes it, one character at a time.
    fn fold_by_spec(text: &str) -> String {
        let mut out = String::new();
        let mut space: Option<bool> = None;
        for c in text.chars() {
            if c.is_whitespace() {
                let breaks = matches!(c, '\n' | '\u{2028}' | '\u{2029}');
                space = Some(space.unwrap_or(false) || breaks);
                continue;
            }
            if let Some(breaks) = space.take() {
                out.push(if breaks { '\n' } else { ' ' });
            }
            match c {
                'ё' | 'Ё' => out.push('е'),
                '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => out.push('-'),
                '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
                _ => out.extend(c.to_lowercase()),
            }
        }
        if let Some(breaks) = space {
            out.push(if breaks { '\n' } else { ' ' });
        }
        out
    }

    #[test]
    fn folding_follows_its_description_on_mixed_text() {
        let pieces = [
            "a",
            "Go",
            "C++",
            " ",
            "  ",
            " \u{00A0}",
            "\u{00A0}",
            "\n",
            " \n ",
            "\r\n",
            "\t",
            ".",
            "Ёж",
            "ПОСТГРЕС",
            "—",
            "\u{00AD}",
            "İ",
            "ß",
            "Ω",
            "x y",
            " z",
        ];
        let mut state = 7_u32;
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..(state % 12) {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                text.push_str(pieces[(state >> 16) as usize % pieces.len()]);
            }
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let folded = Normalized::new(&text);
            assert_eq!(folded.text, fold_by_spec(&text), "{text:?}");
            if text.is_ascii() && !text.contains(['\n', '\r', '\t']) && !text.contains("  ") {
                assert!(folded.checkpoints.is_empty(), "{text:?}");
            }
        }
    }

    #[test]
    fn soft_hyphen_does_not_split_a_word() {
        assert_eq!(Normalized::new("Post\u{00AD}greSQL").text, "postgresql");
    }
}
