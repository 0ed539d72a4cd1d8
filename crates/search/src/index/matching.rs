//! Matching a resume to jobs: candidates come from the index (postings sharing the resume's
//! skills), then each is re-ranked by explainable features — skill coverage weighted by how
//! rare each skill is, title words found in the resume, seniority fit, remote/location fit,
//! salary fit and recency — with weights from configuration.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use domain::{JobId, Remote, Seniority};
use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{Searcher, TantivyDocument, Term};

use super::query::SalaryFloor;
use super::schema::{enum_name, index_date, skill_key};
use super::{IndexError, JobIndex};

/// Postings re-ranked per request; the best of them by shared skills.
const CANDIDATES: usize = 300;

/// How much each feature counts; they need not sum to one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weights {
    pub skills: f32,
    pub title: f32,
    pub seniority: f32,
    pub location: f32,
    pub salary: f32,
    pub recency: f32,
    /// Similarity of the texts, when an embedding model is configured.
    pub semantic: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            skills: 0.5,
            title: 0.15,
            seniority: 0.1,
            location: 0.1,
            salary: 0.05,
            recency: 0.1,
            semantic: 0.3,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("match weights: {0}")]
pub struct WeightsError(String);

impl Weights {
    /// `skills=0.5,title=0.15,…`; unnamed features keep their default weight.
    pub fn parse(spec: &str) -> Result<Self, WeightsError> {
        let mut weights = Self::default();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| WeightsError(format!("`{pair}` is not name=weight")))?;
            let value: f32 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f32| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| WeightsError(format!("`{pair}`: not a weight ≥ 0")))?;
            let slot = match name.trim() {
                "skills" => &mut weights.skills,
                "title" => &mut weights.title,
                "seniority" => &mut weights.seniority,
                "location" => &mut weights.location,
                "salary" => &mut weights.salary,
                "recency" => &mut weights.recency,
                "semantic" => &mut weights.semantic,
                other => {
                    return Err(WeightsError(format!(
                        "unknown feature `{other}` (skills, title, seniority, location, salary, recency, semantic)"
                    )));
                }
            };
            *slot = value;
        }
        if weights.total() <= 0.0 {
            return Err(WeightsError(
                "at least one weight must be above 0".to_owned(),
            ));
        }
        Ok(weights)
    }

    /// The weights of the features the index scores (all but `semantic`).
    pub fn total(&self) -> f32 {
        self.skills + self.title + self.seniority + self.location + self.salary + self.recency
    }
}

/// What is known of the candidate: from the resume, and the preferences of this request.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Canonical skill names.
    pub skills: Vec<String>,
    /// The resume's text (title words of a posting are looked for in it).
    pub text: String,
    pub seniority: Option<Seniority>,
    pub years_experience: Option<f32>,
    /// Wanted working arrangements; empty: no preference.
    pub remote: Vec<Remote>,
    /// Wanted place (words of a location).
    pub location: Option<String>,
    pub salary_at_least: Option<SalaryFloor>,
}

/// One feature's part in a match's score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeatureScore {
    /// skills, title, seniority, location, salary, recency or semantic.
    pub feature: &'static str,
    /// How well the posting does on it, from 0 to 1.
    pub value: f32,
    pub weight: f32,
    /// `value × weight / Σ weights`: what it adds to the score.
    pub contribution: f32,
    /// The feature in words.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobMatch {
    pub id: JobId,
    /// From 0 to 1.
    pub score: f32,
    /// The posting's skills the resume has, rarest first (canonical names).
    pub matched_skills: Vec<String>,
    /// The posting's skills the resume lacks, rarest first.
    pub missing_skills: Vec<String>,
    pub features: Vec<FeatureScore>,
    /// Why it ranks here, in one sentence.
    pub reason: String,
}

/// What the index holds of a candidate.
struct Candidate {
    id: JobId,
    title: String,
    skills: Vec<String>,
    seniority: Option<Seniority>,
    remote: Option<Remote>,
    locations: Vec<String>,
    pay: Option<f64>,
    published: Option<DateTime<Utc>>,
}

fn seniority_rank(seniority: Seniority) -> i32 {
    match seniority {
        Seniority::Intern => 0,
        Seniority::Junior => 1,
        Seniority::Middle => 2,
        Seniority::Senior => 3,
        Seniority::Lead => 4,
        Seniority::Principal => 5,
        Seniority::Executive => 6,
    }
}

/// The level stated, or else the one the years of experience suggest.
fn profile_level(profile: &Profile) -> Option<i32> {
    profile.seniority.map(seniority_rank).or_else(|| {
        profile.years_experience.map(|years| match years {
            y if y < 1.0 => 0,
            y if y < 3.0 => 1,
            y if y < 5.0 => 2,
            _ => 3,
        })
    })
}

fn parse_enum<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

impl JobIndex {
    /// Words of `text` as the index analyses them (stemmed, lowercased).
    pub(crate) fn analysed_words(&self, text: &str) -> HashSet<String> {
        let mut analyzer = super::text_analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut words = HashSet::new();
        while stream.advance() {
            words.insert(stream.token().text.clone());
        }
        words
    }

    fn candidate(&self, doc: &TantivyDocument) -> Option<Candidate> {
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str());
        Some(Candidate {
            id: JobId::from_uuid(text(f.id)?.parse().ok()?),
            title: text(f.title).unwrap_or_default().to_owned(),
            skills: doc
                .get_all(f.skill)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            seniority: text(f.seniority).and_then(parse_enum),
            remote: text(f.remote).and_then(parse_enum),
            locations: doc
                .get_all(f.locations)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            pay: doc.get_first(f.salary_usd_year).and_then(|v| v.as_f64()),
            published: doc
                .get_first(f.published)
                .and_then(|v| v.as_datetime())
                .and_then(|d| DateTime::from_timestamp_micros(d.into_timestamp_micros())),
        })
    }

    /// Inverse document frequency of a skill: rare skills say more about a match.
    fn skill_weight(
        &self,
        searcher: &Searcher,
        key: &str,
        cache: &mut HashMap<String, f32>,
    ) -> f32 {
        if let Some(weight) = cache.get(key) {
            return *weight;
        }
        let docs = searcher.num_docs() as f32;
        let freq = searcher
            .doc_freq(&Term::from_field_text(self.fields.skill, key))
            .unwrap_or(0) as f32;
        let weight = ((docs + 1.0) / (freq + 1.0)).ln() + 1.0;
        cache.insert(key.to_owned(), weight);
        weight
    }

    /// The best `limit` postings for a profile, best first. Blocking: call from a blocking
    /// thread. A profile without skills gets no matches (there is nothing to match on).
    pub fn match_profile(
        &self,
        profile: &Profile,
        weights: &Weights,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobMatch>, IndexError> {
        self.match_seen_since(profile, weights, limit, now, None)
    }

    /// As [`JobIndex::match_profile`], among the postings first seen at or after `since` (all
    /// with `None`): what a match alert reports. Blocking.
    pub fn match_seen_since(
        &self,
        profile: &Profile,
        weights: &Weights,
        limit: usize,
        now: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<JobMatch>, IndexError> {
        let keys: Vec<String> = profile.skills.iter().map(|s| skill_key(s)).collect();
        if keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let mut idf = HashMap::new();
        let skills: Vec<(Occur, Box<dyn Query>)> = keys
            .iter()
            .map(|key| {
                let weight = self.skill_weight(&searcher, key, &mut idf);
                let term = Term::from_field_text(self.fields.skill, key);
                let query: Box<dyn Query> = Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                    weight,
                ));
                (Occur::Should, query)
            })
            .collect();
        let query: Box<dyn Query> = match since {
            None => Box::new(BooleanQuery::new(skills)),
            Some(since) => {
                // The field keeps whole seconds: a posting seen in the same second counts.
                let second = since.timestamp();
                let since = DateTime::from_timestamp(second, 0).unwrap_or(since);
                let seen = Term::from_field_date(self.fields.first_seen, index_date(since));
                Box::new(BooleanQuery::new(vec![
                    (
                        Occur::Must,
                        Box::new(BooleanQuery::new(skills)) as Box<dyn Query>,
                    ),
                    (
                        Occur::Must,
                        Box::new(RangeQuery::new(Bound::Included(seen), Bound::Unbounded)),
                    ),
                ]))
            }
        };
        let top = searcher.search(&query, &TopDocs::with_limit(CANDIDATES).order_by_score())?;
        let reader = ProfileReading::new(self, profile);
        let mut matches = Vec::with_capacity(top.len());
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(job) = self.candidate(&doc) else {
                continue;
            };
            matches.push(self.score(&searcher, &reader, &job, weights, &mut idf, now));
        }
        matches.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        matches.truncate(limit);
        Ok(matches)
    }

    /// Scores several candidates' profiles against one posting, best first, with the same
    /// features and explanations as [`JobIndex::match_profile`]: the recruiter's view. `None`
    /// when the posting is not in the index (closed, a duplicate, or unknown). Blocking.
    pub fn rank_profiles<K: Clone>(
        &self,
        job: JobId,
        profiles: &[(K, Profile)],
        weights: &Weights,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<(K, JobMatch)>>, IndexError> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.id, &job.to_string());
        let found = searcher.search(
            &TermQuery::new(term, IndexRecordOption::Basic),
            &TopDocs::with_limit(1).order_by_score(),
        )?;
        let Some((_, address)) = found.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*address)?;
        let Some(candidate) = self.candidate(&doc) else {
            return Ok(None);
        };
        let mut idf = HashMap::new();
        let mut ranked: Vec<(K, JobMatch)> = profiles
            .iter()
            .map(|(key, profile)| {
                let reader = ProfileReading::new(self, profile);
                let scored = self.score(&searcher, &reader, &candidate, weights, &mut idf, now);
                (key.clone(), scored)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        Ok(Some(ranked))
    }

    /// One posting's features and score for one profile.
    fn score(
        &self,
        searcher: &Searcher,
        reading: &ProfileReading<'_>,
        job: &Candidate,
        weights: &Weights,
        idf: &mut HashMap<String, f32>,
        now: DateTime<Utc>,
    ) -> JobMatch {
        let profile = reading.profile;
        let total_weight = weights.total().max(f32::EPSILON);
        let mut features = Vec::with_capacity(6);
        let mut push = |feature, value: f32, weight: f32, detail: String| {
            features.push(FeatureScore {
                feature,
                value,
                weight,
                contribution: value * weight / total_weight,
                detail,
            });
        };

        // Skills, each weighted by rarity.
        let mut skills: Vec<(String, f32, bool)> = job
            .skills
            .iter()
            .map(|key| {
                let weight = self.skill_weight(searcher, key, idf);
                (key.clone(), weight, reading.skills.contains(key.as_str()))
            })
            .collect();
        skills.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let all: f32 = skills.iter().map(|s| s.1).sum();
        let got: f32 = skills.iter().filter(|s| s.2).map(|s| s.1).sum();
        let matched: Vec<String> = skills
            .iter()
            .filter(|s| s.2)
            .map(|s| super::skill_display(&s.0))
            .collect();
        let missing: Vec<String> = skills
            .iter()
            .filter(|s| !s.2)
            .map(|s| super::skill_display(&s.0))
            .collect();
        let coverage = if all > 0.0 { got / all } else { 0.0 };
        push(
            "skills",
            coverage,
            weights.skills,
            format!(
                "{} of {} skills the posting names",
                matched.len(),
                skills.len()
            ),
        );

        let title_words = self.analysed_words(&job.title);
        let found = title_words
            .iter()
            .filter(|w| reading.words.contains(*w))
            .count();
        let title = if title_words.is_empty() {
            0.0
        } else {
            found as f32 / title_words.len() as f32
        };
        push(
            "title",
            title,
            weights.title,
            format!(
                "{found} of {} title words appear in the resume",
                title_words.len()
            ),
        );

        let (seniority, detail) = match (reading.level, job.seniority) {
            (Some(mine), Some(theirs)) => {
                let gap = (mine - seniority_rank(theirs)).abs() as f32;
                let name = enum_name(&theirs);
                (
                    (1.0 - gap / 3.0).max(0.0),
                    if gap == 0.0 {
                        format!("{name}, as the resume")
                    } else {
                        format!("{name}, {gap} level(s) from the resume")
                    },
                )
            }
            _ => (0.5, "level not stated on both sides".to_owned()),
        };
        push("seniority", seniority, weights.seniority, detail);

        let remote_fit = match (profile.remote.is_empty(), job.remote) {
            (true, _) => None,
            (false, Some(remote)) => Some(if profile.remote.contains(&remote) {
                1.0
            } else {
                0.0
            }),
            (false, None) => Some(0.5),
        };
        let place_fit = (!reading.location.is_empty()).then(|| {
            let here = job.locations.iter().any(|l| {
                self.analysed_words(l)
                    .iter()
                    .any(|w| reading.location.contains(w))
            });
            if here || job.remote == Some(Remote::Yes) {
                1.0
            } else {
                0.0
            }
        });
        let (location, detail) = match (remote_fit, place_fit) {
            (None, None) => (0.5, "no location preference given".to_owned()),
            (r, p) => {
                let parts: Vec<f32> = [r, p].into_iter().flatten().collect();
                let value = parts.iter().sum::<f32>() / parts.len() as f32;
                (
                    value,
                    if value >= 1.0 {
                        "where and how you want to work".to_owned()
                    } else if value <= 0.0 {
                        "not where or how you want to work".to_owned()
                    } else {
                        "partly where and how you want to work".to_owned()
                    },
                )
            }
        };
        push("location", location, weights.location, detail);

        let (salary, detail) = match (reading.floor_usd, job.pay) {
            (Some(floor), Some(pay)) if floor > 0.0 => (
                (pay / floor).min(1.0) as f32,
                if pay >= floor {
                    "pays at least what you ask".to_owned()
                } else {
                    format!("pays about {:.0}% of what you ask", pay / floor * 100.0)
                },
            ),
            (Some(_), _) => (0.5, "pay not stated".to_owned()),
            (None, _) => (0.5, "no salary expectation given".to_owned()),
        };
        push("salary", salary, weights.salary, detail);

        let (recency, detail) = match job.published {
            Some(at) => {
                let days = (now - at).num_hours().max(0) as f32 / 24.0;
                (
                    0.5f32.powf(days / 30.0),
                    format!("published {} day(s) ago", days.round()),
                )
            }
            None => (0.5, "publication date unknown".to_owned()),
        };
        push("recency", recency, weights.recency, detail);

        let score: f32 = features.iter().map(|f| f.contribution).sum();
        let reason = explain(&features, &matched, &missing);
        JobMatch {
            id: job.id,
            score,
            matched_skills: matched,
            missing_skills: missing,
            features,
            reason,
        }
    }
}

/// A profile as matching reads it, worked out once per request rather than per posting.
struct ProfileReading<'a> {
    profile: &'a Profile,
    /// Skill keys the resume has.
    skills: HashSet<String>,
    /// The resume's words, analysed as the index analyses titles.
    words: HashSet<String>,
    level: Option<i32>,
    location: HashSet<String>,
    floor_usd: Option<f64>,
}

impl<'a> ProfileReading<'a> {
    fn new(index: &JobIndex, profile: &'a Profile) -> Self {
        Self {
            profile,
            skills: profile.skills.iter().map(|s| skill_key(s)).collect(),
            words: index.analysed_words(&profile.text),
            level: profile_level(profile),
            location: profile
                .location
                .as_deref()
                .map(|l| index.analysed_words(l))
                .unwrap_or_default(),
            floor_usd: profile.salary_at_least.as_ref().and_then(|floor| {
                index
                    .rates
                    .usd_per_year(floor.amount, &floor.currency, floor.period)
            }),
        }
    }
}

fn explain(features: &[FeatureScore], matched: &[String], missing: &[String]) -> String {
    let mut best: Vec<&FeatureScore> = features.iter().filter(|f| f.weight > 0.0).collect();
    best.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    let lead = best
        .first()
        .map(|f| format!("Ranks here mostly for {} ({})", f.feature, f.detail))
        .unwrap_or_default();
    let list = |skills: &[String]| {
        skills
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut reason = lead;
    if !matched.is_empty() {
        reason.push_str(&format!("; you have {}", list(matched)));
    }
    if !missing.is_empty() {
        reason.push_str(&format!("; missing {}", list(missing)));
    }
    reason.push('.');
    reason
}
