use chrono::{TimeZone, Utc};
use domain::{Job, JobId, NewJob, Remote};
use serde_json::json;

use super::query::{SalaryFloor, SearchError};
use super::*;

fn job(seq: i64, posting: serde_json::Value) -> Job {
    let mut base = json!({
        "source": "greenhouse", "external_id": seq.to_string(),
        "url": format!("https://example.org/{seq}"), "title": "Engineer",
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), posting.as_object()) {
        base.extend(extra.clone());
    }
    let posting: NewJob = serde_json::from_value(base).unwrap();
    let seen = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    Job {
        id: JobId::new(),
        posting,
        owner_id: None,
        canonical_id: None,
        first_seen_at: seen,
        last_seen_at: seen,
        updated_at: seen,
        closed_at: None,
        change_seq: seq,
    }
}

fn request(text: &str) -> SearchRequest {
    SearchRequest {
        text: Some(text.to_owned()),
        limit: 10,
        ..SearchRequest::default()
    }
}

fn ids(results: &SearchResults) -> Vec<JobId> {
    results.hits.iter().map(|hit| hit.id).collect()
}

fn sample() -> (JobIndex, Vec<Job>) {
    let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
    let jobs = vec![
        job(
            1,
            json!({
                "title": "Senior Rust Developer", "company": "Ferrous",
                "description_text": "We build databases in Rust. Experience with PostgreSQL required.",
                "skills": ["Rust", "PostgreSQL"], "locations": ["Berlin, Germany"], "remote": "hybrid",
                "seniority": "senior",
                "salary": {"min": 80000, "max": 100000, "currency": "EUR", "period": "year"},
                "published_at": "2026-11-20T00:00:00Z",
            }),
        ),
        job(
            2,
            json!({
                "title": "Разработчик Python", "company": "Яндекс", "source": "hh",
                "description_text": "Ищем разработчиков на Python для работы с базами данных.",
                "skills": ["Python"], "locations": ["Москва"], "remote": "no",
                "salary": {"min": 250000, "currency": "RUB", "period": "month"},
                "published_at": "2026-11-25T00:00:00Z",
            }),
        ),
        job(
            3,
            json!({
                "title": "Data Engineer", "company": "Streamly",
                "description_text": "Pipelines in Python and Rust; developing data platforms.",
                "skills": ["Python", "Rust", "Kafka"], "remote": "yes",
                "published_at": "2026-11-10T00:00:00Z",
            }),
        ),
    ];
    index.apply(&jobs).unwrap();
    (index, jobs)
}

#[test]
fn words_match_across_inflections_in_both_languages() {
    let (index, jobs) = sample();
    // "developing"/"developer" share a stem; Russian "разработчиков" matches "разработчик".
    let found = index.search(&request("develop")).unwrap();
    assert_eq!(found.total, 2);
    assert!(ids(&found).contains(&jobs[0].id) && ids(&found).contains(&jobs[2].id));
    let found = index.search(&request("разработчиков")).unwrap();
    assert_eq!(ids(&found), [jobs[1].id]);
    // The title weighs more than the text.
    let found = index.search(&request("rust")).unwrap();
    assert_eq!(ids(&found)[0], jobs[0].id);
    assert!(found.hits[0].score.unwrap() > found.hits[1].score.unwrap());
}

#[test]
fn filters_narrow_the_results() {
    let (index, jobs) = sample();
    let all = |mut r: SearchRequest, f: &dyn Fn(&mut SearchRequest)| {
        r.text = None;
        f(&mut r);
        ids(&index.search(&r).unwrap())
    };
    let base = SearchRequest {
        limit: 10,
        ..SearchRequest::default()
    };
    // Without text: newest first.
    assert_eq!(
        all(base.clone(), &|_| {}),
        [jobs[1].id, jobs[0].id, jobs[2].id]
    );
    assert_eq!(
        all(base.clone(), &|r| r.sources = vec!["hh".into()]),
        [jobs[1].id]
    );
    assert_eq!(
        all(base.clone(), &|r| r.remote =
            vec![Remote::Yes, Remote::Hybrid]),
        [jobs[0].id, jobs[2].id]
    );
    assert_eq!(
        all(base.clone(), &|r| r.skills =
            vec!["rust".into(), "KAFKA".into()]),
        [jobs[2].id]
    );
    assert_eq!(
        all(base.clone(), &|r| r.location = Some("berlin".into())),
        [jobs[0].id]
    );
    // 250,000 RUB a month is about 33,000 USD a year; 80–100k EUR is above 60k USD.
    let floor = |amount: f64, currency: &str| SalaryFloor {
        amount,
        currency: currency.into(),
        period: domain::SalaryPeriod::Year,
    };
    assert_eq!(
        all(base.clone(), &|r| r.salary_at_least =
            Some(floor(60_000.0, "USD"))),
        [jobs[0].id]
    );
    assert_eq!(
        all(base.clone(), &|r| r.salary_at_least =
            Some(floor(2_000_000.0, "RUB"))),
        [jobs[1].id, jobs[0].id]
    );
    let after = Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap();
    assert_eq!(
        all(base.clone(), &|r| r.published_after = Some(after)),
        [jobs[1].id, jobs[0].id]
    );
    assert_eq!(
        all(base, &|r| r.published_before = Some(after)),
        [jobs[2].id]
    );
}

/// Years the index cannot count in nanoseconds (before 1678, after 2261) are clamped, in
/// postings and in filters alike, never a panic.
#[test]
fn dates_beyond_the_index_range_are_clamped() {
    let (index, jobs) = sample();
    let ancient = job(4, json!({"published_at": "0148-05-12T10:41:29Z"}));
    let future = job(5, json!({"published_at": "9999-01-01T00:00:00Z"}));
    index.apply(&[ancient.clone(), future.clone()]).unwrap();
    let all = |edit: &dyn Fn(&mut SearchRequest)| {
        let mut r = SearchRequest {
            limit: 10,
            ..SearchRequest::default()
        };
        edit(&mut r);
        let mut found = ids(&index.search(&r).unwrap());
        found.sort();
        found
    };
    let mut expected = vec![jobs[0].id, jobs[1].id, jobs[2].id, future.id];
    expected.sort();
    assert_eq!(
        all(&|r| r.published_after = Some(Utc.with_ymd_and_hms(1800, 1, 1, 0, 0, 0).unwrap())),
        expected
    );
    assert_eq!(
        all(&|r| r.published_before = Some(Utc.with_ymd_and_hms(1700, 1, 1, 0, 0, 0).unwrap())),
        vec![ancient.id]
    );
    assert_eq!(
        all(&|r| r.published_after = Some(Utc.with_ymd_and_hms(148, 6, 1, 0, 0, 0).unwrap())),
        {
            let mut everything = expected.clone();
            everything.push(ancient.id);
            everything.sort();
            everything
        }
    );
}

#[test]
fn facets_count_the_matching_postings() {
    let (index, _) = sample();
    let mut r = request("python OR rust");
    r.text = Some("python OR rust".into());
    r.facets = vec!["skill".into(), "source".into()];
    let found = index.search(&r).unwrap();
    assert_eq!(found.total, 3);
    let skills: std::collections::BTreeMap<_, _> = found.facets["skill"].iter().cloned().collect();
    assert_eq!(skills["Python"], 2);
    assert_eq!(skills["Rust"], 2);
    assert_eq!(skills["Apache Kafka"], 1);
    assert_eq!(found.facets["source"][0], ("greenhouse".to_owned(), 2));
}

#[test]
fn remembered_counts_follow_the_index_and_serve_every_page() {
    let (index, _) = sample();
    let mut r = request("python OR rust");
    r.facets = vec!["source".into()];
    r.limit = 1;
    let first = index.search(&r).unwrap();
    assert_eq!(first.total, 3);
    // The next pages reuse the counts and still page through every match, once each.
    let mut seen = ids(&first);
    for offset in 1..3 {
        r.offset = offset;
        let page = index.search(&r).unwrap();
        assert_eq!((page.total, &page.facets), (first.total, &first.facets));
        seen.extend(ids(&page));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // Another filter is another count.
    r.offset = 0;
    r.sources = vec!["hh".into()];
    let narrowed = index.search(&r).unwrap();
    assert!(narrowed.total < first.total, "{}", narrowed.total);
    // A new posting makes a new generation: counted again, the posting included.
    index
        .apply(&[job(
            99,
            json!({"title": "Python Developer", "skills": ["Python"], "source": "hh"}),
        )])
        .unwrap();
    let recounted = index.search(&r).unwrap();
    assert_eq!(recounted.total, narrowed.total + 1);
    let hh: std::collections::BTreeMap<_, _> = recounted.facets["source"].iter().cloned().collect();
    assert_eq!(hh["hh"] as usize, recounted.total);
}

#[test]
fn highlights_mark_the_matched_words_and_escape_the_rest() {
    let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
    let hostile = job(
        1,
        json!({
            "title": "Rust <script>alert(1)</script> engineer",
            "description_text": "Write Rust & <img src=x onerror=alert(1)> code.",
        }),
    );
    index.apply(&[hostile]).unwrap();
    let mut r = request("rust");
    r.highlight = true;
    let found = index.search(&r).unwrap();
    let highlighter = found.highlighter.as_ref().unwrap();
    let highlights = highlighter.highlight(
        "Rust <script>alert(1)</script> engineer",
        Some("Write Rust & <img src=x onerror=alert(1)> code."),
    );
    let title = highlights.title.unwrap();
    assert!(title.contains("<b>Rust</b>"), "{title}");
    assert!(
        title.contains("&lt;script&gt;") && !title.contains("<script>"),
        "{title}"
    );
    let text = highlights.text.unwrap();
    assert!(
        text.contains("<b>Rust</b>") && !text.contains("<img"),
        "{text}"
    );
}

#[test]
fn closed_postings_and_duplicates_leave_the_index() {
    let (index, mut jobs) = sample();
    jobs[0].closed_at = Some(Utc::now());
    jobs[0].change_seq = 4;
    jobs[2].canonical_id = Some(jobs[1].id);
    jobs[2].change_seq = 5;
    index.apply(&[jobs[0].clone(), jobs[2].clone()]).unwrap();
    assert_eq!(index.num_docs(), 1);
    assert_eq!(index.position().change_seq, 5);
    // A changed posting replaces its old document.
    jobs[1].posting.title = "Go developer".into();
    jobs[1].change_seq = 6;
    index.apply(&[jobs[1].clone()]).unwrap();
    assert_eq!(index.num_docs(), 1);
    assert_eq!(index.search(&request("go")).unwrap().total, 1);
    assert_eq!(
        index.search(&request("title:разработчик")).unwrap().total,
        0
    );
    assert_eq!(index.search(&request("title:go")).unwrap().total, 1);
}

#[test]
fn bad_queries_are_refused_with_a_message_naming_the_problem() {
    let (index, _) = sample();
    let message = |r: SearchRequest| match index.search(&r) {
        Err(SearchError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(message(request("title:(rust")).starts_with("q: the query is not valid"));
    assert!(message(request("salary:5")).contains("unknown field `salary`"));
    assert!(message(request(&"a ".repeat(600))).contains("longer than"));
    let mut r = request("rust");
    r.limit = 0;
    assert!(message(r).starts_with("limit"));
    let mut r = request("rust");
    r.offset = query::MAX_OFFSET + 1;
    assert!(message(r).starts_with("cursor"));
    let mut r = request("rust");
    r.facets = vec!["colour".into()];
    assert!(message(r).contains("unknown facet"));
    let mut r = request("rust");
    r.salary_at_least = Some(SalaryFloor {
        amount: 1.0,
        currency: "XAF".into(),
        period: domain::SalaryPeriod::Year,
    });
    assert!(message(r).contains("no exchange rate"));
}

#[test]
fn paging_walks_the_results_without_overlap() {
    let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
    let jobs: Vec<Job> = (1..=25)
        .map(|seq| job(seq, json!({"title": format!("Rust engineer {seq}")})))
        .collect();
    index.apply(&jobs).unwrap();
    let mut seen = std::collections::HashSet::new();
    for page in 0..3 {
        let mut r = request("rust");
        r.limit = 10;
        r.offset = page * 10;
        let found = index.search(&r).unwrap();
        assert_eq!(found.total, 25);
        for id in ids(&found) {
            assert!(seen.insert(id), "a posting appeared on two pages");
        }
    }
    assert_eq!(seen.len(), 25);
}

#[test]
fn the_position_survives_a_reopen_and_another_schema_version_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let rates = crate::money::Rates::default;
    let jobs = vec![job(7, json!({"title": "Rust engineer"}))];
    {
        let index = JobIndex::open(dir.path(), rates()).unwrap();
        assert_eq!(index.position(), Position::default());
        // A new index is built from the database: searches are partial until it catches up.
        assert!(index.is_rebuilding());
        index.apply(&jobs).unwrap();
        assert!(index.is_rebuilding(), "applying a page is not catching up");
        index.caught_up();
        assert!(!index.is_rebuilding());
        // One writer per folder: a second opener is told plainly.
        let busy = JobIndex::open(dir.path(), rates()).unwrap_err();
        assert!(matches!(busy, IndexError::Busy { .. }), "{busy:?}");
    }
    let index = JobIndex::open(dir.path(), rates()).unwrap();
    assert!(!index.is_rebuilding(), "a current index is only followed");
    assert_eq!(index.position().change_seq, 7);
    assert_eq!(index.position().job_id, Some(jobs[0].id));
    assert_eq!(index.search(&request("rust")).unwrap().total, 1);
    // An index whose commit says another schema version is thrown away.
    {
        let mut writer = index.writer.lock().unwrap();
        let mut commit = writer.prepare_commit().unwrap();
        commit.set_payload(r#"{"schema":0,"position":{"change_seq":7,"job_id":null}}"#);
        commit.commit().unwrap();
    }
    drop(index);
    let index = JobIndex::open(dir.path(), rates()).unwrap();
    assert_eq!(index.position(), Position::default());
    assert_eq!(index.num_docs(), 0);
    assert!(index.is_rebuilding());
    index.caught_up();
    // Clearing (`search reindex`) starts a rebuild too.
    index.clear().unwrap();
    assert!(index.is_rebuilding());
}

mod matching_and_insights {
    use super::*;
    use crate::index::insights::InsightError;
    use crate::index::matching::{Profile, Weights};

    fn profile(skills: &[&str], text: &str) -> Profile {
        Profile {
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            text: text.to_owned(),
            ..Profile::default()
        }
    }

    #[test]
    fn alerts_match_only_postings_first_seen_since_a_time() {
        let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
        let day = |d| Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap();
        let seen_on = |seq, d, skills: serde_json::Value| {
            let mut job = job(seq, json!({"title": "Rust Developer", "skills": skills}));
            job.first_seen_at = day(d);
            // Published long ago: "new" is about when jobpilot first saw it.
            job.posting.published_at = Some(day(1));
            job
        };
        let jobs = [
            seen_on(1, 2, json!(["Rust"])),
            seen_on(2, 5, json!(["Rust", "Kafka"])),
            seen_on(3, 6, json!(["Rust"])),
            seen_on(4, 7, json!(["Python"])),
            {
                let mut job = seen_on(5, 9, json!(["Rust"]));
                job.first_seen_at += chrono::TimeDelta::milliseconds(300);
                job
            },
        ];
        index.apply(&jobs).unwrap();
        let weights = Weights::default();
        let rust = profile(&["Rust", "Kafka"], "");
        let found = |since| {
            let mut ids: Vec<JobId> = index
                .match_seen_since(&rust, &weights, 10, day(8), since)
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect();
            ids.sort();
            ids
        };
        let mut expected = vec![jobs[1].id, jobs[2].id, jobs[4].id];
        expected.sort();
        assert_eq!(found(Some(day(5))), expected, "the bound is inclusive");
        let mut expected = vec![jobs[2].id, jobs[4].id];
        expected.sort();
        assert_eq!(found(Some(day(6))), expected);
        assert_eq!(found(Some(day(8))), [jobs[4].id]);
        let later_that_second = day(9) + chrono::TimeDelta::milliseconds(700);
        assert_eq!(
            found(Some(later_that_second)),
            [jobs[4].id],
            "seen in the same second still counts"
        );
        assert_eq!(found(None).len(), 4, "no bound: every match");
    }

    #[test]
    fn matches_rank_by_rarity_weighted_skill_coverage_and_explain_themselves() {
        let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
        let mut jobs = vec![
            job(
                1,
                json!({"title": "Senior Rust Developer", "skills": ["Rust", "PostgreSQL"], "seniority": "senior"}),
            ),
            job(
                2,
                json!({"title": "Data Engineer", "skills": ["Python", "Kafka"]}),
            ),
            job(
                3,
                json!({"title": "Platform Engineer", "skills": ["Rust", "Kafka", "AWS"]}),
            ),
        ];
        // Python is everywhere, Elixir rare: with one of two skills matched each, the posting
        // whose matched skill is the rare one covers more (unweighted, they would tie).
        for seq in 4..10 {
            jobs.push(job(
                seq,
                json!({"title": "Python Developer", "skills": ["Python", "Go"]}),
            ));
        }
        jobs.push(job(
            10,
            json!({"title": "Elixir Developer", "skills": ["Elixir", "Go"]}),
        ));
        index.apply(&jobs).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let weights = Weights::default();

        let found = index
            .match_profile(
                &profile(&["Rust", "PostgreSQL"], "Senior Rust developer"),
                &weights,
                10,
                now,
            )
            .unwrap();
        let order: Vec<JobId> = found.iter().map(|m| m.id).collect();
        assert_eq!(
            order,
            [jobs[0].id, jobs[2].id],
            "only postings sharing a skill"
        );
        assert_eq!(found[0].matched_skills.len(), 2);
        assert!(found[0].missing_skills.is_empty());
        assert_eq!(found[1].matched_skills, ["Rust"]);
        assert_eq!(found[1].missing_skills.len(), 2);
        let sum: f32 = found[0].features.iter().map(|f| f.contribution).sum();
        assert!((sum - found[0].score).abs() < 1e-5);
        assert!(found[0].reason.contains("skills"), "{}", found[0].reason);

        // Knowing the rare skill counts for more than knowing the common one.
        let found = index
            .match_profile(&profile(&["Python", "Elixir"], ""), &weights, 20, now)
            .unwrap();
        assert_eq!(found[0].id, jobs[9].id, "{found:#?}");

        // Nothing to match on: no matches rather than arbitrary ones.
        assert!(
            index
                .match_profile(&profile(&[], "hello"), &weights, 10, now)
                .unwrap()
                .is_empty()
        );
    }

    /// The recruiter's view: several resumes against one posting, with the same scores the
    /// seekers' matches give.
    #[test]
    fn profiles_rank_against_one_posting_as_matches_rank_postings() {
        let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
        let posting = job(
            1,
            json!({"title": "Senior Rust Developer", "skills": ["Rust", "PostgreSQL", "Kafka"], "seniority": "senior"}),
        );
        let mut closed = job(2, json!({"title": "Rust Developer", "skills": ["Rust"]}));
        closed.closed_at = Some(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap());
        index.apply(&[posting.clone(), closed.clone()]).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let weights = Weights::default();
        let strong = profile(&["Rust", "PostgreSQL", "Kafka"], "Senior Rust developer");
        let partial = profile(&["Rust"], "Developer");
        let none = profile(&["Excel"], "Accountant");
        let profiles = vec![
            ("partial", partial),
            ("none", none),
            ("strong", strong.clone()),
        ];

        let ranked = index
            .rank_profiles(posting.id, &profiles, &weights, now)
            .unwrap()
            .unwrap();
        let order: Vec<&str> = ranked.iter().map(|(key, _)| *key).collect();
        assert_eq!(order, ["strong", "partial", "none"]);
        assert_eq!(ranked[1].1.matched_skills, ["Rust"]);
        assert_eq!(ranked[1].1.missing_skills.len(), 2);
        assert!(ranked[2].1.matched_skills.is_empty());
        // The same score as the seeker's own match of that posting.
        let seen_by_seeker = index.match_profile(&strong, &weights, 10, now).unwrap();
        let same = seen_by_seeker.iter().find(|m| m.id == posting.id).unwrap();
        assert!((same.score - ranked[0].1.score).abs() < 1e-6);

        // A closed or unknown posting has no candidates to rank.
        assert!(
            index
                .rank_profiles(closed.id, &profiles, &weights, now)
                .unwrap()
                .is_none()
        );
        assert!(
            index
                .rank_profiles(JobId::new(), &profiles, &weights, now)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn weights_parse_and_refuse_nonsense() {
        let weights = Weights::parse("skills=1, recency=0").unwrap();
        assert_eq!(weights.skills, 1.0);
        assert_eq!(weights.recency, 0.0);
        assert_eq!(weights.title, Weights::default().title);
        assert!(
            Weights::parse("luck=1")
                .unwrap_err()
                .to_string()
                .contains("luck")
        );
        assert!(Weights::parse("skills=-1").is_err());
        assert!(
            Weights::parse("skills=0,title=0,seniority=0,location=0,salary=0,recency=0").is_err()
        );
    }

    #[test]
    fn skill_gap_and_salary_estimate_rest_on_enough_postings() {
        let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
        let mut jobs = Vec::new();
        for seq in 1..=6 {
            let mut skills = vec!["Python"];
            if seq <= 4 {
                skills.push("Kafka");
            }
            if seq <= 2 {
                skills.push("Spark");
            }
            jobs.push(job(seq, json!({
                "title": format!("Data Engineer {seq}"), "skills": skills,
                "salary": {"min": seq * 10_000, "max": seq * 10_000 + 20_000, "currency": "USD", "period": "year"},
            })));
        }
        jobs.push(job(7, json!({"title": "Chef", "skills": ["Cooking"]})));
        index.apply(&jobs).unwrap();

        let gap = index
            .skill_gap("data engineers", &["python".to_owned()])
            .unwrap();
        assert_eq!(gap.postings, 6);
        assert_eq!(gap.skills[0].skill, "Python");
        assert!(gap.skills[0].have);
        let missing: Vec<(&str, u64)> = gap
            .missing
            .iter()
            .map(|s| (s.skill.as_str(), s.postings))
            .collect();
        assert_eq!(missing, [("Apache Kafka", 4), ("Apache Spark", 2)]);
        assert!((gap.missing[0].share - 4.0 / 6.0).abs() < 1e-6);
        assert!(matches!(
            index.skill_gap("chef", &[]),
            Err(InsightError::TooFew { found: 1 })
        ));

        // Midpoints 20k, 30k, …, 70k a year.
        let estimate = index
            .salary_estimate("data engineer", None, "USD", domain::SalaryPeriod::Year)
            .unwrap();
        assert_eq!(estimate.postings, 6);
        assert_eq!(
            (estimate.p25, estimate.p50, estimate.p75),
            (32_500.0, 45_000.0, 57_500.0)
        );
        let monthly = index
            .salary_estimate("data engineer", None, "USD", domain::SalaryPeriod::Month)
            .unwrap();
        assert_eq!(monthly.p50, 3_750.0);
        assert!(matches!(
            index.salary_estimate("chef", None, "USD", domain::SalaryPeriod::Year),
            Err(InsightError::TooFew { found: 0 })
        ));
        assert!(
            index
                .salary_estimate("data engineer", None, "XAF", domain::SalaryPeriod::Year)
                .is_err()
        );
    }
}

/// A small deterministic generator for the tests that compare with a count done by hand.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The top `k` values by hand: most first, ties by value, none with a zero count.
fn top_by_hand<'a>(values: impl Iterator<Item = &'a str>, k: usize) -> Vec<(String, u64)> {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for value in values {
        *counts.entry(value.to_owned()).or_default() += 1;
    }
    let mut top: Vec<(String, u64)> = counts.into_iter().collect();
    top.sort_by(|(a, x), (b, y)| y.cmp(x).then_with(|| a.cmp(b)));
    top.truncate(k);
    top
}

#[test]
fn facet_counts_match_a_count_by_hand_across_segments_updates_and_closures() {
    let index = JobIndex::in_memory(crate::money::Rates::default()).unwrap();
    let sources = ["hh", "lever", "greenhouse", "adzuna", "remoteok"];
    let skills = [
        "rust", "python", "go", "java", "kafka", "sql", "react", "docker", "aws", "linux", "scala",
        "kotlin",
    ];
    let remotes = ["yes", "no", "hybrid"];
    let mut rng = Lcg(7);
    let mut pick = |n: usize| rng.below(n as u64) as usize;
    // Skewed draws, so some values are frequent and others rare (what the pruning relies on).
    let make = |seq: i64, pick: &mut dyn FnMut(usize) -> usize| {
        let source = sources[pick(sources.len()).min(pick(sources.len()))];
        let remote = remotes[pick(3)];
        // Remote postings favour the skills that are rare elsewhere: among them the most
        // frequent values are not the index's most frequent, so counting cannot stop early.
        let mut own: Vec<&str> = (0..1 + pick(4))
            .map(|_| pick(skills.len()).min(pick(skills.len())))
            .map(|at| {
                skills[if remote == "yes" {
                    skills.len() - 1 - at
                } else {
                    at
                }]
            })
            .collect();
        own.sort_unstable();
        own.dedup();
        job(
            seq,
            json!({"source": source, "skills": own, "remote": remote}),
        )
    };
    let mut current: Vec<Job> = Vec::new();
    let mut seq = 0;
    // Several commits (segments); later ones rewrite and close earlier jobs, leaving deletes.
    for round in 0..6 {
        let mut batch = Vec::new();
        // The first segment is large enough for the column to be read in several runs.
        for _ in 0..if round == 0 { 1_500 } else { 60 } {
            seq += 1;
            batch.push(make(seq, &mut pick));
        }
        if round > 0 {
            for _ in 0..15 {
                let at = pick(current.len());
                seq += 1;
                let mut changed = make(seq, &mut pick);
                changed.id = current[at].id;
                if pick(3) == 0 {
                    changed.closed_at = Some(changed.first_seen_at);
                }
                current[at] = changed.clone();
                batch.push(changed);
            }
        }
        index.apply(&batch).unwrap();
        let new: Vec<Job> = batch
            .into_iter()
            .filter(|j| !current.iter().any(|c| c.id == j.id))
            .collect();
        current.extend(new);
    }
    assert!(index.reader.searcher().segment_readers().len() > 1);
    let open: Vec<&Job> = current.iter().filter(|j| is_searchable(j)).collect();
    let searcher = index.reader.searcher();
    let source_of = |j: &Job| j.posting.source.clone();
    for (filter, keep) in [
        (None, Box::new(|_: &Job| true) as Box<dyn Fn(&Job) -> bool>),
        (
            Some(Remote::Yes),
            Box::new(|j: &Job| j.posting.remote == Some(Remote::Yes)),
        ),
    ] {
        let mut r = SearchRequest {
            limit: 1,
            facets: vec!["source".into(), "remote".into(), "skill".into()],
            ..SearchRequest::default()
        };
        r.remote = filter.into_iter().collect();
        let found = index.search(&r).unwrap();
        let matched: Vec<&&Job> = open.iter().filter(|j| keep(j)).collect();
        assert_eq!(found.total, matched.len());
        let sources: Vec<String> = matched.iter().map(|j| source_of(j)).collect();
        assert_eq!(
            found.facets["source"],
            top_by_hand(sources.iter().map(String::as_str), 20)
        );
        let remotes: Vec<String> = matched
            .iter()
            .filter_map(|j| j.posting.remote.as_ref().map(enum_name))
            .collect();
        assert_eq!(
            found.facets["remote"],
            top_by_hand(remotes.iter().map(String::as_str), 20)
        );
        // Every top-k cut, the ones that stop early included, against the count by hand.
        let (_, matches) = searcher
            .search(
                &index.build_query(&r).unwrap().all,
                &(tantivy::collector::Count, super::facets::Matches),
            )
            .unwrap();
        let keys: Vec<String> = matched
            .iter()
            .flat_map(|j| j.posting.skills.iter().map(|s| skill_key(s)))
            .collect();
        // Read from the postings lists only, from the columns only, and mixed by segment.
        for share in [0.0, 0.3, 0.6, 1.1] {
            for k in [1, 2, 3, 5, skills.len(), skills.len() + 5] {
                assert_eq!(
                    super::facets::top_values_reading_columns_below(
                        &searcher,
                        &matches,
                        index.fields.skill,
                        k,
                        share
                    )
                    .unwrap(),
                    top_by_hand(keys.iter().map(String::as_str), k),
                    "k = {k}, filter {filter:?}, column below {share}"
                );
            }
        }
    }
}
