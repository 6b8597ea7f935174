//! The payment webhook is open to anyone (the signature is the proof), so what anyone can
//! make it store is bounded: a small body limit, unverified notifications stored truncated,
//! a per-IP rate limit.

use serde_json::json;
use toko_testkit::TestApp;

const NOTIFICATION: &str = "/api/v1/payments/midtrans/notification";

async fn stored(app: &TestApp) -> Vec<(i32, Option<i32>, bool)> {
    sqlx::query_as(
        "select octet_length(raw_body), octet_length(provider_order_id), signature_valid
         from payment_notifications order by received_at",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_unsigned_notification_is_stored_truncated_and_an_overlong_order_id_is_a_400() {
    let app = TestApp::builder().with_midtrans().spawn().await;
    let padded = json!({
        "order_id": "ORD-1", "status_code": "200", "gross_amount": "1.00",
        "signature_key": "forged", "padding": "x".repeat(12 * 1024),
    });
    app.anonymous()
        .post(NOTIFICATION, &padded)
        .expect_problem(401, "invalid_signature")
        .await;

    let long_id = json!({
        "order_id": "A".repeat(6 * 1024), "status_code": "200", "gross_amount": "1.00",
        "signature_key": "forged",
    });
    let body = app
        .anonymous()
        .post(NOTIFICATION, &long_id)
        .expect_problem(400, "malformed_notification")
        .await;
    assert!(
        body["detail"].as_str().unwrap().contains("order_id"),
        "{body}"
    );

    let rows = stored(&app).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (body_bytes, order_id_bytes, valid) in rows {
        assert!(!valid);
        assert!(
            body_bytes <= 1024,
            "{body_bytes} bytes of an unverified body kept"
        );
        assert!(order_id_bytes.unwrap_or(0) <= 50);
    }
}

#[tokio::test]
async fn notification_bodies_beyond_the_webhook_limit_are_a_413_and_not_stored() {
    let app = TestApp::builder().with_midtrans().spawn().await;
    let huge = json!({"order_id": "ORD-1", "padding": "x".repeat(17 * 1024)});
    app.anonymous()
        .post(NOTIFICATION, &huge)
        .expect_problem(413, "payload_too_large")
        .await;
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn notifications_are_rate_limited_per_client_ip() {
    let app = TestApp::builder()
        .with_midtrans()
        .setting("RATE_LIMIT_ENABLED", "true")
        .setting("RATE_LIMIT_WINDOW", "1h")
        .setting("RATE_LIMIT_WEBHOOK_PER_MINUTE", "3")
        .spawn()
        .await;
    let forged = json!({"order_id": "ORD-1", "status_code": "200", "gross_amount": "1.00", "signature_key": "forged"});
    for _ in 0..3 {
        app.anonymous()
            .post(NOTIFICATION, &forged)
            .expect(401)
            .await;
    }
    app.anonymous()
        .post(NOTIFICATION, &forged)
        .expect_problem(429, "rate_limited")
        .await;
    assert_eq!(stored(&app).await.len(), 3, "the refused one is not stored");
}

#[tokio::test]
async fn notifications_are_pruned_after_their_retention_unverified_ones_sooner() {
    let app = TestApp::spawn().await;
    for (age_days, valid) in [(1, false), (10, false), (10, true), (500, true)] {
        sqlx::query(
            "insert into payment_notifications
               (notification_id, raw_body, signature_valid, outcome, received_at)
             values (gen_random_uuid(), '{}', $1, 'test', now() - make_interval(days => $2))",
        )
        .bind(valid)
        .bind(age_days)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let day = std::time::Duration::from_secs(86_400);
    let deleted = toko::payments::store::prune_notifications(&app.db, 400 * day, 7 * day)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left: Vec<(bool, i32)> = sqlx::query_as(
        "select signature_valid, extract(day from now() - received_at)::int
         from payment_notifications order by received_at",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(left, [(true, 10), (false, 1)]);
}
