//! `webhook-dispatcher`: turns every event into deliveries for the merchants' webhook
//! endpoints that want it, and sends the due ones, signed, with retries over about three
//! days — see `toko::webhooks`.

use toko::{
    config::{ProcessEnv, Reader},
    webhooks::{dispatch, WebhookConfig},
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("webhook-dispatcher", |worker| {
        let config = WebhookConfig::from_reader(&Reader(&ProcessEnv))?;
        dispatch::run_in(worker, config)?;
        Ok(())
    })
    .await
}
