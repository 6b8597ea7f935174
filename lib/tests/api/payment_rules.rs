//! Payments as Midtrans really behaves (issue 15), over HTTP with the simulator: refunds by
//! payment method and manual refunds, voiding before settlement, bank reversals, closing the
//! payment of cancelled and expired orders (and payments that race it), payment exceptions.

use serde_json::{json, Value};
use std::time::Duration;
use toko::consistency;

use toko_testkit::{eventually, problem_fields, Call, Shop, TestApp, TestUser};
use uuid::Uuid;

/// One phone in stock ten times over.
async fn shop() -> Shop {
    Shop::on(TestApp::builder().with_midtrans())
        .category("phones", "Phones", None)
        .product("phones", "Phone", "PHONE-1", 2_000_000, 10)
        .open()
        .await
}

/// A customer's order of `quantity` phones (2 015 000 each with shipping for one), paid
/// with `payment_type` ending in `outcome`; returns (customer, order id, order number).
async fn paid_with(
    s: &Shop,
    quantity: i64,
    payment_type: &str,
    outcome: &str,
) -> (TestUser, String, String) {
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], quantity).await;
    let order = checkout["order"]["id"].as_str().unwrap().to_owned();
    let number = checkout["order"]["number"].as_str().unwrap().to_owned();
    s.app
        .sim_action(
            &number,
            "pay",
            json!({"outcome": outcome, "payment_type": payment_type}),
        )
        .await;
    if outcome != "pending" {
        s.app.wait_for_order_status(&order, "paid").await;
    }
    (user, order, number)
}

fn admin_post(s: &Shop, path: &str, body: Value, key: Option<&str>) -> Call {
    let call = s.app.by(&s.admin).post(path, &body);
    match key {
        Some(key) => call.idempotency_key(key),
        None => call,
    }
}

async fn history_of(s: &Shop, order: &str) -> Vec<Value> {
    s.admin_get(&format!("/api/v1/admin/orders/{order}")).await["history"]
        .as_array()
        .unwrap()
        .clone()
}

async fn exceptions(s: &Shop) -> Vec<Value> {
    s.admin_get("/api/v1/admin/payment-exceptions").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (up to 10 s) for an exception of `kind` on `order`.
async fn wait_for_exception(s: &Shop, order: &str, kind: &str) -> Value {
    eventually(
        &format!("a {kind} exception for {order}"),
        Duration::from_secs(10),
        || async {
            let exceptions = exceptions(s).await;
            exceptions
                .iter()
                .find(|e| e["order_id"] == order && e["kind"] == kind)
                .cloned()
                .ok_or(exceptions)
        },
    )
    .await
}

/// The names of the `tokoctl audit` checks that fail.
async fn audit_failures(s: &Shop) -> Vec<&'static str> {
    let checks = consistency::run(&s.app.db, &|_, _, _| {})
        .await
        .expect("audit runs");
    checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.name)
        .collect()
}

async fn audit_passes(s: &Shop) {
    assert_eq!(audit_failures(s).await, Vec::<&str>::new());
}

/// Corrupts the database with `sql`; `tokoctl audit` must then fail `check` alone.
async fn audit_reports(s: &Shop, sql: &'static str, check: &str) {
    sqlx::query(sql).execute(&s.app.db).await.unwrap();
    assert_eq!(audit_failures(s).await, [check]);
}

async fn event_types(s: &Shop, order: &str) -> Vec<String> {
    s.app
        .outbox_events(order)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

async fn customer_cancel(s: &Shop, user: &TestUser, order: &str) {
    s.app
        .by(user)
        .post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
        .expect(200)
        .await;
}

fn staff(s: &Shop) -> String {
    format!("admin:{}", s.admin.id)
}

/// Moves the order's payment to "the customer paid while toko was not told" (notifications
/// paused), as happens when a payment races a cancellation.
async fn pay_unnoticed(app: &TestApp, number: &str, payment_type: &str) {
    app.sim_call(reqwest::Method::POST, "/_sim/notifications/pause")
        .await;
    app.sim_action(
        number,
        "pay",
        json!({"outcome": "settlement", "payment_type": payment_type}),
    )
    .await;
    app.sim_call(reqwest::Method::POST, "/_sim/notifications/resume")
        .await;
}

#[tokio::test]
async fn a_va_order_is_refused_a_gateway_refund_and_refunded_manually() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 1, "bank_transfer", "settlement").await;

    let problem = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"amount": 500_000, "reason": "customer request"}),
        None,
    )
    .expect_problem(409, "refund_method_unsupported")
    .await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("bank_transfer") && detail.contains("manual-refunds"),
        "{detail}"
    );

    // Every bad field at once, nothing recorded.
    let problem = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/manual-refunds"),
        json!({"amount": 0, "method": "bank_transfer", "reference": " ", "note": "x"}),
        None,
    )
    .expect_problem(422, "validation_failed")
    .await;
    let fields = problem_fields(&problem);
    assert_eq!(fields, ["amount", "reference"]);

    let manual_path = format!("/api/v1/admin/orders/{order}/manual-refunds");
    let manual = |amount: i64, key: &'static str| {
        admin_post(
            &s,
            &manual_path,
            json!({"amount": amount, "method": "bank_transfer", "reference": "BCA-778812", "note": "one item returned"}),
            Some(key),
        )
    };
    let resp = manual(500_000, "manual-1").await;
    assert_eq!(resp.status(), 200);
    let partial: Value = resp.json().await.unwrap();
    assert_eq!(
        (
            partial["status"].as_str(),
            partial["refunded_amount"].as_i64()
        ),
        (Some("partially_refunded"), Some(500_000))
    );
    let again: Value = manual(500_000, "manual-1").await.json().await.unwrap();
    assert_eq!(again, partial, "a retried recording is the same refund");

    let full: Value = manual(1_515_000, "manual-2").await.json().await.unwrap();
    assert_eq!(
        (full["status"].as_str(), full["refunded_amount"].as_i64()),
        (Some("refunded"), Some(2_015_000))
    );

    // History names the staff member and their note; events as for a gateway refund.
    let history = history_of(&s, &order).await;
    let refunds: Vec<&Value> = history
        .iter()
        .filter(|h| h["to"] == "partially_refunded" || h["to"] == "refunded")
        .collect();
    assert_eq!(refunds.len(), 2, "{history:#?}");
    for entry in &refunds {
        assert_eq!(entry["actor"], staff(&s));
        assert_eq!(entry["kind"], "transition");
        let reason = entry["reason"].as_str().unwrap();
        assert!(
            reason.contains("one item returned") && reason.contains("BCA-778812"),
            "{reason}"
        );
    }
    assert_eq!(
        event_types(&s, &order).await,
        [
            "order.created",
            "order.paid",
            "order.partially_refunded",
            "order.refunded"
        ]
    );
    let ledger: Vec<(String, i64, Option<String>)> = sqlx::query_as(
        "select kind, amount, reference from refunds where order_id = $1 order by created_at",
    )
    .bind(Uuid::parse_str(&order).unwrap())
    .fetch_all(&s.app.db)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        [
            ("manual".into(), 500_000, Some("BCA-778812".into())),
            ("manual".into(), 1_515_000, Some("BCA-778812".into()))
        ]
    );
    // Nothing went to Midtrans.
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "settlement"
    );
    audit_passes(&s).await;

    // `tokoctl audit` notices a manual refund that lost its reference.
    audit_reports(
        &s,
        "update refunds set reference = '' where amount = 500000",
        "payments.manual_refunds_recorded",
    )
    .await;
}

#[tokio::test]
async fn shopeepay_is_refunded_only_in_full() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 1, "shopeepay", "settlement").await;
    let problem = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"amount": 15_000, "reason": "shipping refund"}),
        None,
    )
    .expect_problem(409, "partial_refund_unsupported")
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("shopeepay"),
        "{problem}"
    );
    let full = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"reason": "order lost"}),
        Some("full-1"),
    )
    .expect(200)
    .await;
    assert_eq!(full["status"], "refunded");
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "refund"
    );
}

#[tokio::test]
async fn a_gateway_refund_names_the_staff_member_and_midtrans_confirms_separately() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 1, "gopay", "settlement").await;
    admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"amount": 15_000, "reason": "damaged box"}),
        Some("partial-1"),
    )
    .expect(200)
    .await;
    // Midtrans' two refund notifications come and go.
    let history = eventually("the refund confirmed", Duration::from_secs(10), || async {
        let history = history_of(&s, &order).await;
        if history.iter().any(|h| h["kind"] == "note") {
            Ok(history)
        } else {
            Err(history)
        }
    })
    .await;
    let refund: Vec<&Value> = history
        .iter()
        .filter(|h| h["to"] == "partially_refunded" && h["kind"] == "transition")
        .collect();
    assert_eq!(refund.len(), 1, "{history:#?}");
    assert_eq!(refund[0]["actor"], staff(&s));
    let staff_name: String = sqlx::query_scalar("select name from users where user_id = $1")
        .bind(Uuid::parse_str(&s.admin.id).unwrap())
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(refund[0]["actor_name"], staff_name, "named, not only an id");
    assert_eq!(refund[0]["reason"], "damaged box");
    let notes: Vec<&Value> = history.iter().filter(|h| h["kind"] == "note").collect();
    assert_eq!(
        notes.len(),
        1,
        "one confirmation, however often notified: {history:#?}"
    );
    assert_eq!(notes[0]["actor"], "payment:midtrans");
    assert!(notes[0].get("actor_name").is_none());
    assert!(notes[0]["reason"]
        .as_str()
        .unwrap()
        .contains("partial_refund confirmed"));
    let refunded: i64 = sqlx::query_scalar("select refunded_amount from orders")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(refunded, 15_000);
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["refund_amount"],
        "15000.00"
    );
    audit_passes(&s).await;
}

#[tokio::test]
async fn a_captured_card_payment_cancelled_the_same_day_is_voided() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 2, "credit_card", "capture_accept").await;
    assert_eq!(s.app.stock_of("PHONE-1").await, (8, 0));
    let resp = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/transitions"),
        json!({"to": "cancelled", "reason": "customer called"}),
        None,
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
        (Some("cancelled"), Some(0)),
        "voided: no money moved, nothing to refund"
    );
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "cancel"
    );
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0), "restocked");
    let refunds: i64 = sqlx::query_scalar("select count(*) from refunds")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(refunds, 0);
    // Midtrans' cancel notification finds the order already cancelled by staff.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let history = history_of(&s, &order).await;
    let last = history.last().unwrap();
    assert_eq!(
        (&last["to"], &last["actor"]),
        (&json!("cancelled"), &json!(staff(&s)))
    );
    audit_passes(&s).await;
}

#[tokio::test]
async fn a_settlement_reversed_to_deny_blocks_shipping_and_is_listed() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 2, "bank_transfer", "settlement").await;
    s.app.sim_action(&number, "deny", json!({})).await;
    s.app
        .wait_for_order_status(&order, "payment_reversed")
        .await;
    for to in ["processing", "shipped"] {
        admin_post(
            &s,
            &format!("/api/v1/admin/orders/{order}/transitions"),
            json!({"to": to, "tracking_number": "JNE-1"}),
            None,
        )
        .expect_problem(409, "illegal_transition")
        .await;
    }
    assert_eq!(
        s.app.stock_of("PHONE-1").await,
        (8, 0),
        "the goods stay set aside for the order until staff decide"
    );
    let exception = wait_for_exception(&s, &order, "reversal").await;
    assert_eq!(exception["state"], "open");
    assert_eq!(exception["amount"], 4_015_000);
    assert!(exception["action"].as_str().unwrap().contains("cancel"));
    assert_eq!(
        event_types(&s, &order).await.last().unwrap(),
        "order.payment_reversed"
    );
    let opened: i64 = sqlx::query_scalar(
        "select count(*) from outbox_events where event_type = 'payment.exception_opened'",
    )
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(opened, 1, "staff are told once");

    // Staff cancel the order (restocking it) and resolve the exception.
    admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/transitions"),
        json!({"to": "cancelled", "reason": "bank confirmed the reversal"}),
        None,
    )
    .expect(200)
    .await;
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0));
    let id = exception["id"].as_str().unwrap();
    let resolved = admin_post(
        &s,
        &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
        json!({"resolution": "order cancelled, customer told"}),
        None,
    )
    .expect(200)
    .await;
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolved_by"], json!(s.admin.id));
    admin_post(
        &s,
        &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
        json!({"resolution": "again"}),
        None,
    )
    .expect_problem(409, "payment_exception_resolved")
    .await;
    audit_passes(&s).await;

    // `tokoctl audit` notices a reversal nobody was told about.
    audit_reports(
        &s,
        "delete from payment_exceptions",
        "payments.reversals_held_and_listed",
    )
    .await;
}

#[tokio::test]
async fn a_customer_cancel_closes_the_snap_session_so_a_later_payment_fails() {
    let s = shop().await;
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let order = checkout["order"]["id"].as_str().unwrap();
    let number = checkout["order"]["number"].as_str().unwrap();
    customer_cancel(&s, &user, order).await;
    assert!(s.app.sim_transaction(number).await["snap_canceled_at"].is_string());
    let resp = s
        .app
        .client
        .post(format!(
            "{}/_sim/transactions/{number}/pay",
            s.app.sim.as_ref().unwrap().base_url()
        ))
        .json(&json!({"payment_type": "bank_transfer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "the page can no longer be paid");
    let payment: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(payment, "cancelled");
}

/// A customer pays with `payment_type` while toko is not told, then cancels the order;
/// returns (order id, order number, the late payment's exception).
async fn cancel_racing_a_payment(s: &Shop, payment_type: &str) -> (String, String, Value) {
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let order = checkout["order"]["id"].as_str().unwrap().to_owned();
    let number = checkout["order"]["number"].as_str().unwrap().to_owned();
    pay_unnoticed(&s.app, &number, payment_type).await;
    customer_cancel(s, &user, &order).await;
    let exception = wait_for_exception(s, &order, "late_payment").await;
    (order, number, exception)
}

#[tokio::test]
async fn a_payment_racing_a_cancel_is_refunded_automatically_or_listed() {
    let s = shop().await;
    // GoPay can be refunded through Midtrans: it is, automatically.
    let (order, number, exception) = cancel_racing_a_payment(&s, "gopay").await;
    assert_eq!(exception["state"], "resolved", "{exception}");
    assert!(exception["resolution"]
        .as_str()
        .unwrap()
        .contains("refunded automatically"));
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "refund"
    );
    s.app.wait_for_order_status(&order, "cancelled").await;

    // A virtual account cannot: it is listed for staff.
    let (order, number, exception) = cancel_racing_a_payment(&s, "bank_transfer").await;
    assert_eq!(exception["state"], "open", "{exception}");
    assert!(exception["detail"]
        .as_str()
        .unwrap()
        .contains("cannot refund bank_transfer"));
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "settlement"
    );
    let open: Vec<Value> = s
        .admin_get("/api/v1/admin/payment-exceptions?state=open")
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["order_id"], json!(order));
    audit_passes(&s).await;
}

#[tokio::test]
async fn expiry_closes_the_payment_and_a_racing_payment_is_handled_the_same_way() {
    let s = shop().await;
    // Nobody chose a method: the Snap session is closed.
    let (_, idle) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let idle_order = idle["order"]["id"].as_str().unwrap().to_owned();
    let idle_number = idle["order"]["number"].as_str().unwrap().to_owned();
    // The customer chose a virtual account (a VA number is out there).
    let (_, va) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let va_order = va["order"]["id"].as_str().unwrap().to_owned();
    let va_number = va["order"]["number"].as_str().unwrap().to_owned();
    s.app
        .sim_action(
            &va_number,
            "pay",
            json!({"outcome": "pending", "payment_type": "bank_transfer"}),
        )
        .await;
    // The customer paid by card just as the order expired.
    let (_, late) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let late_order = late["order"]["id"].as_str().unwrap().to_owned();
    let late_number = late["order"]["number"].as_str().unwrap().to_owned();
    s.app
        .sim_call(reqwest::Method::POST, "/_sim/notifications/pause")
        .await;
    s.app
        .sim_action(
            &late_number,
            "pay",
            json!({"outcome": "capture_accept", "payment_type": "credit_card"}),
        )
        .await;
    s.app
        .sim_call(reqwest::Method::POST, "/_sim/notifications/resume")
        .await;

    for order in [&idle_order, &va_order, &late_order] {
        s.app.backdate_payment_deadline(order).await;
    }
    let expired = s.app.state.orders.expire_overdue(100).await.unwrap();
    assert_eq!(expired.len(), 3);

    assert!(s.app.sim_transaction(&idle_number).await["snap_canceled_at"].is_string());
    assert_eq!(
        s.app.sim_transaction(&va_number).await["transaction"]["transaction_status"],
        "cancel",
        "the VA number can no longer be paid"
    );
    let exception = wait_for_exception(&s, &late_order, "late_payment").await;
    assert_eq!(exception["state"], "resolved", "{exception}");
    assert!(exception["resolution"]
        .as_str()
        .unwrap()
        .contains("voided automatically"));
    assert_eq!(
        s.app.sim_transaction(&late_number).await["transaction"]["transaction_status"],
        "cancel"
    );
    for order in [&idle_order, &va_order, &late_order] {
        s.app.wait_for_order_status(order, "expired").await;
    }
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0));
    audit_passes(&s).await;
}

#[tokio::test]
async fn every_midtrans_call_sends_json_content_type_and_accept() {
    let s = shop().await;
    // Snap create, notifications re-checked with GET status, a refund.
    let (_, order, _) = paid_with(&s, 1, "gopay", "settlement").await;
    admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"amount": 1_000, "reason": "goodwill"}),
        None,
    )
    .expect(200)
    .await;
    // A Snap session closed, and a chosen method's transaction cancelled (body-less POSTs).
    for payment_type in [None, Some("bank_transfer")] {
        let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
        let order = checkout["order"]["id"].as_str().unwrap();
        if let Some(payment_type) = payment_type {
            let number = checkout["order"]["number"].as_str().unwrap();
            s.app
                .sim_action(
                    number,
                    "pay",
                    json!({"outcome": "pending", "payment_type": payment_type}),
                )
                .await;
        }
        customer_cancel(&s, &user, order).await;
    }
    let requests: Vec<Value> = s
        .app
        .sim_call(reqwest::Method::GET, "/_sim/requests")
        .await
        .json()
        .await
        .unwrap();
    let calls: std::collections::BTreeSet<String> = requests
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let kind = path.rsplit('/').next().unwrap();
            format!("{} {}", r["method"].as_str().unwrap(), kind)
        })
        .collect();
    for expected in [
        "POST transactions",
        "POST cancel",
        "GET status",
        "POST refund",
    ] {
        assert!(
            calls.contains(expected),
            "{expected} missing from {calls:?}"
        );
    }
    assert!(
        requests.iter().any(|r| r["path"]
            .as_str()
            .unwrap()
            .starts_with("/snap/v1/transactions/")),
        "a Snap session was closed: {requests:#?}"
    );
    for request in &requests {
        assert_eq!(
            (request["content_type"].as_str(), request["accept"].as_str()),
            (Some("application/json"), Some("application/json")),
            "{request}"
        );
    }
}

#[tokio::test]
async fn payments_of_orders_expired_elsewhere_are_closed_by_the_sweep() {
    let s = shop().await;
    let (_, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let order = checkout["order"]["id"].as_str().unwrap().to_owned();
    let number = checkout["order"]["number"].as_str().unwrap().to_owned();
    s.app.backdate_payment_deadline(&order).await;
    // The inventory-reconciler expires orders without a Midtrans client.
    let without_payments =
        toko::orders::Orders::new(s.app.db.clone(), s.app.state.config.orders.clone(), "IDR");
    assert_eq!(without_payments.expire_overdue(10).await.unwrap().len(), 1);
    assert!(s.app.sim_transaction(&number).await["snap_canceled_at"].is_null());

    // The payment-poller's sweep closes it, once.
    assert_eq!(s.app.state.payments.close_abandoned(10).await.unwrap(), 1);
    assert!(s.app.sim_transaction(&number).await["snap_canceled_at"].is_string());
    assert_eq!(s.app.state.payments.close_abandoned(10).await.unwrap(), 0);
    let payment: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(payment, "expired");
}

#[tokio::test]
async fn a_paid_va_order_is_cancelled_with_a_manual_refund() {
    let s = shop().await;
    let (_, order, _) = paid_with(&s, 2, "bank_transfer", "settlement").await;
    let problem = admin_post(
        &s,
        &format!("/api/v1/admin/orders/{order}/transitions"),
        json!({"to": "cancelled", "reason": "out of stock"}),
        None,
    )
    .expect_problem(409, "refund_method_unsupported")
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("cancel_order"),
        "{problem}"
    );
    s.app.wait_for_order_status(&order, "paid").await;

    let manual = |amount: i64| json!({"amount": amount, "method": "bank_transfer", "reference": "BNI-55", "note": "out of stock", "cancel_order": true});
    let path = format!("/api/v1/admin/orders/{order}/manual-refunds");
    let problem = admin_post(&s, &path, manual(1_000), None)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem["errors"][0]["field"], "amount");

    let cancelled = admin_post(&s, &path, manual(4_015_000), None)
        .expect(200)
        .await;
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["refunded_amount"].as_i64()
        ),
        (Some("cancelled"), Some(4_015_000))
    );
    assert_eq!(s.app.stock_of("PHONE-1").await, (10, 0), "restocked");
    let history = history_of(&s, &order).await;
    let last = history.last().unwrap();
    assert_eq!(
        (&last["to"], &last["actor"]),
        (&json!("cancelled"), &json!(staff(&s)))
    );
    audit_passes(&s).await;
}

#[tokio::test]
async fn a_card_payment_held_for_review_is_voided_when_the_order_is_cancelled() {
    let s = shop().await;
    let (user, checkout) = s.app.checked_out(&s.variants["PHONE-1"], 1).await;
    let order = checkout["order"]["id"].as_str().unwrap().to_owned();
    let number = checkout["order"]["number"].as_str().unwrap().to_owned();
    s.app
        .sim_action(
            &number,
            "pay",
            json!({"outcome": "capture_challenge", "payment_type": "credit_card"}),
        )
        .await;
    // toko has seen the challenge (the order still waits for payment).
    s.app.wait_for_payment_status("challenge").await;
    customer_cancel(&s, &user, &order).await;
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["transaction_status"],
        "cancel"
    );
    let payment: String = sqlx::query_scalar("select status from payments")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(payment, "cancelled", "closed, so the sweep leaves it alone");
    assert_eq!(s.app.state.payments.close_abandoned(10).await.unwrap(), 0);
}

#[tokio::test]
async fn a_refund_whose_request_died_is_sent_again_with_the_same_key() {
    let s = shop().await;
    let (_, order, number) = paid_with(&s, 1, "gopay", "settlement").await;
    let order_id = Uuid::parse_str(&order).unwrap();
    // A refund was asked for, then the API process died before Midtrans answered.
    sqlx::query(
        "insert into refunds (refund_id, order_id, payment_id, refund_key, amount, reason, recorded_by, updated_at)
         select $1, $2, p.payment_id, $3, 15000, 'late delivery', $4, now() - interval '2 minutes'
         from payments p where p.order_id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(order_id)
    .bind(format!("{number}-r-crashed"))
    .bind(Uuid::parse_str(&s.admin.id).unwrap())
    .execute(&s.app.db)
    .await
    .unwrap();
    // Meanwhile no other refund can start: it could give back more than was paid.
    for (path, body) in [
        ("refund", json!({"amount": 1_000, "reason": "goodwill"})),
        (
            "manual-refunds",
            json!({"amount": 1_000, "method": "cash", "reference": "C-1", "note": "goodwill"}),
        ),
    ] {
        admin_post(
            &s,
            &format!("/api/v1/admin/orders/{order}/{path}"),
            body,
            None,
        )
        .expect_problem(409, "refund_in_progress")
        .await;
    }
    // A fresh one is left alone: its request may still be running.
    assert_eq!(
        s.app
            .state
            .payments
            .resume_refunds(std::time::Duration::from_secs(600), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.app
            .state
            .payments
            .resume_refunds(std::time::Duration::from_secs(60), 10)
            .await
            .unwrap(),
        1
    );
    let refund = history_of(&s, &order)
        .await
        .into_iter()
        .find(|h| h["to"] == "partially_refunded")
        .expect("refunded");
    assert_eq!(
        (&refund["actor"], &refund["reason"]),
        (&json!(staff(&s)), &json!("late delivery"))
    );
    let view = s.app.sim_transaction(&number).await;
    assert_eq!(view["transaction"]["refund_amount"], "15000.00");
    // Sending it again is a retry of the same refund at Midtrans, never a second one.
    sqlx::query("update refunds set status = 'requested'")
        .execute(&s.app.db)
        .await
        .unwrap();
    assert_eq!(
        s.app
            .state
            .payments
            .resume_refunds(std::time::Duration::ZERO, 10)
            .await
            .unwrap(),
        1,
        "Midtrans answers the retry as the same refund"
    );
    assert_eq!(
        s.app.sim_transaction(&number).await["transaction"]["refund_amount"],
        "15000.00"
    );
    let refunded: i64 = sqlx::query_scalar("select refunded_amount from orders")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(refunded, 15_000);
    audit_passes(&s).await;
}
