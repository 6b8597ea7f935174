//! `toko-api`: the HTTP API server.

use anyhow::Context;
use toko::{config, db, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // A .env file is a development convenience; real deployments set the environment.
    let _ = dotenvy::dotenv();
    let config = config::ApiConfig::from_env()?;
    telemetry::init(config::LogFormat::from_reader(&config::Reader(
        &config::ProcessEnv,
    ))?);

    let pool = db::connect(&config.database)
        .await
        .context("connecting to Postgres")?;
    if config.database.run_migrations {
        db::migrate(&pool).await.context("applying migrations")?;
    }
    let (host, port) = (config.http.host, config.http.port);
    let state = http::AppState::new(config, pool).await?;
    let server = http::BoundServer::bind(host, port)
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    tracing::info!(
        address = %server.local_addr,
        startup_ms = started.elapsed().as_millis() as u64,
        "toko-api listening"
    );
    server.run(state, telemetry::shutdown_signal()).await?;
    tracing::info!("toko-api stopped");
    Ok(())
}
