//! Required experience and seniority as a posting or resume states them. Only stated facts:
//! when the text does not say, the answer is `None`, never a guess from other hints.

use domain::Seniority;

use super::normalize::Normalized;

/// More than this many years is a parsing accident (a founding year, an age), not experience.
const MAX_YEARS: f32 = 50.0;

/// The years of experience asked for or claimed: the lower bound of a range ("3-5 years" is 3,
/// "от 1 года до 3 лет" is 1) and, when a text states several ("5+ years overall, 2+ with Go"),
/// the largest, since postings list per-tool minimums under the overall one. "No experience
/// required" is a stated zero.
pub fn years_of_experience(text: &str) -> Option<f32> {
    let folded = Normalized::new(text).text;
    sentences(&folded)
        .filter_map(|sentence| years_in_sentence(&tokens(sentence)))
        .reduce(f32::max)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Number(f32),
    Word(&'a str),
    Plus,
    Dash,
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    // A dot ends a sentence only before a space, so "1.5 years" stays whole.
    text.split(['!', '?', '\n', ';'])
        .flat_map(|part| part.split(". "))
}

fn tokens(sentence: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = sentence;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                .unwrap_or(rest.len());
            let number = rest[..len].trim_end_matches(['.', ',']);
            if let Ok(value) = number.replace(',', ".").parse::<f32>() {
                tokens.push(Token::Number(value));
            }
            len
        } else if c.is_alphabetic() {
            let len = rest
                .find(|c: char| !(c.is_alphabetic() || c == '\''))
                .unwrap_or(rest.len());
            let word = rest[..len].trim_end_matches('\'');
            tokens.push(number_word(word).map_or(Token::Word(word), Token::Number));
            len
        } else {
            match c {
                '+' => tokens.push(Token::Plus),
                '-' => tokens.push(Token::Dash),
                _ => {}
            }
            c.len_utf8()
        };
        rest = &rest[len..];
    }
    tokens
}

fn number_word(word: &str) -> Option<f32> {
    let value = match word {
        "one" | "одного" | "один" => 1.0,
        "two" | "двух" | "два" => 2.0,
        "three" | "трех" | "три" => 3.0,
        "four" | "четырех" | "четыре" => 4.0,
        "five" | "пяти" | "пять" => 5.0,
        "six" | "шести" => 6.0,
        "seven" | "семи" => 7.0,
        "eight" | "eight's" | "восьми" => 8.0,
        "ten" | "десяти" => 10.0,
        _ => return None,
    };
    Some(value)
}

fn is_year_unit(word: &str) -> bool {
    matches!(
        word,
        "year" | "years" | "yr" | "yrs" | "год" | "года" | "лет" | "годы" | "годов"
    )
}

fn mentions_experience(tokens: &[Token<'_>]) -> bool {
    tokens.iter().any(|token| {
        matches!(token, Token::Word(w) if w.starts_with("experience")
            || w.starts_with("опыт")
            || w.starts_with("стаж")
            || *w == "exp")
    })
}

/// Words after "N years" that make it a statement about work rather than age or duration.
fn describes_work(word: &str) -> bool {
    matches!(
        word,
        "of" | "in"
            | "with"
            | "as"
            | "working"
            | "building"
            | "developing"
            | "designing"
            | "hands"
            | "professional"
            | "commercial"
            | "industry"
            | "relevant"
            | "production"
            | "работы"
            | "работая"
            | "коммерческой"
            | "коммерческого"
    )
}

fn years_in_sentence(tokens: &[Token<'_>]) -> Option<f32> {
    let no_experience_needed = tokens.windows(4).chain(tokens.windows(3)).any(|words| {
        matches!(
            words,
            [Token::Word("без"), Token::Word("опыта"), ..]
                | [
                    Token::Word("no"),
                    Token::Word("experience"),
                    Token::Word("required" | "needed"),
                    ..
                ]
                | [
                    Token::Word("no"),
                    Token::Word("prior"),
                    Token::Word("experience"),
                    ..
                ]
                | [
                    Token::Word("опыт"),
                    Token::Word("не"),
                    Token::Word("требуется"),
                    ..
                ]
                | [
                    Token::Word("опыт"),
                    Token::Word("работы"),
                    Token::Word("не"),
                    Token::Word("требуется")
                ]
        )
    });
    let experience = mentions_experience(tokens);
    let mut best: Option<f32> = None;
    for (at, token) in tokens.iter().enumerate() {
        let Token::Word(unit) = token else { continue };
        if !(is_year_unit(unit) || *unit == "полугода" || *unit == "полгода") {
            continue;
        }
        let after = match tokens.get(at + 1) {
            Some(Token::Word(word)) => Some(*word),
            _ => None,
        };
        if matches!(after, Some("old" | "старше" | "младше"))
            || (after == Some("of") && matches!(tokens.get(at + 2), Some(Token::Word("age"))))
        {
            continue;
        }
        if !(experience || after.is_some_and(describes_work)) {
            continue;
        }
        if let Some(value) = lower_bound_before(&tokens[..at], unit)
            .filter(|value| (0.0..=MAX_YEARS).contains(value))
        {
            best = Some(best.map_or(value, |b| b.max(value)));
        }
    }
    best.or(no_experience_needed.then_some(0.0))
}

/// The lower bound stated just before a year unit at the end of `before`, if any.
fn lower_bound_before(before: &[Token<'_>], unit: &str) -> Option<f32> {
    let mut rest = before;
    if let [head @ .., Token::Plus] = rest {
        rest = head;
    }
    let qualifier = |tokens: &[Token<'_>]| -> Option<&'static str> {
        match tokens {
            [.., Token::Word("up"), Token::Word("to")] | [.., Token::Word("до")] => Some("upper"),
            [
                ..,
                Token::Word("last" | "past" | "последние" | "последних" | "within"),
            ] => Some("period"),
            _ => None,
        }
    };
    match rest {
        // "1-3 years", "3 to 5 years", "от 1 до 3 лет": the first number.
        [
            ..,
            Token::Number(low),
            Token::Dash | Token::Word("to" | "до"),
            Token::Number(_),
        ] => {
            let head = &rest[..rest.len() - 3];
            (qualifier(head) != Some("period")).then_some(*low)
        }
        [head @ .., Token::Number(value)] => qualifier(head).is_none().then_some(*value),
        // "от года", "более года", "от полугода": the unit itself is the number.
        [
            ..,
            Token::Word("от" | "более" | "свыше" | "больше" | "менее"),
        ] => match unit {
            "года" | "год" => Some(1.0),
            "полугода" | "полгода" => Some(0.5),
            _ => None,
        },
        _ => None,
    }
}

/// The seniority a title (or, less reliably, a text) states, at its first mention.
pub fn seniority(text: &str) -> Option<Seniority> {
    let folded = Normalized::new(text).text;
    let words: Vec<&str> = folded
        .split(|c: char| !(c.is_alphanumeric() || c == '+'))
        .filter(|word| !word.is_empty())
        .collect();
    words.iter().enumerate().find_map(|(at, word)| {
        level_of(
            word.trim_end_matches('+'),
            words.get(at + 1).copied(),
            at.checked_sub(1).map(|i| words[i]),
        )
    })
}

fn level_of(word: &str, next: Option<&str>, previous: Option<&str>) -> Option<Seniority> {
    let role_follows = next.is_some_and(is_role_noun);
    let level = match word {
        "intern"
        | "interns"
        | "internship"
        | "trainee"
        | "стажер"
        | "стажерка"
        | "стажировка"
        | "практикант" => Seniority::Intern,
        "junior" | "jr" | "младший" | "джуниор" | "джун" => Seniority::Junior,
        "entry" if next == Some("level") => Seniority::Junior,
        "middle" if !matches!(next, Some("east" | "school" | "name" | "office")) => {
            Seniority::Middle
        }
        "mid" if matches!(next, Some("level" | "senior")) || role_follows => Seniority::Middle,
        "intermediate" | "мидл" | "миддл" => Seniority::Middle,
        "senior" | "sr" | "старший" | "сеньор" | "синьор" => Seniority::Senior,
        "lead"
            if role_follows
                || next.is_none()
                || matches!(previous, Some("team" | "tech" | "technical")) =>
        {
            Seniority::Lead
        }
        "teamlead" | "techlead" | "тимлид" | "техлид" | "ведущий" => {
            Seniority::Lead
        }
        "principal" | "главный" => Seniority::Principal,
        "staff" if role_follows => Seniority::Principal,
        "head" if matches!(next, Some("of")) => Seniority::Executive,
        "руководитель" if matches!(next, Some("группы" | "команды")) => {
            Seniority::Lead
        }
        "руководитель"
            if matches!(
                next,
                Some("отдела" | "департамента" | "направления" | "службы")
            ) =>
        {
            Seniority::Executive
        }
        "director" | "директор" | "vp" | "cto" | "ceo" | "cfo" | "coo" | "cio" | "chief" => {
            Seniority::Executive
        }
        _ => return None,
    };
    Some(level)
}

fn is_role_noun(word: &str) -> bool {
    [
        "engineer",
        "developer",
        "programmer",
        "designer",
        "analyst",
        "scientist",
        "architect",
        "manager",
        "consultant",
        "specialist",
        "administrator",
        "accountant",
        "tester",
        "qa",
        "devops",
        "sre",
        "researcher",
        "product",
        "data",
        "software",
        "frontend",
        "backend",
        "fullstack",
        "mobile",
        "ios",
        "android",
        "java",
        "python",
        "go",
        "sales",
        "recruiter",
        "разработчик",
        "программист",
        "инженер",
        "аналитик",
        "дизайнер",
        "тестировщик",
        "менеджер",
        "специалист",
        "бухгалтер",
        "консультант",
        "администратор",
    ]
    .iter()
    .any(|role| word.starts_with(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_stated_in_english() {
        for (text, years) in [
            ("5+ years of experience with Rust", 5.0),
            ("3-5 years of commercial experience", 3.0),
            ("Experience: 3 – 5 years", 3.0),
            ("at least 2 years of Python", 2.0),
            ("Minimum 1.5 years experience in QA", 1.5),
            ("two years of hands-on experience", 2.0),
            ("5+ years of experience overall. 2+ years with Go.", 5.0),
            ("No experience required, we train you", 0.0),
        ] {
            assert_eq!(years_of_experience(text), Some(years), "{text}");
        }
    }

    #[test]
    fn years_stated_in_russian() {
        for (text, years) in [
            ("Опыт работы от 3 лет", 3.0),
            ("Требуемый опыт работы: 1–3 года", 1.0),
            ("опыт от 1 года до 3 лет в разработке", 1.0),
            ("Опыт работы более 5 лет", 5.0),
            ("Опыт коммерческой разработки не менее 2 лет", 2.0),
            ("Опыт работы от года", 1.0),
            ("Без опыта, обучим", 0.0),
            ("Опыт работы не требуется", 0.0),
        ] {
            assert_eq!(years_of_experience(text), Some(years), "{text}");
        }
    }

    #[test]
    fn years_not_stated_stay_unknown() {
        for text in [
            "",
            "We are a friendly team of Rust developers",
            "Founded 25 years ago, the company employs 300 people",
            "Candidates must be 18 years old",
            "The project lasts 3 years",
            "Опыт работы с Docker приветствуется",
            "Компании 120 лет, опыт более 120 лет",
            "Experience up to 3 years",
            "Over the last 5 years we grew tenfold, and experience matters",
        ] {
            assert_eq!(years_of_experience(text), None, "{text}");
        }
    }

    #[test]
    fn seniority_in_both_languages() {
        for (title, level) in [
            ("Senior Rust Developer", Seniority::Senior),
            ("Sr. Data Engineer", Seniority::Senior),
            ("Junior QA", Seniority::Junior),
            ("Middle+ Python разработчик", Seniority::Middle),
            ("Team Lead backend", Seniority::Lead),
            ("Lead Designer", Seniority::Lead),
            ("Head of Engineering", Seniority::Executive),
            ("Principal Engineer", Seniority::Principal),
            ("Staff Software Engineer", Seniority::Principal),
            ("Software Engineering Intern", Seniority::Intern),
            ("Стажер-аналитик", Seniority::Intern),
            ("Младший бухгалтер", Seniority::Junior),
            ("Старший разработчик", Seniority::Senior),
            ("Ведущий инженер", Seniority::Lead),
            ("Руководитель отдела продаж", Seniority::Executive),
        ] {
            assert_eq!(seniority(title), Some(level), "{title}");
        }
    }

    #[test]
    fn seniority_not_stated_stays_unknown() {
        for text in [
            "",
            "Rust Developer",
            "Бухгалтер",
            "You will lead the migration of our billing",
            "Sales manager, Middle East",
            "Internal tools engineer",
            "Staff canteen cook",
        ] {
            assert_eq!(seniority(text), None, "{text}");
        }
    }
}
