//! `toko-api`: the HTTP API server.

use anyhow::Context;
use toko::{config, db, http, serving::BoundServer, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    return_large_allocations_to_the_os();
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
    let (host, port, metrics_port) = (config.http.host, config.http.port, config.http.metrics_port);
    let state = http::AppState::new(config, pool).await?;
    let server = BoundServer::bind(host, port)
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    let metrics_server = BoundServer::bind(host, metrics_port)
        .await
        .with_context(|| format!("binding {host}:{metrics_port} (METRICS_PORT)"))?;
    tracing::info!(
        address = %server.local_addr,
        metrics_address = %metrics_server.local_addr,
        startup_ms = started.elapsed().as_millis() as u64,
        "toko-api listening"
    );
    let (stop, stopped) = tokio::sync::watch::channel(());
    let metrics = tokio::spawn(metrics_server.serve(http::metrics_app(state.clone()), {
        let mut stopped = stopped;
        async move {
            let _ = stopped.changed().await;
        }
    }));
    server.run(state, telemetry::shutdown_signal()).await?;
    drop(stop);
    metrics.await??;
    tracing::info!("toko-api stopped");
    Ok(())
}

/// Every password hash allocates 19 MiB (argon2id, see `toko::auth::password`). glibc's
/// malloc raises its mmap threshold after the first such block is freed, so later blocks come
/// from the per-thread arenas and stay resident: a burst of sign-ups left the API at ~475 MB
/// RSS (measured by `toko-bench`, docs/BENCHMARKS.md). A fixed threshold of 1 MiB keeps large
/// blocks in their own mappings, returned to the OS when freed.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc tunable; it is called before any large allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
