//! The toko processes under test, started by the harness so it knows their pids (RSS) and
//! start times (start-to-ready), and stopped with SIGTERM at the end.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// Starts the release binaries with the bench environment.
pub struct Launcher {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Settings every process gets (database, broker, secrets, log level).
    pub env: Vec<(&'static str, String)>,
}

impl Launcher {
    pub async fn start(
        &self,
        name: &str,
        extra: &[(&'static str, String)],
        ready_url: &str,
    ) -> anyhow::Result<Service> {
        let env: Vec<_> = self.env.iter().chain(extra).cloned().collect();
        Service::start(&self.bin_dir, &self.log_dir, name, &env, ready_url).await
    }
}

pub struct Service {
    child: Child,
    /// From spawn to the first 200 of its `/health/ready`.
    pub start_to_ready: Duration,
}

impl Service {
    /// Starts `bin_dir/name` with `env` (its output goes to `log_dir/name.log`) and waits
    /// until `ready_url` answers 200.
    pub async fn start(
        bin_dir: &Path,
        log_dir: &Path,
        name: &str,
        env: &[(&'static str, String)],
        ready_url: &str,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
        let started = Instant::now();
        let mut child = Command::new(bin_dir.join(name))
            // Payments stay off (checkout reports them unavailable): W5 measures the order
            // transaction, not a Midtrans round trip; and one process counts its own limits.
            .env_remove("MIDTRANS_SERVER_KEY")
            .env_remove("REDIS_URL")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build with --release first)",
                    bin_dir.join(name).display()
                )
            })?;
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited with {status} before it was ready (see {}/{name}.log)",
                    log_dir.display()
                );
            }
            let ready = client
                .get(ready_url)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(Self {
                    child,
                    start_to_ready: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("{name} was not ready within 60 s")
    }

    /// False once the process has exited (crashed or killed from outside).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident set size now, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        rss_mib_of(self.pid()?)
    }

    /// Peak resident set size since start, in MiB (`VmHWM`).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid()?, "VmHWM:").map(|kib| kib as f64 / 1024.0)
    }

    /// SIGTERM, then waits up to 30 s (workers drain in-flight messages) before killing.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Resident set size of `pid` now, in MiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_mib_of(pid: u32) -> Option<f64> {
    proc_status_kib(pid, "VmRSS:").map(|kib| kib as f64 / 1024.0)
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Where the harness writes the services' logs.
pub fn log_dir() -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(".tmp/bench-logs");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
