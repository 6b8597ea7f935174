//! Outbound webhooks end to end: staff register an endpoint through the API, the shop's
//! events reach it through the relay and the webhook dispatcher, and a receiver on loopback
//! checks every request with the `standardwebhooks` library from PyPI (a verifier no one
//! here wrote). Loopback is allowed by `WEBHOOK_ALLOWED_NETWORKS`, as a deployment would
//! allow an ERP inside its own network.

use std::time::Duration;

use serde_json::{json, Value};
use toko_testkit::{eventually, Call, WebhookReceiver};

use super::fixture::{wait_until, Pipeline};

/// Settings of the API and the workers: loopback allowed, plain HTTP, short schedules.
const LOOPBACK: &[(&str, &str)] = &[
    ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
    ("WEBHOOK_REQUIRE_HTTPS", "false"),
    ("WEBHOOK_TIMEOUT", "2s"),
    ("WEBHOOK_RETRY_DELAYS", "1s,1s"),
];

/// An event type these specs never cause, for endpoints that should get only the test
/// events staff send (the shop's setup events may still be on their way).
const QUIET: &[&str] = &["order.completed"];

async fn shop(settings: &[(&str, &str)]) -> Pipeline {
    let p = Pipeline::bare(settings, Duration::ZERO, None).await;
    p.spawn_relay().await;
    p.spawn_webhook_dispatcher().await;
    p
}

impl Pipeline {
    fn admin_call(&self, method: reqwest::Method, path: &str, body: Value) -> Call {
        self.app
            .with_token(&self.admin_token)
            .request(method, path)
            .json(&body)
    }

    /// Registers an endpoint; returns (endpoint id, secret).
    async fn register(&self, url: &str, event_types: &[&str]) -> (String, String) {
        let body = self
            .admin_call(
                reqwest::Method::POST,
                "/api/v1/admin/webhooks",
                json!({"url": url, "description": "warehouse", "event_types": event_types}),
            )
            .expect(201)
            .await;
        (
            body["endpoint"]["id"].as_str().unwrap().to_owned(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn admin_get(&self, path: &str) -> Value {
        let resp = self.admin_call(reqwest::Method::GET, path, json!({})).await;
        assert_eq!(resp.status(), 200, "{path}");
        resp.json().await.unwrap()
    }

    async fn send_test(&self, endpoint: &str) -> String {
        let resp = self
            .admin_call(
                reqwest::Method::POST,
                &format!("/api/v1/admin/webhooks/{endpoint}/test"),
                json!({}),
            )
            .await;
        assert_eq!(resp.status(), 202);
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the delivery's first attempt is recorded; returns it with its attempts.
    async fn first_attempt(&self, delivery: &str) -> Value {
        eventually("an attempt recorded", Duration::from_secs(10), || async {
            let d = self
                .admin_get(&format!("/api/v1/admin/webhook-deliveries/{delivery}"))
                .await;
            (!d["attempts"].as_array().unwrap().is_empty()).then_some(d)
        })
        .await
    }

    /// Waits until the delivery reaches `status`; returns it with its attempts.
    async fn delivery_settles(&self, delivery: &str, status: &str) -> Value {
        eventually(
            &format!("delivery {status}"),
            Duration::from_secs(20),
            || async {
                let detail = self
                    .admin_get(&format!("/api/v1/admin/webhook-deliveries/{delivery}"))
                    .await;
                (detail["delivery"]["status"] == status).then_some(detail)
            },
        )
        .await
    }
}

#[tokio::test]
async fn a_new_order_reaches_its_endpoint_signed_as_the_standard_webhooks_library_expects() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (_orders, secret) = p
        .register(&receiver.url("/orders"), &["order.created"])
        .await;
    let (_other, _) = p
        .register(&receiver.url("/stock"), &["stock.changed"])
        .await;
    receiver.set_secrets(&[&secret]).await;

    let (customer, order_id, number) = p.order(2).await;
    let reserved = |r: &toko_testkit::webhooks::ReceivedWebhook| {
        r.path == "/stock" && r.body["data"]["kind"] == "reservation"
    };
    let received = eventually(
        "the order and stock webhooks",
        Duration::from_secs(20),
        || async {
            let received = receiver.requests().await;
            (received.iter().any(|r| r.path == "/orders") && received.iter().any(reserved))
                .then_some(received)
        },
    )
    .await;
    let order: Vec<_> = received.iter().filter(|r| r.path == "/orders").collect();
    assert_eq!(order.len(), 1, "{received:?}");
    let hook = order[0];
    assert!(hook.verified, "{:?}", hook.error);
    assert_eq!(hook.body["type"], "order.created");
    assert_eq!(hook.body["schema_version"], 2);
    assert_eq!(hook.body["data"]["order_id"], order_id.as_str());
    assert_eq!(hook.body["data"]["order_number"], number.as_str());
    assert_eq!(hook.body["data"]["customer_email"], customer.email.as_str());
    let event_id: uuid::Uuid = sqlx::query_scalar(
        "select event_id from outbox_events where event_type = 'order.created' and aggregate_id = $1::uuid",
    )
    .bind(&order_id)
    .fetch_one(&p.app.db)
    .await
    .unwrap();
    assert_eq!(
        hook.id,
        Some(event_id.to_string()),
        "webhook-id is the event id"
    );
    assert!(
        received
            .iter()
            .filter(|r| r.path == "/stock")
            .all(|r| r.body["type"] == "stock.changed"),
        "the stock endpoint gets stock events only"
    );
    assert!(
        !hook.body.to_string().contains(&secret),
        "no secret travels in a payload"
    );
}

#[tokio::test]
async fn failures_and_timeouts_are_retried_with_the_same_id_until_the_endpoint_answers() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, secret) = p.register(&receiver.url("/hook"), QUIET).await;
    receiver.set_secrets(&[&secret]).await;
    receiver.behave(500, Duration::ZERO, Some(1)).await;

    let delivery = p.send_test(&endpoint).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // The retry outlives WEBHOOK_TIMEOUT (2 s).
    receiver.behave(204, Duration::from_secs(3), Some(1)).await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    receiver.behave(204, Duration::ZERO, None).await;
    let detail = p.delivery_settles(&delivery, "succeeded").await;

    let received = receiver.requests().await;
    assert_eq!(received.len(), 3, "{received:?}");
    assert!(received
        .iter()
        .all(|r| r.verified && r.id == received[0].id));
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{detail}");
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[1].get("status_code").is_none(), "{detail}");
    assert_eq!(attempts[1]["error"], "timed out");
    assert_eq!(attempts[2]["status_code"], 204);
    let endpoint = p
        .admin_get(&format!("/api/v1/admin/webhooks/{endpoint}"))
        .await;
    assert!(
        endpoint.get("failing_since").is_none(),
        "a success clears the failure record"
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one_until_the_overlap_ends() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, old) = p.register(&receiver.url("/hook"), QUIET).await;
    let rotate_path = format!("/api/v1/admin/webhooks/{endpoint}/rotate-secret");
    let rotate = |overlap: u64| {
        p.admin_call(
            reqwest::Method::POST,
            &rotate_path,
            json!({"overlap_seconds": overlap}),
        )
    };
    let rotated: Value = rotate(3600).await.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    for (secret, n) in [(&old, 1), (&new, 2)] {
        receiver.set_secrets(&[secret]).await;
        p.send_test(&endpoint).await;
        let last = receiver
            .wait_for(n, Duration::from_secs(10))
            .await
            .pop()
            .unwrap();
        assert!(
            last.verified,
            "signed with both during the overlap: {:?}",
            last.error
        );
    }

    let newest: Value = rotate(0).await.json().await.unwrap();
    let newest = newest["secret"].as_str().unwrap().to_owned();
    receiver.set_secrets(&[&old, &new]).await;
    p.send_test(&endpoint).await;
    let last = receiver
        .wait_for(3, Duration::from_secs(10))
        .await
        .pop()
        .unwrap();
    assert!(!last.verified, "retired secrets no longer sign");
    receiver.set_secrets(&[&newest]).await;
    p.send_test(&endpoint).await;
    let last = receiver
        .wait_for(4, Duration::from_secs(10))
        .await
        .pop()
        .unwrap();
    assert!(last.verified, "{:?}", last.error);
}

#[tokio::test]
async fn a_failed_delivery_is_sent_again_on_request_singly_or_by_time_range() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, secret) = p.register(&receiver.url("/hook"), QUIET).await;
    receiver.set_secrets(&[&secret]).await;
    receiver.behave(503, Duration::ZERO, None).await;

    let first = p.send_test(&endpoint).await;
    let second = p.send_test(&endpoint).await;
    for delivery in [&first, &second] {
        let detail = p.delivery_settles(delivery, "failed").await;
        assert_eq!(
            detail["attempts"].as_array().unwrap().len(),
            3,
            "1 + 2 retries"
        );
    }
    let failed = p
        .admin_get(&format!(
            "/api/v1/admin/webhooks/{endpoint}/deliveries?status=failed"
        ))
        .await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 2);

    receiver.behave(204, Duration::ZERO, None).await;
    p.admin_call(
        reqwest::Method::POST,
        &format!("/api/v1/admin/webhook-deliveries/{first}/redeliver"),
        json!({}),
    )
    .expect(202)
    .await;
    p.delivery_settles(&first, "succeeded").await;

    let resp = p
        .admin_call(
            reqwest::Method::POST,
            &format!("/api/v1/admin/webhooks/{endpoint}/redeliver"),
            json!({"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["count"],
        1,
        "only the still failed one"
    );
    p.delivery_settles(&second, "succeeded").await;
}

#[tokio::test]
async fn an_endpoint_failing_past_the_limit_is_disabled_and_the_admins_are_emailed() {
    let mut settings = LOOPBACK.to_vec();
    settings.push(("WEBHOOK_DISABLE_AFTER", "1s"));
    let p = shop(&settings).await;
    p.spawn_notifier().await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, _) = p.register(&receiver.url("/down"), QUIET).await;
    receiver.behave(500, Duration::ZERO, None).await;

    p.send_test(&endpoint).await;
    let disabled = eventually("the endpoint disabled", Duration::from_secs(20), || async {
        let e = p
            .admin_get(&format!("/api/v1/admin/webhooks/{endpoint}"))
            .await;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .starts_with("every delivery has failed since"));
    let emailed = wait_until(
        || p.emails_about("Webhook endpoint disabled").len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(emailed, 1);

    // New events no longer go to it; enabling it again clears the record.
    let before = receiver.requests().await.len();
    p.order(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.requests().await.len(), before);
    let resp = p
        .admin_call(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/webhooks/{endpoint}"),
            json!({"enabled": true}),
        )
        .await;
    let enabled: Value = resp.json().await.unwrap();
    assert_eq!(enabled["enabled"], true);
    assert!(enabled.get("disabled_reason").is_none() && enabled.get("failing_since").is_none());
}

#[tokio::test]
async fn redirects_are_not_followed_and_answers_are_read_only_in_part() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, _) = p.register(&receiver.url("/hook"), QUIET).await;
    receiver.behave(302, Duration::ZERO, Some(1)).await;
    let redirected = p.send_test(&endpoint).await;
    let detail = p.first_attempt(&redirected).await;
    assert_eq!(detail["attempts"][0]["status_code"], 302);
    assert_eq!(detail["attempts"][0]["error"], "answered 302");

    receiver.answer_with_body(500, 1_000_000).await;
    let big = p.send_test(&endpoint).await;
    let detail = p.first_attempt(&big).await;
    let excerpt = detail["attempts"][0]["response_excerpt"].as_str().unwrap();
    assert_eq!(excerpt.len(), 2048, "the first 2 KiB of a 1 MB answer");
    assert!(
        receiver.requests().await.iter().all(|r| r.path == "/hook"),
        "nothing followed the Location header"
    );
}

#[tokio::test]
async fn private_and_metadata_addresses_are_refused_at_registration_and_at_delivery() {
    // Nothing private allowed: the deployment default.
    let p = shop(&[
        ("WEBHOOK_REQUIRE_HTTPS", "false"),
        ("WEBHOOK_RETRY_DELAYS", "1s"),
    ])
    .await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/hook",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ] {
        let problem = p
            .admin_call(
                reqwest::Method::POST,
                "/api/v1/admin/webhooks",
                json!({"url": url}),
            )
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    let problem = p
        .admin_call(
            reqwest::Method::POST,
            "/api/v1/admin/webhooks",
            json!({"url": "http://x", "event_types": ["order.paid", "order.teleported"]}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem["errors"][0]["field"], "event_types[1]", "{problem}");

    // A name is checked after DNS, at every attempt: localhost is loopback.
    let receiver = WebhookReceiver::spawn();
    let by_name = receiver.url("/hook").replace("127.0.0.1", "localhost");
    let (endpoint, _) = p.register(&by_name, QUIET).await;
    let delivery = p.send_test(&endpoint).await;
    let detail = p.delivery_settles(&delivery, "failed").await;
    let error = detail["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("refused: localhost resolves to") && error.contains("non-public"),
        "{error}"
    );
    assert!(receiver.requests().await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_dispatcher_killed_mid_delivery_loses_nothing() {
    let p = Pipeline::bare(LOOPBACK, Duration::ZERO, None).await;
    p.spawn_relay().await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, secret) = p.register(&receiver.url("/hook"), QUIET).await;
    receiver.set_secrets(&[&secret]).await;
    // The receiver holds the first request long enough to kill the dispatcher in the middle.
    receiver
        .behave(204, Duration::from_millis(1_500), Some(1))
        .await;

    let dispatcher = env!("CARGO_BIN_EXE_webhook-dispatcher");
    let mut first = p.start_binary(dispatcher, &[]);
    let delivery = p.send_test(&endpoint).await;
    receiver.wait_for(1, Duration::from_secs(15)).await;
    first.kill();

    let _second = p.start_binary(dispatcher, &[]);
    let detail = p.delivery_settles(&delivery, "succeeded").await;
    let received = receiver.requests().await;
    assert!(
        received.len() >= 2,
        "sent again after the lease: {received:?}"
    );
    assert!(received
        .iter()
        .all(|r| r.verified && r.id == received[0].id));
    assert_eq!(detail["delivery"]["status"], "succeeded");
}

#[tokio::test]
async fn deliveries_page_newest_first_one_at_a_time() {
    let p = shop(LOOPBACK).await;
    let receiver = WebhookReceiver::spawn();
    let (endpoint, _) = p
        .register(&receiver.url("/orders"), &["order.created"])
        .await;
    for _ in 0..3 {
        p.order(1).await;
    }
    receiver.wait_for(3, Duration::from_secs(20)).await;

    let mut seen: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    for _ in 0..4 {
        let page = p
            .admin_get(&format!(
                "/api/v1/admin/webhooks/{endpoint}/deliveries?limit=1{cursor}"
            ))
            .await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let created: Vec<&str> = seen
        .iter()
        .map(|d| d["created_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen.iter()
            .filter(|d| d["event_type"] == "order.created")
            .count(),
        3,
        "{seen:?}"
    );
    let mut newest_first = created.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(created, newest_first);
}
