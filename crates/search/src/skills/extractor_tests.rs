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
