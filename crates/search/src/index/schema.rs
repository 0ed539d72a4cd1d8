//! The fields of the job index and how a stored job becomes a document.

use domain::Job;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime, TantivyDocument};

use super::analyzer::TEXT_ANALYZER;
use crate::money::Rates;

/// Bumped whenever the fields or the analysis change: an index built with another version is
/// rebuilt from the database on open.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub title: Field,
    pub company: Field,
    pub text: Field,
    pub skills: Field,
    pub skill: Field,
    pub locations: Field,
    pub source: Field,
    pub remote: Field,
    pub seniority: Field,
    pub employment: Field,
    pub salary_usd_year: Field,
    /// The middle of the stated range (or its one bound), for salary statistics.
    pub salary_mid_usd_year: Field,
    pub published: Field,
    /// When jobpilot first saw the posting: what "new" means to a match alert.
    pub first_seen: Field,
}

pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analysed = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TEXT_ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", analysed(true)),
        company: builder.add_text_field("company", analysed(false)),
        text: builder.add_text_field("text", analysed(false)),
        skills: builder.add_text_field("skills", analysed(false)),
        skill: builder.add_text_field("skill", STRING | STORED | FAST),
        locations: builder.add_text_field("location", analysed(true)),
        source: builder.add_text_field("source", STRING | FAST),
        remote: builder.add_text_field("remote", STRING | STORED | FAST),
        seniority: builder.add_text_field("seniority", STRING | STORED | FAST),
        employment: builder.add_text_field("employment_type", STRING | FAST),
        salary_usd_year: builder.add_f64_field("salary_usd_year", INDEXED | FAST | STORED),
        salary_mid_usd_year: builder.add_f64_field("salary_mid_usd_year", INDEXED | FAST | STORED),
        published: builder.add_date_field("published", INDEXED | FAST | STORED),
        first_seen: builder.add_date_field("first_seen", INDEXED | FAST),
    };
    (builder.build(), fields)
}

/// The key an exact skill filter and the skill facet use: the canonical name, lowercased.
pub fn skill_key(name: &str) -> String {
    name.trim().to_lowercase().replace('ё', "е")
}

/// How a skill key is shown: the taxonomy's canonical name when the skill is known, the key
/// itself otherwise.
pub fn skill_display(key: &str) -> String {
    crate::skills::Taxonomy::builtin()
        .canonicalize(key)
        .map_or_else(|| key.to_owned(), |skill| skill.name.clone())
}

/// The serde name of an enum value (`full_time`), as the API spells it.
pub fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// Whether the index holds this job: it lists open postings, one per job.
pub fn is_searchable(job: &Job) -> bool {
    job.closed_at.is_none() && job.canonical_id.is_none()
}

/// The best pay the posting offers, in US dollars a year: what a "paying at least" filter and
/// salary statistics compare.
pub fn top_pay_usd_year(job: &Job, rates: &Rates) -> Option<f64> {
    let salary = job.posting.salary.as_ref()?;
    let amount = salary.max.or(salary.min)?;
    rates.usd_per_year(amount, salary.currency.as_str(), salary.period)
}

/// The middle of the stated pay range, in US dollars a year.
pub fn mid_pay_usd_year(job: &Job, rates: &Rates) -> Option<f64> {
    let salary = job.posting.salary.as_ref()?;
    let amount = match (salary.min, salary.max) {
        (Some(min), Some(max)) => (min + max) / 2.0,
        (one, other) => one.or(other)?,
    };
    rates.usd_per_year(amount, salary.currency.as_str(), salary.period)
}

pub fn document(job: &Job, fields: &Fields, rates: &Rates) -> TantivyDocument {
    let posting = &job.posting;
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, job.id.to_string());
    doc.add_text(fields.title, &posting.title);
    if let Some(company) = &posting.company {
        doc.add_text(fields.company, company);
    }
    if let Some(text) = &posting.description_text {
        doc.add_text(fields.text, text);
    }
    for skill in &posting.skills {
        doc.add_text(fields.skills, skill);
        let key = skill_key(skill);
        doc.add_text(fields.skill, key);
    }
    for location in &posting.locations {
        doc.add_text(fields.locations, location);
    }
    doc.add_text(fields.source, &posting.source);
    if let Some(remote) = posting.remote {
        let name = enum_name(&remote);
        doc.add_text(fields.remote, name);
    }
    if let Some(seniority) = posting.seniority {
        let name = enum_name(&seniority);
        doc.add_text(fields.seniority, name);
    }
    if let Some(employment) = posting.employment_type {
        let name = enum_name(&employment);
        doc.add_text(fields.employment, name);
    }
    if let Some(pay) = top_pay_usd_year(job, rates) {
        doc.add_f64(fields.salary_usd_year, pay);
    }
    if let Some(pay) = mid_pay_usd_year(job, rates) {
        doc.add_f64(fields.salary_mid_usd_year, pay);
    }
    let published = posting.published_at.unwrap_or(job.first_seen_at);
    doc.add_date(fields.published, index_date(published));
    doc.add_date(fields.first_seen, index_date(job.first_seen_at));
    doc
}

/// A time as the index stores it. The index counts nanoseconds in an `i64` (years 1678 to
/// 2261): times outside are clamped to its ends, which sort and compare the same way.
pub(crate) fn index_date(at: chrono::DateTime<chrono::Utc>) -> DateTime {
    const LIMIT_MICROS: i64 = i64::MAX / 1_000;
    DateTime::from_timestamp_micros(at.timestamp_micros().clamp(-LIMIT_MICROS, LIMIT_MICROS))
}
