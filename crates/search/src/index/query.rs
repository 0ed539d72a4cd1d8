//! Searching the job index: the user's query text (tantivy's query language over the job's
//! fields) combined with exact filters, ranked by relevance or by date, with facet counts and
//! highlighted snippets.

use std::collections::BTreeMap;
use std::ops::Bound;

use chrono::{DateTime, Utc};
use domain::{EmploymentType, JobId, Remote, SalaryPeriod, Seniority};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use super::facets::{MatchSet, Matches, top_values};
use super::schema::{enum_name, index_date, skill_key};
use super::{IndexError, JobIndex};

/// The deepest a result list can be paged (as in most search engines): past it, narrow the query.
pub const MAX_OFFSET: usize = 10_000;
pub const MAX_LIMIT: usize = 100;
/// The longest query text accepted.
pub const MAX_QUERY_CHARS: usize = 1_000;
const FACET_VALUES: usize = 20;
const SNIPPET_CHARS: usize = 200;
/// How much of a description a highlight looks in (its words are found in all of it).
pub const HIGHLIGHT_TEXT_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Best match first (the default when there is query text).
    #[default]
    Relevance,
    /// Most recently published first (the default without query text).
    Newest,
}

/// A salary floor: postings whose best pay reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct SalaryFloor {
    pub amount: f64,
    pub currency: String,
    pub period: SalaryPeriod,
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Query text; empty: every posting (then filters and sort by date do the work).
    pub text: Option<String>,
    /// Any of these sources.
    pub sources: Vec<String>,
    pub remote: Vec<Remote>,
    pub seniority: Vec<Seniority>,
    pub employment_types: Vec<EmploymentType>,
    /// Every one of these skills.
    pub skills: Vec<String>,
    /// Words of the location (e.g. "Berlin").
    pub location: Option<String>,
    pub salary_at_least: Option<SalaryFloor>,
    pub published_after: Option<DateTime<Utc>>,
    pub published_before: Option<DateTime<Utc>>,
    pub sort: Option<Sort>,
    pub offset: usize,
    pub limit: usize,
    /// Count postings per value of these facets (`source`, `remote`, `seniority`,
    /// `employment_type`, `skill`).
    pub facets: Vec<String>,
    pub highlight: bool,
}

pub const FACET_NAMES: [&str; 5] = ["source", "remote", "seniority", "employment_type", "skill"];

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: JobId,
    /// Relevance (BM25); absent when sorted by date.
    pub score: Option<f32>,
}

/// Fragments with the matched words wrapped in `<b>…</b>`; everything else HTML-escaped.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Highlights {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Facet name → (value, count), most frequent first.
pub type Facets = BTreeMap<String, Vec<(String, u64)>>;

/// Searches whose total and facet counts are remembered, per index generation.
const COUNT_CACHE_ENTRIES: usize = 512;

/// The totals and facet counts of recent searches, valid for one generation of the index
/// (its reader's): the next page of a search, or the same search by someone else, visits only
/// what its page needs instead of counting every match again (which, over the whole
/// collection, is most of a search's time).
#[derive(Debug, Default)]
pub(crate) struct CountCache {
    generation: u64,
    entries: std::collections::HashMap<String, (usize, Facets)>,
}

impl CountCache {
    fn get(&self, generation: u64, key: &str) -> Option<(usize, Facets)> {
        (self.generation == generation)
            .then(|| self.entries.get(key).cloned())
            .flatten()
    }

    fn put(&mut self, generation: u64, key: String, counts: (usize, Facets)) {
        if self.generation != generation || self.entries.len() >= COUNT_CACHE_ENTRIES {
            self.entries.clear();
            self.generation = generation;
        }
        self.entries.insert(key, counts);
    }
}

/// What decides a search's matches and facet counts (not its order, page or highlights).
fn count_key(request: &SearchRequest) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        request.text.as_deref().map(str::trim),
        request.sources,
        request.remote,
        request.seniority,
        request.employment_types,
        request.skills,
        request.location,
        request.salary_at_least,
        request.published_after,
        request.published_before,
        request.facets,
    )
}

#[derive(Debug)]
pub struct SearchResults {
    /// Postings matching, all pages together.
    pub total: usize,
    pub hits: Vec<SearchHit>,
    pub facets: Facets,
    /// Marks the query's words in the hits' texts, when highlights were asked for and the
    /// query has text.
    pub highlighter: Option<Highlighter>,
}

/// Marks a search's matched words in a posting's title and text. The index does not keep
/// the postings' texts: the caller, which loads the postings it shows anyway, passes them in.
pub struct Highlighter {
    title: SnippetGenerator,
    text: SnippetGenerator,
}

impl std::fmt::Debug for Highlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Highlighter").finish_non_exhaustive()
    }
}

impl Highlighter {
    /// The best fragment of the title and of the text (its first [`HIGHLIGHT_TEXT_CHARS`]
    /// characters) with the matched words in `<b>…</b>`; a part with no matched word is left
    /// out.
    pub fn highlight(&self, title: &str, text: Option<&str>) -> Highlights {
        let marked = |generator: &SnippetGenerator, value: &str| {
            let snippet = generator.snippet(value);
            (!snippet.highlighted().is_empty()).then(|| snippet.to_html())
        };
        let text = text.unwrap_or_default();
        let end = text
            .char_indices()
            .nth(HIGHLIGHT_TEXT_CHARS)
            .map_or(text.len(), |(at, _)| at);
        Highlights {
            title: marked(&self.title, title),
            text: marked(&self.text, &text[..end]),
        }
    }
}

/// Why a search was refused: the caller's input, never the index's state.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl SearchError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        Self::Index(IndexError::Tantivy(e))
    }
}

impl JobIndex {
    /// Postings whose `field` has every word of `text`, analysed as the index analyses it: the
    /// text is words, never query syntax (`OR`, quotes and colons mean nothing here). `None`
    /// when the text has no words.
    pub(crate) fn all_words(
        &self,
        field: tantivy::schema::Field,
        text: &str,
    ) -> Option<Box<dyn Query>> {
        let mut words: Vec<String> = self.analysed_words(text).into_iter().collect();
        words.sort();
        if words.is_empty() {
            return None;
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|word| {
                let term = Term::from_field_text(field, word);
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Must, query)
            })
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

pub(super) struct BuiltQuery {
    pub(super) all: Box<dyn Query>,
    text: Option<Box<dyn Query>>,
}

impl JobIndex {
    fn query_parser(&self) -> QueryParser {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![f.title, f.company, f.text, f.skills, f.locations],
        );
        parser.set_field_boost(f.title, 3.0);
        parser.set_field_boost(f.skills, 2.0);
        parser.set_field_boost(f.company, 1.5);
        parser.set_conjunction_by_default();
        parser
    }

    /// The query for a request, and its text part alone (for highlighting).
    pub(super) fn build_query(&self, request: &SearchRequest) -> Result<BuiltQuery, SearchError> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = request
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let text_query = match text {
            Some(text) if text.chars().count() > MAX_QUERY_CHARS => {
                return Err(SearchError::invalid(
                    "q",
                    format!("is longer than {MAX_QUERY_CHARS} characters"),
                ));
            }
            Some(text) => Some(
                self.query_parser()
                    .parse_query(text)
                    .map_err(|e| SearchError::invalid("q", describe_parse_error(&e)))?,
            ),
            None => None,
        };
        if let Some(query) = &text_query {
            clauses.push((Occur::Must, query.box_clone()));
        }
        let any_of = |field, values: Vec<String>| -> Option<Box<dyn Query>> {
            if values.is_empty() {
                return None;
            }
            let terms: Vec<(Occur, Box<dyn Query>)> = values
                .iter()
                .map(|value| {
                    let term = Term::from_field_text(field, value);
                    let query: Box<dyn Query> =
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                    (Occur::Should, query)
                })
                .collect();
            Some(Box::new(BooleanQuery::new(terms)))
        };
        let names = |values: &[_]| values.iter().map(enum_name).collect::<Vec<String>>();
        for filter in [
            any_of(f.source, request.sources.clone()),
            any_of(f.remote, request.remote.iter().map(enum_name).collect()),
            any_of(f.seniority, names(&request.seniority)),
            any_of(
                f.employment,
                request.employment_types.iter().map(enum_name).collect(),
            ),
        ]
        .into_iter()
        .flatten()
        {
            clauses.push((Occur::Must, filter));
        }
        for skill in &request.skills {
            let term = Term::from_field_text(f.skill, &skill_key(skill));
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            ));
        }
        if let Some(query) = request
            .location
            .as_deref()
            .and_then(|location| self.all_words(f.locations, location))
        {
            clauses.push((Occur::Must, query));
        }
        if let Some(floor) = &request.salary_at_least {
            let usd = self
                .rates
                .usd_per_year(floor.amount, &floor.currency, floor.period)
                .ok_or_else(|| {
                    SearchError::invalid(
                        "currency",
                        format!("no exchange rate is configured for {}", floor.currency),
                    )
                })?;
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_f64(f.salary_usd_year, usd)),
                    Bound::Unbounded,
                )),
            ));
        }
        let date = |at: DateTime<Utc>| Term::from_field_date(f.published, index_date(at));
        if request.published_after.is_some() || request.published_before.is_some() {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    request
                        .published_after
                        .map_or(Bound::Unbounded, |at| Bound::Included(date(at))),
                    request
                        .published_before
                        .map_or(Bound::Unbounded, |at| Bound::Excluded(date(at))),
                )),
            ));
        }
        let query: Box<dyn Query> = match clauses.len() {
            0 => Box::new(AllQuery),
            _ => Box::new(BooleanQuery::new(clauses)),
        };
        Ok(BuiltQuery {
            all: query,
            text: text_query,
        })
    }

    /// Runs a search. Blocking (a few milliseconds): call from a blocking thread under load.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        if !(1..=MAX_LIMIT).contains(&request.limit) {
            return Err(SearchError::invalid(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}"),
            ));
        }
        if request.offset > MAX_OFFSET {
            return Err(SearchError::invalid(
                "cursor",
                format!("results deeper than {MAX_OFFSET} are not paged; narrow the query"),
            ));
        }
        for facet in &request.facets {
            if !FACET_NAMES.contains(&facet.as_str()) {
                return Err(SearchError::invalid(
                    "facets",
                    format!("unknown facet `{facet}`; known: {}", FACET_NAMES.join(", ")),
                ));
            }
        }
        let BuiltQuery {
            all: query,
            text: text_query,
        } = self.build_query(request)?;
        let searcher = self.reader.searcher();
        let sort = request.sort.unwrap_or(if text_query.is_some() {
            Sort::Relevance
        } else {
            Sort::Newest
        });
        let top = TopDocs::with_limit(request.limit).and_offset(request.offset);
        let generation = searcher.generation().generation_id();
        let key = count_key(request);
        let known = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(generation, &key);
        let (scored, total, facets): (Vec<(Option<f32>, DocAddress)>, usize, Facets) =
            if let Some((total, facets)) = known {
                // Counted already on this generation: only the page is looked for.
                let scored = match sort {
                    Sort::Relevance => searcher
                        .search(&query, &top.order_by_score())?
                        .into_iter()
                        .map(|(s, d)| (Some(s), d))
                        .collect(),
                    Sort::Newest => searcher
                        .search(
                            &query,
                            &top.order_by_fast_field::<tantivy::DateTime>("published", Order::Desc),
                        )?
                        .into_iter()
                        .map(|(_, d)| (None, d))
                        .collect(),
                };
                (scored, total, facets)
            } else {
                // One pass over the matches: the page, the total and, when facets are asked
                // for, the matches themselves (to count the facets' values in).
                let matches = (!request.facets.is_empty()).then_some(Matches);
                let (scored, total, matched): (Vec<_>, usize, _) = match sort {
                    Sort::Relevance => {
                        let (docs, total, matched) =
                            searcher.search(&query, &(top.order_by_score(), Count, matches))?;
                        (
                            docs.into_iter().map(|(s, d)| (Some(s), d)).collect(),
                            total,
                            matched,
                        )
                    }
                    Sort::Newest => {
                        let by_date =
                            top.order_by_fast_field::<tantivy::DateTime>("published", Order::Desc);
                        let (docs, total, matched) =
                            searcher.search(&query, &(by_date, Count, matches))?;
                        (
                            docs.into_iter().map(|(_, d)| (None, d)).collect(),
                            total,
                            matched,
                        )
                    }
                };
                let facets = match matched {
                    Some(matched) => self.facets_of(&searcher, &matched, &request.facets)?,
                    None => Facets::new(),
                };
                self.counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .put(generation, key, (total, facets.clone()));
                (scored, total, facets)
            };
        let highlighter = match (&text_query, request.highlight) {
            (Some(text_query), true) => Some(Highlighter {
                title: snippet_generator(&searcher, text_query.as_ref(), self.fields.title)?,
                text: snippet_generator(&searcher, text_query.as_ref(), self.fields.text)?,
            }),
            _ => None,
        };
        let mut hits = Vec::with_capacity(scored.len());
        for (score, address) in scored {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(id) = doc
                .get_first(self.fields.id)
                .and_then(|v| v.as_str())
                .and_then(|id| id.parse::<uuid::Uuid>().ok())
            else {
                continue;
            };
            hits.push(SearchHit {
                id: JobId::from_uuid(id),
                score,
            });
        }
        Ok(SearchResults {
            total,
            hits,
            facets,
            highlighter,
        })
    }

    /// The keyword field a facet counts the values of.
    fn facet_field(&self, name: &str) -> Option<tantivy::schema::Field> {
        let f = &self.fields;
        Some(match name {
            "source" => f.source,
            "remote" => f.remote,
            "seniority" => f.seniority,
            "employment_type" => f.employment,
            "skill" => f.skill,
            _ => return None,
        })
    }

    /// The most frequent values of each requested facet among the matches.
    fn facets_of(
        &self,
        searcher: &Searcher,
        matched: &MatchSet,
        names: &[String],
    ) -> Result<Facets, SearchError> {
        let mut facets = Facets::new();
        for name in names {
            let Some(field) = self.facet_field(name) else {
                continue;
            };
            let values = top_values(searcher, matched, field, FACET_VALUES)?
                .into_iter()
                .map(|(value, count)| {
                    let value = if name == "skill" {
                        super::skill_display(&value)
                    } else {
                        value
                    };
                    (value, count)
                })
                .collect();
            facets.insert(name.clone(), values);
        }
        Ok(facets)
    }
}

fn snippet_generator(
    searcher: &Searcher,
    query: &dyn Query,
    field: tantivy::schema::Field,
) -> Result<SnippetGenerator, SearchError> {
    let mut generator = SnippetGenerator::create(searcher, query, field)?;
    generator.set_max_num_chars(SNIPPET_CHARS);
    Ok(generator)
}

/// tantivy's messages name its internals; say what the user can fix.
fn describe_parse_error(error: &tantivy::query::QueryParserError) -> String {
    use tantivy::query::QueryParserError as E;
    match error {
        E::SyntaxError(detail) => format!(
            "the query is not valid ({detail}); use words, \"phrases\", AND/OR/NOT, \
             parentheses and field:value with title, company, text, skills or location"
        ),
        E::FieldDoesNotExist(field) => format!(
            "unknown field `{field}`; searchable fields are title, company, text, skills and location"
        ),
        E::FieldNotIndexed(field) => format!("`{field}` cannot be searched"),
        other => format!("the query cannot be run: {other}"),
    }
}
