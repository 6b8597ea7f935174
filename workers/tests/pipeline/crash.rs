//! A notifier killed with SIGKILL in the middle of sending loses nothing and sends no
//! duplicate: the unacked message is redelivered to the next notifier, which sends it once.

use std::time::Duration;

use super::fixture::{wait_until, Pipeline};

#[tokio::test]
async fn a_notifier_killed_mid_message_loses_nothing_and_sends_no_duplicate() {
    // Each RCPT TO takes 3 s: the notifier is caught in the middle of the SMTP exchange.
    let p = Pipeline::bare(&[], Duration::from_secs(3), None).await;
    p.spawn_relay().await;
    let first = p.start_binary(env!("CARGO_BIN_EXE_notifier"), &[]);
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
    first.kill();
    assert_eq!(
        sent(),
        0,
        "the first notifier died before the server accepted the message"
    );

    let _second = p.start_binary(env!("CARGO_BIN_EXE_notifier"), &[]);
    assert_eq!(
        wait_until(sent, 1, Duration::from_secs(30)).await,
        1,
        "the message was redelivered and sent"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sent(), 1, "and sent only once");
}
