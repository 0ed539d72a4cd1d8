//! `jobpilot sources …` and `jobpilot jobs …`: syncing boards, importing and exporting postings.

use std::{
    io::{BufRead as _, BufWriter, Write as _},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Subcommand;
use domain::JobId;
use indicatif::{ProgressBar, ProgressStyle};
use sources::ingest::{self, Counts, ItemStatus};
use store::{JobFilter, SourceRun, Store};

use jobpilot::{
    app::{open_bulk_store, open_store},
    config::Config,
};

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Sync one configured source now (all of them without a name), in this process.
    Sync { name: Option<String> },
    /// The latest sync of every source.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Store postings from a JSON Lines file (`-` for standard input), one normalised posting
    /// per line (the push API's format). Prints a JSON summary as its last line.
    Import {
        file: PathBuf,
        /// Postings per transaction. Larger batches write less (they share the pages they
        /// change) but hold SQLite's write lock longer.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch: u32,
    },
    /// Write stored postings as JSON Lines (the import format).
    Export {
        /// Where to write (standard output by default).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        source: Option<String>,
        /// Include postings the boards no longer list.
        #[arg(long)]
        include_closed: bool,
        /// Include near-duplicates of other postings.
        #[arg(long)]
        include_duplicates: bool,
    },
}

async fn ready_store(config: &Config, bulk: bool) -> anyhow::Result<Arc<dyn Store>> {
    let store = if bulk {
        open_bulk_store(config).await?
    } else {
        open_store(config).await?
    };
    if config.migrate_on_start {
        store.migrate().await?;
    } else if !store.readiness().await?.is_ready() {
        bail!("the database has pending migrations; run `jobpilot migrate` first");
    }
    Ok(store)
}

pub async fn sources(config: Config, command: SourcesCommand) -> anyhow::Result<()> {
    let store = ready_store(&config, false).await?;
    let result = match command {
        SourcesCommand::Status => status(store.as_ref()).await,
        SourcesCommand::Sync { name } => sync(&config, store.as_ref(), name).await,
    };
    store.close().await;
    result
}

async fn status(store: &dyn Store) -> anyhow::Result<()> {
    let runs = store.source_runs().await?;
    if runs.is_empty() {
        println!("no source has synced yet");
    }
    println!(
        "{:<12} {:<10} {:<25} {:>6} {:>8} {:>8} {:>9} {:>7} {:>7}",
        "SOURCE",
        "STATE",
        "STARTED",
        "PAGES",
        "CREATED",
        "UPDATED",
        "UNCHANGED",
        "FAILED",
        "CLOSED"
    );
    for run in runs {
        println!(
            "{:<12} {:<10} {:<25} {:>6} {:>8} {:>8} {:>9} {:>7} {:>7}",
            run.source,
            run.state,
            run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            run.pages,
            run.created,
            run.updated,
            run.unchanged,
            run.failed_items,
            run.closed
        );
        if let Some(error) = run.last_error {
            println!("    last error: {error}");
        }
    }
    Ok(())
}

async fn sync(config: &Config, store: &dyn Store, name: Option<String>) -> anyhow::Result<()> {
    let catalog = config
        .sources
        .clone()
        .build()
        .context("building the sources")?;
    let selected: Vec<_> = match &name {
        Some(name) => vec![catalog.get(name).with_context(|| {
            format!(
                "the source {name:?} is not configured (configured: {})",
                catalog.names().join(", ")
            )
        })?],
        None => catalog.all().to_vec(),
    };
    if selected.is_empty() {
        bail!("no source is configured; see JOBPILOT_SOURCES_CONFIG");
    }
    let mut failures = 0;
    for source in selected {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(source.name().to_owned());
        let progress = |run: &SourceRun| {
            bar.set_message(format!(
                "page {} · {} new, {} changed, {} unchanged, {} refused",
                run.pages, run.created, run.updated, run.unchanged, run.failed_items
            ));
            bar.tick();
        };
        match sources::sync::run(source.as_ref(), store, &progress).await {
            Ok(run) => bar.finish_with_message(format!(
                "done: {} pages, {} new, {} changed, {} unchanged, {} refused, {} closed",
                run.pages, run.created, run.updated, run.unchanged, run.failed_items, run.closed
            )),
            Err(error) => {
                failures += 1;
                bar.abandon_with_message(format!("failed (it resumes from here): {error}"));
            }
        }
    }
    if failures > 0 {
        bail!("{failures} source(s) failed");
    }
    Ok(())
}

pub async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    let bulk = matches!(command, JobsCommand::Import { .. });
    let store = ready_store(&config, bulk).await?;
    let result = match command {
        JobsCommand::Import { file, batch } => import(store.clone(), &file, batch as usize).await,
        JobsCommand::Export {
            out,
            source,
            include_closed,
            include_duplicates,
        } => {
            let filter = JobFilter {
                source,
                include_closed,
                include_duplicates,
                owner: None,
            };
            export(store.as_ref(), out, &filter).await
        }
    };
    store.close().await;
    result
}

/// Refused postings reported on standard error, at most this many.
const ERRORS_SHOWN: usize = 20;

/// A batch read and prepared, and the input line of each of its postings.
type Prepared = anyhow::Result<(ingest::PreparedBatch, Vec<usize>)>;

/// Batches read and prepared ahead of the one being written, at most.
const PREPARED_AHEAD: usize = 2;

/// Reads the next batch of non-blank lines, numbered from 1, as bytes (each is checked as
/// UTF-8 when it is parsed, so one bad line does not stop the import), without their line
/// ends.
fn read_batch(
    lines: &mut impl Iterator<Item = (usize, std::io::Result<Vec<u8>>)>,
    batch: usize,
) -> anyhow::Result<Vec<(usize, Vec<u8>)>> {
    let mut out = Vec::with_capacity(batch);
    for (index, line) in lines.by_ref() {
        let mut line = line.context("reading the input")?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.push((index + 1, line));
            if out.len() == batch {
                break;
            }
        }
    }
    Ok(out)
}

/// Reading, preparing and writing overlap: while one batch is written, the next ones are read
/// and prepared on every core, up to [`PREPARED_AHEAD`] batches ahead.
async fn import(store: Arc<dyn Store>, file: &PathBuf, batch: usize) -> anyhow::Result<()> {
    let reader: Box<dyn std::io::BufRead + Send> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let opened =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, opened))
    };
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    let mut totals = Counts::default();
    let mut shown = 0;
    let (ahead, mut prepared) = tokio::sync::mpsc::channel::<Prepared>(PREPARED_AHEAD);
    let preparing = tokio::spawn(async move {
        let mut lines = reader.split(b'\n').enumerate();
        loop {
            let next = match read_batch(&mut lines, batch) {
                Ok(next) if next.is_empty() => return,
                Ok(next) => next,
                Err(error) => {
                    let _ = ahead.send(Err(error)).await;
                    return;
                }
            };
            let numbers: Vec<usize> = next.iter().map(|(n, _)| *n).collect();
            let batch = ingest::prepare_lines(next)
                .await
                .map(|batch| (batch, numbers))
                .map_err(anyhow::Error::from);
            let failed = batch.is_err();
            // The writer stopped (it failed): nothing more to prepare.
            if ahead.send(batch).await.is_err() || failed {
                return;
            }
        }
    });
    while let Some(next) = prepared.recv().await {
        let (batch, numbers) = next?;
        let report = ingest::write_batch(store.as_ref(), batch, Utc::now()).await?;
        for item in &report.items {
            if let ItemStatus::Error { errors } = &item.status
                && shown < ERRORS_SHOWN
            {
                shown += 1;
                let line = format!("line {}", numbers[item.index]);
                // A line that is not JSON at all is already reported as that line.
                let detail: Vec<String> = errors
                    .iter()
                    .map(|error| {
                        if error.field == line {
                            error.message.clone()
                        } else {
                            error.to_string()
                        }
                    })
                    .collect();
                eprintln!("{line}: {}", detail.join("; "));
            }
        }
        totals.add(report.counts);
        bar.set_message(format!(
            "{} stored, {} refused",
            totals.created + totals.updated + totals.unchanged,
            totals.failed
        ));
        bar.tick();
    }
    preparing.await.context("the reader stopped")?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let processed = totals.created + totals.updated + totals.unchanged + totals.failed;
    let summary = serde_json::json!({
        "created": totals.created,
        "updated": totals.updated,
        "unchanged": totals.unchanged,
        "duplicates": totals.duplicates,
        "failed": totals.failed,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "jobs_per_second": if seconds > 0.0 { (processed as f64 / seconds).round() } else { 0.0 },
    });
    println!("{summary}");
    Ok(())
}

async fn export(store: &dyn Store, out: Option<PathBuf>, filter: &JobFilter) -> anyhow::Result<()> {
    let sink: Box<dyn std::io::Write> = match &out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::new(sink);
    let mut after: Option<JobId> = None;
    let mut written = 0u64;
    loop {
        let page = store.list_jobs(filter, after, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        for job in &page {
            serde_json::to_writer(&mut writer, &job.posting)?;
            writer.write_all(b"\n")?;
            written += 1;
        }
    }
    writer.flush()?;
    eprintln!("{written} postings exported");
    Ok(())
}
