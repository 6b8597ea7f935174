//! The subcommands of `tokoctl`, one module each.

mod admin;
mod catalog;
mod migrate;
mod openapi;
mod search;

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
    /// Create an admin, or promote an existing account (password from stdin or TOKO_ADMIN_PASSWORD).
    CreateAdmin(admin::Args),
    /// Bulk catalog data: import files, seed a demo catalog.
    #[command(subcommand)]
    Catalog(catalog::Command),
    /// Search index operations.
    #[command(subcommand)]
    Search(search::Command),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate => migrate::run().await,
        Command::Openapi(args) => openapi::run(args),
        Command::CreateAdmin(args) => admin::run(args).await,
        Command::Catalog(command) => catalog::run(command).await,
        Command::Search(command) => search::run(command).await,
    }
}

/// The database pool from `DATABASE_URL`.
async fn database() -> anyhow::Result<toko::db::PgPool> {
    use anyhow::Context;
    let reader = toko::config::Reader(&toko::config::ProcessEnv);
    let database = toko::config::DatabaseConfig::from_reader(&reader)?;
    toko::db::connect(&database).await.context("connecting to Postgres")
}

/// The catalog service, for commands that work on products.
async fn catalog_service() -> anyhow::Result<toko::catalog::Catalog> {
    let reader = toko::config::Reader(&toko::config::ProcessEnv);
    let store = toko::config::StoreConfig::from_reader(&reader)?;
    Ok(toko::catalog::Catalog::new(database().await?, store.currency))
}
