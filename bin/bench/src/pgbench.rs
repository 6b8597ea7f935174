//! The yardstick: `pgbench` on the same PostgreSQL with the same client count, select-only
//! (`-S`) for the read workloads and the default TPC-B-like script for the write workloads.
//! Latency percentiles come from pgbench's per-transaction log (`-l`).

use std::{path::Path, process::Stdio, time::Duration};

use anyhow::{bail, Context};
use sqlx::{Connection, PgConnection};
use tokio::process::Command;
use url::Url;

use crate::stats::{percentile_ms, Summary};

/// Where pgbench runs: the server of the bench database, its own database.
pub struct Pgbench {
    server: Url,
    database: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    SelectOnly,
    TpcB,
}

impl Pgbench {
    pub fn new(database_url: &str, database: &str) -> anyhow::Result<Self> {
        Ok(Self {
            server: Url::parse(database_url).context("--database-url")?,
            database: database.to_owned(),
        })
    }

    /// Creates and initialises the pgbench database at `scale` unless it already is.
    pub async fn ensure_initialised(&self, scale: u32) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(self.url_of("postgres").as_str()).await?;
        let exists: bool = sqlx::query_scalar!(
            r#"select exists (select 1 from pg_database where datname = $1) as "exists!""#,
            &self.database,
        )
        .fetch_one(&mut admin)
        .await?;
        if !exists {
            // The name is ours (a flag), quoted as an identifier.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "create database \"{}\"",
                self.database.replace('"', "\"\"")
            )))
            .execute(&mut admin)
            .await?;
        }
        let mut db = PgConnection::connect(self.url_of(&self.database).as_str()).await?;
        let branches: Option<i64> = sqlx::query_scalar("select count(*) from pgbench_branches")
            .fetch_one(&mut db)
            .await
            .ok();
        if branches != Some(i64::from(scale)) {
            eprintln!("initialising {} (pgbench -i -s {scale})", self.database);
            let status = self
                .command()
                .args(["-i", "-q", "-s", &scale.to_string(), &self.database])
                .status()
                .await?;
            anyhow::ensure!(status.success(), "pgbench -i failed");
        }
        Ok(())
    }

    pub async fn run(
        &self,
        script: Script,
        clients: usize,
        duration: Duration,
    ) -> anyhow::Result<Summary> {
        let logs = std::env::temp_dir().join(format!("toko-bench-pgbench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs)?;
        let mut command = self.command();
        if script == Script::SelectOnly {
            // Select-only touches no table the vacuum would clean.
            command.args(["-S", "-n"]);
        }
        let output = command
            .args([
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &duration.as_secs().max(1).to_string(),
            ])
            .arg("-l")
            .arg(format!("--log-prefix={}", logs.join("tx").display()))
            .arg(&self.database)
            .stderr(Stdio::inherit())
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!("pgbench failed: {stdout}");
        }
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .context("no tps line in pgbench output")?;
        let failed = stdout
            .lines()
            .find_map(|l| l.strip_prefix("number of failed transactions: "))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let mut latencies = read_latencies(&logs)?;
        let _ = std::fs::remove_dir_all(&logs);
        latencies.sort_unstable();
        Ok(Summary {
            requests: latencies.len() as u64,
            throughput: tps,
            p50_ms: percentile_ms(&latencies, 50.0),
            p95_ms: percentile_ms(&latencies, 95.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            errors: failed,
            refused: 0,
        })
    }

    fn url_of(&self, database: &str) -> Url {
        let mut url = self.server.clone();
        url.set_path(database);
        // Keep the query (sslmode); the path is the database.
        url
    }

    fn command(&self) -> Command {
        let mut command = Command::new("pgbench");
        command
            .env("PGHOST", self.server.host_str().unwrap_or("127.0.0.1"))
            .env("PGPORT", self.server.port().unwrap_or(5432).to_string())
            .env("PGUSER", self.server.username())
            .kill_on_drop(true);
        if let Some(password) = self.server.password() {
            command.env("PGPASSWORD", password);
        }
        // Same transport as the API: `?sslmode=disable` on --database-url turns TLS off for
        // both (libpq and sqlx both default to `prefer`, i.e. TLS when the server offers it).
        if let Some((_, mode)) = self.server.query_pairs().find(|(k, _)| k == "sslmode") {
            command.env("PGSSLMODE", mode.as_ref());
        }
        command
    }
}

/// Transaction latencies (µs, the 3rd field) of every per-thread log file in `dir`.
fn read_latencies(dir: &Path) -> anyhow::Result<Vec<u32>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        latencies.extend(
            text.lines()
                .filter_map(|line| line.split_whitespace().nth(2)?.parse::<u32>().ok()),
        );
    }
    Ok(latencies)
}
