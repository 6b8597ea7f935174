//! `inventory-reconciler`: expires unpaid orders past their deadline (releasing their stock),
//! audits stock levels against orders and the ledger (every `stock.changed`, and in full
//! periodically), repairing and reporting drift; prunes expired idempotency keys and payment
//! notifications past their retention.

use toko::{
    catalog::{
        audit::{AuditMetrics, StockAuditor},
        Catalog,
    },
    config::{ProcessEnv, Reader, StoreConfig, SweepConfig},
    messaging::schedule::Cadence,
    orders::{OrderConfig, Orders},
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("inventory-reconciler", |worker| {
        let env = Reader(&ProcessEnv);
        let sweeps = SweepConfig::from_reader(&env)?;
        let currency = StoreConfig::from_reader(&env)?.currency;
        let catalog = Catalog::new(worker.pool.clone(), currency.clone());
        let orders = Orders::new(
            worker.pool.clone(),
            OrderConfig::from_reader(&env)?,
            currency,
        );
        let metrics = AuditMetrics::register(&worker.registry)?;

        worker.consume(StockAuditor::new(catalog.clone(), Some(metrics.clone())))?;
        let expiring = (orders, metrics.clone());
        worker.every(
            "expire-unpaid-orders",
            Cadence::Every(sweeps.expiry_interval),
            move || {
                let (orders, metrics) = expiring.clone();
                async move {
                    let expired = orders.expire_overdue(500).await?;
                    metrics.expired.inc_by(expired.len() as u64);
                    Ok(())
                }
            },
        )?;
        worker.every(
            "audit-stock",
            Cadence::Every(sweeps.stock_audit_interval),
            move || {
                let (catalog, metrics) = (catalog.clone(), metrics.clone());
                async move {
                    let report = catalog.audit_stock(None).await?;
                    metrics.record(&report);
                    Ok(())
                }
            },
        )?;
        let pool = worker.pool.clone();
        worker.every(
            "prune-idempotency-keys",
            Cadence::Every(std::time::Duration::from_secs(3600)),
            move || {
                let pool = pool.clone();
                async move {
                    toko::idempotency::prune(&pool).await?;
                    Ok(())
                }
            },
        )?;
        let pool = worker.pool.clone();
        let retention = (
            sweeps.notification_retention,
            sweeps.unverified_notification_retention,
        );
        worker.every(
            "prune-payment-notifications",
            Cadence::Every(std::time::Duration::from_secs(3600)),
            move || {
                let pool = pool.clone();
                async move {
                    let (verified, unverified) = retention;
                    toko::payments::store::prune_notifications(&pool, verified, unverified).await?;
                    Ok(())
                }
            },
        )?;
        Ok(())
    })
    .await
}
