//! The shared `main` of every worker binary: each binary names itself and says what its
//! process runs (a consumer, periodic jobs, the relay); settings, logging, the database, the
//! health and metrics server on `METRICS_PORT` and the SIGTERM drain are done here once.

use toko::{config::WorkerConfig, messaging::Worker};

/// Runs worker `name`: `setup` starts its components; returns after SIGTERM or Ctrl-C once
/// every component has drained.
pub async fn run(
    name: &str,
    setup: impl FnOnce(&mut Worker) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let config = WorkerConfig::from_env()?;
    toko::telemetry::init(config.log_format);
    let mut worker = Worker::start(name, config).await?;
    setup(&mut worker)?;
    worker.run_until(toko::telemetry::shutdown_signal()).await;
    Ok(())
}
