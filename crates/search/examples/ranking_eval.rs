//! Ranking evaluation for `bench/eval/run`: nDCG@10 and recall@50 of plain BM25 (the resume's
//! words as a search) against the full matcher (skills weighted by rarity, title, seniority,
//! location, salary, recency), on a labelled set of postings and resumes.
//!
//! ```sh
//! cargo run --release -p search --example ranking_eval [-- bench/eval/roles.json] [--seed N]
//! ```
//!
//! The set is built from hand-written roles (`bench/eval/roles.json`): for every role and level,
//! postings (half listing their skills, half naming them only in prose, as boards differ) and
//! resumes (skills in the spellings people use: aliases, other case, a related role's skill, a
//! stray one). A posting's grade for a resume comes from their roles and levels alone:
//! 3 same role and level, 2 same role another level, 1 a related role, 0 otherwise. Relevant
//! for recall means grade 2 or more.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use domain::{Job, JobId, NewJob, Seniority};
use search::index::JobIndex;
use search::index::matching::{Profile, Weights};
use search::index::query::SearchRequest;
use search::money::Rates;
use search::skills::{SkillExtractor, Taxonomy, seniority, years_of_experience};
use serde_json::{Value, json};

const POSTINGS_PER_ROLE_LEVEL: usize = 12;
const RESUMES_PER_ROLE_LEVEL: usize = 2;
const LEVELS: [(Seniority, &str, u32); 3] = [
    (Seniority::Junior, "Junior", 1),
    (Seniority::Middle, "Middle", 4),
    (Seniority::Senior, "Senior", 8),
];
/// Spellings people write instead of the canonical names.
const ALIASES: &[(&str, &str)] = &[
    ("Kubernetes", "k8s"),
    ("PostgreSQL", "Postgres"),
    ("JavaScript", "JS"),
    ("TypeScript", "TS"),
    ("Machine learning", "ML"),
    ("Apache Spark", "Spark"),
    ("Spring Boot", "Spring"),
    ("Node.js", "NodeJS"),
];

/// A small deterministic generator (xorshift64*), so every run sees the same set.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn some<T: Clone>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        let mut out = Vec::new();
        while out.len() < count && !pool.is_empty() {
            out.push(pool.swap_remove(self.below(pool.len())));
        }
        out
    }
}

struct Role {
    id: String,
    titles: Vec<String>,
    core: Vec<String>,
    extra: Vec<String>,
    related: Vec<String>,
}

struct Resume {
    role: usize,
    level: usize,
    text: String,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn load(path: &str) -> Vec<Role> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let taxonomy = Taxonomy::builtin();
    let mut roles: Vec<Role> = doc["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no roles"))
        .iter()
        .map(|role| Role {
            id: role["id"].as_str().unwrap_or_default().to_owned(),
            titles: strings(&role["titles"]),
            core: strings(&role["core"]),
            extra: strings(&role["extra"]),
            related: strings(&role["related"]),
        })
        .collect();
    // Names as people write them ("Kafka", "AWS") become the taxonomy's canonical ones, as
    // ingestion makes them; a name the taxonomy does not know is a mistake in the file.
    let mut unknown = Vec::new();
    for role in &mut roles {
        for list in [&mut role.core, &mut role.extra] {
            let mut canonical: Vec<String> = Vec::new();
            for skill in list.iter() {
                match taxonomy.canonicalize(skill) {
                    Some(known) if !canonical.contains(&known.name) => {
                        canonical.push(known.name.clone());
                    }
                    Some(_) => {}
                    None => unknown.push(format!("{skill:?} ({})", role.id)),
                }
            }
            *list = canonical;
        }
    }
    assert!(
        unknown.is_empty(),
        "{path}: skills the taxonomy does not know: {}",
        unknown.join(", ")
    );
    roles
}

fn spelled(skill: &str, rng: &mut Rng) -> String {
    if let Some((_, alias)) = ALIASES.iter().find(|(name, _)| *name == skill)
        && rng.below(2) == 0
    {
        return (*alias).to_owned();
    }
    if rng.below(3) == 0 {
        skill.to_lowercase()
    } else {
        skill.to_owned()
    }
}

/// The labelled set: postings, each posting's (role, level), and resumes.
struct Set {
    jobs: Vec<Job>,
    truth: HashMap<JobId, (usize, usize)>,
    resumes: Vec<Resume>,
}

fn build(roles: &[Role], rng: &mut Rng) -> Set {
    let extractor = SkillExtractor::builtin();
    let published = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).single();
    let mut jobs = Vec::new();
    let mut truth = HashMap::new();
    let mut resumes = Vec::new();
    let mut seq = 0;
    for (r, role) in roles.iter().enumerate() {
        for (l, (level, level_name, years)) in LEVELS.iter().enumerate() {
            for n in 0..POSTINGS_PER_ROLE_LEVEL {
                seq += 1;
                let title = format!("{level_name} {}", rng.pick(&role.titles));
                let extra_count = 2 + rng.below(2);
                let extras = rng.some(&role.extra, extra_count);
                let other = rng.below(roles.len());
                let stray = rng.pick(&roles[other].extra).clone();
                let mut wanted: Vec<String> = role.core.clone();
                wanted.extend(extras);
                let text = format!(
                    "We are hiring a {title} for a growing team. You will work with {}. \
                     At least {years} years of experience. Nice to have: {stray}. \
                     We offer a friendly team, flexible hours and a learning budget.",
                    wanted.join(", "),
                );
                let listed = n % 2 == 0;
                let skills = if listed {
                    wanted.clone()
                } else {
                    extractor.skill_names(&format!("{title}\n{text}"))
                };
                let posting: NewJob = serde_json::from_value(json!({
                    "source": "eval", "external_id": seq.to_string(),
                    "url": format!("https://jobs.example.org/{seq}"),
                    "title": title, "company": format!("Company {}", seq % 37),
                    "description_text": text, "skills": skills,
                    "seniority": level, "published_at": published,
                }))
                .unwrap_or_else(|e| panic!("posting {seq}: {e}"));
                let at = published.unwrap_or_default();
                let job = Job {
                    id: JobId::new(),
                    posting,
                    owner_id: None,
                    canonical_id: None,
                    first_seen_at: at,
                    last_seen_at: at,
                    updated_at: at,
                    closed_at: None,
                    change_seq: seq as i64,
                };
                truth.insert(job.id, (r, l));
                jobs.push(job);
            }
            for _ in 0..RESUMES_PER_ROLE_LEVEL {
                let mut skills: Vec<String> = role
                    .core
                    .iter()
                    .chain(rng.some(&role.extra, 3).iter())
                    .map(|s| spelled(s, rng))
                    .collect();
                if let Some(other) = role
                    .related
                    .first()
                    .and_then(|related| roles.iter().find(|o| &o.id == related))
                {
                    let skill: String = rng.pick(&other.core).clone();
                    skills.push(spelled(&skill, rng));
                }
                let other = rng.below(roles.len());
                let stray: String = rng.pick(&roles[other].extra).clone();
                skills.push(spelled(&stray, rng));
                let text = format!(
                    "{level_name} {} with {years} years of experience.\n\
                     Built and ran production systems in a small team; mentoring and code review.\n\
                     Skills: {}.",
                    rng.pick(&role.titles).to_lowercase(),
                    skills.join(", "),
                );
                resumes.push(Resume {
                    role: r,
                    level: l,
                    text,
                });
            }
        }
    }
    Set {
        jobs,
        truth,
        resumes,
    }
}

fn grade(roles: &[Role], resume: &Resume, job: (usize, usize)) -> u32 {
    let (role, level) = job;
    if role == resume.role {
        if level == resume.level { 3 } else { 2 }
    } else if roles[resume.role].related.contains(&roles[role].id) {
        1
    } else {
        0
    }
}

fn dcg(grades: impl Iterator<Item = u32>) -> f64 {
    grades
        .enumerate()
        .map(|(i, g)| (2f64.powi(g as i32) - 1.0) / ((i + 2) as f64).log2())
        .sum()
}

/// nDCG@10 and recall@50 of one ranking.
fn metrics(ranked: &[JobId], grades: &HashMap<JobId, u32>) -> (f64, f64) {
    let got = dcg(ranked
        .iter()
        .take(10)
        .map(|id| grades.get(id).copied().unwrap_or(0)));
    let mut best: Vec<u32> = grades.values().copied().collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    let ideal = dcg(best.into_iter().take(10));
    let relevant = grades.values().filter(|g| **g >= 2).count();
    let found = ranked
        .iter()
        .take(50)
        .filter(|id| grades.get(id).is_some_and(|g| *g >= 2))
        .count();
    (
        if ideal > 0.0 { got / ideal } else { 0.0 },
        if relevant > 0 {
            found as f64 / relevant as f64
        } else {
            0.0
        },
    )
}

/// The resume's words as a search: any of them, BM25-ranked over title, skills and text.
fn bm25(index: &JobIndex, text: &str) -> Vec<JobId> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .collect();
    let request = SearchRequest {
        text: Some(words.join(" OR ")),
        limit: 50,
        ..SearchRequest::default()
    };
    index
        .search(&request)
        .unwrap_or_else(|e| panic!("bm25 search: {e}"))
        .hits
        .into_iter()
        .map(|hit| hit.id)
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = "bench/eval/roles.json".to_owned();
    let mut seed = 20_261_203_u64;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            other => path = other.to_owned(),
        }
    }
    let roles = load(&path);
    let mut rng = Rng(seed | 1);
    let Set {
        jobs,
        truth,
        resumes,
    } = build(&roles, &mut rng);
    let index = JobIndex::in_memory(Rates::default()).unwrap_or_else(|e| panic!("index: {e}"));
    index
        .apply(&jobs)
        .unwrap_or_else(|e| panic!("indexing: {e}"));
    let extractor = SkillExtractor::builtin();
    let weights = Weights::default();
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();

    let (mut bm25_ndcg, mut bm25_recall, mut full_ndcg, mut full_recall) = (0.0, 0.0, 0.0, 0.0);
    for resume in &resumes {
        let grades: HashMap<JobId, u32> = truth
            .iter()
            .map(|(id, job)| (*id, grade(&roles, resume, *job)))
            .collect();
        let (n, r) = metrics(&bm25(&index, &resume.text), &grades);
        bm25_ndcg += n;
        bm25_recall += r;
        let profile = Profile {
            skills: extractor.skill_names(&resume.text),
            text: resume.text.clone(),
            seniority: seniority(&resume.text),
            years_experience: years_of_experience(&resume.text),
            ..Profile::default()
        };
        let ranked: Vec<JobId> = index
            .match_profile(&profile, &weights, 50, now)
            .unwrap_or_else(|e| panic!("matching: {e}"))
            .into_iter()
            .map(|m| m.id)
            .collect();
        let (n, r) = metrics(&ranked, &grades);
        full_ndcg += n;
        full_recall += r;
    }
    let count = resumes.len() as f64;
    println!(
        "{}",
        json!({
            "postings": jobs.len(),
            "resumes": resumes.len(),
            "roles": roles.len(),
            "seed": seed,
            "bm25": {"ndcg@10": bm25_ndcg / count, "recall@50": bm25_recall / count},
            "full": {"ndcg@10": full_ndcg / count, "recall@50": full_recall / count},
        })
    );
}
