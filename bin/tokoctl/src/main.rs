//! `tokoctl`: operations on a toko deployment (migrations, the OpenAPI document, admins,
//! dead letters, the outbox, the search index, payment exceptions).

mod commands;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let cli = commands::Cli::parse();
    // lapin logs a passive declare of a missing queue (how `dlq` probes queues) as an error.
    toko::telemetry::init_with_default(toko::config::LogFormat::Text, "warn,sqlx=error,lapin=off");
    toko::telemetry::exit_code(commands::run(cli).await)
}
