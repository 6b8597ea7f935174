//! A message that keeps failing ends in the dead-letter queue with its error; once the cause
//! is fixed, `tokoctl dlq replay` brings it back and it succeeds exactly once.

use std::time::Duration;

use toko::messaging::dlq::{self, Selection};
use toko_testkit::{eventually, smtp::free_port, SmtpCatcher};

use super::fixture::{wait_until, Pipeline};

#[tokio::test]
async fn an_email_that_cannot_be_sent_is_dead_lettered_then_replayed_once() {
    let mut p = Pipeline::bare(&[], Duration::ZERO, None).await;
    // The notifier's SMTP server is down: every attempt fails.
    let port = free_port();
    p.settings
        .insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{port}"));
    p.spawn_relay().await;
    p.spawn_notifier().await;
    let (_, _, number) = p.order(1).await;

    let connection = p.broker.connect().await;
    let dead = eventually(
        "the confirmation email dead-lettered",
        Duration::from_secs(30),
        || async {
            let letters = dlq::show(&connection, "toko.notifier.dlq", 10).await.ok()?;
            letters
                .into_iter()
                .find(|l| l.event_type.as_deref() == Some("order.created"))
        },
    )
    .await;
    assert_eq!(dead.attempts, 3, "MAX_ATTEMPTS");
    let error = dead.last_error.unwrap();
    assert!(
        error.contains("SMTP") || error.contains("Connection refused") || error.contains("connect"),
        "{error}"
    );
    assert_eq!(dead.routing_key, "order.created");

    // Fix the cause, replay, and the email goes out once.
    let smtp = SmtpCatcher::spawn_on(port, Duration::ZERO);
    let id = dead.message_id.unwrap();
    let summary = dlq::replay(
        &connection,
        "toko.notifier.dlq",
        &Selection::Ids(vec![id.clone()]),
        false,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(summary.replayed, vec![id]);
    let about_order = || {
        smtp.messages()
            .iter()
            .filter(|m| m.contains(&number))
            .count()
    };
    assert_eq!(wait_until(about_order, 1, Duration::from_secs(20)).await, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(about_order(), 1, "exactly once");
}
