use super::*;

fn names(text: &str) -> Vec<String> {
    SkillExtractor::builtin().skill_names(text)
}

fn has(text: &str, skill: &str) -> bool {
    names(text).iter().any(|name| name == skill)
}

#[test]
fn required_aliases_are_found_in_text() {
    let text = "Stack: k8s, Postgres, psql, JS and TS, golang, React.js, ReactJS, C#, C++, F#, \
                .NET, Node.js.";
    assert_eq!(
        names(text),
        [
            "Kubernetes",
            "PostgreSQL",
            "JavaScript",
            "TypeScript",
            "Go",
            "React",
            "C#",
            "C++",
            "F#",
            ".NET",
            "Node.js"
        ]
    );
}

#[test]
fn russian_text() {
    let text = "Требуется бухгалтер: бухгалтерский учёт, 1С:Бухгалтерия, знание 1С, Управление \
                проектами. Опыт с Постгрес и Кубернетес приветствуется; английский язык.";
    let found = names(text);
    for skill in [
        "Accounting",
        "1С:Бухгалтерия",
        "1C:Enterprise",
        "Project management",
        "PostgreSQL",
        "Kubernetes",
        "English",
    ] {
        assert!(
            found.iter().any(|n| n == skill),
            "{skill} missing from {found:?}"
        );
    }
}

#[test]
fn ambiguous_words_need_case_and_context() {
    assert!(has("We use Go and PostgreSQL", "Go"));
    assert!(names("I am ready to go").is_empty());
    assert!(!has("Let's go to market together", "Go"));
    assert!(names("Our R&D department").is_empty());
    assert!(has("Python, R, SQL", "R"));
    assert!(names("We work with C-level executives").is_empty());
    assert_eq!(names("C/C++ developer"), ["C", "C++"]);
    assert!(names("Plan B is fine").is_empty());
    assert!(!has(
        "Spring is here, Java developers welcome",
        "Spring Framework"
    ));
    assert!(has("Java, Spring, Hibernate", "Spring Framework"));
    assert!(!has("Our chef cooks with Python", "Chef"));
    assert!(!has("A go-getter with Python skills", "Go"));
    assert!(has("Разработчик на Go", "Go"));
    assert!(has("Опыт программирования на R", "R"));
}

#[test]
fn symbols_and_punctuation_at_word_edges() {
    assert_eq!(names("C++"), ["C++"]);
    assert_eq!(names("Node.js."), ["Node.js"]);
    assert_eq!(
        names("(Kubernetes), \"Docker\"; Terraform!"),
        ["Kubernetes", "Docker", "Terraform"]
    );
    assert_eq!(names("ASP.NET Core and C#.NET"), ["ASP.NET", "C#", ".NET"]);
    assert!(names("javascripting postgresqlx kubernetesy").is_empty());
    assert!(!has("a file named config.java", "Java"));
    assert_eq!(names("SQL Serverish"), ["SQL"]);
    assert_eq!(
        names("Machine\t  learning — and Post\u{00AD}greSQL"),
        ["Machine learning", "PostgreSQL"]
    );
    // A line break ends a list item in resumes, so it also ends a skill name.
    assert_eq!(names("Machine\nLearning"), Vec::<String>::new());
}

#[test]
fn counts_and_offsets_point_into_the_original_text() {
    let text = "Ёжик\u{00A0}\u{00A0}знает  Python — и ещё раз PYTHON, а также Кубернетес.";
    let hits = SkillExtractor::builtin().extract(text);
    let python = hits.iter().find(|h| h.name == "Python").unwrap();
    assert_eq!(python.count, 2);
    assert_eq!(&text[python.offset..python.offset + 6], "Python");
    let k8s = hits.iter().find(|h| h.name == "Kubernetes").unwrap();
    assert!(text[k8s.offset..].starts_with("Кубернетес"));
    assert_eq!(k8s.category, Category::Devops);
}

#[test]
fn empty_and_skill_free_text() {
    assert!(names("").is_empty());
    assert!(names("   \n\t ").is_empty());
    assert!(names("The weather was nice and we went home.").is_empty());
}

#[test]
fn output_is_deterministic_and_ordered_by_first_mention() {
    let text = "Docker, then Kafka, then Docker again, then Rust.";
    let first = SkillExtractor::builtin().extract(text);
    assert_eq!(first, SkillExtractor::builtin().extract(text));
    let order: Vec<&str> = first.iter().map(|h| h.name).collect();
    assert_eq!(order, ["Docker", "Apache Kafka", "Rust"]);
    assert_eq!(first[0].count, 2);
}

#[test]
fn ten_megabytes_do_not_blow_up() {
    let paragraph = "Senior backend engineer: Go, PostgreSQL, k8s, Kafka. Опыт работы с Python \
                     и Docker от 3 лет. ";
    let text = paragraph.repeat(10 * 1024 * 1024 / paragraph.len() + 1);
    let hits = SkillExtractor::builtin().extract(&text);
    let docker = hits.iter().find(|h| h.name == "Docker").unwrap();
    assert_eq!(docker.count as usize, text.matches("Docker").count());
}

#[test]
fn a_custom_taxonomy_builds_its_own_extractor() {
    let taxonomy = Taxonomy::parse(&[("t.tsv", "Widgets\ttool\twidgetry\n")]).unwrap();
    let extractor = SkillExtractor::new(&taxonomy).unwrap();
    assert_eq!(
        extractor.skill_names("Widgetry and more widgets"),
        ["Widgets"]
    );
}

/// The candidate scan as first written, one decoded character at a time, with every word
/// start walked: the byte scan must find exactly the same.
fn candidates_by_chars(extractor: &SkillExtractor, folded: &str) -> Vec<(usize, usize, usize)> {
    let starts_word = |before: Option<char>, before_that: Option<char>| match before {
        None => true,
        Some('.') => !before_that.is_some_and(is_word_char),
        Some(c) => !is_word_char(c),
    };
    let mut found = Vec::new();
    let mut at = 0;
    let (mut before, mut before_that) = (None::<char>, None::<char>);
    for (start, c) in folded.char_indices() {
        let word_starts = starts_word(before, before_that);
        (before_that, before) = (before, Some(c));
        if start < at || !word_starts {
            continue;
        }
        let Some((pattern, end)) = extractor.longest_at(folded.as_bytes(), start) else {
            continue;
        };
        let accepted = if ends_word(folded, end) {
            Some((pattern, end))
        } else {
            extractor.shorter_match(folded, start, end)
        };
        if let Some((pattern, end)) = accepted {
            found.push((pattern, start, end));
            at = end;
        }
    }
    found
}

#[test]
fn the_byte_scan_finds_what_the_character_scan_finds() {
    let extractor = SkillExtractor::builtin();
    let forms = Taxonomy::builtin().forms();
    let glue = [
        " ", ", ", ".", "..", " .", "-", "_", "+", "#", "/", "\n", "(", "é", "ж", "ё", "—",
        "\u{a0}", "x", "7", "org.", ":",
    ];
    let mut state = 0x2545_f491_u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let mut compared = 0;
    for _ in 0..10_000 {
        let mut text = String::new();
        for _ in 0..next(24) {
            if next(2) == 0 {
                text.push_str(&forms[next(forms.len())].key);
            } else {
                text.push_str(glue[next(glue.len())]);
            }
        }
        let folded = Normalized::new(&text).text;
        let by_bytes: Vec<_> = extractor
            .candidates(&folded)
            .iter()
            .map(|c| (c.pattern, c.start, c.end))
            .collect();
        assert_eq!(
            by_bytes,
            candidates_by_chars(extractor, &folded),
            "{folded:?}"
        );
        compared += by_bytes.len();
    }
    assert!(compared > 5_000, "only {compared} candidates compared");
}
