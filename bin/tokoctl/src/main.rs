//! `tokoctl`: operations on a toko deployment (migrations, the OpenAPI document, admins,
//! the search index).

mod commands;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = commands::Cli::parse();
    toko::telemetry::init_with_default(toko::config::LogFormat::Text, "warn,sqlx=error");
    commands::run(cli).await
}
