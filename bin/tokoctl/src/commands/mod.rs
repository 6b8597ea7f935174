//! The subcommands of `tokoctl`, one module each.

mod admin;
mod audit;
mod catalog;
mod dlq;
mod mail;
mod messaging;
mod migrate;
mod openapi;
mod outbox;
mod payments;
mod search;
mod webhooks;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tokoctl", version, about = "Operate a toko deployment")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (DATABASE_URL).
    Migrate,
    /// Write the OpenAPI document (no server or database needed).
    Openapi(openapi::Args),
    /// Write the event catalog with the payloads' JSON Schemas (docs/EVENTS.md).
    Events(openapi::EventArgs),
    /// Create an admin, or promote an existing account (password from stdin or TOKO_ADMIN_PASSWORD).
    CreateAdmin(admin::Args),
    /// Check stock and order consistency; exits non-zero on violations (DATABASE_URL).
    Audit(audit::Args),
    /// Bulk catalog data: import files, seed a demo catalog.
    #[command(subcommand)]
    Catalog(catalog::Command),
    /// Inspect, replay and purge the workers' dead-letter queues (RABBITMQ_URL).
    #[command(subcommand)]
    Dlq(dlq::Command),
    /// The RabbitMQ topology: `setup` declares it before any worker runs (RABBITMQ_URL).
    #[command(subcommand)]
    Messaging(messaging::Command),
    /// The outbox relay's backlog (DATABASE_URL).
    #[command(subcommand)]
    Outbox(outbox::Command),
    /// Payment exceptions: list them, resolve them (DATABASE_URL).
    #[command(subcommand)]
    Payments(payments::Command),
    /// Search index operations.
    #[command(subcommand)]
    Search(search::Command),
    /// Merchants' webhook endpoints and their deliveries (DATABASE_URL).
    #[command(subcommand)]
    Webhooks(webhooks::Command),
    /// Read the emails the quick start's local SMTP catcher saved (.tmp/mail).
    #[command(subcommand)]
    Mail(mail::Command),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate => migrate::run().await,
        Command::Openapi(args) => openapi::run(args),
        Command::Events(args) => openapi::events(args),
        Command::CreateAdmin(args) => admin::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Catalog(command) => catalog::run(command).await,
        Command::Dlq(command) => dlq::run(command).await,
        Command::Messaging(command) => messaging::run(command).await,
        Command::Outbox(command) => outbox::run(command).await,
        Command::Payments(command) => payments::run(command).await,
        Command::Search(command) => search::run(command).await,
        Command::Webhooks(command) => webhooks::run(command).await,
        Command::Mail(command) => mail::run(command),
    }
}

/// The database pool from `DATABASE_URL`.
async fn database() -> anyhow::Result<toko::db::PgPool> {
    use anyhow::Context;
    let reader = toko::config::Reader(&toko::config::ProcessEnv);
    let database = toko::config::DatabaseConfig::from_reader(&reader)?;
    toko::db::connect(&database)
        .await
        .context("connecting to Postgres")
}

/// The catalog service, for commands that work on products.
async fn catalog_service() -> anyhow::Result<toko::catalog::Catalog> {
    let reader = toko::config::Reader(&toko::config::ProcessEnv);
    let store = toko::config::StoreConfig::from_reader(&reader)?;
    Ok(toko::catalog::Catalog::new(
        database().await?,
        store.currency,
    ))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    fn parses(args: &str) -> bool {
        Cli::try_parse_from(args.split_whitespace()).is_ok()
    }

    #[test]
    fn replay_needs_ids_or_all_but_not_both() {
        assert!(!parses("tokoctl dlq replay notifier"));
        assert!(!parses("tokoctl dlq replay notifier --all --id x"));
        assert!(parses(
            "tokoctl dlq replay notifier --id a --id b --dry-run"
        ));
        assert!(parses("tokoctl dlq replay toko.notifier --all"));
    }

    #[test]
    fn operations_commands_parse() {
        assert!(parses("tokoctl dlq list"));
        assert!(parses("tokoctl dlq show notifier --limit 5"));
        assert!(parses("tokoctl dlq purge notifier --yes"));
        assert!(parses("tokoctl outbox status"));
        assert!(parses("tokoctl messaging setup"));
        assert!(parses("tokoctl audit"));
        assert!(parses("tokoctl audit --all"));
        assert!(parses("tokoctl search reindex"));
        assert!(parses("tokoctl mail list"));
        assert!(parses("tokoctl mail show last --html --dir /tmp/mail"));
        assert!(parses("tokoctl payments exceptions --state open"));
        assert!(parses(
            "tokoctl payments resolve 0190c0de-0000-7000-8000-000000000000 --by a@b.c --resolution done"
        ));
    }
}
