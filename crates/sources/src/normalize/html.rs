//! Employer-written HTML made safe to show, and turned into plain text for search and matching.

use std::sync::LazyLock;

/// The one sanitising policy for every description, whatever the board.
static POLICY: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        // Remote images are tracking pixels in our readers' browsers; the text is what matters.
        .rm_tags(["img", "map", "area"])
        .add_clean_content_tags(["iframe", "noscript", "object", "template", "title"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        // A relative link in a board's HTML would point into jobpilot itself.
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"));
    builder
});

/// Sanitises untrusted HTML: no scripts, styles, frames, event handlers or `javascript:` links,
/// and every link gets `rel="noopener noreferrer nofollow"`. Entities are decoded by the parser
/// and re-encoded on output, so the result carries the same text as the input.
///
/// Plain markup (paragraphs, lists, headings, emphasis, no attributes) is checked and copied in
/// one pass ([`super::simple_html`]); the rest goes through ammonia.
pub fn sanitize_html(raw: &str) -> String {
    super::simple_html::clean(raw).unwrap_or_else(|| full_sanitize(raw))
}

/// The sanitising policy run in full: html5ever's parser, ammonia, html5ever's serialiser.
pub(crate) fn full_sanitize(raw: &str) -> String {
    POLICY.clean(raw).to_string()
}

/// Decodes HTML entities exactly once, for boards that entity-encode their HTML (Greenhouse):
/// `&lt;p&gt;` becomes `<p>`, while `&amp;nbsp;` becomes `&nbsp;` and stays an entity for the
/// HTML parser to read.
pub fn unescape_once(encoded: &str) -> String {
    html_escape::decode_html_entities(encoded).into_owned()
}

/// Turns HTML into plain text: block elements and `<br>` become line breaks, list items get a
/// dash, entities are decoded exactly once, runs of whitespace become one space, and blank lines
/// disappear. Script and style content never reaches the text.
pub fn html_to_text(raw: &str) -> String {
    text_of_sanitized(&sanitize_html(raw))
}

/// [`html_to_text`] for HTML that already came out of [`sanitize_html`], skipping the second
/// sanitising pass.
pub(crate) fn sanitized_html_to_text(html: &str) -> String {
    text_of_sanitized(html)
}

/// Walks the sanitiser's own output. That output is well formed (every `<` in text is `&lt;`,
/// attribute values are quoted and `>` never appears inside a tag's name), so a small scanner is
/// enough and no second HTML parser is needed.
fn text_of_sanitized(html: &str) -> String {
    let mut text = TextBuilder::default();
    let mut rest = html;
    while let Some(open) = rest.bytes().position(|b| b == b'<') {
        text.push_encoded(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.bytes().position(|b| b == b'>') else {
            rest = "";
            break;
        };
        text.tag(&after[..close]);
        rest = &after[close + 1..];
    }
    text.push_encoded(rest);
    text.finish()
}

/// The text being written: finished lines (each ended by a line break), then the current one
/// from `line_start`. Lines never start with a space.
#[derive(Default)]
struct TextBuilder {
    out: String,
    line_start: usize,
}

impl TextBuilder {
    fn line(&self) -> &str {
        &self.out[self.line_start..]
    }

    fn push_encoded(&mut self, encoded: &str) {
        if encoded.is_empty() {
            return;
        }
        if encoded.bytes().any(|b| b == b'&') {
            self.push_text(&html_escape::decode_html_entities(encoded));
        } else {
            self.push_text(encoded);
        }
    }

    /// Appends text, each run of whitespace as one space (none at the start of a line).
    ///
    /// Scanned by bytes: only the lead bytes of the few non-ASCII whitespace characters
    /// (U+0085, U+00A0, U+1680, U+2000 to U+3000) need a character decoded.
    fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut word_start = None;
        let mut at = 0;
        while let Some(&byte) = bytes.get(at) {
            let (space, width) = match byte {
                b'\t'..=b'\r' | b' ' => (true, 1),
                0xC2 | 0xE1..=0xE3 => {
                    let c = text[at..].chars().next().unwrap_or_default();
                    (c.is_whitespace(), c.len_utf8())
                }
                _ => (false, 1),
            };
            if space {
                if let Some(start) = word_start.take() {
                    self.out.push_str(&text[start..at]);
                }
                if self.out.len() > self.line_start && !self.out.ends_with(' ') {
                    self.out.push(' ');
                }
            } else if word_start.is_none() {
                word_start = Some(at);
            }
            at += width;
        }
        if let Some(start) = word_start {
            self.out.push_str(&text[start..]);
        }
    }

    fn tag(&mut self, tag: &str) {
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        // The sanitiser writes names in lower case; anything else is lowered here.
        let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.to_ascii_lowercase().into()
        } else {
            name.into()
        };
        if name == "li" && !tag.starts_with('/') {
            self.break_line();
            self.out.push_str("- ");
        } else if name == "br" || is_block(&name) {
            self.break_line();
        } else if matches!(&*name, "td" | "th")
            && !self.line().is_empty()
            && !self.line().ends_with(' ')
        {
            // Cells on one row stay on one line, apart.
            self.out.push(' ');
        }
    }

    /// Ends the current line: kept without its trailing space, dropped when empty or a bare
    /// list dash.
    fn break_line(&mut self) {
        let end = self.out.trim_end_matches(' ').len().max(self.line_start);
        self.out.truncate(end);
        let line = self.line();
        if line.is_empty() || line == "-" {
            self.out.truncate(self.line_start);
        } else {
            self.out.push('\n');
        }
        self.line_start = self.out.len();
    }

    fn finish(mut self) -> String {
        self.break_line();
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "pre"
            | "hr"
            | "table"
            | "tr"
            | "thead"
            | "tbody"
            | "section"
            | "article"
            | "aside"
            | "header"
            | "footer"
            | "nav"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
            | "center"
            | "caption"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let raw = r#"<p onclick="steal()">Hi <a href="javascript:alert(1)">x</a>
            <a href="https://example.org/apply" onmouseover="x()">apply</a></p>
            <script>document.cookie</script><style>p{}</style><iframe src="https://e.org"></iframe>
            <img src="https://tracker.example/p.gif">"#;
        let clean = sanitize_html(raw);
        for banned in [
            "<script",
            "document.cookie",
            "<style",
            "<iframe",
            "onclick",
            "onmouseover",
            "javascript:",
            "<img",
        ] {
            assert!(!clean.contains(banned), "{banned} survived in {clean}");
        }
        assert!(
            clean.contains(r#"<a href="https://example.org/apply" rel="noopener noreferrer nofollow">apply</a>"#),
            "{clean}"
        );
    }

    /// Whitespace folding as first written, one decoded character at a time.
    fn push_text_by_chars(builder: &mut TextBuilder, text: &str) {
        let mut word_start = None;
        for (at, c) in text.char_indices() {
            if c.is_whitespace() {
                if let Some(start) = word_start.take() {
                    builder.out.push_str(&text[start..at]);
                }
                let line = builder.line();
                if !line.is_empty() && !line.ends_with(' ') {
                    builder.out.push(' ');
                }
            } else if word_start.is_none() {
                word_start = Some(at);
            }
        }
        if let Some(start) = word_start {
            builder.out.push_str(&text[start..]);
        }
    }

    #[test]
    fn the_byte_scan_folds_whitespace_as_the_character_scan_did() {
        // Every whitespace character there is, its neighbours in the same lead-byte blocks,
        // and ordinary text in several scripts.
        let mut pieces: Vec<String> = (0..=0x3001_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .map(String::from)
            .collect();
        pieces.extend(
            [
                "a", "Ж", "é", "\u{2010}", "\u{1681}", "\u{3001}", "\u{00A1}", "€", "日本", "-",
                "x y",
            ]
            .map(String::from),
        );
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        for round in 0..20_000 {
            let mut text = String::new();
            for _ in 0..round % 9 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                text.push_str(&pieces[(state >> 33) as usize % pieces.len()]);
            }
            // Once on a fresh line, once after text already on the line.
            for prefix in ["", "word"] {
                let (mut fast, mut slow) = (TextBuilder::default(), TextBuilder::default());
                for builder in [&mut fast, &mut slow] {
                    builder.out.push_str(prefix);
                }
                fast.push_text(&text);
                push_text_by_chars(&mut slow, &text);
                assert_eq!(fast.out, slow.out, "{text:?}");
            }
        }
    }

    #[test]
    fn relative_links_lose_their_target() {
        let clean = sanitize_html(r#"<a href="/admin">x</a>"#);
        assert!(!clean.contains("href"), "{clean}");
    }

    #[test]
    fn text_has_line_breaks_for_blocks_and_single_decoding() {
        let text = html_to_text(
            "<p>Pay:&nbsp;120&nbsp;000 &amp;amp; more</p> <ul> <li>one</li><li>two  \n three</li></ul>R&amp;D<br>end",
        );
        assert_eq!(
            text,
            "Pay: 120 000 &amp; more\n- one\n- two three\nR&D\nend"
        );
    }

    #[test]
    fn greenhouse_content_is_unescaped_exactly_once() {
        let encoded = "&lt;p&gt;Munich R&amp;amp;D&amp;nbsp;centre&lt;/p&gt;";
        let html = unescape_once(encoded);
        assert_eq!(html, "<p>Munich R&amp;D&nbsp;centre</p>");
        assert_eq!(html_to_text(&html), "Munich R&D centre");
    }

    #[test]
    fn script_content_never_reaches_text() {
        assert_eq!(html_to_text("<script>evil()</script><p>ok</p>"), "ok");
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
    }
}
