//! The curated skill list: canonical names, categories and the spellings people use for them.
//!
//! The data lives in `crates/search/data/skills/*.tsv` so that a reviewer reads a diff of names,
//! not of code. One skill a line, tab-separated:
//!
//! ```text
//! name <TAB> category <TAB> alias|alias|...
//! ```
//!
//! `#` starts a comment line; the alias column may be empty or missing. A name or an alias may
//! carry a one-character prefix that restricts how free text matches it (lookups through
//! [`Taxonomy::canonicalize`] ignore prefixes, since a user typing "go" into a skill box means
//! the language):
//!
//! - `=` exact case only: `=Rust` is the language, "rust" on a ship's hull is not;
//! - `~` exact case and a technical context (another technical skill anywhere in the text, a cue
//!   word nearby, or a list of skills around it): `~Go`, `~Swift`;
//! - `!` exact case and a local context (a cue word nearby or a list around it), for words so
//!   common that a technical text elsewhere proves nothing: `!R`, `!C`, `!Spring`, `!Chef`.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde::Serialize;

use super::category::Category;
use super::normalize::normalize_key;

/// The embedded data files, in the order their skills get ids.
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "languages.tsv",
        include_str!("../../data/skills/languages.tsv"),
    ),
    ("web.tsv", include_str!("../../data/skills/web.tsv")),
    ("data.tsv", include_str!("../../data/skills/data.tsv")),
    ("infra.tsv", include_str!("../../data/skills/infra.tsv")),
    ("tools.tsv", include_str!("../../data/skills/tools.tsv")),
    (
        "business.tsv",
        include_str!("../../data/skills/business.tsv"),
    ),
    ("trades.tsv", include_str!("../../data/skills/trades.tsv")),
];

/// Position of a skill in its taxonomy. Ids follow the data files, so they change when the data
/// does: store canonical names, not ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SkillId(pub(crate) u32);

impl SkillId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub id: SkillId,
    pub name: String,
    pub category: Category,
    /// As written in the data, without match prefixes.
    pub aliases: Vec<String>,
}

/// How strictly free text must match a spelling before it counts; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchRule {
    AnyCase,
    ExactCase,
    TechContext,
    LocalContext,
}

impl MatchRule {
    fn from_prefix(form: &str) -> (MatchRule, &str) {
        match form.as_bytes().first() {
            Some(b'=') => (MatchRule::ExactCase, &form[1..]),
            Some(b'~') => (MatchRule::TechContext, &form[1..]),
            Some(b'!') => (MatchRule::LocalContext, &form[1..]),
            _ => (MatchRule::AnyCase, form),
        }
    }
}

/// One spelling the extractor looks for, keyed by its normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    pub key: String,
    pub skill: SkillId,
    pub rule: MatchRule,
    /// The exact spellings accepted when the rule is not [`MatchRule::AnyCase`].
    pub spellings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {problem}")]
pub struct TaxonomyError {
    pub file: String,
    pub line: usize,
    pub problem: String,
}

#[derive(Debug, Default)]
pub struct Taxonomy {
    skills: Vec<Skill>,
    forms: Vec<Form>,
    by_key: HashMap<String, usize>,
}

static BUILTIN: LazyLock<Taxonomy> = LazyLock::new(|| match Taxonomy::parse(BUILTIN_FILES) {
    Ok(taxonomy) => taxonomy,
    // The data is compiled in and a unit test parses it, so this is a build defect, not an
    // input error; running on with no skills would hide it behind empty results.
    Err(error) => panic!("embedded skill taxonomy is invalid: {error}"),
});

impl Taxonomy {
    pub fn builtin() -> &'static Taxonomy {
        &BUILTIN
    }

    /// Parses data files given as `(file name, contents)`; the name only labels errors.
    pub fn parse(files: &[(&str, &str)]) -> Result<Taxonomy, TaxonomyError> {
        let mut taxonomy = Taxonomy::default();
        let mut names: HashMap<String, (String, usize)> = HashMap::new();
        for (file, contents) in files {
            for (index, raw) in contents.lines().enumerate() {
                let at = |problem: String| TaxonomyError {
                    file: (*file).to_owned(),
                    line: index + 1,
                    problem,
                };
                let line = raw.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let columns: Vec<&str> = line.split('\t').collect();
                if !(2..=3).contains(&columns.len()) {
                    return Err(at(format!(
                        "expected `name<TAB>category[<TAB>aliases]`, found {} columns",
                        columns.len()
                    )));
                }
                let (name_rule, name) = MatchRule::from_prefix(columns[0].trim());
                if name.is_empty() {
                    return Err(at("empty skill name".to_owned()));
                }
                let category = columns[1]
                    .trim()
                    .parse::<Category>()
                    .map_err(|unknown| at(format!("unknown category `{unknown}`")))?;
                let name_key = normalize_key(name);
                if let Some((other_file, other_line)) = names.get(&name_key) {
                    return Err(at(format!(
                        "skill `{name}` already defined at {other_file} line {other_line}"
                    )));
                }
                names.insert(name_key, ((*file).to_owned(), index + 1));

                let id = SkillId(taxonomy.skills.len() as u32);
                let mut forms = vec![(name_rule, name)];
                let mut aliases = Vec::new();
                let alias_column = columns.get(2).map_or("", |column| column.trim());
                for alias in alias_column.split('|').filter(|_| !alias_column.is_empty()) {
                    let (rule, text) = MatchRule::from_prefix(alias.trim());
                    if text.is_empty() {
                        return Err(at("empty alias (a stray `|` or a lone prefix?)".to_owned()));
                    }
                    aliases.push(text.to_owned());
                    forms.push((rule, text));
                }
                taxonomy.skills.push(Skill {
                    id,
                    name: name.to_owned(),
                    category,
                    aliases,
                });
                for (rule, text) in forms {
                    taxonomy.add_form(id, rule, text).map_err(at)?;
                }
            }
        }
        Ok(taxonomy)
    }

    fn add_form(&mut self, skill: SkillId, rule: MatchRule, text: &str) -> Result<(), String> {
        let key = normalize_key(text);
        if key.is_empty() {
            return Err(format!("`{text}` is blank once normalised"));
        }
        let Some(&existing) = self.by_key.get(&key) else {
            self.by_key.insert(key.clone(), self.forms.len());
            self.forms.push(Form {
                key,
                skill,
                rule,
                spellings: vec![text.to_owned()],
            });
            return Ok(());
        };
        let form = &mut self.forms[existing];
        if form.skill != skill {
            let other = &self.skills[form.skill.index()].name;
            return Err(format!("`{text}` already means `{other}`"));
        }
        if form.rule != rule {
            return Err(format!(
                "`{text}` repeats a spelling of this skill with another prefix"
            ));
        }
        if !form.spellings.iter().any(|s| s == text) {
            form.spellings.push(text.to_owned());
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.skills.len()
    }

    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }

    pub fn skills(&self) -> &[Skill] {
        &self.skills
    }

    pub fn get(&self, id: SkillId) -> Option<&Skill> {
        self.skills.get(id.index())
    }

    /// The skill a hand-typed name or alias stands for, ignoring case, `ё`/`е`, dash style and
    /// extra whitespace: `canonicalize("k8s")` is Kubernetes.
    pub fn canonicalize(&self, name: &str) -> Option<&Skill> {
        let form = self.by_key.get(&normalize_key(name))?;
        self.get(self.forms[*form].skill)
    }

    pub(crate) fn forms(&self) -> &[Form] {
        &self.forms
    }
}

impl fmt::Display for Skill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn builtin_data_is_large_consistent_and_uses_every_category() {
        let taxonomy = Taxonomy::parse(BUILTIN_FILES).unwrap();
        assert!(taxonomy.len() >= 2000, "only {} skills", taxonomy.len());
        assert!(taxonomy.skills().iter().all(|s| !s.name.trim().is_empty()));
        let used: HashSet<Category> = taxonomy.skills().iter().map(|s| s.category).collect();
        for category in Category::ALL {
            assert!(used.contains(category), "no skill in {category}");
        }
        // The parser refuses an alias that names two skills; prove every form resolves back.
        for skill in taxonomy.skills() {
            for alias in skill.aliases.iter().chain([&skill.name]) {
                assert_eq!(
                    taxonomy.canonicalize(alias).unwrap().id,
                    skill.id,
                    "{alias}"
                );
            }
        }
    }

    #[test]
    fn canonicalizes_required_aliases() {
        let taxonomy = Taxonomy::builtin();
        for (alias, name) in [
            ("k8s", "Kubernetes"),
            ("Postgres", "PostgreSQL"),
            ("postgresql", "PostgreSQL"),
            ("psql", "PostgreSQL"),
            ("Постгрес", "PostgreSQL"),
            ("JS", "JavaScript"),
            ("TS", "TypeScript"),
            ("golang", "Go"),
            ("go", "Go"),
            ("React.js", "React"),
            ("ReactJS", "React"),
            ("c#", "C#"),
            ("C++", "C++"),
            ("f#", "F#"),
            (".net", ".NET"),
            ("nodejs", "Node.js"),
            ("Управление проектами", "Project management"),
            ("1С", "1C:Enterprise"),
            ("1C", "1C:Enterprise"),
            ("бухгалтерский учёт", "Accounting"),
            ("  MACHINE   learning ", "Machine learning"),
        ] {
            let skill = taxonomy.canonicalize(alias);
            assert_eq!(skill.map(|s| s.name.as_str()), Some(name), "{alias}");
        }
        assert!(taxonomy.canonicalize("Skill 1234").is_none());
        assert!(taxonomy.canonicalize("").is_none());
    }

    #[test]
    fn lookup_by_id_round_trips() {
        let taxonomy = Taxonomy::builtin();
        let rust = taxonomy.canonicalize("rust").unwrap();
        assert_eq!(taxonomy.get(rust.id), Some(rust));
        assert_eq!(rust.category, Category::Language);
        assert!(taxonomy.get(SkillId(u32::MAX)).is_none());
    }

    #[test]
    fn bad_data_names_the_file_and_line() {
        let cases = [
            ("Go\tlanguage\n# c\n\tlanguage\n", 3, "empty skill name"),
            ("Go\tlanguages\n", 1, "unknown category `languages`"),
            ("Go\n", 1, "columns"),
            ("Go\tlanguage\tgolang||x\n", 1, "empty alias"),
            (
                "Go\tlanguage\tgolang\nGolang2\tlanguage\tGOLANG\n",
                2,
                "already means `Go`",
            ),
            ("Go\tlanguage\nGO\ttool\n", 2, "already defined"),
            ("~Go\tlanguage\tgo\n", 1, "another prefix"),
        ];
        for (data, line, problem) in cases {
            let error = Taxonomy::parse(&[("test.tsv", data)]).unwrap_err();
            assert_eq!(
                (error.file.as_str(), error.line),
                ("test.tsv", line),
                "{data:?}"
            );
            assert!(error.to_string().contains(problem), "{error} for {data:?}");
        }
    }
}
