//! `toko-bench`: the load harness of issue 10. It starts toko's release binaries against a
//! seeded bench database, runs the workloads W1–W8 and the long tail L1–L4 with pgbench as the yardstick in the same
//! run, and prints one table. See docs/BENCHMARKS.md and `scripts/bench.sh`.

mod api;
mod fixtures;
mod load;
mod pgbench;
mod processes;
mod report;
mod run;
mod smtp_sink;
mod stats;
mod workloads;

use std::{path::PathBuf, time::Duration};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks toko against pgbench on the same PostgreSQL")]
pub struct Args {
    /// Seconds (or `500ms`, `1m`) per HTTP workload and per pgbench run.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Untimed W1a load before the first measured workload: opens the client's keep-alive
    /// connections and fills the API's database pool, which starts with one connection.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Concurrent connections of every HTTP workload and pgbench clients.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Workloads to run, comma-separated: w1..w8, l1..l4 or `all` (w8 is measured alongside w1).
    #[arg(long, default_value = "all", value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// The seeded bench database (`tokoctl catalog seed --products 100000`).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/toko_bench")]
    pub database_url: String,
    /// pgbench's own database on the same server, created and initialised when missing.
    #[arg(long, default_value = "toko_pgbench")]
    pub pgbench_database: String,
    #[arg(long, default_value_t = 10)]
    pub pgbench_scale: u32,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub rabbitmq_url: String,
    /// Where toko-api, outbox-relay and notifier are (release builds).
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Port of the API the harness starts on 127.0.0.1.
    #[arg(long, default_value_t = 3100)]
    pub port: u16,
    /// Port of the harness's counting SMTP server (W7).
    #[arg(long, default_value_t = 2525)]
    pub smtp_port: u16,
    /// Outbox events relayed in W6.
    #[arg(long, default_value_t = 20_000)]
    pub relay_events: u32,
    /// Emails sent in W7.
    #[arg(long, default_value_t = 2_000)]
    pub emails: u32,
    /// The notifier's `CONCURRENCY` in W7 (its default is 4).
    #[arg(long, default_value_t = 4)]
    pub notifier_concurrency: usize,
}

impl Args {
    pub fn runs(&self, workload: &str) -> bool {
        self.workloads
            .iter()
            .any(|w| w == "all" || w.eq_ignore_ascii_case(workload))
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("unknown unit in {text} (use ms, s or m)")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run::all(Args::parse()).await
}
