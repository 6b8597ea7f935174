//! Customers get exactly one email per event, through the relay and the notifier.

use std::time::Duration;

use serde_json::json;
use toko_testkit::eventually;

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
    p.app.pay(&order, &number, None).await;
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
    p.app.pay(&order, &number, Some("bank_transfer")).await;
    // The bank reverses the settlement.
    p.app.sim_action(&number, "deny", json!({})).await;
    p.app
        .wait_for_order_status(&order, "payment_reversed")
        .await;
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

#[tokio::test]
async fn an_email_event_waits_in_its_queue_for_a_notifier_started_later() {
    // A fresh install where the relay runs first: it declares the whole topology itself.
    let p = Pipeline::bare(&[], Duration::ZERO, None).await;
    p.spawn_relay().await;
    let (_user, _order, number) = p.order(1).await;

    // Welcome emails for the admin and the customer, and the order confirmation.
    // A passive declare of a queue the relay has not declared yet closes its channel, so each
    // check asks on a fresh channel and counts a missing queue as empty.
    let connection = p.broker.connect().await;
    let waiting = eventually(
        "3 messages for the notifier",
        Duration::from_secs(20),
        || async {
            let channel = connection.create_channel().await.unwrap();
            let count = toko::messaging::topology::message_count(&channel, "toko.notifier")
                .await
                .map_or(0, |count| count as usize);
            if count >= 3 {
                Ok(count)
            } else {
                Err(count)
            }
        },
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

#[tokio::test]
async fn every_step_of_a_return_emails_the_customer_exactly_once() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let (user, order, number) = p.order(2).await;
    p.app.pay(&order, &number, Some("gopay")).await;
    let admin = |path: String, body: serde_json::Value| {
        let request = p.app.with_token(&p.admin_token).post(&path, &body);
        async move {
            let resp = request.await;
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            resp.json::<serde_json::Value>().await.unwrap()
        }
    };
    for (to, tracking) in [
        ("processing", None),
        ("shipped", Some("JNE-9")),
        ("delivered", None),
    ] {
        admin(
            format!("/api/v1/admin/orders/{order}/transitions"),
            json!({"to": to, "tracking_number": tracking}),
        )
        .await;
    }
    let line: uuid::Uuid =
        sqlx::query_scalar("select order_line_id from order_lines where order_id = $1")
            .bind(uuid::Uuid::parse_str(&order).unwrap())
            .fetch_one(&p.app.db)
            .await
            .unwrap();
    let resp = p
        .app
        .by(&user)
        .post(
            &format!("/api/v1/orders/{order}/returns"),
            &json!({"lines": [{"line_id": line, "quantity": 1, "reason": "damaged"}]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let r: serde_json::Value = resp.json().await.unwrap();
    let (id, return_number) = (r["id"].as_str().unwrap(), r["number"].as_str().unwrap());
    admin(format!("/api/v1/admin/returns/{id}/approve"), json!({})).await;
    admin(
        format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"line_id": line, "disposition": "restock"}]}),
    )
    .await;
    admin(format!("/api/v1/admin/returns/{id}/refund"), json!({})).await;

    for step in ["requested", "approved", "received", "refunded"] {
        let subject = format!("Return {return_number} {step}");
        let sent = wait_until(
            || p.emails_about(&subject).len(),
            1,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(sent, 1, "{subject}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        p.emails_about(&format!("Return {return_number}")).len(),
        4,
        "one email per step: {:#?}",
        p.smtp.messages()
    );
    let refunded = &p.emails_about(&format!("Return {return_number} refunded"))[0];
    assert!(refunded.contains(&user.email), "{refunded}");
    assert!(refunded.contains("Rp 80.000"), "says how much: {refunded}");
}

#[tokio::test]
async fn each_parcel_of_a_split_shipment_emails_its_tracking_number_once() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let (_, order, number) = p.order(3).await;
    p.app.pay(&order, &number, None).await;
    let line: uuid::Uuid =
        sqlx::query_scalar("select order_line_id from order_lines where order_id = $1")
            .bind(uuid::Uuid::parse_str(&order).unwrap())
            .fetch_one(&p.app.db)
            .await
            .unwrap();
    for body in [
        json!({"lines": [{"line_id": line, "quantity": 1}], "carrier": "jne", "tracking_number": "JNE-PART"}),
        json!({"carrier": "sicepat", "tracking_number": "SICEPAT-REST"}),
    ] {
        p.app
            .with_token(&p.admin_token)
            .post(&format!("/api/v1/admin/orders/{order}/shipments"), &body)
            .expect(201)
            .await;
    }
    for (subject, tracking) in [
        (format!("Part of order {number} has shipped"), "JNE-PART"),
        (format!("Order {number} has shipped"), "SICEPAT-REST"),
    ] {
        let sent = wait_until(
            || p.emails_about(&subject).len(),
            1,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(sent, 1, "{subject}");
        let mail = &p.emails_about(&subject)[0];
        assert!(mail.contains(tracking), "{mail}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        p.emails_about("has shipped").len(),
        2,
        "one email per parcel: {:#?}",
        p.smtp.messages()
    );
    let part = &p.emails_about(&format!("Part of order {number}"))[0];
    assert!(
        part.contains("1 x "),
        "names the units in the parcel: {part}"
    );
}

#[tokio::test]
async fn a_password_reset_link_is_emailed_once_and_its_token_works() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let user = p.app.register_customer().await;
    p.app
        .anonymous()
        .post("/api/v1/auth/password-reset", &json!({"email": user.email}))
        .expect(202)
        .await;
    let sent = wait_until(
        || p.emails_about("Reset your toko password").len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(sent, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = p.emails_about("Reset your toko password");
    assert_eq!(mails.len(), 1, "exactly once");
    let mail = &mails[0];
    assert!(mail.contains(&user.email), "{mail}");
    let token = link_token(mail, "reset-password?token=");
    let reset = |password: &'static str| {
        p.app.anonymous().post(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": token, "new_password": password}),
        )
    };
    reset("a password from the email 1").expect(204).await;
    reset("a password from the email 2").expect(422).await;
    p.app
        .login(&user.email, "a password from the email 1")
        .await;
}

#[tokio::test]
async fn a_staff_invite_is_emailed_once_and_its_link_creates_the_account() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let owner = p.app.register_staff("owner").await;
    let email = format!("hire-{}@example.com", uuid::Uuid::new_v4().simple());
    p.app
        .by(&owner)
        .post(
            "/api/v1/admin/staff-invites",
            &json!({"email": email, "name": "Dewi", "role": "order_manager"}),
        )
        .expect(201)
        .await;
    let subject = "You are invited to run toko";
    let sent = wait_until(|| p.emails_about(subject).len(), 1, Duration::from_secs(20)).await;
    assert_eq!(sent, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = p.emails_about(subject);
    assert_eq!(mails.len(), 1, "exactly once");
    assert!(mails[0].contains(&email), "{}", mails[0]);
    let token = link_token(&mails[0], "staff/accept-invite?token=");
    let resp = p
        .app
        .anonymous()
        .post(
            "/api/v1/auth/accept-invite",
            &json!({"token": token, "new_password": "an invited passphrase 9"}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let session: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(session["user"]["role"], "order_manager");
    p.app.login(&email, "an invited passphrase 9").await;
}

/// The token of the link after `prefix` in an email (quoted-printable's soft breaks and
/// `=3D` undone); 256 bits in base64url.
fn link_token(mail: &str, prefix: &str) -> String {
    let body = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let token: String = body
        .split(prefix)
        .nth(1)
        .expect("a link in the email")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "256 bits, base64url: {token}");
    token
}
