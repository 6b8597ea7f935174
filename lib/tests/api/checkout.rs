//! Checkout: one order per click, never more stock than there is, nothing written on refusal.

use std::collections::HashSet;
use std::future::IntoFuture;

use futures::future::join_all;
use serde_json::{json, Value};
use toko_testkit::{address, assert_problem, Shop, TestApp, TestUser};

async fn shop() -> Shop {
    Shop::on(TestApp::builder().setting("DATABASE_MAX_CONNECTIONS", "20"))
        .category("gadgets", "Gadgets", None)
        .open()
        .await
}

async fn variant(s: &Shop, sku: &str, price: i64, stock: i64) -> String {
    s.app
        .create_simple_variant(
            &s.admin,
            &s.categories["gadgets"],
            &format!("Gadget {sku}"),
            sku,
            price,
            stock,
        )
        .await
}

async fn counts(s: &Shop) -> (i64, i64) {
    sqlx::query_as("select (select count(*) from orders), (select count(*) from order_lines)")
        .fetch_one(&s.app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn checkout_creates_the_order_reserves_stock_and_empties_the_cart() {
    let s = shop().await;
    let phone = variant(&s, "PHONE", 3_000_000, 5).await;
    let case = variant(&s, "CASE", 150_000, 10).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &phone, 1).await;
    s.app.add_to_cart(&user, &case, 2).await;

    let body = s.app.checkout(&user, "order-1").expect(201).await;
    let order = &body["order"];
    assert_eq!(order["status"], "pending_payment");
    assert!(order["number"].as_str().unwrap().starts_with("TK"));
    assert_eq!(order["subtotal"], 3_300_000);
    assert_eq!(order["shipping_fee"], 15_000);
    assert_eq!(order["grand_total"], 3_315_000);
    assert_eq!(order["currency"], "IDR");
    assert_eq!(order["customer_email"], user.email.as_str());
    assert_eq!(order["shipping_address"]["city"], "Jakarta Pusat");
    let lines = order["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[1]["sku"].as_str(),
            lines[1]["quantity"].as_i64(),
            lines[1]["line_total"].as_i64()
        ),
        (Some("CASE"), Some(2), Some(300_000))
    );
    assert_eq!(
        lines[0]["product_name"], "Gadget PHONE",
        "a snapshot of the name"
    );

    assert_eq!(s.app.stock_of("PHONE").await, (5, 1));
    assert_eq!(s.app.stock_of("CASE").await, (10, 2));
    let cart: Value = s.app.by(&user).get("/api/v1/cart").expect(200).await;
    assert_eq!(cart["item_count"], 0);

    let order_id = order["id"].as_str().unwrap();
    let events: Vec<String> = s
        .app
        .outbox_events(order_id)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(events, vec!["order.created"]);
    let reservations: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements where kind = 'reservation' and order_id = $1",
    )
    .bind(uuid::Uuid::parse_str(order_id).unwrap())
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(reservations, 2);
    let product: Value = s
        .app
        .anonymous()
        .get("/api/v1/products/gadget-phone")
        .expect(200)
        .await;
    assert_eq!(
        product["variants"][0]["available"], 4,
        "reserved stock is not available to others"
    );
}

#[tokio::test]
async fn checkout_requires_an_idempotency_key_and_a_valid_form() {
    let s = shop().await;
    let v = variant(&s, "FORM-1", 1_000, 5).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &v, 1).await;

    let resp = s
        .app
        .by(&user)
        .post(
            "/api/v1/checkout",
            &json!({"shipping_address": address(), "shipping_method": "standard"}),
        )
        .await;
    // The problem says the header is required and why, not how a string failed to parse.
    let body = assert_problem(resp, 400, "idempotency_key_required").await;
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(body["errors"][0]["message"], "is required");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Idempotency-Key header is required") && detail.contains("retry"),
        "{detail}"
    );

    let mut bad = address();
    bad["postal_code"] = json!("!");
    bad["country_code"] = json!("indonesia");
    let body = s
        .app
        .by(&user)
        .post(
            "/api/v1/checkout",
            &json!({"shipping_address": bad, "shipping_method": "teleport"}),
        )
        .idempotency_key("form-1")
        .expect_problem(422, "validation_failed")
        .await;
    let fields: HashSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        HashSet::from([
            "shipping_address.postal_code",
            "shipping_address.country_code",
            "shipping_method"
        ])
    );

    let other = s.app.register_customer().await;
    s.app
        .checkout(&other, "empty-1")
        .expect_problem(409, "cart_empty")
        .await;
    s.app
        .anonymous()
        .post("/api/v1/checkout", &json!({}))
        .idempotency_key("x")
        .expect_problem(401, "unauthorized")
        .await;
    assert_eq!(counts(&s).await, (0, 0));
}

#[tokio::test]
async fn a_repeated_key_replays_the_original_response_and_a_changed_body_is_refused() {
    let s = shop().await;
    let v = variant(&s, "REPLAY-1", 10_000, 5).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &v, 1).await;

    let first: Value = s
        .app
        .checkout(&user, "replay-key")
        .await
        .json()
        .await
        .unwrap();
    let again = s.app.checkout(&user, "replay-key").expect(201).await;
    assert_eq!(first, again, "the original response, not a second order");
    assert_eq!(counts(&s).await.0, 1);

    s.app
        .by(&user)
        .post(
            "/api/v1/checkout",
            &json!({"shipping_address": address(), "shipping_method": "express"}),
        )
        .idempotency_key("replay-key")
        .expect_problem(422, "idempotency_key_reused")
        .await;

    // Keys are per customer: another customer may use the same string.
    let other = s.app.register_customer().await;
    s.app.add_to_cart(&other, &v, 1).await;
    s.app.checkout(&other, "replay-key").expect(201).await;
    assert_eq!(counts(&s).await.0, 2);
}

#[tokio::test]
async fn twenty_concurrent_retries_of_one_key_make_one_order_and_twenty_identical_responses() {
    let s = shop().await;
    let v = variant(&s, "RACE-KEY", 10_000, 50).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &v, 3).await;

    let responses =
        join_all((0..20).map(|_| s.app.checkout(&user, "same-click").into_future())).await;
    let mut bodies = Vec::new();
    for resp in responses {
        assert_eq!(resp.status(), 201);
        bodies.push(resp.json::<Value>().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "all twenty responses are identical"
    );
    assert_eq!(counts(&s).await.0, 1);
    assert_eq!(s.app.stock_of("RACE-KEY").await, (50, 3));
}

#[tokio::test]
async fn changed_prices_are_listed_nothing_is_written_and_the_next_attempt_uses_the_new_price() {
    let s = shop().await;
    let v = variant(&s, "PRICEY", 100_000, 5).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &v, 2).await;
    s.app
        .by(&s.admin)
        .patch(
            &format!("/api/v1/admin/variants/{v}"),
            &json!({"price": 120_000}),
        )
        .await;

    let cart: Value = s.app.by(&user).get("/api/v1/cart").expect(200).await;
    assert_eq!(
        (
            cart["items"][0]["unit_price"].as_i64(),
            cart["items"][0]["previous_unit_price"].as_i64()
        ),
        (Some(120_000), Some(100_000))
    );

    let body = s
        .app
        .checkout(&user, "price-1")
        .expect_problem(409, "cart_changed")
        .await;
    let line = &body["lines"][0];
    assert_eq!(
        (
            line["reason"].as_str(),
            line["previous_unit_price"].as_i64(),
            line["unit_price"].as_i64()
        ),
        (Some("price_changed"), Some(100_000), Some(120_000))
    );
    assert_eq!(counts(&s).await, (0, 0));
    assert_eq!(s.app.stock_of("PRICEY").await, (5, 0));

    let resp = s.app.checkout(&user, "price-1").await;
    assert_eq!(
        resp.status(),
        201,
        "the refusal showed the new price; the retry goes through"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["order"]["subtotal"], 240_000);
}

#[tokio::test]
async fn short_lines_are_listed_and_nothing_is_written() {
    let s = shop().await;
    let plenty = variant(&s, "PLENTY", 1_000, 50).await;
    let scarce = variant(&s, "SCARCE", 1_000, 4).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &plenty, 2).await;
    s.app.add_to_cart(&user, &scarce, 3).await;
    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "SCARCE", "delta": -2, "reason": "damaged"}),
        )
        .await;

    let body = s
        .app
        .checkout(&user, "short-1")
        .expect_problem(409, "insufficient_stock")
        .await;
    let lines = body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (
            lines[0]["sku"].as_str(),
            lines[0]["requested_quantity"].as_i64(),
            lines[0]["available_quantity"].as_i64()
        ),
        (Some("SCARCE"), Some(3), Some(2))
    );
    assert_eq!(counts(&s).await, (0, 0));
    assert_eq!(
        s.app.stock_of("PLENTY").await,
        (50, 0),
        "no partial reservation"
    );
    let cart: Value = s.app.by(&user).get("/api/v1/cart").expect(200).await;
    assert_eq!(cart["item_count"], 5, "the cart is kept");
}

#[tokio::test]
async fn two_hundred_concurrent_checkouts_for_fifty_units_sell_exactly_fifty() {
    let s = shop().await;
    let hot = variant(&s, "HOT-DROP", 499_000, 50).await;
    let buyers: Vec<TestUser> = join_all((0..200).map(|_| s.app.register_customer())).await;
    join_all(buyers.iter().map(|b| s.app.add_to_cart(b, &hot, 1))).await;

    let keys: Vec<String> = (0..buyers.len()).map(|i| format!("drop-{i}")).collect();
    let responses = join_all(
        buyers
            .iter()
            .zip(&keys)
            .map(|(b, key)| s.app.checkout(b, key).into_future()),
    )
    .await;
    let mut created = 0;
    let mut conflicts = 0;
    for resp in responses {
        match resp.status().as_u16() {
            201 => created += 1,
            409 => {
                let body = assert_problem(resp, 409, "insufficient_stock").await;
                assert_eq!(body["lines"][0]["sku"], "HOT-DROP");
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {}", resp.text().await.unwrap()),
        }
    }
    assert_eq!((created, conflicts), (50, 150));
    assert_eq!(
        s.app.stock_of("HOT-DROP").await,
        (50, 50),
        "everything reserved, nothing oversold"
    );
    let (orders, reserved_lines): (i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(l.quantity), 0) from orders o join order_lines l using (order_id) where o.status = 'pending_payment'",
    ).fetch_one(&s.app.db).await.unwrap();
    assert_eq!((orders, reserved_lines), (50, 50));
    let product: Value = s
        .app
        .anonymous()
        .get("/api/v1/products/gadget-hot-drop")
        .expect(200)
        .await;
    assert_eq!(product["variants"][0]["available"], 0);
    assert_eq!(product["in_stock"], false);
}
