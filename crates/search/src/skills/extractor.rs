//! Finding taxonomy skills in free text (resumes, job descriptions).
//!
//! One Aho-Corasick pass over the folded text finds every spelling at once, whatever the size of
//! the taxonomy; each match then has to stand on word boundaries, and spellings marked ambiguous
//! in the data have to pass the case and context rules of `context`.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{
    Anchored, MatchKind,
    automaton::{Automaton, StateID},
    nfa::contiguous::{self, NFA},
};
use serde::Serialize;

use super::category::Category;
use super::context::{at_sentence_start, cue_nearby, glued_to_neighbour, in_list, is_word_char};
use super::normalize::Normalized;
use super::taxonomy::{MatchRule, SkillId, Taxonomy};

/// A skill found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillHit<'a> {
    pub skill: SkillId,
    pub name: &'a str,
    pub category: Category,
    /// How many times it was mentioned, under any spelling.
    pub count: u32,
    /// Byte offset of the first mention in the text as given (not as folded).
    pub offset: usize,
}

#[derive(Debug)]
struct Pattern {
    skill: SkillId,
    rule: MatchRule,
    spellings: Vec<String>,
}

#[derive(Debug)]
pub struct SkillExtractor {
    /// Every folded spelling, walked anchored from each word start (see `candidates`).
    automaton: NFA,
    start: StateID,
    patterns: Vec<Pattern>,
    /// Pattern index by folded spelling, to try the shorter spellings a rejected match hides.
    by_key: HashMap<String, usize>,
    skills: Vec<(String, Category)>,
    /// Whether some spelling starts with the byte: the others need no walk at all.
    starts_spelling: [bool; 256],
}

/// A match that stands on word boundaries, in folded offsets.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    pattern: usize,
    start: usize,
    end: usize,
}

static BUILTIN: LazyLock<SkillExtractor> =
    LazyLock::new(|| match SkillExtractor::new(Taxonomy::builtin()) {
        Ok(extractor) => extractor,
        // Only the size of the embedded data decides this, and a unit test builds it.
        Err(error) => panic!("cannot build the skill matcher for the embedded taxonomy: {error}"),
    });

impl SkillExtractor {
    pub fn builtin() -> &'static SkillExtractor {
        &BUILTIN
    }

    pub fn new(taxonomy: &Taxonomy) -> Result<SkillExtractor, String> {
        let forms = taxonomy.forms();
        let automaton = contiguous::Builder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(forms.iter().map(|form| form.key.as_str()))
            .map_err(|error| error.to_string())?;
        let start = automaton
            .start_state(Anchored::Yes)
            .map_err(|error| error.to_string())?;
        let mut starts_spelling = [false; 256];
        for (byte, starts) in (0..=u8::MAX).zip(&mut starts_spelling) {
            *starts = !automaton.is_dead(automaton.next_state(Anchored::Yes, start, byte));
        }
        Ok(SkillExtractor {
            automaton,
            start,
            starts_spelling,
            patterns: forms
                .iter()
                .map(|form| Pattern {
                    skill: form.skill,
                    rule: form.rule,
                    spellings: form.spellings.clone(),
                })
                .collect(),
            by_key: forms
                .iter()
                .enumerate()
                .map(|(index, form)| (form.key.clone(), index))
                .collect(),
            skills: taxonomy
                .skills()
                .iter()
                .map(|skill| (skill.name.clone(), skill.category))
                .collect(),
        })
    }

    /// Skills mentioned in `text`, ordered by first mention.
    pub fn extract(&self, text: &str) -> Vec<SkillHit<'_>> {
        let folded = Normalized::new(text);
        let candidates: Vec<Candidate> = self
            .candidates(&folded.text)
            .into_iter()
            .filter(|c| self.case_matches(text, &folded, *c))
            .collect();
        let starts: Vec<usize> = candidates.iter().map(|c| c.start).collect();
        let ends: Vec<usize> = candidates.iter().map(|c| c.end).collect();
        let technical_text = candidates.iter().any(|c| {
            let pattern = &self.patterns[c.pattern];
            pattern.rule <= MatchRule::ExactCase
                && self.skills[pattern.skill.index()].1.is_technical()
        });

        let mut hits: Vec<SkillHit<'_>> = Vec::new();
        let mut hit_of_skill: HashMap<SkillId, usize> = HashMap::new();
        for candidate in &candidates {
            let pattern = &self.patterns[candidate.pattern];
            let (start, end) = (candidate.start, candidate.end);
            let accepted = match pattern.rule {
                MatchRule::AnyCase | MatchRule::ExactCase => true,
                MatchRule::TechContext | MatchRule::LocalContext => {
                    // At a sentence start the capital letter proves nothing, so the evidence has
                    // to be stronger: "Spring is here" next to "developers" is still the season.
                    let sentence_start = at_sentence_start(&folded.text, start);
                    let tech = pattern.rule == MatchRule::TechContext;
                    let listed = || in_list(&folded.text, start, end, &starts, &ends);
                    let cued = || (tech || !sentence_start) && cue_nearby(&folded.text, start, end);
                    let global = tech && technical_text && !sentence_start;
                    !glued_to_neighbour(&folded.text, start, end) && (global || listed() || cued())
                }
            };
            if !accepted {
                continue;
            }
            match hit_of_skill.get(&pattern.skill) {
                Some(&index) => hits[index].count += 1,
                None => {
                    let (name, category) = &self.skills[pattern.skill.index()];
                    hit_of_skill.insert(pattern.skill, hits.len());
                    hits.push(SkillHit {
                        skill: pattern.skill,
                        name,
                        category: *category,
                        count: 1,
                        offset: folded.original_offset(start),
                    });
                }
            }
        }
        hits
    }

    /// Canonical names of the skills mentioned in `text`, once each, by first mention.
    pub fn skill_names(&self, text: &str) -> Vec<String> {
        self.extract(text)
            .into_iter()
            .map(|hit| hit.name.to_owned())
            .collect()
    }

    /// Matches standing on word boundaries, left to right, not overlapping.
    ///
    /// A match may only start where a word starts, so the automaton is walked from each such
    /// place, byte by byte, until it dies (after a few bytes: no spelling goes on), keeping
    /// the longest spelling passed. An unanchored search would stop at every spelling inside a
    /// word ("c" in "scope") only for the match to be thrown away. The text is scanned by
    /// bytes: ASCII is classified by table, and a walk is not even begun from a byte that no
    /// spelling starts with.
    fn candidates(&self, folded: &str) -> Vec<Candidate> {
        let bytes = folded.as_bytes();
        let mut found = Vec::new();
        let mut at = 0;
        // The kinds of the two characters before the current one.
        let (mut before, mut before_that) = (None::<CharKind>, None::<CharKind>);
        let mut start = 0;
        while let Some(&byte) = bytes.get(start) {
            let (kind, width) = if byte.is_ascii() {
                (CharKind::of_ascii(byte), 1)
            } else {
                let c = folded[start..].chars().next().unwrap_or_default();
                (CharKind::of(c), c.len_utf8())
            };
            let word_starts = starts_word(before, before_that);
            (before_that, before) = (before, Some(kind));
            if start >= at
                && word_starts
                && self.starts_spelling[usize::from(byte)]
                && let Some((pattern, end)) = self.longest_at(bytes, start)
            {
                let accepted = if ends_word(folded, end) {
                    Some((pattern, end))
                } else {
                    self.shorter_match(folded, start, end)
                };
                if let Some((pattern, end)) = accepted {
                    found.push(Candidate {
                        pattern,
                        start,
                        end,
                    });
                    at = end;
                }
            }
            start += width;
        }
        found
    }

    /// The longest spelling that starts at `start` (pattern and end), if any.
    fn longest_at(&self, text: &[u8], start: usize) -> Option<(usize, usize)> {
        let automaton = &self.automaton;
        let mut state = self.start;
        let mut longest = None;
        for (end, &byte) in text.iter().enumerate().skip(start) {
            state = automaton.next_state(Anchored::Yes, state, byte);
            if automaton.is_special(state) {
                if automaton.is_dead(state) {
                    break;
                }
                if automaton.is_match(state) {
                    let pattern = automaton.match_pattern(state, 0);
                    let end = end + 1;
                    // A match state may also carry a spelling that started later.
                    if end - automaton.pattern_len(pattern) == start {
                        longest = Some((pattern.as_usize(), end));
                    }
                }
            }
        }
        longest
    }

    /// The longest spelling that starts at `start` and ends on a word boundary before `end`: a
    /// longest match that overshoots ("sql serverless") may hide a good shorter one ("sql").
    fn shorter_match(&self, folded: &str, start: usize, end: usize) -> Option<(usize, usize)> {
        let span = &folded[start..end];
        span.char_indices()
            .rev()
            .filter(|(i, c)| *i > 0 && !is_word_char(*c))
            .flat_map(|(i, c)| [i + c.len_utf8(), i])
            .filter(|len| ends_word(folded, start + len))
            .find_map(|len| {
                let pattern = self.by_key.get(&span[..len])?;
                Some((*pattern, start + len))
            })
    }

    /// Exact-case spellings must appear as written in the original text.
    fn case_matches(&self, text: &str, folded: &Normalized, candidate: Candidate) -> bool {
        let pattern = &self.patterns[candidate.pattern];
        if pattern.rule == MatchRule::AnyCase {
            return true;
        }
        let start = folded.original_offset(candidate.start);
        let end = folded.original_offset(candidate.end);
        text.get(start..end)
            .is_some_and(|original| pattern.spellings.iter().any(|s| s == original))
    }
}

/// What [`starts_word`] needs to know of a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharKind {
    Word,
    Dot,
    Other,
}

impl CharKind {
    fn of(c: char) -> CharKind {
        if c == '.' {
            CharKind::Dot
        } else if is_word_char(c) {
            CharKind::Word
        } else {
            CharKind::Other
        }
    }

    fn of_ascii(byte: u8) -> CharKind {
        ASCII_KINDS[usize::from(byte & 0x7f)]
    }
}

const ASCII_KINDS: [CharKind; 128] = {
    let mut kinds = [CharKind::Other; 128];
    let mut byte = 0;
    while byte < 128 {
        let b = byte as u8;
        if b == b'.' {
            kinds[byte] = CharKind::Dot;
        } else if b.is_ascii_alphanumeric() || b == b'_' {
            kinds[byte] = CharKind::Word;
        }
        byte += 1;
    }
    kinds
};

/// Whether a match may start after characters of kind `before` (and `before_that`, the one
/// before it): not inside a word, and not after a dot that is itself inside a word ("java" in
/// "org.java" is not the language).
fn starts_word(before: Option<CharKind>, before_that: Option<CharKind>) -> bool {
    match before {
        None => true,
        Some(CharKind::Dot) => before_that != Some(CharKind::Word),
        Some(kind) => kind != CharKind::Word,
    }
}

/// Whether a match may end at `end`: not inside a word, not before `+` or `#` ("C" in "C++"),
/// and not before a dot that goes on into a word ("Node" in "Node.js"), though a sentence's
/// final dot is fine ("Node.js.") and so is a dot after a symbol ("C#.NET").
fn ends_word(folded: &str, end: usize) -> bool {
    let ends_with_symbol = folded[..end]
        .chars()
        .next_back()
        .is_some_and(|c| !is_word_char(c));
    let mut after = folded[end..].chars();
    match after.next() {
        None => true,
        Some('+' | '#') => false,
        Some('.') => ends_with_symbol || !after.next().is_some_and(is_word_char),
        Some(c) => !is_word_char(c),
    }
}

#[cfg(test)]
#[path = "extractor_tests.rs"]
mod tests;
