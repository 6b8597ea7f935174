//! `tokoctl messaging setup`: declares the whole RabbitMQ topology before any process runs
//! (see `toko::messaging::topology`).

use anyhow::Context;
use clap::Subcommand;
use toko::{
    config::{self, ConsumerConfig, MessagingConfig},
    messaging::{
        self,
        topology::{self, Topology},
    },
};

#[derive(Subcommand)]
pub enum Command {
    /// Declare the exchange, every worker queue with its retry queues and DLQ, their
    /// bindings and the archive queue (RABBITMQ_URL, RETRY_DELAYS). Safe to repeat.
    Setup,
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Setup => setup().await,
    }
}

async fn setup() -> anyhow::Result<()> {
    let reader = config::Reader(&config::ProcessEnv);
    let settings = MessagingConfig::from_reader(&reader)?;
    let consumer = ConsumerConfig::from_reader(&reader)?;
    let topology = Topology::deployment(&consumer.retry_delays);
    let connection = messaging::connect(
        settings.url.expose(),
        &messaging::connection_name("tokoctl"),
    )
    .await
    .context("connecting to RabbitMQ (RABBITMQ_URL)")?;
    let channel = connection.create_channel().await?;
    topology::declare_all(&channel, &topology).await.context(
        "declaring the topology (a queue that exists with other arguments, say after a \
         RETRY_DELAYS change, must be deleted first)",
    )?;
    for worker in &topology.workers {
        let keys: Vec<_> = worker
            .bindings
            .iter()
            .map(|b| b.routing_key.as_str())
            .collect();
        println!(
            "{:<32} {} retry queue(s), {}; bound to {}",
            worker.queue.name,
            worker.retry.len(),
            worker.dlq.name,
            keys.join(", ")
        );
    }
    println!(
        "{:<32} bound to #, keeps the newest {} events",
        topology.archive.name,
        topology::ARCHIVE_MAX_LENGTH
    );
    let _ = connection.close(200, "topology declared".into()).await;
    Ok(())
}
