//! The shared `main` of every worker binary: each binary names itself and says what its
//! process runs (a consumer, periodic jobs, the relay); settings, logging, the database, the
//! health and metrics server on `METRICS_PORT` and the SIGTERM drain are done here once.

use toko::{config::WorkerConfig, messaging::Worker};

/// Runs worker `name`: `setup` starts its components; returns after SIGTERM or Ctrl-C once
/// every component has drained, or with the error that stopped it (reported on stderr).
pub async fn run(
    name: &str,
    setup: impl FnOnce(&mut Worker) -> anyhow::Result<()>,
) -> std::process::ExitCode {
    toko::telemetry::exit_code(start(name, setup).await)
}

async fn start(
    name: &str,
    setup: impl FnOnce(&mut Worker) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let config = WorkerConfig::from_env()?;
    // lapin logs every returned message at warn level with its whole body (payloads may hold
    // personal data); the relay logs refusals itself, by event id.
    toko::telemetry::init_with_default(config.log_format, "info,sqlx=warn,lapin=error");
    let mut worker = Worker::start(name, config).await?;
    setup(&mut worker)?;
    worker.run_until(toko::telemetry::shutdown_signal()).await;
    Ok(())
}
