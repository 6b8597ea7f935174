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
    // lapin logs every returned message at warn level with its whole body (payloads may hold
    // personal data); the relay logs refusals itself, by event id.
    toko::telemetry::init_with_default(config.log_format, "info,sqlx=warn,lapin=error");
    let mut worker = Worker::start(name, config).await?;
    setup(&mut worker)?;
    worker.run_until(toko::telemetry::shutdown_signal()).await;
    Ok(())
}

/// What the inventory-reconciler reports on `/metrics`.
#[derive(Clone)]
pub struct ReconcilerMetrics {
    pub expired: prometheus::IntCounter,
    pub drift: prometheus::IntCounterVec,
}

impl ReconcilerMetrics {
    pub fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let expired = prometheus::IntCounter::new("orders_expired_total", "Unpaid orders expired by the reconciler")?;
        let drift = prometheus::IntCounterVec::new(
            prometheus::Opts::new("stock_drift_total", "Variants whose stock disagreed with orders or the ledger"),
            &["kind", "repaired"],
        )?;
        registry.register(Box::new(expired.clone()))?;
        registry.register(Box::new(drift.clone()))?;
        Ok(Self { expired, drift })
    }

    pub fn record(&self, report: &toko::catalog::audit::AuditReport) {
        for d in &report.drifts {
            self.drift.with_label_values(&[d.kind, if d.repaired { "true" } else { "false" }]).inc();
        }
    }
}
