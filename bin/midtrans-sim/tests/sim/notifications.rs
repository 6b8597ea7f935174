//! Notifications: bodies, signatures, destinations, retries, pausing, duplicates and stale ones.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A simulator whose default notification URL answers 200.
async fn with_receiver() -> (TestSim, Receiver) {
    let receiver = Receiver::start().await;
    let mut config = fast_config();
    config.notification_url = Some(receiver.url(200));
    (TestSim::start(config).await, receiver)
}

#[tokio::test]
async fn pay_sends_pending_then_outcome_signed() {
    let (sim, receiver) = with_receiver().await;
    sim.create("ORD-N1", 150_000).await;
    sim.pay("ORD-N1", "bank_transfer", "settlement").await;
    let got = receiver.wait_for("ORD-N1", 2).await;
    assert_eq!(
        statuses(&got),
        [pair("pending", "201"), pair("settlement", "200")]
    );
    for notification in &got {
        let body = &notification.body;
        assert_signed(body);
        assert_eq!(body["gross_amount"], "150000.00");
        assert_eq!(body["status_message"], "midtrans payment notification");
        assert_eq!(body["currency"], "IDR");
        assert_eq!(body["payment_type"], "bank_transfer");
        assert!(body["va_numbers"][0]["va_number"].is_string());
        assert_eq!(
            notification.content_type.as_deref(),
            Some("application/json")
        );
    }
    assert!(got[1].body["settlement_time"].is_string());
    assert_eq!(got[0].body["transaction_id"], got[1].body["transaction_id"]);

    // Every request is in the delivery log.
    let rows = sim.wait_attempts("ORD-N1", |rows| rows.len() == 2).await;
    assert!(rows
        .iter()
        .all(|row| row["result"] == "delivered" && row["http_status"] == 200));
}

#[tokio::test]
async fn every_status_change_is_notified_with_the_table_codes() {
    let (sim, receiver) = with_receiver().await;
    // (order, payment_type, outcome, status after pending or "" for none, its code)
    let cases = [
        (
            "ORD-T-CAP",
            "credit_card",
            "capture_accept",
            "capture",
            "200",
        ),
        (
            "ORD-T-CHAL",
            "credit_card",
            "capture_challenge",
            "capture",
            "200",
        ),
        ("ORD-T-DENY", "credit_card", "deny", "deny", "202"),
        ("ORD-T-PEND", "qris", "pending", "", ""),
        ("ORD-T-SET", "gopay", "settlement", "settlement", "200"),
    ];
    for (order, payment_type, outcome, after, code) in cases {
        sim.create(order, 10_000).await;
        sim.pay(order, payment_type, outcome).await;
        let mut expected = vec![pair("pending", "201")];
        if !after.is_empty() {
            expected.push(pair(after, code));
        }
        let got = receiver.wait_for(order, expected.len()).await;
        assert_eq!(statuses(&got), expected, "{order}");
    }
    // Cancel and expire notify with 202.
    sim.action("ORD-T-CAP", "cancel").await;
    sim.action("ORD-T-PEND", "expire").await;
    // Refund: two notifications; only the second (the bank's confirmation) lists it.
    sim.core(
        reqwest::Method::POST,
        "/v2/ORD-T-SET/refund",
        Some(json!({ "amount": 4000 })),
    )
    .await;
    let cancel = receiver.wait_for("ORD-T-CAP", 3).await;
    assert_eq!(cancel[2].body["transaction_status"], "cancel");
    assert_eq!(cancel[2].body["status_code"], "202");
    let expire = receiver.wait_for("ORD-T-PEND", 2).await;
    assert_eq!(statuses(&expire[1..]), [pair("expire", "202")]);
    let refund = receiver.wait_for("ORD-T-SET", 4).await;
    assert_eq!(
        statuses(&refund[2..]),
        [pair("partial_refund", "200"), pair("partial_refund", "200")]
    );
    assert!(
        refund[2].body.get("refunds").is_none(),
        "listed once the bank confirms"
    );
    assert_eq!(refund[2].body["refund_amount"], "4000.00");
    assert!(refund[3].body["refunds"][0]["bank_confirmed_at"].is_string());
    assert_eq!(refund[3].body["refund_amount"], "4000.00");
    for notification in receiver.received() {
        assert_signed(&notification.body);
    }
}

#[tokio::test]
async fn retries_follow_the_documented_counts() {
    let receiver = Receiver::start().await;
    let sim = TestSim::start(fast_config()).await;
    // code answered by the receiver → total requests (1 + retries).
    let cases = [
        (500, 2),
        (503, 5),
        (404, 3),
        (400, 3),
        (401, 6),
        (302, 1),
        (301, 1),
        (200, 1),
    ];
    for (code, _) in cases {
        let order = format!("ORD-RETRY-{code}");
        sim.create_with(
            snap_body(&order, 1_000),
            &[("X-Override-Notification", &receiver.url(code))],
        )
        .await;
        sim.pay(&order, "bank_transfer", "pending").await;
    }
    for (code, total) in cases {
        let order = format!("ORD-RETRY-{code}");
        let rows = sim
            .wait_attempts(&order, |rows| {
                rows.last().is_some_and(|row| {
                    ["gave_up", "delivered", "redirect_not_followed"]
                        .contains(&row["result"].as_str().unwrap_or_default())
                })
            })
            .await;
        assert_eq!(rows.len(), total, "{code}: {rows:#?}");
        let numbers: Vec<u64> = rows
            .iter()
            .map(|row| row["attempt"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=total as u64).collect::<Vec<_>>(), "{code}");
        assert!(rows.iter().all(|row| row["http_status"] == code), "{code}");
        assert_eq!(receiver.for_order(&order).len(), total, "{code}");
    }
}

#[tokio::test]
async fn unreachable_receiver_is_retried_five_times() {
    // Bind and drop a listener to get a port that refuses connections.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut config = fast_config();
    config.notification_url = Some(format!("http://{closed}/hook"));
    let sim = TestSim::start(config).await;
    sim.create("ORD-DOWN", 1_000).await;
    sim.pay("ORD-DOWN", "bank_transfer", "pending").await;
    let rows = sim
        .wait_attempts("ORD-DOWN", |rows| {
            rows.last().is_some_and(|row| row["result"] == "gave_up")
        })
        .await;
    assert_eq!(rows.len(), 6, "{rows:#?}");
    assert!(rows
        .iter()
        .all(|row| row["http_status"].is_null() && row["error"].is_string()));
}

#[tokio::test]
async fn temporary_redirects_are_followed_with_the_same_body() {
    let receiver = Receiver::start().await;
    let sim = TestSim::start(fast_config()).await;
    sim.create_with(
        snap_body("ORD-307", 1_000),
        &[(
            "X-Override-Notification",
            &receiver.url_for("/redirect/307/200"),
        )],
    )
    .await;
    sim.pay("ORD-307", "bank_transfer", "pending").await;
    let got = receiver.wait_for("ORD-307", 2).await;
    assert_eq!(got[0].path, "/redirect/307/200");
    assert_eq!(got[1].path, "/status/200");
    assert_eq!(got[0].body, got[1].body);
    let rows = sim.wait_attempts("ORD-307", |rows| rows.len() == 2).await;
    assert_eq!(rows[0]["result"], "redirected");
    assert_eq!(rows[1]["result"], "delivered");
    assert_eq!(rows[1]["attempt"], 1);

    // A redirect loop: 1 + 5 followed redirects per attempt, then "anything else" (5 retries).
    sim.create_with(
        snap_body("ORD-LOOP", 1_000),
        &[("X-Override-Notification", &receiver.url_for("/loop"))],
    )
    .await;
    sim.pay("ORD-LOOP", "bank_transfer", "pending").await;
    let rows = sim
        .wait_attempts("ORD-LOOP", |rows| {
            rows.last().is_some_and(|row| row["result"] == "gave_up")
        })
        .await;
    assert_eq!(rows.len(), 6 * 6);
    assert_eq!(rows.last().unwrap()["attempt"], 6);
}

#[tokio::test]
async fn override_replaces_and_append_adds_to_the_default_url() {
    let receiver = Receiver::start().await;
    let mut config = fast_config();
    config.notification_url = Some(receiver.url(200));
    let sim = TestSim::start(config).await;

    let other = receiver.url(202);
    sim.create_with(
        snap_body("ORD-OVR", 1_000),
        &[("X-Override-Notification", &other)],
    )
    .await;
    sim.pay("ORD-OVR", "bank_transfer", "pending").await;
    let got = receiver.wait_for("ORD-OVR", 1).await;
    assert_eq!(got[0].path, "/status/202");

    let (first, second) = (receiver.url(201), receiver.url(204));
    let append = format!("{first}, {second}");
    sim.create_with(
        snap_body("ORD-APP", 1_000),
        &[("X-Append-Notification", &append)],
    )
    .await;
    sim.pay("ORD-APP", "bank_transfer", "pending").await;
    let got = receiver.wait_for("ORD-APP", 3).await;
    let mut paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/status/200", "/status/201", "/status/204"]);

    // Give a stray extra delivery a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.for_order("ORD-OVR").len(), 1);
}

#[tokio::test]
async fn notification_url_can_be_set_after_start() {
    let receiver = Receiver::start().await;
    let sim = TestSim::start(fast_config()).await;
    sim.create("ORD-LATE", 1_000).await;
    sim.pay("ORD-LATE", "bank_transfer", "pending").await;
    sim.handle.set_notification_url(receiver.url(200));
    sim.control("/transactions/ORD-LATE/settle", json!({}))
        .await;
    let got = receiver.wait_for("ORD-LATE", 1).await;
    assert_eq!(statuses(&got), [pair("settlement", "200")]);

    // The control API can change it too.
    let response = sim
        .http
        .put(sim.url("/_sim/notification-url"))
        .json(&json!({ "url": receiver.url(201) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    sim.control("/transactions/ORD-LATE/notify", json!({}))
        .await;
    let got = receiver.wait_for("ORD-LATE", 2).await;
    assert_eq!(got[1].path, "/status/201");
}

#[tokio::test]
async fn paused_notifications_are_dropped() {
    let (sim, receiver) = with_receiver().await;
    sim.create("ORD-PAUSE", 1_000).await;
    assert_eq!(sim.control("/notifications/pause", json!({})).await.0, 200);
    sim.pay("ORD-PAUSE", "bank_transfer", "settlement").await;
    let rows = sim.wait_attempts("ORD-PAUSE", |rows| rows.len() == 2).await;
    assert!(
        rows.iter().all(|row| row["result"] == "dropped_paused"),
        "{rows:#?}"
    );
    assert!(receiver.for_order("ORD-PAUSE").is_empty());

    // After resuming, the merchant can only learn the state by re-sending or polling.
    sim.control("/notifications/resume", json!({})).await;
    let (status, _) = sim
        .control("/transactions/ORD-PAUSE/notify", json!({}))
        .await;
    assert_eq!(status, 200);
    let got = receiver.wait_for("ORD-PAUSE", 1).await;
    assert_eq!(statuses(&got), [pair("settlement", "200")]);
}

#[tokio::test]
async fn duplicate_and_stale_notifications() {
    let (sim, receiver) = with_receiver().await;
    sim.create("ORD-STALE", 75_000).await;
    sim.pay("ORD-STALE", "bank_transfer", "settlement").await;
    receiver.wait_for("ORD-STALE", 2).await;

    let (status, sent) = sim
        .control("/transactions/ORD-STALE/notify", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["transaction_status"], "settlement");
    let (status, stale) = sim
        .control(
            "/transactions/ORD-STALE/notify",
            json!({ "status": "pending" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(stale["transaction_status"], "pending");

    let got = receiver.wait_for("ORD-STALE", 4).await;
    assert_eq!(
        statuses(&got),
        [
            pair("pending", "201"),
            pair("settlement", "200"),
            pair("settlement", "200"),
            pair("pending", "201"),
        ]
    );
    assert_eq!(
        got[3].body, got[0].body,
        "a stale notification is the old body"
    );
    assert_signed(&got[3].body);

    // No such earlier state.
    let (status, body) = sim
        .control(
            "/transactions/ORD-STALE/notify",
            json!({ "status": "refund" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn overdue_pending_payments_expire_by_themselves() {
    let receiver = Receiver::start().await;
    let mut config = fast_config();
    config.notification_url = Some(receiver.url(200));
    config.expiry_sweep = Some(Duration::from_millis(50));
    let sim = TestSim::start(config).await;
    // The shortest window Snap accepts (5 minutes), started 299 s ago (in WIB): about one
    // second left.
    let start = (chrono::Utc::now() + chrono::Duration::hours(7) - chrono::Duration::seconds(299))
        .format("%Y-%m-%d %H:%M:%S +0700")
        .to_string();
    let mut body = snap_body("ORD-AUTOEXP", 1_000);
    body["expiry"] = json!({ "start_time": start, "unit": "minute", "duration": 5 });
    sim.create_with(body, &[]).await;
    sim.pay("ORD-AUTOEXP", "bank_transfer", "pending").await;
    let got = receiver.wait_for("ORD-AUTOEXP", 2).await;
    assert_eq!(
        statuses(&got),
        [pair("pending", "201"), pair("expire", "202")]
    );
    assert_eq!(sim.status("ORD-AUTOEXP").await.1["status_code"], "407");

    // Paying after the deadline is refused.
    let mut late = snap_body("ORD-TOO-LATE", 1_000);
    late["expiry"] =
        json!({ "start_time": "2024-05-01 10:00:00 +0700", "unit": "hour", "duration": 1 });
    sim.create_with(late, &[]).await;
    let (status, body): (u16, Value) = sim
        .control("/transactions/ORD-TOO-LATE/pay", json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
}
