//! `jobpilot search`: rebuild this replica's job search index from the database, or see how
//! far it has followed the jobs' changes.

use std::sync::Arc;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use jobpilot::{
    app::{open_search_index, open_store},
    config::Config,
};

#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Empty the index and build it again from every job in the database. The server must be
    /// stopped (it holds the index open); a running server rebuilds a deleted index by itself.
    Reindex,
    /// The index's size and whether it has caught up with the database.
    Status,
}

pub async fn run(config: Config, command: SearchCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let index = open_search_index(&config).await?;
    match command {
        SearchCommand::Reindex => {
            let cleared = Arc::clone(&index);
            tokio::task::spawn_blocking(move || cleared.clear()).await??;
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} indexing: {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let started = std::time::Instant::now();
            let applied = search::index::follow::catch_up(&index, store.as_ref(), |done| {
                bar.set_message(format!("{done} jobs read"));
                bar.tick();
            })
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            bar.finish_and_clear();
            // Printed, not only shown on the bar: a bar is drawn only on a terminal.
            println!(
                "{applied} jobs read, {} searchable, in {seconds:.1} s ({:.0} jobs/s)",
                index.num_docs(),
                applied as f64 / seconds.max(1e-9)
            );
        }
        SearchCommand::Status => {
            let position = index.position();
            let behind = !store
                .jobs_changed_after(position.as_store_cursor(), 1)
                .await?
                .is_empty();
            println!("folder: {}", config.search_dir.display());
            println!("searchable jobs: {}", index.num_docs());
            println!("followed up to change: {}", position.change_seq);
            println!(
                "state: {}",
                if behind {
                    "behind the database (a running server catches up within seconds)"
                } else {
                    "up to date"
                }
            );
        }
    }
    store.close().await;
    Ok(())
}
