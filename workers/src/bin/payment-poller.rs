//! `payment-poller`: reconciles unpaid orders with Midtrans when their notification does not
//! come — `order.created` schedules the first check, a sweep runs the due ones with backoff —
//! closes at Midtrans the payments of cancelled or expired orders not closed yet, and sends
//! again (same refund key) refunds whose request died before Midtrans answered.

use anyhow::Context;
use toko::{
    config::{MidtransConfig, ProcessEnv, Reader, StoreConfig, SweepConfig},
    messaging::schedule::Cadence,
    orders::{OrderConfig, Orders},
    payments::{poller::PaymentPoller, Payments},
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("payment-poller", |worker| {
        let env = Reader(&ProcessEnv);
        let sweeps = SweepConfig::from_reader(&env)?;
        let midtrans = MidtransConfig::from_reader(&env)?
            .context("MIDTRANS_SERVER_KEY is required by the payment-poller")?;
        let orders = Orders::new(
            worker.pool.clone(),
            OrderConfig::from_reader(&env)?,
            StoreConfig::from_reader(&env)?.currency,
        );
        let payments = Payments::new(worker.pool.clone(), Some(midtrans), orders);

        worker.consume(PaymentPoller::new(
            payments.clone(),
            sweeps.payment_poll_after,
        ))?;
        let base = sweeps.payment_poll_after;
        worker.every(
            "poll-due-payments",
            Cadence::Every(sweeps.payment_poll_interval),
            move || {
                let payments = payments.clone();
                async move {
                    payments.poll_due(base, 100).await?;
                    payments.close_abandoned(100).await?;
                    payments
                        .resume_refunds(std::time::Duration::from_secs(60), 100)
                        .await?;
                    Ok(())
                }
            },
        )?;
        Ok(())
    })
    .await
}
