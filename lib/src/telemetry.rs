//! Logging setup shared by every binary: text for humans, JSON (`LOG_FORMAT=json`) for log
//! pipelines; `RUST_LOG` filters (default `info`). Also how a binary reports the error it
//! stops with.

use std::{io::IsTerminal, process::ExitCode};

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
        // Colours only on a terminal: redirected to a file they are escape-code noise.
        LogFormat::Text => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
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

/// The exit of a binary's `main`: on error, `error: ` and the error with its causes on one
/// line on stderr, and a failure status. Never a backtrace (as `main` returning the error
/// would print with `RUST_BACKTRACE=1`): a missing setting or a bad import file is an expected
/// failure, not a bug to debug.
pub fn exit_code<E>(result: Result<(), E>) -> ExitCode
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(&*error.into()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, `outer: inner: root`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source's message in their own; say it once.
        if !chain.ends_with(&cause_text) {
            chain.push_str(": ");
            chain.push_str(&cause_text);
        }
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("reading catalog.csv")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_error_chain_is_one_line_of_every_cause() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        assert_eq!(error_chain(&error), "reading catalog.csv: no such file");
    }
}
