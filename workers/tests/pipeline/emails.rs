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
async fn staff_are_emailed_once_when_a_payment_exception_appears() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let (_, order, number) = p.order(1).await;
    p.app
        .sim_action(
            &number,
            "pay",
            json!({"outcome": "settlement", "payment_type": "bank_transfer"}),
        )
        .await;
    assert_eq!(p.app.wait_for_order_status(&order, "paid").await, "paid");
    // The bank reverses the settlement.
    p.app.sim_action(&number, "deny", json!({})).await;
    assert_eq!(
        p.app
            .wait_for_order_status(&order, "payment_reversed")
            .await,
        "payment_reversed"
    );
    let subject = format!("Payment exception on order {number}: reversal");
    let told = wait_until(
        || p.emails_about(&subject).len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(told, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(p.emails_about(&subject).len(), 1, "exactly once");
    let mail = &p.emails_about(&subject)[0];
    let admin: String = sqlx::query_scalar("select email from users where role = 'admin'")
        .fetch_one(&p.app.db)
        .await
        .unwrap();
    assert!(mail.contains(&admin), "sent to the admin: {mail}");
    assert!(mail.contains("payment_reversed"), "says what to do: {mail}");
}
