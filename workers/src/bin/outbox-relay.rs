//! `outbox-relay`: publishes the transactional outbox to the `toko.events` exchange
//! (see `toko::messaging::relay`). Scaled on its own; any number of replicas is safe.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("outbox-relay", |worker| {
        worker.relay()?;
        Ok(())
    })
    .await
}
