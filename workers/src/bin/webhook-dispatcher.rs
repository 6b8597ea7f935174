//! `webhook-dispatcher`: turns every event into deliveries for the merchants' webhook
//! endpoints that want it, and sends the due ones, signed, with retries over about three
//! days — see `toko::webhooks`.

use toko::{
    config::{ProcessEnv, Reader},
    messaging::schedule::Cadence,
    webhooks::{
        dispatch::{Dispatcher, Fanout},
        WebhookConfig,
    },
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("webhook-dispatcher", |worker| {
        let config = WebhookConfig::from_reader(&Reader(&ProcessEnv))?;
        worker.consume(Fanout::new(worker.pool.clone()))?;
        let dispatcher = Dispatcher::new(worker.pool.clone(), config.clone());
        worker.every(
            "deliver-webhooks",
            Cadence::Every(config.sweep_interval),
            move || {
                let dispatcher = dispatcher.clone();
                async move {
                    dispatcher.deliver_due(100).await?;
                    Ok(())
                }
            },
        )?;
        Ok(())
    })
    .await
}
