//! The text analyzer of the job index: postings mix Russian and English (often in one sentence),
//! so each word is stemmed by the language of its script rather than one language per field.

use std::{cell::RefCell, mem};

use frostem::{Algorithm, Stemmer};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer};

/// The name the analyzer is registered under in the index.
pub const TEXT_ANALYZER: &str = "jobpilot_text";

/// Words longer than this (base64 blobs, URLs glued together) are left out of the index.
const MAX_TOKEN_BYTES: usize = 48;

/// Stems remembered per thread before the memory is emptied and filled again.
const STEM_CACHE_MAX: usize = 50_000;

thread_local! {
    /// Words already stemmed on this thread, with their stems. Job text repeats a small
    /// vocabulary, and the stemmers were a fifth of the time spent indexing; a word's stem
    /// depends on the word alone (its script picks the stemmer), so the memory is never wrong.
    static STEMS: RefCell<foldhash::HashMap<String, String>> =
        RefCell::new(foldhash::HashMap::default());
}

pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(ScriptStemmer)
        .build()
}

/// Splits text into words (runs of letters and digits), leaves out words of
/// [`MAX_TOKEN_BYTES`] or more, and lowercases the rest: tantivy's `SimpleTokenizer`,
/// `RemoveLongFilter` and `LowerCaser` in one pass over the text. It makes the same tokens;
/// ASCII and Russian letters are told and lowercased without Unicode's tables, which were a
/// tenth of the time spent indexing.
#[derive(Debug, Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

#[allow(missing_debug_implementations)]
pub struct WordStream<'a> {
    text: &'a str,
    at: usize,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            at: 0,
            token: &mut self.token,
        }
    }
}

/// Whether a character belongs to a word, and the character itself (`None` at the end).
fn char_at(text: &str, at: usize) -> Option<(char, bool)> {
    let byte = *text.as_bytes().get(at)?;
    if byte.is_ascii() {
        return Some((char::from(byte), byte.is_ascii_alphanumeric()));
    }
    let c = text[at..].chars().next()?;
    let word = matches!(c, '\u{0410}'..='\u{044F}' | 'ё' | 'Ё') || c.is_alphanumeric();
    Some((c, word))
}

impl WordStream<'_> {
    /// The next word's byte range from `self.at`, moving past it.
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let start = loop {
            let (c, word) = char_at(self.text, self.at)?;
            if word {
                break self.at;
            }
            self.at += c.len_utf8();
        };
        while let Some((c, true)) = char_at(self.text, self.at) {
            self.at += c.len_utf8();
        }
        Some((start, self.at))
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        loop {
            let Some((from, to)) = self.next_word() else {
                return false;
            };
            // Every word takes a position, a left-out one too (as the filter did).
            self.token.position = self.token.position.wrapping_add(1);
            if to - from >= MAX_TOKEN_BYTES {
                continue;
            }
            self.token.offset_from = from;
            self.token.offset_to = to;
            let word = &self.text[from..to];
            if word.is_ascii() {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            } else {
                for c in word.chars() {
                    match c {
                        'А'..='Я' => self
                            .token
                            .text
                            .push(char::from_u32(u32::from(c) + 0x20).unwrap_or(c)),
                        'Ё' => self.token.text.push('ё'),
                        'а'..='я' | 'ё' => self.token.text.push(c),
                        c if c.is_ascii() => self.token.text.push(c.to_ascii_lowercase()),
                        c => self.token.text.extend(c.to_lowercase()),
                    }
                }
            }
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Stems Cyrillic words with the Russian stemmer and Latin ones with the English stemmer; words
/// with digits (versions, "1c", "s3") are kept as they are. `ё` is folded into `е` first, as
/// Russian text spells the same word both ways.
#[derive(Debug, Clone, Copy)]
pub struct ScriptStemmer;

impl TokenFilter for ScriptStemmer {
    type Tokenizer<T: Tokenizer> = ScriptStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> ScriptStemmerFilter<T> {
        ScriptStemmerFilter { inner: tokenizer }
    }
}

#[derive(Debug, Clone)]
pub struct ScriptStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for ScriptStemmerFilter<T> {
    type TokenStream<'a> = ScriptStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        ScriptStemmerStream {
            tail: self.inner.token_stream(text),
            english: Stemmer::new(Algorithm::English),
            russian: Stemmer::new(Algorithm::Russian),
        }
    }
}

#[allow(missing_debug_implementations)]
pub struct ScriptStemmerStream<T> {
    tail: T,
    english: Stemmer,
    russian: Stemmer,
}

#[derive(Debug, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Other,
}

fn script_of(word: &str) -> Script {
    let mut script = None;
    for c in word.chars() {
        let this = if c.is_ascii_alphabetic() {
            Script::Latin
        } else if ('\u{0400}'..='\u{04FF}').contains(&c) {
            Script::Cyrillic
        } else {
            return Script::Other;
        };
        match &script {
            None => script = Some(this),
            Some(seen) if *seen != this => return Script::Other,
            Some(_) => {}
        }
    }
    script.unwrap_or(Script::Other)
}

impl<T: TokenStream> TokenStream for ScriptStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if token.text.contains('ё') {
            token.text = token.text.replace('ё', "е");
        }
        let stemmer = match script_of(&token.text) {
            Script::Latin => &self.english,
            Script::Cyrillic => &self.russian,
            Script::Other => return true,
        };
        STEMS.with_borrow_mut(|stems| {
            if let Some(stem) = stems.get(token.text.as_str()) {
                token.text.clear();
                token.text.push_str(stem);
                return;
            }
            let stem = stemmer.stem(&token.text).into_owned();
            if stems.len() >= STEM_CACHE_MAX {
                stems.clear();
            }
            stems.insert(mem::replace(&mut token.text, stem.clone()), stem);
        });
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut analyzer = text_analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn each_word_is_stemmed_by_its_own_language() {
        assert_eq!(
            terms("Developers разработчиков Running разработчик ёлка"),
            ["develop", "разработчик", "run", "разработчик", "елк"]
        );
    }

    #[test]
    fn remembered_stems_are_the_stemmers_own() {
        let text = "Engineers building payment platforms разработчиков платёжных систем";
        STEMS.with_borrow_mut(foldhash::HashMap::clear);
        let fresh = terms(text);
        // The second pass comes from this thread's memory of stems.
        assert_eq!(terms(text), fresh);
        let english = Stemmer::new(Algorithm::English);
        assert_eq!(fresh[0], english.stem("engineers"));
        // A full memory is emptied, not grown.
        let latin = |mut n: usize| {
            let mut word = String::from("q");
            loop {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    return word;
                }
            }
        };
        let many: Vec<String> = (0..STEM_CACHE_MAX + 10).map(latin).collect();
        let _ = terms(&many.join(" "));
        assert!(STEMS.with_borrow(foldhash::HashMap::len) <= STEM_CACHE_MAX);
        assert_eq!(terms(text), fresh);
    }

    /// tantivy's chain the word tokenizer stands for.
    fn tantivy_words(text: &str) -> Vec<Token> {
        use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer};
        let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .build();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        stream.process(&mut |token| out.push(token.clone()));
        out
    }

    fn our_words(text: &str) -> Vec<Token> {
        let mut tokenizer = WordTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        stream.process(&mut |token| out.push(token.clone()));
        out
    }

    #[test]
    fn the_word_tokenizer_makes_the_tokens_of_the_chain_it_replaces() {
        // Letters and digits of many scripts, marks, symbols, characters whose lowercase is
        // longer or shorter, and long words around the limit.
        let pieces = [
            "Rust",
            "RUST",
            "go",
            "C++",
            "node.js",
            "k8s",
            "1С",
            "Разработчик",
            "ПРОГРАММИСТ",
            "Ёлка",
            "ёж",
            "ЁЖ",
            "Straße",
            "İstanbul",
            "ΣΟΦΙΑ",
            "Ǆemal",
            "東京",
            "١٢٣",
            "e\u{301}",
            "ǅ",
            "Ⅻ",
            "ﬁ",
            "🙂",
            "\u{0482}",
            "\u{0483}",
            "Ѣ",
            "ԱԲ",
            "\u{00A0}",
            "-",
            " ",
            ",",
            "\n",
            "\t",
            "__",
            "x",
            &"a".repeat(47),
            &"b".repeat(48),
            &"я".repeat(23),
            &"ж".repeat(24),
        ];
        let mut state = 1u64;
        let mut texts: Vec<String> = pieces.iter().map(|p| (*p).to_owned()).collect();
        for _ in 0..3_000 {
            let mut text = String::new();
            for _ in 0..12 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
                if (state >> 20).is_multiple_of(3) {
                    text.push(' ');
                }
            }
            texts.push(text);
        }
        for text in &texts {
            assert_eq!(our_words(text), tantivy_words(text), "{text:?}");
        }
    }

    #[test]
    fn words_with_digits_or_mixed_scripts_are_kept() {
        assert_eq!(terms("S3 1С k8s"), ["s3", "1с", "k8s"]);
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(terms(&format!("rust {long}")), ["rust"]);
    }
}
