//! The subcommands of `tokoctl`, one module each.

mod admin;
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
    /// Search index operations.
    #[command(subcommand)]
    Search(search::Command),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate => migrate::run().await,
        Command::Openapi(args) => openapi::run(args),
        Command::CreateAdmin(args) => admin::run(args).await,
        Command::Search(command) => search::run(command).await,
    }
}
