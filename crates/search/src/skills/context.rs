//! Evidence that an ambiguous word ("Go", "R", "Spring") is meant as a skill. All functions
//! read the folded text (see `normalize`), where offsets are byte offsets on char boundaries.

/// Word stems that, a few words away, say the text talks about software. Matched as prefixes,
/// so they are long enough not to start unrelated words.
const CUE_STEMS: &[&str] = &[
    "language",
    "programm",
    "develop",
    "engineer",
    "software",
    "backend",
    "frontend",
    "fullstack",
    "framework",
    "librar",
    "compiler",
    "script",
    "coding",
    "devops",
    "microservice",
    "язык",
    "программ",
    "разработ",
    "фреймворк",
    "библиотек",
    "бэкенд",
    "бекенд",
    "фронтенд",
    "скрипт",
    "компилятор",
    "микросервис",
];

/// Short cue words, matched whole because as prefixes they would start unrelated words
/// ("код" starts "кодекс").
const CUE_WORDS: &[&str] = &[
    "code",
    "stack",
    "api",
    "sdk",
    "код",
    "кода",
    "коде",
    "кодом",
    "стек",
    "стека",
    "стеке",
];

/// Words that join the items of a list as a comma would.
const CONJUNCTIONS: &[&str] = &["and", "or", "и", "или", "также"];

/// Characters that separate the items of a written list of skills.
fn is_list_separator(c: char) -> bool {
    matches!(
        c,
        ',' | '/' | ';' | '|' | '(' | ')' | '[' | ']' | '\n' | '•' | '·' | '*' | '+' | ':'
    )
}

/// How far around a word cue words count, in bytes of folded text (about eight words).
const CUE_WINDOW: usize = 64;

pub(crate) fn is_word_char(c: char) -> bool {
    // ASCII and Russian letters first: the general test is a table lookup, and this runs for
    // every character of every text.
    c.is_ascii_alphanumeric()
        || c == '_'
        || matches!(c, '\u{410}'..='\u{44f}')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// Whether a word within [`CUE_WINDOW`] bytes of `start..end` is a software cue.
pub(crate) fn cue_nearby(text: &str, start: usize, end: usize) -> bool {
    let before = floor_char_boundary(text, start.saturating_sub(CUE_WINDOW));
    let after = ceil_char_boundary(text, (end + CUE_WINDOW).min(text.len()));
    words(&text[before..start])
        .chain(words(&text[end..after]))
        .any(is_cue)
}

fn is_cue(word: &str) -> bool {
    CUE_WORDS.contains(&word) || CUE_STEMS.iter().any(|stem| word.starts_with(stem))
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|word| !word.is_empty())
}

/// Whether `start..end` sits in a list next to another candidate skill: "Python, R, SQL",
/// "C/C++", "Java and Spring". `starts` and `ends` are the sorted spans of all candidates.
pub(crate) fn in_list(
    text: &str,
    start: usize,
    end: usize,
    starts: &[usize],
    ends: &[usize],
) -> bool {
    let neighbour_end = skip_separators_backward(&text[..start]);
    let neighbour_start = skip_separators_forward(text, end);
    neighbour_end.is_some_and(|at| ends.binary_search(&at).is_ok())
        || neighbour_start.is_some_and(|at| starts.binary_search(&at).is_ok())
}

/// Where the previous list item ends, if a separator or conjunction stands before `head`'s end.
fn skip_separators_backward(head: &str) -> Option<usize> {
    let mut separated = false;
    let mut rest = head.trim_end_matches(' ');
    loop {
        if let Some(stripped) = rest.strip_suffix(is_list_separator) {
            separated = true;
            rest = stripped.trim_end_matches(' ');
            continue;
        }
        let word_start = rest
            .char_indices()
            .rev()
            .find(|(_, c)| !is_word_char(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &rest[word_start..];
        let glued = rest[..word_start].ends_with(' ') || word_start == 0;
        if !word.is_empty() && glued && CONJUNCTIONS.contains(&word) {
            separated = true;
            rest = rest[..word_start].trim_end_matches(' ');
            continue;
        }
        return separated.then_some(rest.len());
    }
}

/// Where the next list item starts, if a separator or conjunction follows `from`.
fn skip_separators_forward(text: &str, from: usize) -> Option<usize> {
    let mut separated = false;
    let mut at = from;
    loop {
        let rest = &text[at..];
        let trimmed = rest.trim_start_matches(' ');
        at += rest.len() - trimmed.len();
        if let Some(c) = trimmed.chars().next().filter(|c| is_list_separator(*c)) {
            separated = true;
            at += c.len_utf8();
            continue;
        }
        let word_len = trimmed
            .find(|c: char| !is_word_char(c))
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_len];
        if word_len > 0 && CONJUNCTIONS.contains(&word) && trimmed[word_len..].starts_with(' ') {
            separated = true;
            at += word_len;
            continue;
        }
        return separated.then_some(at);
    }
}

/// Whether `start` begins a sentence or a line, where a capital letter proves nothing.
pub(crate) fn at_sentence_start(text: &str, start: usize) -> bool {
    match text[..start].trim_end_matches(' ').chars().next_back() {
        None => true,
        Some(c) => matches!(c, '.' | '!' | '?' | '\n' | '"' | '«' | '“'),
    }
}

/// Whether the word is glued to its neighbour by a hyphen, an ampersand or an apostrophe, as in
/// "C-level", "R&D", "Go's": then it is part of a compound, not a skill name.
pub(crate) fn glued_to_neighbour(text: &str, start: usize, end: usize) -> bool {
    let glue = |c: char| matches!(c, '-' | '&' | '\'' | '’' | '@');
    text[..start].chars().next_back().is_some_and(glue)
        || text[end..].chars().next().is_some_and(glue)
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_words_count_only_nearby() {
        let text = "we write go services and our developers love it";
        let go = text.find("go").unwrap();
        assert!(cue_nearby(text, go, go + 2));
        let far = format!("go {} developer", "x ".repeat(60));
        assert!(!cue_nearby(&far, 0, 2));
        let text = "опыт разработки на go";
        let go = text.find("go").unwrap();
        assert!(cue_nearby(text, go, go + 2));
        let text = "кодекс и go";
        let go = text.find("go").unwrap();
        assert!(!cue_nearby(text, go, go + 2));
    }

    #[test]
    fn list_neighbours_across_separators_and_conjunctions() {
        let text = "python, r, sql";
        let spans = [(0, 6), (8, 9), (11, 14)];
        let starts: Vec<usize> = spans.iter().map(|s| s.0).collect();
        let ends: Vec<usize> = spans.iter().map(|s| s.1).collect();
        assert!(in_list(text, 8, 9, &starts, &ends));
        let text = "java and spring";
        assert!(in_list(text, 9, 15, &[0, 9], &[4, 15]));
        let text = "ready to go now";
        assert!(!in_list(text, 9, 11, &[9], &[11]));
    }

    #[test]
    fn glue_and_sentence_starts() {
        assert!(glued_to_neighbour("c-level", 0, 1));
        assert!(glued_to_neighbour("r&d", 0, 1));
        assert!(!glued_to_neighbour("c/c++", 0, 1));
        assert!(at_sentence_start("done. go", 6));
        assert!(!at_sentence_start("we use go", 7));
    }
}
