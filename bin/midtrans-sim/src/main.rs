//! `midtrans-sim` binary: reads the environment (see the library docs), serves until Ctrl-C or
//! SIGTERM, then shuts down gracefully.

use std::{io::IsTerminal, process::ExitCode};

use anyhow::Context;
use midtrans_sim::SimConfig;
use tracing_subscriber::EnvFilter;

/// A failure to start (a missing key, a taken port) is reported as its error chain on one
/// line, without the backtrace `main` returning the error prints under `RUST_BACKTRACE=1`.
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    init_tracing();
    let config = SimConfig::from_env().context("reading configuration")?;
    tracing::info!(
        host = %config.host,
        port = config.port,
        notification_url = ?config.notification_url,
        "starting midtrans-sim"
    );
    let sim = midtrans_sim::spawn(config)
        .await
        .context("starting server")?;
    tracing::info!(url = sim.base_url(), snap = %sim.snap_base_url(), "midtrans-sim ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    sim.shutdown().await.context("stopping server")?;
    Ok(())
}

/// `RUST_LOG` (default `info`) and `LOG_FORMAT=json|text`, as every toko binary.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: redirected to a file they are escape-code noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
