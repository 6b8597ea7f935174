//! Control API, payment page and health probe.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn health_answers_200() {
    let sim = TestSim::start(fast_config()).await;
    let response = sim.http.get(sim.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn control_errors() {
    let sim = TestSim::start(fast_config()).await;
    let (status, body) = sim.control("/transactions/NOPE/pay", json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string());

    sim.create("ORD-C1", 1_000).await;
    // No transaction yet.
    assert_eq!(
        sim.control("/transactions/ORD-C1/settle", json!({}))
            .await
            .0,
        409
    );
    // Unknown outcome.
    let (status, _) = sim
        .control("/transactions/ORD-C1/pay", json!({ "outcome": "maybe" }))
        .await;
    assert_eq!(status, 400);
    // Capture needs a card.
    let (status, _) = sim
        .control(
            "/transactions/ORD-C1/pay",
            json!({ "payment_type": "gopay", "outcome": "capture_accept" }),
        )
        .await;
    assert_eq!(status, 400);

    // Default: bank transfer, settled.
    let view = sim.pay("ORD-C1", "bank_transfer", "settlement").await;
    assert_eq!(view["transaction"]["transaction_status"], "settlement");
    // A method was already chosen.
    assert_eq!(
        sim.control("/transactions/ORD-C1/pay", json!({})).await.0,
        409
    );
    // Rules of the state machine apply to triggers too.
    let (status, body) = sim.control("/transactions/ORD-C1/expire", json!({})).await;
    assert_eq!(
        (status, body["midtrans_status_code"].as_str()),
        (409, Some("412"))
    );
}

#[tokio::test]
async fn pay_defaults_and_enabled_payments() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-DEF", 1_000).await;
    let (status, view) = sim.control("/transactions/ORD-DEF/pay", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(view["transaction"]["payment_type"], "bank_transfer");
    assert_eq!(view["transaction"]["transaction_status"], "settlement");

    sim.create("ORD-DEF-CARD", 1_000).await;
    let (_, view) = sim
        .control(
            "/transactions/ORD-DEF-CARD/pay",
            json!({ "outcome": "capture_accept" }),
        )
        .await;
    assert_eq!(view["transaction"]["payment_type"], "credit_card");

    let mut body = snap_body("ORD-ENABLED", 1_000);
    body["enabled_payments"] = json!(["gopay"]);
    sim.create_with(body, &[]).await;
    let (status, _) = sim
        .control(
            "/transactions/ORD-ENABLED/pay",
            json!({ "payment_type": "bank_transfer" }),
        )
        .await;
    assert_eq!(status, 409);
    sim.pay("ORD-ENABLED", "gopay", "pending").await;
}

#[tokio::test]
async fn simulator_triggers_move_the_state() {
    let sim = TestSim::start(fast_config()).await;
    let cases = [
        (
            "ORD-TR-SET",
            "bank_transfer",
            "pending",
            "settle",
            "settlement",
        ),
        (
            "ORD-TR-CAP",
            "credit_card",
            "capture_accept",
            "settle",
            "settlement",
        ),
        ("ORD-TR-EXP", "bank_transfer", "pending", "expire", "expire"),
        ("ORD-TR-CAN", "bank_transfer", "pending", "cancel", "cancel"),
        ("ORD-TR-DEN", "bank_transfer", "pending", "deny", "deny"),
        ("ORD-TR-REV", "bank_transfer", "settlement", "deny", "deny"),
        (
            "ORD-TR-CHD",
            "credit_card",
            "capture_challenge",
            "deny",
            "deny",
        ),
        ("ORD-TR-REF", "gopay", "settlement", "refund", "refund"),
    ];
    for (order, payment_type, outcome, trigger, expected) in cases {
        sim.create(order, 10_000).await;
        sim.pay(order, payment_type, outcome).await;
        let (status, view) = sim
            .control(&format!("/transactions/{order}/{trigger}"), json!({}))
            .await;
        assert_eq!(status, 200, "{order}: {view}");
        assert_eq!(
            view["transaction"]["transaction_status"], expected,
            "{order}"
        );
        assert_eq!(
            sim.status(order).await.1["transaction_status"],
            expected,
            "{order}"
        );
    }
    // A challenged capture must be approved before it settles.
    sim.create("ORD-TR-CHS", 10_000).await;
    sim.pay("ORD-TR-CHS", "credit_card", "capture_challenge")
        .await;
    assert_eq!(
        sim.control("/transactions/ORD-TR-CHS/settle", json!({}))
            .await
            .0,
        409
    );

    // Partial refund through the control API.
    sim.create("ORD-TR-PART", 10_000).await;
    sim.pay("ORD-TR-PART", "gopay", "settlement").await;
    let (_, view) = sim
        .control(
            "/transactions/ORD-TR-PART/refund",
            json!({ "amount": 2_500 }),
        )
        .await;
    assert_eq!(view["transaction"]["transaction_status"], "partial_refund");
    assert_eq!(view["transaction"]["refund_amount"], "2500.00");
}

#[tokio::test]
async fn listing_and_reset() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-L1", 1_000).await;
    sim.create("ORD-L2", 2_000).await;
    let list: Vec<Value> = sim
        .http
        .get(sim.url("/_sim/transactions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ORD-L1", "ORD-L2"]);

    let response = sim
        .http
        .delete(sim.url("/_sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let list: Vec<Value> = sim
        .http
        .get(sim.url("/_sim/transactions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
    // The order_id is free again.
    sim.create("ORD-L1", 1_000).await;
}

#[tokio::test]
async fn payment_page_and_form_flow() {
    let sim = TestSim::start(fast_config()).await;
    let mut body = snap_body("ORD-PAGE", 150_000);
    body["callbacks"] = json!({ "finish": "https://shop.example/finish?from=snap" });
    let created = sim.create_with(body, &[]).await;
    let page = sim
        .http
        .get(created["redirect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ORD-PAGE"));
    assert!(html.contains("150.000"));
    assert!(html.contains(r#"action="/_sim/transactions/ORD-PAGE/pay""#));

    // What the "Pay now" button posts.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(sim.url("/_sim/transactions/ORD-PAGE/pay"))
        .form(&[("payment_type", "bank_transfer"), ("outcome", "settlement")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://shop.example/finish?from=snap&order_id=ORD-PAGE&status_code=200&transaction_status=settlement"
    );

    let unknown = sim
        .http
        .get(sim.url("/snap/v3/redirection/not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn in_process_control_through_the_handle() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-RUST", 9_000).await;
    let simulator = sim.handle.simulator();
    let view = simulator
        .pay(
            "ORD-RUST",
            midtrans_sim::Payment {
                payment_type: None,
                outcome: midtrans_sim::PayOutcome::Pending,
            },
        )
        .unwrap();
    assert_eq!(
        view.transaction.unwrap().transaction_status,
        midtrans_sim::TransactionStatus::Pending
    );
    simulator
        .apply("ORD-RUST", midtrans_sim::Action::Settle)
        .unwrap();
    assert_eq!(
        sim.status("ORD-RUST").await.1["transaction_status"],
        "settlement"
    );

    let handle = sim.handle;
    let base = handle.base_url().to_owned();
    handle.shutdown().await.unwrap();
    assert!(reqwest::get(format!("{base}/health")).await.is_err());
}
