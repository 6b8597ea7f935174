//! What the `toko-api` process prints when its output goes to a file or a pipe (as the quick
//! start's `.tmp/logs/*.log`): plain text without colour codes, and a failure to start as one
//! line of error chain, never a backtrace.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};
use toko_testkit::{smtp::free_port, TestDatabase};

/// A directory without a `.env` above it, so only the settings given here apply.
fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("toko-api-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn api() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_toko-api"));
    command
        .current_dir(scratch_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn text_logs_in_a_pipe_have_no_colour_codes() {
    let database = TestDatabase::create().await;
    let port = free_port();
    let mut server = api()
        .envs([
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("DATABASE_URL", database.url.as_str()),
            (
                "JWT_SECRET",
                "process-output-test-secret-not-for-production",
            ),
            ("RATE_LIMIT_ENABLED", "false"),
            ("LOG_FORMAT", "text"),
            ("RUST_LOG", "info"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start toko-api");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let listening = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read the log") {
            let done = line.contains("toko-api listening");
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    server.kill().await.ok();
    assert_eq!(listening, Ok(true), "{seen:#?}");
    let log = seen.join("\n");
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in {log:?}");
}

#[tokio::test]
async fn a_missing_setting_is_one_line_without_a_backtrace() {
    let output = api()
        .envs([("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")])
        .output()
        .await
        .expect("run toko-api");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}
