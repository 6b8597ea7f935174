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
