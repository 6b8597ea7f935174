//! Snap create: success shape, validation, duplicates, authentication.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn signature_matches_the_reference_vector() {
    assert_eq!(
        midtrans_sim::signature_key("ORDER-101", "200", "10000.00", "SB-Mid-server-abc123cde456"),
        "4ba1be6b9fb678f95d4a5cfb8fbab562a4b5fa90f3222a05966393087fc3c2ad01a282d455c8bf40b9321660134c5fa3061c2a3d58c3cbefd9a6fc3a837dedec"
    );
}

#[tokio::test]
async fn create_returns_201_with_token_and_redirect_url() {
    let sim = TestSim::start(fast_config()).await;
    let body = json!({
        "transaction_details": { "order_id": "ORD-2024-0001", "gross_amount": 150000 },
        "item_details": [
            { "id": "SKU-1", "price": 60000, "quantity": 2, "name": "T-shirt" },
            { "id": "SHIP",  "price": 40000, "quantity": 1, "name": "Shipping" },
            { "id": "DISC",  "price": -10000, "quantity": 1, "name": "Voucher" }
        ],
        "customer_details": { "first_name": "Budi", "email": "budi@example.com", "phone": "+62811111111" },
        "expiry": { "unit": "hour", "duration": 24 },
        "callbacks": { "finish": "https://shop.example/payment/finish" },
        "custom_field1": "cart-7"
    });
    let created = sim.create_with(body.clone(), &[]).await;
    let object = created.as_object().unwrap();
    assert_eq!(object.len(), 2, "only token and redirect_url: {created}");
    let token = created["token"].as_str().unwrap();
    assert_eq!(
        created["redirect_url"],
        format!(
            "http://127.0.0.1:{}/snap/v3/redirection/{token}",
            sim.handle.addr().port()
        )
    );

    // Recorded with the request, but no Core transaction yet.
    let view = sim.view("ORD-2024-0001").await;
    assert_eq!(view["snap_request"], body);
    assert_eq!(view["gross_amount"], 150000);
    assert_eq!(view["transaction"], Value::Null);
    assert_eq!(view["finish_url"], "https://shop.example/payment/finish");
}

#[tokio::test]
async fn public_url_is_used_for_redirects() {
    let mut config = fast_config();
    config.public_url = Some("http://localhost:3900".to_owned());
    let sim = TestSim::start(config).await;
    let created = sim.create("ORD-PUB", 1000).await;
    assert!(created["redirect_url"]
        .as_str()
        .unwrap()
        .starts_with("http://localhost:3900/snap/v3/redirection/"));
}

async fn create_error(sim: &TestSim, body: Value) -> (u16, Vec<String>) {
    let response = sim
        .authed_post("/snap/v1/transactions")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let messages = body["error_messages"]
        .as_array()
        .unwrap_or_else(|| panic!("error_messages missing in {body}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    (status, messages)
}

#[tokio::test]
async fn item_sum_mismatch_is_400() {
    let sim = TestSim::start(fast_config()).await;
    let mut body = snap_body("ORD-SUM", 10_000);
    body["item_details"][0]["price"] = json!(9_999);
    let (status, messages) = create_error(&sim, body).await;
    assert_eq!(status, 400);
    assert_eq!(
        messages,
        ["transaction_details.gross_amount is not equal to the sum of item_details"]
    );
}

#[tokio::test]
async fn invalid_fields_are_400() {
    let sim = TestSim::start(fast_config()).await;
    let (status, messages) = create_error(&sim, json!({ "transaction_details": {} })).await;
    assert_eq!(status, 400);
    assert!(messages.contains(&"transaction_details.order_id is required".to_owned()));
    assert!(messages.contains(&"transaction_details.gross_amount is required".to_owned()));

    let mut decimal = snap_body("ORD-DEC", 10_000);
    decimal["transaction_details"]["gross_amount"] = json!(10_000.5);
    assert_eq!(create_error(&sim, decimal).await.0, 400);

    let bad_id = snap_body("ORD 1/2", 10_000);
    assert_eq!(create_error(&sim, bad_id).await.0, 400);

    let response = sim
        .authed_post("/snap/v1/transactions")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn duplicate_order_id_is_400() {
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-DUP", 5_000).await;
    let (status, messages) = create_error(&sim, snap_body("ORD-DUP", 5_000)).await;
    assert_eq!(status, 400);
    assert_eq!(messages, ["transaction_details.order_id sudah digunakan"]);

    // Still a duplicate after paying.
    sim.pay("ORD-DUP", "bank_transfer", "settlement").await;
    assert_eq!(create_error(&sim, snap_body("ORD-DUP", 5_000)).await.0, 400);
}

#[tokio::test]
async fn order_id_is_freed_by_cancel_or_expire_of_a_pending_payment_only() {
    let sim = TestSim::start(fast_config()).await;
    for (order, action) in [("ORD-FREE-C", "cancel"), ("ORD-FREE-E", "expire")] {
        sim.create(order, 5_000).await;
        sim.pay(order, "bank_transfer", "pending").await;
        let (status, _) = sim.action(order, action).await;
        assert_eq!(status, 200);
        let again = sim.create(order, 7_000).await;
        assert!(again["token"].is_string());
        // The order_id now names the new, unpaid Snap transaction.
        assert_eq!(sim.status(order).await.0, 404);
        assert_eq!(sim.view(order).await["gross_amount"], 7_000);
    }

    // Cancelling a capture does not free it.
    sim.create("ORD-CAP", 5_000).await;
    sim.pay("ORD-CAP", "credit_card", "capture_accept").await;
    assert_eq!(sim.action("ORD-CAP", "cancel").await.0, 200);
    assert_eq!(create_error(&sim, snap_body("ORD-CAP", 5_000)).await.0, 400);
}

#[tokio::test]
async fn wrong_or_missing_server_key_is_401() {
    let sim = TestSim::start(fast_config()).await;
    let expected =
        "Access denied due to unauthorized transaction, please check client or server key";
    let attempts = [
        None,
        Some(auth_headers("SB-Mid-server-wrong")),
        Some({
            // The key without the trailing colon.
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                "authorization",
                "Basic U0ItTWlkLXNlcnZlci10ZXN0LWtleS0xMjM="
                    .parse()
                    .unwrap(),
            );
            headers
        }),
    ];
    for headers in attempts {
        let mut snap = sim
            .http
            .post(sim.url("/snap/v1/transactions"))
            .json(&snap_body("ORD-AUTH", 1_000));
        let mut core = sim.http.get(sim.url("/v2/ORD-AUTH/status"));
        if let Some(headers) = headers {
            snap = snap.headers(headers.clone());
            core = core.headers(headers);
        }
        let snap = snap.send().await.unwrap();
        assert_eq!(snap.status(), 401);
        let body: Value = snap.json().await.unwrap();
        assert_eq!(body, json!({ "error_messages": [expected] }));

        let core = core.send().await.unwrap();
        assert_eq!(core.status(), 401);
        let body: Value = core.json().await.unwrap();
        assert_eq!(body["status_code"], "401");
        assert_eq!(body["status_message"], expected);
    }
    // Nothing was created by the rejected calls.
    assert_eq!(
        sim.http
            .get(sim.url("/_sim/transactions/ORD-AUTH"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn a_cancelled_snap_session_can_no_longer_be_paid() {
    let sim = TestSim::start(fast_config()).await;
    let created = sim.create("ORD-SNAP-CANCEL", 10_000).await;
    let token = created["token"].as_str().unwrap();
    let cancel = |token: String| {
        sim.authed_post(&format!("/snap/v1/transactions/{token}/cancel"))
            .header("content-type", "application/json")
            .send()
    };
    let response = cancel(token.to_owned()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["canceled_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    let (status, refused) = sim
        .control(
            "/transactions/ORD-SNAP-CANCEL/pay",
            json!({ "payment_type": "bank_transfer" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");

    let again = cancel(token.to_owned()).await.unwrap();
    assert_eq!(again.status(), 412);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["error_messages"][0], "token already canceled");

    let unknown = cancel("no-such-token".to_owned()).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error_messages"][0], "token not found");

    // Once a method is chosen, the Core transaction must be cancelled instead.
    let created = sim.create("ORD-SNAP-BUSY", 10_000).await;
    sim.pay("ORD-SNAP-BUSY", "bank_transfer", "pending").await;
    let busy = cancel(created["token"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(busy.status(), 412);
    let busy: Value = busy.json().await.unwrap();
    assert_eq!(busy["error_messages"][0], "Transaction is on progress");
}

#[tokio::test]
async fn an_expiry_outside_five_minutes_to_seven_days_is_refused() {
    let sim = TestSim::start(fast_config()).await;
    for (n, (unit, duration)) in [("minute", 4), ("day", 8), ("hour", 169)]
        .into_iter()
        .enumerate()
    {
        let mut body = snap_body(&format!("ORD-EXPIRY-{n}"), 10_000);
        body["expiry"] = json!({ "unit": unit, "duration": duration });
        let response = sim
            .authed_post("/snap/v1/transactions")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{unit} {duration}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error_messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "expiry.duration must be between 5 minutes and 7 days"),
            "{body}"
        );
    }
    for (n, (unit, duration)) in [("minute", 5), ("day", 7)].into_iter().enumerate() {
        let mut body = snap_body(&format!("ORD-EXPIRY-OK-{n}"), 10_000);
        body["expiry"] = json!({ "unit": unit, "duration": duration });
        sim.create_with(body, &[]).await;
    }
}
