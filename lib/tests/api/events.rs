//! The event contract: what the outbox holds after real requests is exactly what the event
//! catalog declares (routing key, version, aggregate, a payload its type reads), and
//! docs/EVENTS.md is the catalog as generated.

use reqwest::Method;
use serde_json::Value;
use toko::events::{Event, EventKind};
use toko_testkit::TestApp;

#[tokio::test]
async fn every_event_written_by_a_shop_day_reads_as_its_catalog_type() {
    let app = TestApp::builder().with_midtrans().spawn().await;
    let (_admin, variant) = app.admin_with_product("EVT-1", 150_000, 5).await;
    let (customer, body) = app.checked_out(&variant, 2).await;
    let order_id = body["order"]["id"].as_str().unwrap().to_owned();
    app.by(&customer)
        .request(Method::POST, &format!("/api/v1/orders/{order_id}/cancel"))
        .expect(200)
        .await;

    let rows: Vec<(String, String, uuid::Uuid, Value, i32)> = sqlx::query_as(
        "select event_type, aggregate_type, aggregate_id, payload, schema_version
         from outbox_events order by event_id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (event_type, aggregate_type, aggregate_id, payload, version) in rows {
        let kind = EventKind::from_routing_key(&event_type)
            .unwrap_or_else(|| panic!("{event_type} is not in the event catalog"));
        assert_eq!(aggregate_type, kind.aggregate_type(), "{kind}");
        assert_eq!(version, kind.schema_version(), "{kind}");
        let event = Event::decode(kind, payload.clone())
            .unwrap_or_else(|e| panic!("{kind} payload {payload} does not read: {e}"));
        assert_eq!(event.aggregate_id(), aggregate_id, "{kind}");
        assert_eq!(event.payload_json(), payload, "{kind} round-trips");
        seen.insert(kind);
    }
    for expected in [
        EventKind::UserRegistered,
        EventKind::CategoryChanged,
        EventKind::ProductCreated,
        EventKind::StockChanged,
        EventKind::OrderCreated,
        EventKind::OrderCancelled,
    ] {
        assert!(seen.contains(&expected), "{expected} written: {seen:?}");
    }

    let created: Vec<_> = app.outbox_events(&order_id).await;
    let (_, payload) = &created[0];
    let Event::OrderCreated(order) =
        Event::decode(EventKind::OrderCreated, payload.clone()).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.item_count(), 2);
    assert_eq!(order.grand_total, order.subtotal + order.shipping_fee);
    assert_eq!(order.customer_email, customer.email);
}

#[test]
fn the_event_catalog_document_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/EVENTS.md"))
            .expect("docs/EVENTS.md is committed");
    assert!(
        committed == toko::events::catalog_markdown(),
        "docs/EVENTS.md is stale: run `cargo run -p tokoctl -- events` and commit the result"
    );
}
