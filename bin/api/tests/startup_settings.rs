//! Settings the payment provider cannot honour stop `toko-api` at startup, naming the setting:
//! `ORDER_PAYMENT_TTL` is also the Snap payment expiry, which Midtrans accepts from 5 minutes
//! to 7 days.

use std::{process::Stdio, time::Duration};

use tokio::process::Command;

/// Runs `toko-api` with `ORDER_PAYMENT_TTL=ttl` (no database: settings are read first) and
/// returns (exit success, stderr), or `None` when it was still running after 10 s.
async fn start_with_ttl(ttl: &str) -> Option<(bool, String)> {
    let child = Command::new(env!("CARGO_BIN_EXE_toko-api"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("APP_ENV", "development"),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("JWT_SECRET", "startup-settings-test-secret-0123456789"),
            ("ORDER_PAYMENT_TTL", ttl),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start toko-api");
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .ok()?
        .expect("toko-api output");
    Some((
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn a_payment_ttl_outside_five_minutes_to_seven_days_is_a_startup_error() {
    for ttl in ["4m", "299s", "8d", "169h"] {
        let (success, stderr) = start_with_ttl(ttl)
            .await
            .unwrap_or_else(|| panic!("ORDER_PAYMENT_TTL={ttl}: toko-api kept running"));
        assert!(!success, "ORDER_PAYMENT_TTL={ttl} was accepted");
        assert!(
            stderr.contains("ORDER_PAYMENT_TTL") && stderr.contains("between 5m and 7d"),
            "ORDER_PAYMENT_TTL={ttl}: {stderr}"
        );
    }
    // The bounds themselves pass the settings check (startup then fails later, on the
    // unreachable database, without blaming the TTL).
    for ttl in ["5m", "7d"] {
        if let Some((_, stderr)) = start_with_ttl(ttl).await {
            assert!(
                !stderr.contains("ORDER_PAYMENT_TTL"),
                "ORDER_PAYMENT_TTL={ttl}: {stderr}"
            );
        }
    }
}
