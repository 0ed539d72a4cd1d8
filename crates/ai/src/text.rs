//! Small text helpers shared by the client and the documents.

/// The longest prefix of `text` with at most `max_chars` characters.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A short value (a title, a company, a skill) fit for one line of prose: control
/// characters dropped, whitespace collapsed, at most `max_chars` characters.
pub(crate) fn inline(text: &str, max_chars: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    truncate_chars(joined.trim(), max_chars)
        .trim_end()
        .to_owned()
}

/// "A", "A and B", "A, B and C".
pub(crate) fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("привет", 3), "при");
        assert_eq!(truncate_chars("abc", 10), "abc");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn inline_values_are_one_clean_line() {
        assert_eq!(
            inline("  Senior\n\tRust \u{0007}Engineer ", 100),
            "Senior Rust Engineer"
        );
        assert_eq!(inline("abcdef ghi", 7), "abcdef");
        assert_eq!(inline(" \n ", 10), "");
    }

    #[test]
    fn lists_read_as_prose() {
        let list =
            |items: &[&str]| join_list(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(list(&[]), "");
        assert_eq!(list(&["Rust"]), "Rust");
        assert_eq!(list(&["Rust", "SQL"]), "Rust and SQL");
        assert_eq!(list(&["Rust", "SQL", "Docker"]), "Rust, SQL and Docker");
    }
}
