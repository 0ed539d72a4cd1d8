//! Near-duplicate detection: the same position posted on two boards, or re-posted with small
//! edits, gets fingerprints a few bits apart.

use domain::NewJob;

use super::html::html_to_text;

/// Two fingerprints at most this many bits apart (of 64) are taken for the same position.
///
/// SimHash bits differ with probability θ/π, θ being the angle between the two jobs' shingle
/// sets. A re-post that shares about 85 % of its word pairs lies about 7 bits away on average;
/// different jobs, even from one company with the same boilerplate intro and outro, lie 20 or
/// more away. 12 sits between the two with room for the spread on either side.
pub const NEAR_DUPLICATE_MAX_DISTANCE: u32 = 12;

/// Words per shingle. Pairs keep some word order (unlike single words, which make any two texts
/// on one topic look alike) while a reworded phrase disturbs only a few shingles.
const SHINGLE_WORDS: usize = 2;

/// A 64-bit SimHash of the job's title, company and description text.
///
/// The text is lowercased and split into words at anything that is not a letter or a digit in
/// any script, so punctuation, markup leftovers and typographic quotes do not matter and
/// Russian or German text works as well as English. Each distinct shingle counts once, so
/// boilerplate repeated within a posting does not outweigh its content. Words are hashed as
/// they are read, without building strings: this runs for every posting ingested.
pub fn fingerprint(job: &NewJob) -> u64 {
    let derived;
    let description = match (&job.description_text, &job.description_html) {
        (Some(text), _) => text.as_str(),
        (None, Some(html)) => {
            derived = html_to_text(html);
            derived.as_str()
        }
        (None, None) => "",
    };
    let mut words = Vec::with_capacity(description.len() / 5 + 16);
    for part in [
        job.title.as_str(),
        job.company.as_deref().unwrap_or_default(),
        description,
    ] {
        word_hashes(part, &mut words);
    }
    simhash(&words)
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
}

/// Appends the FNV-1a hash of each lowercased word of `text`. ASCII, most of any text, is
/// taken a byte at a time without decoding.
fn word_hashes(text: &str, out: &mut Vec<u64>) {
    let bytes = text.as_bytes();
    let mut hash = FNV_OFFSET;
    let mut in_word = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte.is_ascii() {
            at += 1;
            if byte.is_ascii_alphanumeric() {
                hash = fnv(hash, byte.to_ascii_lowercase());
                in_word = true;
                continue;
            }
        } else {
            let c = text[at..].chars().next().unwrap_or_default();
            at += c.len_utf8();
            if fold_letter(c, &mut hash) {
                in_word = true;
                continue;
            }
        }
        if in_word {
            out.push(hash);
            hash = FNV_OFFSET;
            in_word = false;
        }
    }
    if in_word {
        out.push(hash);
    }
}

/// Hashes the lowercase of a non-ASCII letter or digit into `hash`; false for anything else.
fn fold_letter(c: char, hash: &mut u64) -> bool {
    if let Some(lower) = russian_lowercase(c) {
        *hash = fnv_char(*hash, lower);
        return true;
    }
    if !c.is_alphanumeric() {
        return false;
    }
    for lower in c.to_lowercase() {
        // "ё" is written as "е" as often as not; treat them as one letter.
        *hash = fnv_char(*hash, if lower == 'ё' { 'е' } else { lower });
    }
    true
}

/// `hash` continued over the UTF-8 bytes of `c`.
fn fnv_char(hash: u64, c: char) -> u64 {
    let mut buffer = [0u8; 4];
    c.encode_utf8(&mut buffer).bytes().fold(hash, fnv)
}

/// The lowercase of a Russian letter (with "ё" as "е"), without the general tables' lookups:
/// the same as the general path gives, for the second most common script here.
fn russian_lowercase(c: char) -> Option<char> {
    match c {
        'ё' | 'Ё' => Some('е'),
        'а'..='я' => Some(c),
        'А'..='Я' => char::from_u32(u32::from(c) + 0x20),
        _ => None,
    }
}

/// The MurmurHash3 finaliser: FNV alone spreads short inputs badly over the high bits, and
/// SimHash needs every bit to be a fair coin. Unlike the standard library's hasher, the result
/// never changes between Rust versions, so stored fingerprints stay comparable.
fn finalize(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

fn simhash(words: &[u64]) -> u64 {
    let mut shingles: Vec<u64> = if words.len() < SHINGLE_WORDS {
        words.iter().map(|&w| finalize(w)).collect()
    } else {
        words
            .windows(SHINGLE_WORDS)
            .map(|pair| finalize(pair[0].wrapping_mul(FNV_PRIME).rotate_left(29) ^ pair[1]))
            .collect()
    };
    if shingles.is_empty() {
        return 0;
    }
    shingles.sort_unstable();
    shingles.dedup();
    majority_bits(&shingles)
}

/// Byte `i` of `SPREAD[b]` is bit `i` of `b`: adding it counts eight bit positions at once.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte] |= 1 << (bit * 8);
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// The bits set in more than half of `hashes`: SimHash's vote, where each hash votes +1 for
/// each bit it has and -1 for each it lacks. Counted eight positions per addition, in byte
/// lanes that are emptied before they can overflow, instead of 64 additions per hash.
fn majority_bits(hashes: &[u64]) -> u64 {
    let mut counts = [0u32; 64];
    for chunk in hashes.chunks(u8::MAX as usize) {
        let mut lanes = [0u64; 8];
        for hash in chunk {
            for (byte, lane) in hash.to_le_bytes().iter().zip(&mut lanes) {
                *lane += SPREAD[usize::from(*byte)];
            }
        }
        for (group, lane) in lanes.iter().enumerate() {
            for (offset, count) in lane.to_le_bytes().iter().enumerate() {
                counts[group * 8 + offset] += u32::from(*count);
            }
        }
    }
    let total = hashes.len() as u64;
    counts
        .iter()
        .enumerate()
        .filter(|(_, count)| 2 * u64::from(**count) > total)
        .fold(0, |acc, (bit, _)| acc | 1 << bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        word_hashes(text, &mut out);
        out
    }

    #[test]
    fn words_are_unicode_aware_and_ignore_punctuation() {
        let hashes = |text: &str| {
            let mut out = Vec::new();
            word_hashes(text, &mut out);
            out
        };
        assert_eq!(
            hashes("Rust-разработчик (Backend), «Ёлка» you’ll"),
            hashes("rust разработчик backend елка you ll")
        );
        assert_eq!(hashes("…").len(), 0);
    }

    /// Word hashing as first written, one decoded character at a time.
    fn word_hashes_by_chars(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        let mut hash = FNV_OFFSET;
        let mut in_word = false;
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                hash = fnv(hash, c.to_ascii_lowercase() as u8);
                in_word = true;
            } else if !c.is_ascii() && c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    let lower = if lower == 'ё' { 'е' } else { lower };
                    let mut buffer = [0u8; 4];
                    for &byte in lower.encode_utf8(&mut buffer).as_bytes() {
                        hash = fnv(hash, byte);
                    }
                }
                in_word = true;
            } else if in_word {
                out.push(hash);
                hash = FNV_OFFSET;
                in_word = false;
            }
        }
        if in_word {
            out.push(hash);
        }
        out
    }

    #[test]
    fn the_byte_scan_hashes_words_as_the_character_scan_did() {
        let pieces = [
            "Rust",
            "DEV",
            "7",
            " ",
            "-",
            "’",
            "«",
            "Ёлка",
            "ёж",
            "ПРОГРАММИСТ",
            "İstanbul",
            "ß",
            "Ωmega",
            "日本",
            "é",
            "\u{a0}",
            "\n",
            "_",
            "x",
            "🦀",
            "Ǆ",
            "ﬁ",
        ];
        let mut state = 0x1234_5678_9abc_def1_u64;
        for round in 0..20_000 {
            let mut text = String::new();
            for _ in 0..round % 11 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                text.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            assert_eq!(words(&text), word_hashes_by_chars(&text), "{text:?}");
        }
    }

    #[test]
    fn small_edits_stay_close_and_other_texts_are_far() {
        let base = "Northwind Robotics builds autonomous forklifts for cold-storage warehouses. \
            Our fleet software plans routes for hundreds of vehicles at once and has to keep \
            working when the network does not. You will design and build the services that \
            coordinate our vehicles in real time: task assignment, traffic management and the \
            telemetry pipeline that feeds our operations dashboards.";
        let edited = base.replace("for hundreds of", "for several hundred");
        let other = "Kaltfront Systems entwickelt Software zur Überwachung von Kühlketten in der \
            Lebensmittellogistik. Unsere Sensoren melden alle 30 Sekunden Temperatur und Standort.";
        let (a, b, c) = (
            simhash(&words(base)),
            simhash(&words(&edited)),
            simhash(&words(other)),
        );
        assert!(
            hamming(a, b) <= NEAR_DUPLICATE_MAX_DISTANCE,
            "{}",
            hamming(a, b)
        );
        assert!(
            hamming(a, c) > NEAR_DUPLICATE_MAX_DISTANCE,
            "{}",
            hamming(a, c)
        );
    }

    #[test]
    fn the_russian_shortcut_agrees_with_the_general_lowercase() {
        // Stored fingerprints must not change with the shortcut.
        for c in ('\u{400}'..='\u{4ff}').filter(|c| russian_lowercase(*c).is_some()) {
            let general = c
                .to_lowercase()
                .next()
                .map(|l| if l == 'ё' { 'е' } else { l });
            assert_eq!(russian_lowercase(c), general, "{c}");
            assert!(c.is_alphanumeric());
        }
    }

    /// The vote as SimHash defines it, one bit at a time.
    fn majority_by_votes(hashes: &[u64]) -> u64 {
        let mut votes = [0i64; 64];
        for hash in hashes {
            for (bit, vote) in votes.iter_mut().enumerate() {
                *vote += ((hash >> bit) & 1) as i64 * 2 - 1;
            }
        }
        votes
            .iter()
            .enumerate()
            .filter(|(_, vote)| **vote > 0)
            .fold(0, |acc, (bit, _)| acc | 1 << bit)
    }

    #[test]
    fn counted_votes_agree_with_the_definition() {
        // Stored fingerprints must not change: every length around the lane flushes, skewed
        // and balanced bits, ties (which set nothing).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in (0..=1100).chain([2 * 255, 2 * 255 + 1, 4096]) {
            let mask = next();
            let hashes: Vec<u64> = (0..len)
                .map(|i| match i % 3 {
                    0 => next() | mask,
                    1 => next() & !mask,
                    _ => next(),
                })
                .collect();
            assert_eq!(majority_bits(&hashes), majority_by_votes(&hashes), "{len}");
        }
        assert_eq!(majority_bits(&[u64::MAX, 0]), 0);
        assert_eq!(majority_bits(&[u64::MAX; 255 * 3]), u64::MAX);
    }

    #[test]
    fn empty_text_has_a_zero_fingerprint() {
        assert_eq!(simhash(&[]), 0);
        assert_eq!(hamming(0, u64::MAX), 64);
    }
}
