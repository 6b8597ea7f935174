//! Midtrans payments end to end over HTTP with the simulator: Snap at checkout, verified
//! notifications, every outcome, duplicates and stale news, lost notifications, refunds.

use serde_json::{json, Value};
use toko_testkit::{assert_problem, Shop, TestApp, MIDTRANS_KEY};
use uuid::Uuid;

async fn shop() -> Shop {
    shop_from(TestApp::builder().with_midtrans()).await
}

/// One phone in stock ten times over.
async fn shop_from(builder: toko_testkit::TestAppBuilder) -> Shop {
    Shop::on(builder)
        .category("phones", "Phones", None)
        .product("phones", "Phone", "PHONE-1", 2_000_000, 10)
        .open()
        .await
}

fn ids(checkout: &Value) -> (String, String) {
    (
        checkout["order"]["id"].as_str().unwrap().to_owned(),
        checkout["order"]["number"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn checkout_pays_through_snap_and_the_notification_marks_the_order_paid() {
    let s = shop().await;
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 2).await;
    let payment = &checkout["payment"];
    assert_eq!(payment["status"], "pending");
    assert!(payment["snap_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert!(payment["redirect_url"]
        .as_str()
        .unwrap()
        .contains("/snap/v3/redirection/"));
    assert_eq!(payment["expires_at"], checkout["order"]["payment_due_at"]);
    let (order, number) = ids(&checkout);

    // What Midtrans received: item details summing to the total, shipping as an item.
    let sim = s.app.sim_transaction(&number).await;
    let snap = &sim["snap_request"];
    assert_eq!(snap["transaction_details"]["gross_amount"], 4_015_000);
    assert!(snap["item_details"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == "SHIPPING"));
    assert!(snap["expiry"]["start_time"]
        .as_str()
        .unwrap()
        .ends_with("+0700"));

    s.app.pay(&order, &number, None).await;
    assert_eq!(
        s.app.stock_of("PHONE-1").await,
        (8, 0),
        "payment commits the reservation"
    );
    let events: Vec<String> = s
        .app
        .outbox_events(&order)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(events, vec!["order.created", "order.paid"]);

    let payment: Value = s
        .app
        .by(&user)
        .get(&format!("/api/v1/orders/{order}/payment"))
        .expect(200)
        .await;
    assert_eq!(payment["status"], "paid");
    let audited: Vec<(bool, String)> = sqlx::query_as(
        "select signature_valid, outcome from payment_notifications order by received_at",
    )
    .fetch_all(&s.app.db)
    .await
    .unwrap();
    assert!(audited.iter().all(|(valid, _)| *valid));
    assert!(
        audited.iter().any(|(_, outcome)| outcome == "applied"),
        "{audited:?}"
    );
}

#[tokio::test]
async fn a_denied_attempt_leaves_the_order_payable_and_a_later_success_pays_it() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app
        .sim_action(
            &number,
            "pay",
            json!({"outcome": "deny", "payment_type": "credit_card"}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    s.app.wait_for_order_status(&order, "pending_payment").await;
    let status: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(status, "failed");

    s.app.pay(&order, &number, None).await;
}

#[tokio::test]
async fn expiry_and_cancellation_at_midtrans_close_the_order_and_release_stock() {
    let s = shop().await;
    let (_, first) = s.app.checked_out(&s.variants["PHONE-1"], 3).await;
    let (expiring, number) = ids(&first);
    s.app
        .sim_action(&number, "pay", json!({"outcome": "pending"}))
        .await;
    s.app.sim_action(&number, "expire", json!({})).await;
    s.app.wait_for_order_status(&expiring, "expired").await;

    let (_, second) = s.app.checked_out(&s.variants["PHONE-1"], 2).await;
    let (cancelled, number) = ids(&second);
    s.app
        .sim_action(&number, "pay", json!({"outcome": "pending"}))
        .await;
    s.app.sim_action(&number, "cancel", json!({})).await;
    s.app.wait_for_order_status(&cancelled, "cancelled").await;
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0));
}

#[tokio::test]
async fn a_challenged_card_payment_is_on_hold_not_paid() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app
        .sim_action(&number, "pay", json!({"outcome": "capture_challenge"}))
        .await;
    s.app.wait_for_payment_status("challenge").await;
    s.app.wait_for_order_status(&order, "pending_payment").await;
    assert_eq!(
        s.app.stock_of("PHONE-1").await,
        (10, 1),
        "still only reserved"
    );

    // The reviewer denies it: a failed attempt, the order still waits for payment.
    s.app.sim_action(&number, "deny", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    s.app.wait_for_order_status(&order, "pending_payment").await;
}

#[tokio::test]
async fn admins_cancel_an_unpaid_orders_payment() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app
        .sim_action(&number, "pay", json!({"outcome": "pending"}))
        .await;
    s.app
        .by(&s.admin)
        .post(
            &format!("/api/v1/admin/orders/{order}/cancel-payment"),
            &json!({}),
        )
        .expect(200)
        .await;
    s.app.wait_for_order_status(&order, "cancelled").await;
    let sim = s.app.sim_transaction(&number).await;
    assert_eq!(sim["transaction"]["transaction_status"], "cancel", "{sim}");
}

#[tokio::test]
async fn a_forged_notification_is_refused_and_changes_nothing() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    let forged = json!({
        "order_id": number, "status_code": "200", "gross_amount": "2015000.00", "transaction_status": "settlement",
        "fraud_status": "accept", "signature_key": toko::payments::midtrans::signature::signature(&number, "200", "2015000.00", "guessed-key"),
    });
    s.app
        .anonymous()
        .post("/api/v1/payments/midtrans/notification", &forged)
        .expect_problem(401, "invalid_signature")
        .await;
    s.app.wait_for_order_status(&order, "pending_payment").await;
    let (valid, outcome): (bool, String) =
        sqlx::query_as("select signature_valid, outcome from payment_notifications")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!((valid, outcome.as_str()), (false, "invalid_signature"));

    // A correctly signed notification for an order we never created is a 404.
    let unknown = json!({
        "order_id": "NOPE-1", "status_code": "200", "gross_amount": "1.00", "transaction_status": "settlement",
        "signature_key": toko::payments::midtrans::signature::signature("NOPE-1", "200", "1.00", MIDTRANS_KEY),
    });
    s.app
        .anonymous()
        .post("/api/v1/payments/midtrans/notification", &unknown)
        .expect_problem(404, "unknown_order")
        .await;
    let resp = s
        .app
        .client
        .post(s.app.url("/api/v1/payments/midtrans/notification"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "malformed_notification").await;
}

#[tokio::test]
async fn duplicate_and_out_of_order_notifications_never_move_an_order_backwards() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app.pay(&order, &number, None).await;

    // A stale `pending` (validly signed) and a duplicate `settlement` arrive late.
    s.app
        .sim_action(&number, "notify", json!({"status": "pending"}))
        .await;
    s.app.sim_action(&number, "notify", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    s.app.wait_for_order_status(&order, "paid").await;
    let paid_events: i64 =
        sqlx::query_scalar("select count(*) from outbox_events where event_type = 'order.paid'")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(paid_events, 1, "paid exactly once");
    assert_eq!(
        s.app.stock_of("PHONE-1").await,
        (9, 0),
        "stock committed once"
    );
    let payment_status: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(payment_status, "paid");
}

#[tokio::test]
async fn a_lost_notification_is_repaired_by_reconciling_with_midtrans() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app
        .sim_call(reqwest::Method::POST, "/_sim/notifications/pause")
        .await;
    s.app
        .sim_action(&number, "pay", json!({"outcome": "settlement"}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.app.wait_for_order_status(&order, "pending_payment").await;

    let outcome = s
        .app
        .state
        .payments
        .reconcile(Uuid::parse_str(&order).unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        toko::payments::reconcile::Reconciled::Applied(toko::orders::OrderStatus::Paid)
    );
    s.app.wait_for_order_status(&order, "paid").await;
    assert_eq!(
        s.app
            .state
            .payments
            .reconcile(Uuid::parse_str(&order).unwrap())
            .await
            .unwrap(),
        toko::payments::reconcile::Reconciled::Unchanged,
        "reconciling again is harmless"
    );
}

#[tokio::test]
async fn an_amount_that_does_not_match_the_order_is_refused() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    // Our record says the order is worth something else than what Midtrans will report.
    sqlx::query("update payments set gross_amount = gross_amount - 1")
        .execute(&s.app.db)
        .await
        .unwrap();
    s.app
        .sim_action(&number, "pay", json!({"outcome": "settlement"}))
        .await;
    let outcome = s
        .app
        .state
        .payments
        .reconcile(Uuid::parse_str(&order).unwrap())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        toko::payments::reconcile::Reconciled::AmountMismatch
    );
    s.app.wait_for_order_status(&order, "pending_payment").await;
}

#[tokio::test]
async fn partial_then_full_refunds_go_through_midtrans_with_stable_keys() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let (order, number) = ids(&checkout);
    s.app.pay(&order, &number, Some("gopay")).await;
    let refund = |amount: Option<i64>, key: &'static str| {
        let body = match amount {
            Some(a) => json!({"amount": a, "reason": "customer request"}),
            None => json!({"reason": "customer request"}),
        };
        s.app
            .by(&s.admin)
            .post(&format!("/api/v1/admin/orders/{order}/refund"), &body)
            .idempotency_key(key)
    };

    let resp = refund(Some(500_000), "refund-1").await;
    assert_eq!(resp.status(), 200);
    let partial: Value = resp.json().await.unwrap();
    assert_eq!(
        (
            partial["status"].as_str(),
            partial["refunded_amount"].as_i64()
        ),
        (Some("partially_refunded"), Some(500_000))
    );
    // The same key again is the same refund, not a second one.
    let again: Value = refund(Some(500_000), "refund-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, partial, "a retried refund replays the first answer");
    // Reusing the key for a different refund is refused rather than replayed.
    refund(Some(100_000), "refund-1")
        .expect_problem(422, "idempotency_key_reused")
        .await;

    let body = refund(Some(9_999_999), "refund-2")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "amount");

    let full: Value = refund(None, "refund-3").await.json().await.unwrap();
    assert_eq!(
        (full["status"].as_str(), full["refunded_amount"].as_i64()),
        (Some("refunded"), Some(2_015_000))
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    // Refund notifications change nothing more.
    s.app.wait_for_order_status(&order, "refunded").await;
    let refunded: i64 = sqlx::query_scalar("select refunded_amount from orders")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(refunded, 2_015_000);
    let sim = s.app.sim_transaction(&number).await;
    assert_eq!(sim["transaction"]["refund_amount"], "2015000.00", "{sim}");
    refund(None, "refund-4")
        .expect_problem(409, "order_not_refundable")
        .await;
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_and_restocks() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 2).await;
    let (order, number) = ids(&checkout);
    s.app.pay(&order, &number, Some("gopay")).await;
    let resp = s
        .app
        .by(&s.admin)
        .post(
            &format!("/api/v1/admin/orders/{order}/transitions"),
            &json!({"to": "cancelled", "reason": "out of stock"}),
        )
        .await;
    let status = resp.status();
    let cancelled: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["refunded_amount"].as_i64()
        ),
        (Some("cancelled"), Some(4_015_000))
    );
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0));
}

#[tokio::test]
async fn checkout_survives_midtrans_being_down_and_payment_can_be_started_later() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let s = shop_from(TestApp::builder().with_midtrans_at(port)).await;
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    assert_eq!(checkout["order"]["status"], "pending_payment");
    assert_eq!(checkout["payment"]["status"], "unavailable");
    let (order, _) = ids(&checkout);

    let mut config = midtrans_sim::SimConfig::new(MIDTRANS_KEY);
    config.port = port;
    let _sim = midtrans_sim::spawn(config).await.unwrap();
    let first = s
        .app
        .by(&user)
        .post(&format!("/api/v1/orders/{order}/payment"), &json!({}))
        .expect(200)
        .await;
    assert_eq!(first["status"], "pending");
    let again: Value = s
        .app
        .by(&user)
        .post(&format!("/api/v1/orders/{order}/payment"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["snap_token"], first["snap_token"],
        "the live Snap session is reused"
    );

    let other = s.app.register_customer().await;
    s.app
        .by(&other)
        .post(&format!("/api/v1/orders/{order}/payment"), &json!({}))
        .expect_problem(404, "not_found")
        .await;
}
