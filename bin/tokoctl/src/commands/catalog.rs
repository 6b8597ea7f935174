//! `tokoctl catalog import FILE` and `tokoctl catalog seed --products N`.

use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use toko::catalog::{import, Catalog};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Upsert products and variants by SKU from JSON lines (.jsonl) or CSV (.csv).
    Import {
        file: PathBuf,
        /// `jsonl` or `csv`; by default taken from the file extension.
        #[arg(long)]
        format: Option<String>,
    },
    /// Generate a realistic demo catalog.
    Seed {
        #[arg(long, default_value_t = 1000)]
        products: u64,
        /// Random seed, for reproducible catalogs.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let catalog = super::catalog_service().await?;
    match command {
        Command::Import { file, format } => import_file(&catalog, &file, format.as_deref()).await,
        Command::Seed { products, seed } => seed_catalog(&catalog, products, seed).await,
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .expect("valid progress template")
        .progress_chars("=> "),
    );
    bar
}

async fn import_file(
    catalog: &Catalog,
    file: &PathBuf,
    format: Option<&str>,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let format = format
        .map(str::to_owned)
        .or_else(|| file.extension().map(|e| e.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let (records, csv) = match format.as_str() {
        "jsonl" | "ndjson" | "json" => (import::parse_jsonl(&text), false),
        "csv" => (import::parse_csv(&text), true),
        other => anyhow::bail!("unknown format {other:?}: use --format jsonl or --format csv"),
    };
    let started = Instant::now();
    let progress = bar(records.len() as u64, "records");
    let (mut created, mut updated) = (0, 0);
    let mut failed = Vec::new();
    for (line, record) in records {
        let failure = match record {
            Err(reason) => Some(reason),
            Ok(record) => match catalog.import_product(record, None).await {
                Ok(import::ImportOutcome::Created) => {
                    created += 1;
                    None
                }
                Ok(import::ImportOutcome::Updated) => {
                    updated += 1;
                    None
                }
                Err(e) => Some(describe(&e, csv)),
            },
        };
        if let Some(reason) = failure {
            progress.println(format!("line {line}: {reason}"));
            failed.push((line, reason));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!(
        "import finished in {:.1}s: {created} created, {updated} updated, {} failed",
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    for (line, reason) in &failed {
        println!("  line {line}: {reason}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} records failed", failed.len())
    }
}

/// A catalog error with its field details, for the import report; a CSV file's fields are
/// named by their columns.
fn describe(error: &toko::catalog::CatalogError, csv: bool) -> String {
    match error {
        toko::catalog::CatalogError::Validation(v) => {
            v.0.iter()
                .map(|e| match csv {
                    true => format!("column {}: {}", import::csv_column(&e.field), e.message),
                    false => format!("{}: {}", e.field, e.message),
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
        other => other.to_string(),
    }
}

async fn seed_catalog(catalog: &Catalog, products: u64, seed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let progress = bar(products, "products");
    let summary = catalog
        .seed(products, seed, |done| progress.set_position(done))
        .await?;
    progress.finish_and_clear();
    println!(
        "seeded {} products with {} variants in {} leaf categories in {:.1}s",
        summary.products,
        summary.variants,
        summary.categories,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
