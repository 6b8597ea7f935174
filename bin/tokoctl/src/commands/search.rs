//! `tokoctl search reindex`: rebuilds every search document from the database, with a
//! progress bar. Elasticsearch: a new versioned index, bulk-loaded, then an atomic alias swap
//! (zero downtime). PostgreSQL: every product's search vector recomputed in batches.

use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use toko::{config, search::Search};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Rebuild the search index (SEARCH_BACKEND, DATABASE_URL, ELASTICSEARCH_*).
    Reindex,
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Reindex => reindex().await,
    }
}

async fn reindex() -> anyhow::Result<()> {
    let settings = config::SearchConfig::from_reader(&config::Reader(&config::ProcessEnv))?;
    let search = Search::from_config(&settings, super::database().await?)?;
    let backend = search.backend();

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} products ({per_sec}, {eta} left)",
        )
        .expect("valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let summary = backend
        .reindex(&|p| {
            bar.set_length(p.total);
            bar.set_position(p.done);
        })
        .await
        .with_context(|| format!("reindexing with the {} backend", backend.name()));
    bar.finish_and_clear();
    let summary = summary?;

    println!(
        "reindexed {} products into {} ({}) in {:.1} s",
        summary.documents,
        summary.target,
        backend.name(),
        started.elapsed().as_secs_f64()
    );
    for note in summary.notes {
        println!("  {note}");
    }
    Ok(())
}
