//! Customers get exactly one email per event, through the relay and the notifier.

use std::time::Duration;

use serde_json::json;

use super::fixture::{wait_until, Pipeline};

#[tokio::test]
async fn checkout_and_payment_deliver_each_email_exactly_once() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let (user, order, number) = p.order(2).await;

    let confirmation = wait_until(
        || p.emails_about(&format!("Order {number} received")).len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(confirmation, 1);
    p.app
        .sim_action(&number, "pay", json!({"outcome": "settlement"}))
        .await;
    assert_eq!(p.app.wait_for_order_status(&order, "paid").await, "paid");
    let paid = wait_until(
        || {
            p.emails_about(&format!("Payment received for order {number}"))
                .len()
        },
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(paid, 1);

    // Nothing more arrives: no duplicates of either, and the welcome email came once too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(p.emails_about(&number).len(), 2, "{:#?}", p.smtp.messages());
    assert_eq!(
        p.emails_about("Welcome to").len(),
        2,
        "one welcome each for the admin and the customer"
    );
    let mail = &p.emails_about(&format!("Order {number} received"))[0];
    assert!(
        mail.contains(&format!("To: {}", user.email)) || mail.contains(&user.email),
        "{mail}"
    );
    assert!(mail.contains("Rp 175.000"), "totals in rupiah: {mail}");
    assert!(
        mail.contains("Content-Type: text/html") && mail.contains("Content-Type: text/plain"),
        "{mail}"
    );
}

#[tokio::test]
async fn an_email_event_waits_in_its_queue_for_a_notifier_started_later() {
    // A fresh install where the relay runs first: it declares the whole topology itself.
    let p = Pipeline::bare(&[], Duration::ZERO, None).await;
    p.spawn_relay().await;
    let (_user, _order, number) = p.order(1).await;

    // Welcome emails for the admin and the customer, and the order confirmation.
    let connection = p.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    let waiting = wait_until_async(
        || async {
            toko::messaging::topology::message_count(&channel, "toko.notifier")
                .await
                .unwrap() as usize
        },
        3,
    )
    .await;
    assert_eq!(waiting, 3, "published while no notifier had ever run");
    assert!(p.smtp.messages().is_empty());

    p.spawn_notifier().await;
    let confirmation = wait_until(
        || p.emails_about(&format!("Order {number} received")).len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(confirmation, 1);
    assert_eq!(
        wait_until(
            || p.emails_about("Welcome to").len(),
            2,
            Duration::from_secs(10)
        )
        .await,
        2
    );
}

/// Polls `check` until it reaches `expected` (or 20 s pass); returns its last value.
async fn wait_until_async<F, Fut>(check: F, expected: usize) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = check().await;
        if n >= expected || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Regression: lettre's transport left Nagle's algorithm on, so each email's terminator
/// waited for the server's delayed ACK (40 ms on Linux): ~45 ms per email on loopback.
#[tokio::test]
async fn one_connection_sends_an_email_in_far_less_than_a_delayed_ack() {
    let smtp = toko_testkit::SmtpCatcher::spawn(Duration::ZERO);
    let mut settings = std::collections::HashMap::new();
    settings.insert("SMTP_URL".to_owned(), smtp.url());
    let config =
        toko::notifications::MailConfig::from_reader(&toko::config::Reader(&settings)).unwrap();
    let mailer = toko::notifications::Mailer::new(&config).unwrap();
    let shop = config.shop.clone();
    let mut took = Vec::new();
    for n in 0..30 {
        let email =
            toko::notifications::templates::welcome(&shop, &format!("n{n}@example.com"), "N");
        let started = std::time::Instant::now();
        mailer.send(&email, &format!("nagle-{n}")).await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median < Duration::from_millis(25),
        "median {median:?} per email (one at a time, pooled connection): {took:?}"
    );
    assert_eq!(
        wait_until(|| smtp.messages().len(), 30, Duration::from_secs(10)).await,
        30
    );
}
