//! The inventory-reconciler binary expires unpaid orders (releasing their stock; the customer
//! is told by email) and repairs stock drift.

use std::time::Duration;

use super::fixture::{wait_until, Pipeline, WorkerProcess};

fn reconciler(p: &Pipeline, extra: &[(&str, &str)]) -> WorkerProcess {
    p.start_binary(env!("CARGO_BIN_EXE_inventory-reconciler"), extra)
}

#[tokio::test]
async fn unpaid_orders_expire_release_stock_and_the_customer_is_told() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let _reconciler = reconciler(&p, &[("EXPIRY_SWEEP_INTERVAL", "1s")]);
    let (_, order, number) = p.order(3).await;
    assert_eq!(p.app.stock_of("NOVEL").await, (100, 3));
    // The deadline passes (ORDER_PAYMENT_TTL is at least 5 minutes: move it instead of waiting).
    p.app.backdate_payment_deadline(&order).await;

    p.app.wait_for_order_status(&order, "expired").await;
    assert_eq!(
        p.app.stock_of("NOVEL").await,
        (100, 0),
        "the reservation is released"
    );
    let told = wait_until(
        || p.emails_about(&format!("Order {number} expired")).len(),
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(told, 1);
}

#[tokio::test]
async fn stock_drift_is_repaired_and_reported() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    p.order(2).await;
    // Someone edits stock behind the ledger's back, and loses track of a reservation.
    sqlx::query("update variants set stock_on_hand = stock_on_hand + 5, stock_reserved = 0 where sku = 'NOVEL'")
        .execute(&p.app.db)
        .await
        .unwrap();
    let metrics_port = toko_testkit::smtp::free_port();
    let _reconciler = reconciler(
        &p,
        &[
            ("STOCK_AUDIT_INTERVAL", "1s"),
            ("METRICS_PORT", &metrics_port.to_string()),
        ],
    );

    let repaired = || async {
        let levels = p.app.stock_of("NOVEL").await;
        let ledger: i64 = sqlx::query_scalar(
            "select sum(on_hand_delta) from stock_movements where sku = 'NOVEL'",
        )
        .fetch_one(&p.app.db)
        .await
        .unwrap();
        (levels, ledger)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while repaired().await != ((105, 2), 105) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        repaired().await,
        ((105, 2), 105),
        "reserved follows the unpaid order; the ledger explains the +5"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let repaired_reserved = metrics
        .lines()
        .find(|l| l.starts_with(r#"toko_stock_drift_total{kind="reserved",repaired="true"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(repaired_reserved.is_some_and(|n| n >= 1), "{metrics}");
}
