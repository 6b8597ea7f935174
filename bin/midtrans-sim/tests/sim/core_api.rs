//! Core API: status bodies and the 412/406/414 rules of cancel, expire, refund, approve, deny.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn assert_error(result: (u16, Value), code: u16, message: &str) {
    let (status, body) = result;
    assert_eq!(status, code, "HTTP status equals the body code: {body}");
    assert_eq!(body["status_code"], code.to_string(), "{body}");
    assert_eq!(body["status_message"], message, "{body}");
}

const NOT_MODIFIABLE: &str = "Merchant cannot modify the status of the transaction";

#[tokio::test]
async fn status_is_404_until_a_method_is_chosen() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-404", 10_000).await;
    for id in [
        "ORD-404",
        "NO-SUCH-ORDER",
        "3f1c7b0e-5a9d-4f7e-9a51-2c8d0f6b1a11",
    ] {
        let (status, body) = sim.status(id).await;
        assert_eq!(status, 404);
        assert_eq!(body["status_code"], "404");
        assert_eq!(body["status_message"], "Transaction doesn't exist.");
        let id = body["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "id is a uuid: {id}");
    }
    assert_eq!(sim.action("ORD-404", "cancel").await.0, 404);
}

#[tokio::test]
async fn status_body_has_every_documented_field() {
    let sim = TestSim::start(fast_config()).await;
    sim.create_with(
        json!({
            "transaction_details": { "order_id": "ORD-FIELDS", "gross_amount": 150000 },
            "expiry": { "unit": "minutes", "duration": 30 },
            "custom_field1": "cf-one"
        }),
        &[],
    )
    .await;
    sim.pay("ORD-FIELDS", "credit_card", "capture_accept").await;
    sim.control("/transactions/ORD-FIELDS/settle", json!({}))
        .await;

    let (status, body) = sim.status("ORD-FIELDS").await;
    assert_eq!(status, 200);
    for field in [
        "status_code",
        "status_message",
        "transaction_id",
        "order_id",
        "merchant_id",
        "gross_amount",
        "currency",
        "payment_type",
        "transaction_time",
        "transaction_status",
        "fraud_status",
        "settlement_time",
        "expiry_time",
        "signature_key",
    ] {
        assert!(
            body[field].is_string(),
            "{field} missing or not a string in {body}"
        );
    }
    assert_eq!(body["status_code"], "200");
    assert_eq!(body["status_message"], "Success, transaction is found");
    assert_eq!(body["gross_amount"], "150000.00");
    assert_eq!(body["currency"], "IDR");
    assert_eq!(body["merchant_id"], "G000000000");
    assert_eq!(body["transaction_status"], "settlement");
    assert_eq!(body["fraud_status"], "accept");
    assert_eq!(body["custom_field1"], "cf-one");
    let time = body["transaction_time"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{time}"
    );
    // Times are WIB (UTC+7).
    let wib_now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(7);
    let parsed = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").unwrap();
    assert!(
        (wib_now - parsed).num_seconds().abs() < 60,
        "{time} is not WIB"
    );
    assert_signed(&body);

    // The same record by transaction_id.
    let transaction_id = body["transaction_id"].as_str().unwrap();
    let (status, by_id) = sim.status(transaction_id).await;
    assert_eq!(status, 200);
    assert_eq!(by_id, body);
}

#[tokio::test]
async fn cancel_rules() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-CANCEL", 10_000).await;
    sim.pay("ORD-CANCEL", "bank_transfer", "pending").await;
    let (status, body) = sim.action("ORD-CANCEL", "cancel").await;
    assert_eq!(status, 200);
    assert_eq!(body["status_code"], "200");
    assert_eq!(body["status_message"], "Success, transaction is canceled");
    assert_eq!(body["transaction_status"], "cancel");
    assert_signed(&body);
    // Cancelled is final.
    assert_error(
        sim.action("ORD-CANCEL", "cancel").await,
        412,
        NOT_MODIFIABLE,
    );

    sim.create("ORD-CANCEL-S", 10_000).await;
    sim.pay("ORD-CANCEL-S", "bank_transfer", "settlement").await;
    assert_error(
        sim.action("ORD-CANCEL-S", "cancel").await,
        412,
        NOT_MODIFIABLE,
    );
}

#[tokio::test]
async fn expire_answers_407_with_http_200_and_only_from_pending() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-EXP", 10_000).await;
    sim.pay("ORD-EXP", "gopay", "pending").await;
    let (status, body) = sim.action("ORD-EXP", "expire").await;
    assert_eq!(status, 200);
    assert_eq!(body["status_code"], "407");
    assert_eq!(body["status_message"], "Success, transaction has expired");
    assert_eq!(body["transaction_status"], "expire");
    assert_signed(&body);

    let (status, body) = sim.status("ORD-EXP").await;
    assert_eq!((status, body["status_code"].as_str()), (200, Some("407")));
    assert_error(sim.action("ORD-EXP", "expire").await, 412, NOT_MODIFIABLE);

    sim.create("ORD-EXP-S", 10_000).await;
    sim.pay("ORD-EXP-S", "gopay", "settlement").await;
    assert_error(sim.action("ORD-EXP-S", "expire").await, 412, NOT_MODIFIABLE);
}

async fn refund(sim: &TestSim, id: &str, body: Value) -> (u16, Value) {
    sim.core(Method::POST, &format!("/v2/{id}/refund"), Some(body))
        .await
}

#[tokio::test]
async fn refund_rules() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-REF", 150_000).await;
    sim.pay("ORD-REF", "gopay", "pending").await;
    // Not settled yet.
    assert_error(
        refund(&sim, "ORD-REF", json!({})).await,
        412,
        NOT_MODIFIABLE,
    );
    sim.control("/transactions/ORD-REF/settle", json!({})).await;

    let (status, body) = refund(
        &sim,
        "ORD-REF",
        json!({ "refund_key": "ord-ref-r1", "amount": 5000, "reason": "out of stock" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_code"], "200");
    assert_eq!(body["transaction_status"], "partial_refund");
    assert_eq!(body["refund_amount"], "5000.00");
    assert_eq!(body["refund_key"], "ord-ref-r1");
    assert!(body["refund_chargeback_id"].is_u64(), "{body}");

    // Same key again: 406, even with another amount.
    assert_error(
        refund(
            &sim,
            "ORD-REF",
            json!({ "refund_key": "ord-ref-r1", "amount": 1 }),
        )
        .await,
        406,
        "Duplicate refund ID",
    );
    // Invalid amounts: 414.
    for amount in [
        json!(0),
        json!(-5),
        json!(145_001),
        json!(10.5),
        json!("5000"),
    ] {
        let (status, body) = refund(&sim, "ORD-REF", json!({ "amount": amount })).await;
        assert_eq!(
            (status, body["status_code"].as_str()),
            (414, Some("414")),
            "{amount}"
        );
    }
    // The rest, without an amount: full refund, cumulative amount.
    let (status, body) = refund(&sim, "ORD-REF", json!({ "refund_key": "ord-ref-r2" })).await;
    assert_eq!(status, 200);
    assert_eq!(body["transaction_status"], "refund");
    assert_eq!(body["refund_amount"], "150000.00");

    let (_, status_body) = sim.status("ORD-REF").await;
    let refunds = status_body["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["refund_amount"], "5000.00");
    assert_eq!(refunds[0]["reason"], "out of stock");
    assert_eq!(refunds[1]["refund_amount"], "145000.00");
    assert_eq!(status_body["refund_amount"], "150000.00");
    assert_signed(&status_body);

    // Nothing left.
    assert_error(
        refund(&sim, "ORD-REF", json!({})).await,
        412,
        NOT_MODIFIABLE,
    );
}

#[tokio::test]
async fn approve_and_deny_only_a_challenge() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-APPROVE", 20_000).await;
    sim.pay("ORD-APPROVE", "credit_card", "capture_challenge")
        .await;
    let (_, body) = sim.status("ORD-APPROVE").await;
    assert_eq!(
        (
            body["transaction_status"].as_str(),
            body["fraud_status"].as_str()
        ),
        (Some("capture"), Some("challenge"))
    );
    let (status, body) = sim.action("ORD-APPROVE", "approve").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["transaction_status"].as_str(),
            body["fraud_status"].as_str()
        ),
        (Some("capture"), Some("accept"))
    );
    assert_error(
        sim.action("ORD-APPROVE", "approve").await,
        412,
        NOT_MODIFIABLE,
    );
    assert_error(sim.action("ORD-APPROVE", "deny").await, 412, NOT_MODIFIABLE);

    sim.create("ORD-DENY", 20_000).await;
    sim.pay("ORD-DENY", "credit_card", "capture_challenge")
        .await;
    let (status, body) = sim.action("ORD-DENY", "deny").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["transaction_status"].as_str(),
            body["fraud_status"].as_str()
        ),
        (Some("deny"), Some("deny"))
    );

    sim.create("ORD-NOCHAL", 20_000).await;
    sim.pay("ORD-NOCHAL", "bank_transfer", "settlement").await;
    assert_error(
        sim.action("ORD-NOCHAL", "approve").await,
        412,
        NOT_MODIFIABLE,
    );
    assert_error(sim.action("ORD-NOCHAL", "deny").await, 412, NOT_MODIFIABLE);
}

#[tokio::test]
async fn a_denied_order_can_be_paid_again_and_keeps_its_history() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-RETRY", 30_000).await;
    let denied = sim.pay("ORD-RETRY", "credit_card", "deny").await;
    let denied_id = denied["transaction"]["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = sim.pay("ORD-RETRY", "bank_transfer", "settlement").await;
    let paid_id = paid["transaction"]["transaction_id"].as_str().unwrap();
    assert_ne!(denied_id, paid_id);
    assert_eq!(paid["earlier_transactions"].as_array().unwrap().len(), 1);

    assert_eq!(
        sim.status("ORD-RETRY").await.1["transaction_status"],
        "settlement"
    );
    let (status, old) = sim.status(&denied_id).await;
    assert_eq!(status, 200);
    assert_eq!(old["transaction_status"], "deny");
    assert_eq!(old["status_code"], "202");
}

#[tokio::test]
async fn refunds_follow_the_payment_method() {
    let sim = TestSim::start(fast_config()).await;
    // Virtual account, Mandiri bill and store payments are refunded outside Midtrans.
    for (order, method) in [
        ("ORD-M-VA", "bank_transfer"),
        ("ORD-M-BILL", "echannel"),
        ("ORD-M-STORE", "cstore"),
    ] {
        sim.create(order, 10_000).await;
        sim.pay(order, method, "settlement").await;
        assert_error(
            refund(&sim, order, json!({ "amount": 10_000 })).await,
            412,
            "Refund is not available for this payment type; refund the customer outside Midtrans",
        );
        assert_eq!(
            sim.status(order).await.1["transaction_status"],
            "settlement"
        );
    }
    // ShopeePay and OVO: only in full.
    for (order, method) in [("ORD-M-SPAY", "shopeepay"), ("ORD-M-OVO", "ovo")] {
        sim.create(order, 10_000).await;
        sim.pay(order, method, "settlement").await;
        assert_error(
            refund(&sim, order, json!({ "amount": 4_000 })).await,
            414,
            "Partial refund is not available for this payment type",
        );
        let (status, body) = refund(&sim, order, json!({ "amount": 10_000 })).await;
        assert_eq!(
            (status, body["transaction_status"].as_str()),
            (200, Some("refund"))
        );
    }
}

#[tokio::test]
async fn a_reused_refund_key_is_a_retry_of_the_same_refund() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-RETRY", 10_000).await;
    sim.pay("ORD-RETRY", "gopay", "settlement").await;
    let body = json!({ "refund_key": "ord-retry-1", "amount": 3_000 });
    let (status, first) = refund(&sim, "ORD-RETRY", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = refund(&sim, "ORD-RETRY", body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refund_chargeback_id"], first["refund_chargeback_id"]);
    let (_, status_body) = sim.status("ORD-RETRY").await;
    assert_eq!(status_body["refunds"].as_array().map(Vec::len), Some(1));
    assert_eq!(status_body["refund_amount"], "3000.00", "refunded once");
}

#[tokio::test]
async fn b2b_status_lists_every_transaction_of_the_order() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-B2B", 10_000).await;
    sim.pay("ORD-B2B", "credit_card", "deny").await;
    sim.pay("ORD-B2B", "credit_card", "capture_accept").await;
    let (status, body) = sim.core(Method::GET, "/v2/ORD-B2B/status/b2b", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_code"], "200");
    assert_eq!(body["id"], "ORD-B2B");
    let statuses: Vec<&str> = body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["deny", "capture"]);
}
