//! From postings to stored jobs: validation, sanitising, change and duplicate detection, and one
//! report line per posting. Connectors and pushed batches (scrapers, imports) go through here.

use chrono::{DateTime, Utc};
use domain::{FieldError, JobId, NewJob};
use serde::Serialize;
use store::{JobStore, JobWrite, StoreResult, UpsertStatus};

use crate::{
    ItemError, ItemResult,
    normalize::{
        NEAR_DUPLICATE_MAX_DISTANCE, content_hash, fingerprint, sanitize_html,
        sanitized_html_to_text,
    },
};

/// Raw descriptions longer than this are refused before the sanitiser spends time on them.
const RAW_DESCRIPTION_MAX_BYTES: usize = 4 * domain::DESCRIPTION_MAX_BYTES;

/// Legal-form words that one board writes and another leaves out.
const COMPANY_SUFFIXES: &[&str] = &[
    "inc",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "bv",
    "nv",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "oy",
    "ab",
    "as",
    "srl",
    "spa",
    "kg",
    "ooo",
    "ооо",
    "зао",
    "оао",
    "пао",
    "ао",
    "ип",
];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Postings are compared for duplication only when company and title agree after
/// normalisation (case, punctuation, legal form), which keeps the comparison cheap and stops a
/// company's many similar postings for different roles from merging.
pub fn dedupe_key(job: &NewJob) -> Option<String> {
    let company: Vec<String> = words(job.company.as_deref()?)
        .into_iter()
        .filter(|w| !COMPANY_SUFFIXES.contains(&w.as_str()))
        .collect();
    let title = words(&job.title);
    if company.is_empty() || title.is_empty() {
        return None;
    }
    Some(format!("{}|{}", company.join(" "), title.join(" ")))
}

/// Makes an incoming posting safe and complete enough to store: HTML sanitised (whoever sent
/// it), plain text derived from it when missing, every field checked.
pub fn prepare(mut job: NewJob) -> Result<JobWrite, Vec<FieldError>> {
    let oversized = [
        ("description_html", &job.description_html),
        ("description_text", &job.description_text),
    ]
    .into_iter()
    .filter_map(|(field, value)| {
        let len = value.as_ref()?.len();
        (len > RAW_DESCRIPTION_MAX_BYTES).then(|| domain::description_too_big(field, len))
    })
    .collect::<Vec<_>>();
    if !oversized.is_empty() {
        return Err(oversized);
    }
    job.title = job.title.trim().to_owned();
    if let Some(html) = job.description_html.take() {
        let clean = sanitize_html(&html);
        if job.description_text.is_none() {
            job.description_text = Some(sanitized_html_to_text(&clean)).filter(|t| !t.is_empty());
        }
        job.description_html = Some(clean).filter(|h| !h.trim().is_empty());
    }
    enrich(&mut job);
    job.validate()?;
    let data = store::jobs::encode_posting(&job).map_err(|error| {
        vec![FieldError::new(
            "(posting)",
            format!("cannot be encoded: {error}"),
        )]
    })?;
    Ok(JobWrite {
        data: data.into(),
        content_hash: content_hash(&job),
        fingerprint: fingerprint(&job),
        dedupe_key: dedupe_key(&job),
        job,
        owner: None,
    })
}

/// Fills what the posting states but does not spell out: its skills (found in the title and
/// text when the source lists none; a source's own list is put in canonical form) and its
/// seniority when the title states one. Nothing is guessed beyond what the text says.
fn enrich(job: &mut NewJob) {
    let extractor = search::skills::SkillExtractor::builtin();
    if job.skills.is_empty() {
        let mut text = job.title.clone();
        if let Some(description) = &job.description_text {
            text.push('\n');
            text.push_str(description);
        }
        job.skills = extractor.skill_names(&text);
        job.skills.truncate(domain::SKILLS_MAX);
    } else {
        let taxonomy = search::skills::Taxonomy::builtin();
        let mut seen = std::collections::HashSet::new();
        job.skills = std::mem::take(&mut job.skills)
            .into_iter()
            .map(|skill| {
                taxonomy
                    .canonicalize(&skill)
                    .map_or(skill, |known| known.name.clone())
            })
            .filter(|skill| seen.insert(skill.to_lowercase()))
            .collect();
    }
    if job.seniority.is_none() {
        job.seniority = search::skills::seniority(&job.title);
    }
}

/// Reads one posting from JSON; a wrong type or an unknown field becomes that posting's error,
/// named by its path.
pub fn parse_posting(value: serde_json::Value) -> ItemResult {
    let external_id = value
        .get("external_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    serde_path_to_error::deserialize::<_, NewJob>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // A missing or unknown field is reported at the posting; name the field instead.
        let named = message.split('`').nth(1).filter(|_| {
            message.starts_with("missing field") || message.starts_with("unknown field")
        });
        let field = match (path.as_str(), named) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "(posting)".to_owned(),
            (_, Some(name)) if message.starts_with("missing field") => format!("{path}.{name}"),
            _ => path,
        };
        ItemError {
            external_id,
            errors: vec![FieldError::new(field, message)],
        }
    })
}

/// Reads one line of JSON Lines (`number` from 1, for the report).
pub fn parse_posting_line(number: usize, line: &[u8]) -> ItemResult {
    // The common case, a valid posting, is read straight into the type; only a line that
    // fails is read again to say why. Bytes, not text: the parser checks the UTF-8 of what it
    // reads, so a line that is not UTF-8 is refused alone, with its number.
    if let Ok(job) = serde_json::from_slice::<NewJob>(line) {
        return Ok(job);
    }
    match serde_json::from_slice(line) {
        Ok(value) => parse_posting(value),
        Err(error) => Err(ItemError {
            external_id: None,
            errors: vec![FieldError::new(
                format!("line {number}"),
                format!("not JSON: {error}"),
            )],
        }),
    }
}

/// What became of one posting.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ItemStatus {
    Created {
        id: uuid::Uuid,
        /// The posting this one duplicates (the same job on another board), if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        duplicate_of: Option<uuid::Uuid>,
    },
    Updated {
        id: uuid::Uuid,
        #[serde(skip_serializing_if = "Option::is_none")]
        duplicate_of: Option<uuid::Uuid>,
    },
    Unchanged {
        id: uuid::Uuid,
        #[serde(skip_serializing_if = "Option::is_none")]
        duplicate_of: Option<uuid::Uuid>,
    },
    /// The posting was refused; nothing of it was stored.
    Error { errors: Vec<FieldError> },
}

/// One line of a batch report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemReport {
    /// Position in the batch, from 0.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub status: ItemStatus,
}

/// Totals of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Created or updated postings that duplicate another.
    pub duplicates: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.duplicates += other.duplicates;
        self.failed += other.failed;
    }
}

/// A batch's outcome, item by item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    pub counts: Counts,
    pub items: Vec<ItemReport>,
}

type Prepared = (Option<String>, Result<JobWrite, Vec<FieldError>>);

fn prepare_item(item: ItemResult) -> Prepared {
    match item {
        Ok(job) => {
            let external_id = Some(job.external_id.clone());
            // A posting that trips a bug in a parser costs that posting, not the batch.
            let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(job)))
                .unwrap_or_else(|_| {
                    Err(vec![FieldError::new("(posting)", "could not be processed")])
                });
            (external_id, prepared)
        }
        Err(error) => (error.external_id, Err(error.errors)),
    }
}

/// How much lower than the rest of the process the threads preparing a batch run (Linux
/// `nice` steps).
#[cfg(target_os = "linux")]
const PREPARING_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority, so that a batch being prepared on every
/// core does not keep the single database writer (or request handling) waiting for a core:
/// the writer is what bounds an import. On Linux the priority is per thread.
fn yield_to_writers() {
    #[cfg(target_os = "linux")]
    {
        // Failing leaves the thread at normal priority, which is only slower.
        let _ = rustix::process::setpriority_process(None, PREPARING_NICENESS);
    }
}

/// Batches smaller than this are prepared on the calling thread.
const PARALLEL_FROM: usize = 64;

/// Postings a preparing thread takes at a time.
const PIECE: usize = 16;

/// Sanitising and fingerprinting are CPU work: done off the async runtime, on every core.
async fn prepare_all<T: Send + 'static>(
    items: Vec<T>,
    prepare_one: fn(T) -> Prepared,
) -> StoreResult<Vec<Prepared>> {
    if items.len() < PARALLEL_FROM {
        return Ok(items.into_iter().map(prepare_one).collect());
    }
    let work = tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        // Small pieces, taken in turn: a thread that falls behind (its core taken by the
        // writer) leaves the rest of the batch to the others instead of holding it up.
        let mut pieces = Vec::with_capacity(items.len().div_ceil(PIECE));
        let mut items = items.into_iter();
        loop {
            let piece: Vec<T> = items.by_ref().take(PIECE).collect();
            if piece.is_empty() {
                break;
            }
            pieces.push(piece);
        }
        let queue = std::sync::Mutex::new(pieces.into_iter().enumerate());
        // Taking the next piece cannot panic, so the lock is never poisoned; were it, the
        // pieces are still all there to take.
        let next_piece = || {
            queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next()
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        yield_to_writers();
                        let mut done = Vec::new();
                        while let Some((index, piece)) = next_piece() {
                            done.push((index, piece.into_iter().map(prepare_one).collect()));
                        }
                        done
                    })
                })
                .collect();
            let mut done: Vec<(usize, Vec<Prepared>)> = Vec::new();
            for handle in handles {
                done.extend(handle.join()?);
            }
            done.sort_unstable_by_key(|(index, _)| *index);
            Ok::<_, Box<dyn std::any::Any + Send>>(
                done.into_iter()
                    .flat_map(|(_, piece)| piece)
                    .collect::<Vec<_>>(),
            )
        })
    });
    match work.await {
        Ok(Ok(prepared)) => Ok(prepared),
        _ => Err(store::StoreError::Other(
            "preparing the batch failed".into(),
        )),
    }
}

/// A batch checked and ready to write: the refused postings already in its report.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    report: BatchReport,
    writes: Vec<JobWrite>,
    positions: Vec<(usize, Option<String>)>,
}

impl PreparedBatch {
    fn from_prepared(prepared: Vec<Prepared>) -> Self {
        let mut batch = PreparedBatch::default();
        for (index, (external_id, prepared)) in prepared.into_iter().enumerate() {
            match prepared {
                Ok(write) => {
                    batch.positions.push((index, external_id));
                    batch.writes.push(write);
                }
                Err(errors) => {
                    batch.report.counts.failed += 1;
                    batch.report.items.push(ItemReport {
                        index,
                        external_id,
                        status: ItemStatus::Error { errors },
                    });
                }
            }
        }
        batch
    }
}

/// Checks and prepares postings (in parallel), without touching the store.
pub async fn prepare_batch(items: Vec<ItemResult>) -> StoreResult<PreparedBatch> {
    Ok(PreparedBatch::from_prepared(
        prepare_all(items, prepare_item).await?,
    ))
}

/// Like [`prepare_batch`] for JSON Lines: the lines (numbered from 1) are parsed in parallel too.
pub async fn prepare_lines(lines: Vec<(usize, Vec<u8>)>) -> StoreResult<PreparedBatch> {
    fn prepare_line((number, line): (usize, Vec<u8>)) -> Prepared {
        prepare_item(parse_posting_line(number, &line))
    }
    Ok(PreparedBatch::from_prepared(
        prepare_all(lines, prepare_line).await?,
    ))
}

/// Prepares and stores a batch: valid postings are written together (one transaction), each
/// refused one gets its errors in the report and nothing of it is written.
pub async fn store_batch(
    store: &dyn JobStore,
    items: Vec<ItemResult>,
    now: DateTime<Utc>,
) -> StoreResult<BatchReport> {
    write_batch(store, prepare_batch(items).await?, now).await
}

/// Writes a prepared batch in one transaction and completes its report.
pub async fn write_batch(
    store: &dyn JobStore,
    batch: PreparedBatch,
    now: DateTime<Utc>,
) -> StoreResult<BatchReport> {
    let PreparedBatch {
        mut report,
        writes,
        positions,
    } = batch;
    let outcomes = store
        .upsert_jobs(&writes, NEAR_DUPLICATE_MAX_DISTANCE, now)
        .await?;
    for ((index, external_id), outcome) in positions.into_iter().zip(outcomes) {
        let id = outcome.id.as_uuid();
        let duplicate_of = outcome.duplicate_of.map(|d: JobId| d.as_uuid());
        let status = match outcome.status {
            UpsertStatus::Created => {
                report.counts.created += 1;
                ItemStatus::Created { id, duplicate_of }
            }
            UpsertStatus::Updated => {
                report.counts.updated += 1;
                ItemStatus::Updated { id, duplicate_of }
            }
            UpsertStatus::Unchanged => {
                report.counts.unchanged += 1;
                ItemStatus::Unchanged { id, duplicate_of }
            }
        };
        if duplicate_of.is_some() && outcome.status != UpsertStatus::Unchanged {
            report.counts.duplicates += 1;
        }
        report.items.push(ItemReport {
            index,
            external_id,
            status,
        });
    }
    report.items.sort_by_key(|item| item.index);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn preparing_threads_run_at_a_lower_priority() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let niceness = std::thread::spawn(|| {
            yield_to_writers();
            rustix::process::getpriority_process(None).unwrap()
        })
        .join()
        .unwrap();
        assert!(niceness >= PREPARING_NICENESS, "{niceness}");
        // Only the preparing thread: this one keeps its priority.
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }

    fn job(company: Option<&str>, title: &str) -> NewJob {
        serde_json::from_value(serde_json::json!({
            "source": "test", "external_id": "1", "url": "https://example.org/1",
            "title": title, "company": company,
        }))
        .unwrap()
    }

    #[test]
    fn dedupe_keys_ignore_case_punctuation_and_legal_form() {
        assert_eq!(
            dedupe_key(&job(
                Some("Northwind Robotics GmbH"),
                "Senior Rust Engineer"
            )),
            dedupe_key(&job(Some("northwind robotics"), "Senior Rust Engineer!"))
        );
        assert_ne!(
            dedupe_key(&job(Some("Northwind"), "Senior Rust Engineer")),
            dedupe_key(&job(Some("Northwind"), "Junior Rust Engineer"))
        );
        assert_eq!(dedupe_key(&job(None, "Engineer")), None);
        assert_eq!(
            dedupe_key(&job(Some("ООО Ромашка"), "Разработчик Rust")).as_deref(),
            Some("ромашка|разработчик rust")
        );
    }

    #[test]
    fn preparing_sanitises_html_and_derives_text() {
        let mut posting = job(Some("Acme"), "  Rust Engineer ");
        posting.description_html =
            Some(r#"<p onclick="x()">Build <b>things</b></p><script>alert(1)</script>"#.into());
        let write = prepare(posting).unwrap();
        assert_eq!(write.job.title, "Rust Engineer");
        let html = write.job.description_html.as_deref().unwrap();
        assert!(
            !html.contains("script") && !html.contains("onclick"),
            "{html}"
        );
        assert_eq!(write.job.description_text.as_deref(), Some("Build things"));
    }

    #[test]
    fn oversized_descriptions_are_refused_before_sanitising() {
        let mut posting = job(Some("Acme"), "Engineer");
        posting.description_html = Some("<p>x</p>".repeat(2_000_000));
        let errors = prepare(posting).unwrap_err();
        assert_eq!(errors[0].field, "description_html");
    }
}
