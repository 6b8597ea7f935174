//! RabbitMQ stopped and restarted while orders keep coming: no event is lost and no email is
//! doubled. It stops the machine's shared broker, so it runs alone (`scripts/test.sh` runs it
//! after the other tests with `--run-ignored only`).

use std::{process::Command, time::Duration};

use super::fixture::{wait_until, Pipeline};

fn rabbitmqctl(action: &str) {
    let status = Command::new("rabbitmqctl")
        .arg(action)
        .status()
        .expect("run rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {action} failed");
}

#[tokio::test]
#[ignore = "stops the shared RabbitMQ; scripts/test.sh runs it alone after the other tests"]
async fn a_broker_restart_during_a_stream_of_orders_loses_no_event() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let mut numbers = Vec::new();
    for i in 0..12 {
        if i == 4 {
            rabbitmqctl("stop_app");
        }
        if i == 8 {
            rabbitmqctl("start_app");
        }
        numbers.push(p.order(1).await.2);
    }
    let confirmations = || {
        numbers
            .iter()
            .filter(|n| p.emails_about(&format!("Order {n} received")).len() == 1)
            .count()
    };
    assert_eq!(
        wait_until(confirmations, numbers.len(), Duration::from_secs(90)).await,
        numbers.len()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in &numbers {
        assert_eq!(
            p.emails_about(&format!("Order {n} received")).len(),
            1,
            "exactly one confirmation for {n}"
        );
    }
    let pending: i64 = sqlx::query_scalar("select count(*) from outbox_events where published_at is null and event_type = 'order.created'")
        .fetch_one(&p.app.db)
        .await
        .unwrap();
    assert_eq!(pending, 0, "every order.created was published");
}
