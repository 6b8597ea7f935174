//! Logging setup shared by every binary: text for humans, JSON (`LOG_FORMAT=json`) for log
//! pipelines; `RUST_LOG` filters (default `info`).

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call twice (the second call is ignored), which
/// matters in tests that start several apps in one process.
pub fn init(format: LogFormat) {
    init_with_default(format, "info,sqlx=warn,lapin=warn");
}

/// [`init`] with another filter when `RUST_LOG` is unset (`tokoctl` keeps quiet: bulk
/// statements are slow by design, and lapin logs its expected "no such queue" answers to
/// the CLI's probes as errors).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
    // An error only means a subscriber is already installed.
    let _ = result;
}

/// Waits for SIGTERM or Ctrl-C: the signal to drain and stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
