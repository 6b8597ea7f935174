//! A notifier killed with SIGKILL in the middle of sending loses nothing and sends no
//! duplicate: the unacked message is redelivered to the next notifier, which sends it once.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::fixture::{wait_until, Pipeline};

struct Process(Child);

impl Process {
    fn notifier(p: &Pipeline) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_notifier"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in &p.settings {
            command.env(k, v);
        }
        command
            .env("METRICS_PORT", toko_testkit::smtp::free_port().to_string())
            .env("RUST_LOG", "warn");
        Self(
            command
                .stdout(Stdio::null())
                .spawn()
                .expect("start the notifier binary"),
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_notifier_killed_mid_message_loses_nothing_and_sends_no_duplicate() {
    // Each RCPT TO takes 3 s: the notifier is caught in the middle of the SMTP exchange.
    let p = Pipeline::bare(&[], Duration::from_secs(3), None).await;
    p.spawn_relay().await;
    let first = Process::notifier(&p);
    let (_, _, number) = p.order(1).await;
    let sent = || {
        p.smtp
            .messages()
            .iter()
            .filter(|m| m.contains(&number))
            .count()
    };

    // Let the notifier pick the message up and start sending, then kill it outright.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut first = first;
    first.0.kill().expect("SIGKILL the notifier");
    first.0.wait().expect("reap");
    assert_eq!(
        sent(),
        0,
        "the first notifier died before the server accepted the message"
    );

    let _second = Process::notifier(&p);
    assert_eq!(
        wait_until(sent, 1, Duration::from_secs(30)).await,
        1,
        "the message was redelivered and sent"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sent(), 1, "and sent only once");
}
