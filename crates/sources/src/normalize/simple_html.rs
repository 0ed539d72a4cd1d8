//! A fast path past the HTML sanitiser for the plain markup most postings use: paragraphs,
//! lists, headings and emphasis, with no attributes.
//!
//! [`clean`] accepts a document only when it can tell, token by token, that the full sanitiser
//! (html5ever's parser, then ammonia's policy, then html5ever's serialiser) would give back the
//! document it writes: every tag on a short allow-list, written in lower case without
//! attributes, nested the way the HTML parser keeps it (no block inside a paragraph, a heading or
//! emphasis; a list item only directly in a list; no emphasis inside itself), every element
//! closed in order, and only a few entities. Anything else (a link, an attribute, a comment, a
//! stray `<`, an unclosed `<li>`, a control character) answers `None` and the caller runs the
//! full sanitiser. A test runs both on many generated documents and requires the same output
//! wherever this one answers.

/// Elements that may hold blocks; a block may open only directly inside one of them or at the
/// top level.
const FLOW: &[&str] = &["div", "li", "blockquote"];
/// Elements that start a new block.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "ul",
    "ol",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];
/// Phrasing elements, allowed anywhere but inside themselves.
const INLINE: &[&str] = &[
    "b", "strong", "i", "em", "u", "s", "code", "span", "small", "sub", "sup",
];
/// Open elements deeper than this send the document to the full sanitiser.
const MAX_DEPTH: usize = 32;

/// The sanitised form of `raw` when it is plain enough (see the module), else `None`.
pub(crate) fn clean(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len() + raw.len() / 16);
    let mut open: Vec<&'static str> = Vec::with_capacity(8);
    let bytes = raw.as_bytes();
    let mut at = 0;
    let mut text_from = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'<' => {
                out.push_str(&raw[text_from..at]);
                at = tag(raw, at, &mut open, &mut out)?;
                text_from = at;
            }
            b'&' => {
                out.push_str(&raw[text_from..at]);
                let (decoded, end) = entity(raw, at)?;
                push_escaped(&mut out, decoded);
                at = end;
                text_from = at;
            }
            b'>' => {
                out.push_str(&raw[text_from..at]);
                out.push_str("&gt;");
                at += 1;
                text_from = at;
            }
            b'\t' | b'\n' => at += 1,
            byte if byte < 0x20 || byte == 0x7f => return None,
            byte if byte < 0x80 => at += 1,
            _ => {
                let c = raw[at..].chars().next()?;
                if !plain_char(c) {
                    return None;
                }
                if c == '\u{a0}' {
                    out.push_str(&raw[text_from..at]);
                    out.push_str("&nbsp;");
                    text_from = at + c.len_utf8();
                }
                at += c.len_utf8();
            }
        }
    }
    out.push_str(&raw[text_from..]);
    open.is_empty().then_some(out)
}

/// Characters the parser keeps as they are: no C1 controls, byte-order marks or noncharacters.
fn plain_char(c: char) -> bool {
    !matches!(c, '\u{80}'..='\u{9f}' | '\u{feff}' | '\u{fdd0}'..='\u{fdef}')
        && (u32::from(c) & 0xfffe) != 0xfffe
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '\u{a0}' => out.push_str("&nbsp;"),
        c => out.push(c),
    }
}

/// Reads the tag at `raw[at] == '<'`, checks it against the open elements and writes it;
/// answers the offset after it.
fn tag(raw: &str, at: usize, open: &mut Vec<&'static str>, out: &mut String) -> Option<usize> {
    let rest = &raw.as_bytes()[at + 1..];
    let closing = rest.first() == Some(&b'/');
    let name_from = usize::from(closing);
    let name_len = rest[name_from..]
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        .count();
    let name = &raw[at + 1 + name_from..at + 1 + name_from + name_len];
    let mut end = name_from + name_len;
    if !closing && name == "br" {
        // `<br>`, `<br/>` and `<br />` are one element with nothing inside.
        if rest[end..].starts_with(b" />") {
            end += 2;
        } else if rest[end..].starts_with(b"/>") {
            end += 1;
        }
    }
    if rest.get(end) != Some(&b'>') {
        return None;
    }
    let after = at + 1 + end + 1;
    if closing {
        if open.last().copied() != Some(name) {
            return None;
        }
        open.pop();
        out.push_str("</");
        out.push_str(name);
        out.push('>');
        return Some(after);
    }
    let top = open.last().copied();
    let name: &'static str = if name == "br" {
        "br"
    } else if let Some(block) = BLOCKS.iter().find(|b| **b == name) {
        if !top.is_none_or(|top| FLOW.contains(&top)) {
            return None;
        }
        block
    } else if name == "li" {
        if !matches!(top, Some("ul" | "ol")) {
            return None;
        }
        "li"
    } else if let Some(inline) = INLINE.iter().find(|i| **i == name) {
        if open.contains(inline) {
            return None;
        }
        inline
    } else {
        return None;
    };
    out.push('<');
    out.push_str(name);
    out.push('>');
    if name != "br" {
        if open.len() == MAX_DEPTH {
            return None;
        }
        open.push(name);
    }
    Some(after)
}

/// Decodes the entity at `raw[at] == '&'` when it is one of the few read the same way
/// everywhere; answers the character and the offset after the entity.
fn entity(raw: &str, at: usize) -> Option<(char, usize)> {
    let rest = &raw[at + 1..];
    let semicolon = rest.as_bytes().iter().take(10).position(|b| *b == b';')?;
    let body = &rest[..semicolon];
    let c = match body {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let digits = body.strip_prefix('#')?;
            let value = match digits.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                Some(_) => return None,
                None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    digits.parse().ok()?
                }
                None => return None,
            };
            // Outside these ranges the parser substitutes or remaps (NUL, C1 controls,
            // surrogates, noncharacters): the full sanitiser's business.
            let c = char::from_u32(value)?;
            if !(matches!(value, 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0x10_ffff) && plain_char(c))
            {
                return None;
            }
            c
        }
    };
    Some((c, at + 1 + semicolon + 1))
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;
    use crate::normalize::html::full_sanitize;

    #[test]
    fn plain_markup_is_taken_as_written() {
        let raw = "<p><strong>Acme &amp; Co</strong> builds tools.</p>\n<ul><li>Rust &gt; C</li>\
                   <li>caf\u{e9}&nbsp;&#233;&#x27;&quot;</li></ul><h2>Perks</h2><p>a<br>b<br/>c</p>";
        let clean = clean(raw).expect("plain markup takes the fast path");
        assert_eq!(clean, full_sanitize(raw));
        assert!(clean.contains("Acme &amp; Co"), "{clean}");
        assert!(clean.contains("caf\u{e9}&nbsp;\u{e9}'\""), "{clean}");
    }

    #[test]
    fn anything_else_goes_to_the_full_sanitiser() {
        for raw in [
            "<p onclick=\"x()\">a</p>",
            "<a href=\"https://example.org\">a</a>",
            "<script>alert(1)</script>",
            "<p>a<ul><li>b</li></ul></p>",
            "<p>a<p>b</p></p>",
            "<ul><li>a<li>b</ul>",
            "<li>outside a list</li>",
            "<b><b>x</b></b>",
            "<b><p>x</p></b>",
            "<p>unclosed",
            "</p>",
            "<P>upper</P>",
            "a < b",
            "<!-- comment -->",
            "AT&T",
            "&copy;",
            "&#0;",
            "&#128;",
            "&#xD800;",
            "a\rb",
            "a\0b",
            "\u{feff}bom",
            "<p >spaced</p>",
            "<br></br>",
        ] {
            assert_eq!(clean(raw), None, "{raw} took the fast path");
        }
    }

    /// Pieces of markup, well formed or not, from which documents are drawn.
    const PIECES: &[&str] = &[
        "text",
        " ",
        "\n",
        "\t",
        "caf\u{e9} \u{442}\u{435}\u{43a}\u{441}\u{442}",
        "\u{a0}",
        "\u{1f600}",
        "\"quoted\" 'single'",
        ">",
        "<",
        "&",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&apos;",
        "&nbsp;",
        "&#39;",
        "&#x27;",
        "&#233;",
        "&#x1F600;",
        "&#128;",
        "&#0;",
        "&#xFFFE;",
        "&#65535;",
        "&copy;",
        "&amp",
        "&#;",
        "&#x;",
        "&#12345678901;",
        "<br>",
        "<br/>",
        "<br />",
        "</br>",
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<ul>",
        "</ul>",
        "<ol>",
        "</ol>",
        "<li>",
        "</li>",
        "<h2>",
        "</h2>",
        "<h3>",
        "</h3>",
        "<blockquote>",
        "</blockquote>",
        "<b>",
        "</b>",
        "<strong>",
        "</strong>",
        "<em>",
        "</em>",
        "<i>",
        "</i>",
        "<u>",
        "</u>",
        "<code>",
        "</code>",
        "<span>",
        "</span>",
        "<sub>",
        "</sub>",
        "<pre>",
        "</pre>",
        "<table>",
        "<td>",
        "<a href=\"https://example.org\">",
        "</a>",
        "<script>",
        "</script>",
        "<P>",
        "<p class=\"x\">",
        "<!-- c -->",
        "\r\n",
        "\u{85}",
        "\u{feff}",
        "<img src=x>",
        "<hr>",
        "<title>",
        "<noscript>",
    ];

    fn random_document(rng: &mut StdRng) -> String {
        let len = rng.random_range(0..24);
        (0..len)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect()
    }

    /// A document the fast path should mostly take: elements opened and closed by the rules,
    /// but for an element now and then where the rules do not allow it.
    fn well_formed(rng: &mut StdRng, depth: usize, parent: Option<&'static str>) -> String {
        let mut out = String::new();
        for _ in 0..rng.random_range(0..5) {
            let choice = rng.random_range(0..10);
            if depth >= 4 || choice < 4 {
                let text = [
                    "a b",
                    "&amp; x",
                    "1 &lt; 2 > 0",
                    "\u{a0}\u{430}",
                    "&#233;",
                    "<br>",
                ];
                out.push_str(text[rng.random_range(0..text.len())]);
                continue;
            }
            let inside_inline = parent.is_some_and(|p| !FLOW.contains(&p));
            let name = match parent {
                // Now and then an element where the parser would not keep it.
                _ if choice == 9 => {
                    let any = [BLOCKS, INLINE, &["li"]].concat();
                    any[rng.random_range(0..any.len())]
                }
                Some("ul" | "ol") => "li",
                _ if inside_inline => INLINE[rng.random_range(0..INLINE.len())],
                _ if choice < 7 => BLOCKS[rng.random_range(0..BLOCKS.len())],
                _ => INLINE[rng.random_range(0..INLINE.len())],
            };
            out.push_str(&format!(
                "<{name}>{}</{name}>",
                well_formed(rng, depth + 1, Some(name))
            ));
        }
        out
    }

    #[test]
    fn the_fast_path_answers_what_the_full_sanitiser_does() {
        let mut rng = StdRng::seed_from_u64(20261207);
        let mut taken = 0;
        for round in 0..40_000 {
            let raw = if round % 2 == 0 {
                random_document(&mut rng)
            } else {
                well_formed(&mut rng, 0, None)
            };
            if let Some(fast) = clean(&raw) {
                taken += 1;
                assert_eq!(fast, full_sanitize(&raw), "for {raw:?}");
            }
        }
        // The generated well-formed half mostly takes the fast path (nested emphasis of one
        // kind sends some away), so the comparison above covers it.
        assert!(taken > 12_000, "only {taken} documents took the fast path");
    }
}
