//! Promotions: codes and automatic promotions on carts and orders, every rupiah allocated to a
//! line, limits that hold under concurrency, and redemptions given back by unpaid orders.

use futures::future::join_all;
use serde_json::{json, Value};
use std::future::IntoFuture;
use toko_testkit::{address, problem_fields, Call, Shop, TestApp, TestUser};
use uuid::Uuid;

async fn shop() -> Shop {
    shop_with(TestApp::builder()).await
}

async fn shop_with(builder: toko_testkit::TestAppBuilder) -> Shop {
    Shop::on(builder.setting("DATABASE_MAX_CONNECTIONS", "20"))
        .category("apparel", "Apparel", None)
        .open()
        .await
}

async fn variant(s: &Shop, sku: &str, price: i64) -> String {
    s.add_variant(&s.categories["apparel"], sku, price, None)
        .await
}

/// Creates a promotion; asserts success and returns it.
async fn create_promotion(s: &Shop, body: Value) -> Value {
    let resp = s
        .app
        .by(&s.admin)
        .post("/api/v1/admin/promotions", &body)
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn patch_promotion(s: &Shop, id: &str, body: Value) -> Value {
    let resp = s
        .app
        .by(&s.admin)
        .patch(&format!("/api/v1/admin/promotions/{id}"), &body)
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

fn apply_code(s: &Shop, user: &TestUser, code: &str) -> Call {
    s.app
        .by(user)
        .post("/api/v1/cart/promotions", &json!({ "code": code }))
}

/// Puts a code on the cart; asserts success and returns the cart.
async fn with_code(s: &Shop, user: &TestUser, code: &str) -> Value {
    let resp = apply_code(s, user, code).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn cart_of(s: &Shop, user: &TestUser) -> Value {
    s.app
        .by(user)
        .get("/api/v1/cart")
        .await
        .json()
        .await
        .unwrap()
}

/// Checks out with `method`; asserts success and returns the order.
async fn place_order(s: &Shop, user: &TestUser, method: &str) -> Value {
    let body = checkout(s, user, method).expect(201).await;
    body["order"].clone()
}

fn checkout(s: &Shop, user: &TestUser, method: &str) -> Call {
    s.app
        .by(user)
        .post(
            "/api/v1/checkout",
            &json!({ "shipping_address": address(), "shipping_method": method }),
        )
        .idempotency_key(&Uuid::new_v4().to_string())
}

/// Checks out and pays with `payment_type` through the simulator; returns the order.
async fn paid_order(s: &Shop, user: &TestUser, payment_type: &str) -> Value {
    let order = place_order(s, user, "standard").await;
    s.app.pay_order(&order, Some(payment_type)).await;
    order
}

async fn usage_of(s: &Shop, id: &str) -> Value {
    s.app
        .by(&s.admin)
        .get(&format!("/api/v1/admin/promotions/{id}/usage"))
        .await
        .json()
        .await
        .unwrap()
}

/// The count staff see.
async fn redemption_count(s: &Shop, id: &str) -> i64 {
    let promotion: Value = s
        .app
        .by(&s.admin)
        .get(&format!("/api/v1/admin/promotions/{id}"))
        .expect(200)
        .await;
    promotion["redemption_count"].as_i64().unwrap()
}

/// The count kept on the promotion's row (only while it has a limit).
async fn stored_count(s: &Shop, id: &str) -> i32 {
    sqlx::query_scalar("select redemption_count from promotions where promotion_id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(&s.app.db)
        .await
        .unwrap()
}

fn rejected(cart: &Value) -> (&str, &str) {
    (
        cart["rejected_code"]["code"].as_str().unwrap_or_default(),
        cart["rejected_code"]["reason"].as_str().unwrap_or_default(),
    )
}

/// The order's amounts add up and each line's discount is what its allocations say.
async fn assert_order_adds_up(app: &TestApp, order: &Value) {
    let lines = order["lines"].as_array().unwrap();
    let line_discounts: i64 = lines.iter().map(|l| l["discount"].as_i64().unwrap()).sum();
    assert_eq!(line_discounts, order["discount_total"].as_i64().unwrap());
    let promotions = order["promotions"].as_array().unwrap();
    let by_promotion: i64 = promotions
        .iter()
        .map(|p| p["lines_discount"].as_i64().unwrap())
        .sum();
    assert_eq!(by_promotion, order["discount_total"].as_i64().unwrap());
    let shipping: i64 = promotions
        .iter()
        .map(|p| p["shipping_discount"].as_i64().unwrap())
        .sum();
    assert_eq!(shipping, order["shipping_discount"].as_i64().unwrap());
    assert_eq!(
        order["grand_total"].as_i64().unwrap(),
        order["subtotal"].as_i64().unwrap() - order["discount_total"].as_i64().unwrap()
            + order["shipping_fee"].as_i64().unwrap()
            - order["shipping_discount"].as_i64().unwrap()
    );
    for line in lines {
        let allocated: i64 = sqlx::query_scalar(
            "select coalesce(sum(amount), 0)::int8 from promotion_line_discounts where order_line_id = $1",
        )
        .bind(Uuid::parse_str(line["id"].as_str().unwrap()).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(allocated, line["discount"].as_i64().unwrap(), "line {line}");
    }
}

#[tokio::test]
async fn a_percentage_code_discounts_cart_and_order_with_an_allocation_that_sums_exactly() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 33_333).await;
    let socks = variant(&s, "SOCKS", 10_001).await;
    let promotion = create_promotion(
        &s,
        json!({"name": "Ten percent", "code": "Hemat10", "effect": "order_percent", "percent": 10}),
    )
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    s.app.add_to_cart(&user, &socks, 2).await;

    let cart = with_code(&s, &user, "hemat10").await;
    assert_eq!(
        cart["promotion_code"], "Hemat10",
        "stored as staff wrote it"
    );
    // 10% of 53,335 = 5,333.5, rounded down; split 33,333 : 20,002 by largest remainder.
    assert_eq!(cart["discount_total"], 5_333);
    assert_eq!(cart["total"], 53_335 - 5_333);
    assert_eq!(cart["items"][0]["discount"], 3_333);
    assert_eq!(cart["items"][1]["discount"], 2_000);
    assert_eq!(cart["promotions"][0]["code"], "Hemat10");
    assert!(cart["rejected_code"].is_null());

    let order = place_order(&s, &user, "standard").await;
    assert_eq!(order["discount_total"], 5_333);
    assert_eq!(order["grand_total"], 53_335 - 5_333 + 15_000);
    assert_eq!(order["promotions"][0]["code"], "Hemat10");
    assert_order_adds_up(&s.app, &order).await;
    let id = promotion["id"].as_str().unwrap();
    assert_eq!(redemption_count(&s, id).await, 1);
    let events: Vec<String> = s
        .app
        .outbox_events(id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(events, ["promotion.redeemed"]);
    let usage = usage_of(&s, id).await;
    assert_eq!(
        (
            &usage["redemptions"],
            &usage["lines_discount"],
            &usage["orders"][0]["order_number"]
        ),
        (&json!(1), &json!(5_333), &order["number"])
    );
    assert!(
        cart_of(&s, &user).await["promotion_code"].is_null(),
        "checkout used the code up"
    );
}

#[tokio::test]
async fn codes_that_do_not_apply_say_why() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 50_000).await;
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    create_promotion(
        &s,
        json!({"name": "Later", "code": "LATER", "effect": "order_fixed", "amount": 1000,
        "starts_at": now + hour}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Over", "code": "OVER", "effect": "order_fixed", "amount": 1000,
        "starts_at": now - hour - hour, "ends_at": now - hour}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Big", "code": "BIG", "effect": "order_fixed", "amount": 1000,
        "min_subtotal": 100_000}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Brand", "code": "BRAND", "effect": "lines_fixed", "amount": 1000,
        "brands": ["Nowhere"]}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Welcome", "code": "FIRST", "effect": "order_fixed", "amount": 1000,
        "eligibility": "first_order"}),
    )
    .await;
    let off = create_promotion(
        &s,
        json!({"name": "Off", "code": "OFF", "effect": "order_fixed", "amount": 1000}),
    )
    .await;
    patch_promotion(&s, off["id"].as_str().unwrap(), json!({"enabled": false})).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;

    let body = apply_code(&s, &user, "NOPE")
        .expect_problem(422, "promotion_code_unknown")
        .await;
    assert_eq!(body["errors"][0]["field"], "code");
    for (code, reason) in [
        ("LATER", "not_started"),
        ("OVER", "expired"),
        ("BIG", "minimum_not_met"),
        ("BRAND", "nothing_matches"),
        ("OFF", "disabled"),
    ] {
        let cart = with_code(&s, &user, code).await;
        assert_eq!(rejected(&cart), (code, reason));
        assert_eq!(cart["discount_total"], 0);
    }

    // Meeting the minimum makes the kept code apply.
    let cart = with_code(&s, &user, "big").await;
    assert_eq!(rejected(&cart).1, "minimum_not_met");
    let cart = s.app.add_to_cart(&user, &shirt, 1).await;
    assert!(cart["rejected_code"].is_null(), "{cart}");
    assert_eq!(cart["discount_total"], 1_000);

    // A first-order promotion no longer applies after an order.
    let cart = with_code(&s, &user, "FIRST").await;
    assert_eq!(cart["discount_total"], 1_000);
    place_order(&s, &user, "standard").await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    assert_eq!(
        rejected(&with_code(&s, &user, "FIRST").await),
        ("FIRST", "not_eligible")
    );

    // Removing the code.
    let cart = s
        .app
        .by(&user)
        .delete("/api/v1/cart/promotions/first")
        .expect(200)
        .await;
    assert!(cart["promotion_code"].is_null() && cart["rejected_code"].is_null());
    s.app
        .by(&user)
        .delete("/api/v1/cart/promotions/FIRST")
        .expect_problem(404, "not_found")
        .await;
}

#[tokio::test]
async fn line_effects_match_products_categories_with_descendants_and_brands() {
    let s = shop().await;
    let child = s
        .app
        .create_category_id(&s.admin, "Shirts", Some(&s.categories["apparel"]))
        .await;
    let other = s.app.create_category_id(&s.admin, "Food", None).await;
    let shirt = s
        .add_variant(&child, "SHIRT", 100_000, Some("Batik Co"))
        .await;
    let tea = s.add_variant(&other, "TEA", 20_000, Some("Sari")).await;
    let coffee = s.add_variant(&other, "COFFEE", 30_000, None).await;
    create_promotion(
        &s,
        json!({"name": "Apparel", "code": "APPAREL", "effect": "lines_fixed", "amount": 5_000,
        "category_ids": [s.categories["apparel"]]}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Sari", "code": "SARI", "effect": "lines_percent", "percent": 50,
        "brands": ["sari"]}),
    )
    .await;
    let coffee_product: Uuid =
        sqlx::query_scalar("select product_id from variants where sku = 'COFFEE'")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    create_promotion(
        &s,
        json!({"name": "Coffee", "code": "COFFEE", "effect": "lines_percent", "percent": 10,
        "max_discount": 4_000, "product_ids": [coffee_product]}),
    )
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 2).await;
    s.app.add_to_cart(&user, &tea, 1).await;
    s.app.add_to_cart(&user, &coffee, 3).await;

    let discounts = |cart: &Value| -> Vec<i64> {
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["discount"].as_i64().unwrap())
            .collect()
    };
    // 5,000 off each unit in Apparel or below it.
    assert_eq!(
        discounts(&with_code(&s, &user, "APPAREL").await),
        [10_000, 0, 0]
    );
    // Brand ignores case.
    assert_eq!(
        discounts(&with_code(&s, &user, "SARI").await),
        [0, 10_000, 0]
    );
    // 10% of 90,000 capped at 4,000.
    assert_eq!(
        discounts(&with_code(&s, &user, "COFFEE").await),
        [0, 0, 4_000]
    );
    let order = place_order(&s, &user, "standard").await;
    assert_eq!(order["discount_total"], 4_000);
    assert_order_adds_up(&s.app, &order).await;
}

#[tokio::test]
async fn automatic_promotions_stack_by_priority_and_a_non_stackable_code_stays_out() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    create_promotion(
        &s,
        json!({"name": "Second", "effect": "order_percent", "percent": 50, "priority": 2}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "First", "effect": "order_fixed", "amount": 20_000, "priority": 1}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Solo", "code": "SOLO", "effect": "order_fixed", "amount": 1_000,
        "stackable": false, "priority": 5}),
    )
    .await;
    let user = s.app.register_customer().await;
    let cart = s.app.add_to_cart(&user, &shirt, 1).await;
    let names: Vec<&str> = cart["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["First", "Second"]);
    // 20,000 off first, then half of what is left.
    assert_eq!(cart["discount_total"], 20_000 + 40_000);
    let cart = with_code(&s, &user, "SOLO").await;
    assert_eq!(rejected(&cart), ("SOLO", "not_combinable"));
    assert_eq!(cart["discount_total"], 60_000);
    let order = place_order(&s, &user, "standard").await;
    assert_eq!(order["grand_total"], 100_000 - 60_000 + 15_000);
    assert_order_adds_up(&s.app, &order).await;
}

#[tokio::test]
async fn free_shipping_covers_only_its_methods() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    create_promotion(
        &s,
        json!({"name": "Free standard shipping", "code": "ONGKIR", "effect": "free_shipping",
        "shipping_methods": ["standard"]}),
    )
    .await;
    let body = s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/promotions",
            &json!({"name": "x", "code": "BADSHIP", "effect": "free_shipping", "shipping_methods": ["teleport"]}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "shipping_methods[0]");

    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    let cart = with_code(&s, &user, "ONGKIR").await;
    assert_eq!(cart["promotions"][0]["free_shipping"], true);
    let order = place_order(&s, &user, "standard").await;
    assert_eq!(
        (
            &order["shipping_fee"],
            &order["shipping_discount"],
            &order["grand_total"]
        ),
        (&json!(15_000), &json!(15_000), &json!(100_000))
    );
    assert_order_adds_up(&s.app, &order).await;

    let other = s.app.register_customer().await;
    s.app.add_to_cart(&other, &shirt, 1).await;
    with_code(&s, &other, "ONGKIR").await;
    let order = place_order(&s, &other, "express").await;
    assert_eq!(order["shipping_discount"], 0);
    assert_eq!(order["promotions"], json!([]));
}

#[tokio::test]
async fn a_changed_discount_refuses_checkout_until_the_cart_is_shown_again() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    let sale = create_promotion(
        &s,
        json!({"name": "Sale", "effect": "order_percent", "percent": 20}),
    )
    .await;
    let user = s.app.register_customer().await;
    assert_eq!(
        s.app.add_to_cart(&user, &shirt, 1).await["discount_total"],
        20_000
    );
    patch_promotion(&s, sale["id"].as_str().unwrap(), json!({"enabled": false})).await;

    let body = checkout(&s, &user, "standard")
        .expect_problem(409, "cart_changed")
        .await;
    assert_eq!(
        (&body["previous_discount_total"], &body["discount_total"]),
        (&json!(20_000), &json!(0))
    );
    let orders: i64 = sqlx::query_scalar("select count(*) from orders")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(orders, 0, "nothing written");
    // Refused once, the customer has now seen the new discount.
    let order = place_order(&s, &user, "standard").await;
    assert_eq!(order["discount_total"], 0);
    assert_eq!(order["grand_total"], 115_000);
}

#[tokio::test]
async fn two_hundred_concurrent_checkouts_redeem_a_code_limited_to_fifty_exactly_fifty_times() {
    let s = shop().await;
    let mut items = Vec::new();
    for sku in ["SHIRT", "HAT", "SCARF", "BELT"] {
        items.push(variant(&s, sku, 100_000).await);
    }
    let promotion = create_promotion(
        &s,
        json!({"name": "Flash", "code": "FLASH50", "effect": "order_fixed", "amount": 10_000,
            "usage_limit": 50}),
    )
    .await;
    let id = promotion["id"].as_str().unwrap();
    let buyers: Vec<TestUser> = join_all((0..200).map(|_| s.app.register_customer())).await;
    join_all(
        buyers
            .iter()
            .enumerate()
            .map(|(i, b)| s.app.add_to_cart(b, &items[i % items.len()], 1)),
    )
    .await;
    for chunk in buyers.chunks(50) {
        for cart in join_all(chunk.iter().map(|b| with_code(&s, b, "FLASH50"))).await {
            assert_eq!(cart["discount_total"], 10_000);
        }
    }

    let responses = join_all(
        buyers
            .iter()
            .map(|b| checkout(&s, b, "standard").into_future()),
    )
    .await;
    let mut placed = 0;
    let mut changed = Vec::new();
    for (buyer, resp) in buyers.iter().zip(responses) {
        match resp.status().as_u16() {
            201 => placed += 1,
            409 => {
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["code"], "cart_changed");
                assert_eq!(body["discount_total"], 0);
                changed.push(buyer);
            }
            other => panic!("unexpected {other}: {}", resp.text().await.unwrap()),
        }
    }
    assert_eq!(placed, 50);
    assert_eq!(changed.len(), 150);
    assert_eq!(redemption_count(&s, id).await, 50);
    assert_eq!(stored_count(&s, id).await, 50);
    let discounted: i64 =
        sqlx::query_scalar("select count(*) from orders where discount_total = 10000")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(discounted, 50);
    assert_eq!(usage_of(&s, id).await["redemptions"], 50);

    // The others now see the code refused, and check out at the full price.
    let cart = cart_of(&s, changed[0]).await;
    assert_eq!(rejected(&cart), ("FLASH50", "limit_reached"));
    let order = place_order(&s, changed[0], "standard").await;
    assert_eq!(order["discount_total"], 0);
}

#[tokio::test]
async fn a_limit_set_while_an_unlimited_code_is_being_redeemed_counts_every_redemption() {
    let s = shop().await;
    let item = variant(&s, "SHIRT", 100_000).await;
    let promotion = create_promotion(
        &s,
        json!({"name": "Open", "code": "OPEN", "effect": "order_fixed", "amount": 5_000}),
    )
    .await;
    let id = promotion["id"].as_str().unwrap().to_owned();
    let buyers: Vec<TestUser> = join_all((0..60).map(|_| s.app.register_customer())).await;
    join_all(buyers.iter().map(|b| s.app.add_to_cart(b, &item, 1))).await;
    for chunk in buyers.chunks(20) {
        join_all(chunk.iter().map(|b| with_code(&s, b, "OPEN"))).await;
    }
    // Staff limit the code to 45 while the 60 checkouts run.
    let limit = async {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        s.app
            .by(&s.admin)
            .patch(
                &format!("/api/v1/admin/promotions/{id}"),
                &json!({"usage_limit": 45}),
            )
            .await
    };
    let (responses, limited) = tokio::join!(
        join_all(
            buyers
                .iter()
                .map(|b| checkout(&s, b, "standard").into_future())
        ),
        limit
    );
    let redeemed: i64 = sqlx::query_scalar(
        "select count(*) from promotion_redemptions where promotion_id = $1 and released_at is null",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    let placed = responses.iter().filter(|r| r.status() == 201).count() as i64;
    assert!(
        responses
            .iter()
            .all(|r| [201, 409].contains(&r.status().as_u16())),
        "{:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    let discounted: i64 =
        sqlx::query_scalar("select count(*) from orders where discount_total = 5000")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(discounted, redeemed, "every discounted order redeemed once");
    if limited.status() == 200 {
        assert!(redeemed <= 45, "{redeemed} redemptions under a limit of 45");
        assert_eq!(
            stored_count(&s, &id).await as i64,
            redeemed,
            "the limit took the count afresh"
        );
    } else {
        // More than 45 were redeemed before the limit could be set: refused as such.
        let body: Value = limited.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "usage_limit", "{body}");
        assert!(redeemed > 45);
    }
    assert_eq!(redemption_count(&s, &id).await, redeemed);
    assert!(placed >= redeemed);
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn a_per_customer_limit_holds_under_concurrent_checkouts() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    let promotion = create_promotion(
        &s,
        json!({"name": "Once each", "code": "ONCE", "effect": "order_fixed", "amount": 5_000,
            "per_customer_limit": 1}),
    )
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    with_code(&s, &user, "ONCE").await;
    let responses = join_all((0..10).map(|_| checkout(&s, &user, "standard").into_future())).await;
    let placed = responses.iter().filter(|r| r.status() == 201).count();
    assert_eq!(placed, 1, "one cart, one order");
    assert_eq!(
        redemption_count(&s, promotion["id"].as_str().unwrap()).await,
        1
    );

    s.app.add_to_cart(&user, &shirt, 1).await;
    assert_eq!(
        rejected(&with_code(&s, &user, "ONCE").await),
        ("ONCE", "limit_reached")
    );
    // Another customer still may.
    let other = s.app.register_customer().await;
    s.app.add_to_cart(&other, &shirt, 1).await;
    assert_eq!(with_code(&s, &other, "ONCE").await["discount_total"], 5_000);
}

#[tokio::test]
async fn cancelled_and_expired_unpaid_orders_give_their_redemption_back() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    let promotion = create_promotion(
        &s,
        json!({"name": "Only one", "code": "ONE", "effect": "order_fixed", "amount": 5_000,
            "usage_limit": 1}),
    )
    .await;
    let id = promotion["id"].as_str().unwrap();
    let first = s.app.register_customer().await;
    s.app.add_to_cart(&first, &shirt, 1).await;
    with_code(&s, &first, "ONE").await;
    let order = place_order(&s, &first, "standard").await;

    let second = s.app.register_customer().await;
    s.app.add_to_cart(&second, &shirt, 1).await;
    assert_eq!(
        rejected(&with_code(&s, &second, "ONE").await),
        ("ONE", "limit_reached")
    );

    let cancelled = s
        .app
        .by(&first)
        .post(
            &format!("/api/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
            &json!({}),
        )
        .expect(200)
        .await;
    assert!(cancelled["promotions"][0]["released_at"].is_string());
    assert_eq!(redemption_count(&s, id).await, 0);
    let events: Vec<String> = s
        .app
        .outbox_events(id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(events, ["promotion.redeemed", "promotion.released"]);

    // The second customer may now use it (the cart shows the new discount, and checkout asks
    // once to review it, like a changed price); their unpaid order expires and gives it back.
    let cart = cart_of(&s, &second).await;
    assert_eq!(
        (&cart["discount_total"], &cart["previous_discount_total"]),
        (&json!(5_000), &json!(0))
    );
    checkout(&s, &second, "standard")
        .expect_problem(409, "cart_changed")
        .await;
    let order = place_order(&s, &second, "standard").await;
    assert_eq!(order["discount_total"], 5_000);
    assert_eq!(redemption_count(&s, id).await, 1);
    s.app
        .backdate_payment_deadline(order["id"].as_str().unwrap())
        .await;
    let expired = s.app.state.orders.expire_overdue(10).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(redemption_count(&s, id).await, 0);
    let usage = usage_of(&s, id).await;
    assert_eq!(
        (&usage["redemptions"], &usage["released"]),
        (&json!(0), &json!(2))
    );
}

#[tokio::test]
async fn midtrans_accepts_discounted_orders_whose_items_sum_to_the_gross_amount() {
    let s = shop_with(TestApp::builder().with_midtrans()).await;
    let shirt = variant(&s, "SHIRT", 33_333).await;
    create_promotion(
        &s,
        json!({"name": "Ten percent", "code": "TEN", "effect": "order_percent", "percent": 10}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Free shipping", "effect": "free_shipping"}),
    )
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 3).await;
    with_code(&s, &user, "TEN").await;
    let body = checkout(&s, &user, "standard").expect(201).await;
    assert_eq!(
        body["payment"]["status"], "pending",
        "the simulator checks Σ item_details = gross_amount: {body}"
    );
    let order = &body["order"];
    assert_eq!(order["discount_total"], 9_999);
    assert_eq!(order["shipping_discount"], 15_000);
    assert_eq!(order["grand_total"], 99_999 - 9_999);
    assert_order_adds_up(&s.app, order).await;
}

#[tokio::test]
async fn staff_manage_promotions_and_bad_input_names_every_field() {
    let s = shop().await;
    let body = s
        .app
        .by(&s.admin)
        .post(
            "/api/v1/admin/promotions",
            &json!({"name": "", "code": "a b", "effect": "order_percent", "percent": 150, "amount": 5,
                "category_ids": [Uuid::nil()], "starts_at": "2027-01-02T00:00:00Z",
                "ends_at": "2027-01-01T00:00:00Z", "usage_limit": 0}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "amount",
            "category_ids[0]",
            "code",
            "ends_at",
            "name",
            "percent",
            "product_ids",
            "usage_limit"
        ]
    );
    let none: i64 = sqlx::query_scalar("select count(*) from promotions")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(none, 0);

    let promotion = create_promotion(
        &s,
        json!({"name": "Weekend", "code": "WEEKEND", "effect": "order_fixed", "amount": 5_000}),
    )
    .await;
    let id = promotion["id"].as_str().unwrap();
    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/promotions",
            &json!({"name": "Copy", "code": "weekend", "effect": "order_fixed", "amount": 1}),
        )
        .expect_problem(409, "promotion_code_taken")
        .await;

    let changed = patch_promotion(
        &s,
        id,
        json!({"usage_limit": 10, "ends_at": "2030-01-01T00:00:00Z", "name": "Long weekend"}),
    )
    .await;
    assert_eq!(
        (&changed["usage_limit"], &changed["name"]),
        (&json!(10), &json!("Long weekend"))
    );
    let cleared = patch_promotion(&s, id, json!({"usage_limit": null})).await;
    assert!(cleared["usage_limit"].is_null());

    // Redeemed: deleting is refused, disabling works.
    let shirt = variant(&s, "SHIRT", 100_000).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    with_code(&s, &user, "WEEKEND").await;
    place_order(&s, &user, "standard").await;
    s.app
        .by(&s.admin)
        .delete(&format!("/api/v1/admin/promotions/{id}"))
        .expect_problem(409, "promotion_in_use")
        .await;
    let disabled = patch_promotion(&s, id, json!({"enabled": false})).await;
    assert_eq!(disabled["enabled"], false);

    let unused = create_promotion(
        &s,
        json!({"name": "Unused", "effect": "order_fixed", "amount": 1}),
    )
    .await;
    s.app
        .by(&s.admin)
        .delete(&format!(
            "/api/v1/admin/promotions/{}",
            unused["id"].as_str().unwrap()
        ))
        .expect(204)
        .await;
    let listed: Value = s
        .app
        .by(&s.admin)
        .get("/api/v1/admin/promotions")
        .expect(200)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn guest_carts_get_promotions_for_everyone_but_not_those_for_signed_in_customers() {
    let s = shop().await;
    let shirt = variant(&s, "SHIRT", 100_000).await;
    create_promotion(
        &s,
        json!({"name": "Members", "code": "MEMBERS", "effect": "order_percent", "percent": 5,
        "eligibility": "signed_in"}),
    )
    .await;
    create_promotion(
        &s,
        json!({"name": "Everyone", "effect": "order_fixed", "amount": 1_000}),
    )
    .await;
    let guest: Value = s
        .app
        .anonymous()
        .post("/api/v1/carts", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token = guest["cart_token"].as_str().unwrap();
    let visitor = s.app.anonymous();
    visitor
        .post(
            "/api/v1/cart/items",
            &json!({"variant_id": shirt, "quantity": 1}),
        )
        .header("x-cart-token", token)
        .expect(200)
        .await;
    let cart = visitor
        .post("/api/v1/cart/promotions", &json!({"code": "members"}))
        .header("x-cart-token", token)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(rejected(&cart), ("MEMBERS", "not_eligible"));
    assert_eq!(cart["discount_total"], 1_000);

    // Signing in merges the cart and its code, which now applies.
    let user = s.app.register_customer().await;
    s.app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": user.password}),
        )
        .header("x-cart-token", token)
        .expect(200)
        .await;
    let cart = cart_of(&s, &user).await;
    assert_eq!(cart["promotion_code"], "MEMBERS");
    assert!(cart["rejected_code"].is_null(), "{cart}");
    // Same priority: the code first (5% of 100,000), then the automatic one.
    assert_eq!(cart["discount_total"], 5_000 + 1_000);
}

#[tokio::test]
async fn refunds_by_line_give_back_what_was_paid_for_the_units_after_the_discount() {
    let s = shop_with(TestApp::builder().with_midtrans()).await;
    let shirt = variant(&s, "SHIRT", 33_333).await;
    let hat = variant(&s, "HAT", 20_000).await;
    create_promotion(
        &s,
        json!({"name": "Ten percent", "code": "TEN", "effect": "order_percent", "percent": 10}),
    )
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 3).await;
    s.app.add_to_cart(&user, &hat, 1).await;
    with_code(&s, &user, "TEN").await;
    let order = paid_order(&s, &user, "credit_card").await;
    let id = order["id"].as_str().unwrap();
    let line = |sku: &str| {
        order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["sku"] == sku)
            .unwrap()
            .clone()
    };
    let (shirts, hats) = (line("SHIRT"), line("HAT"));
    let paid = |l: &Value| l["line_total"].as_i64().unwrap() - l["discount"].as_i64().unwrap();
    assert!(shirts["discount"].as_i64().unwrap() > 0 && hats["discount"].as_i64().unwrap() > 0);
    let refund = |path: &str, body: Value| {
        s.app
            .by(&s.admin)
            .post(&format!("/api/v1/admin/orders/{id}/{path}"), &body)
            .idempotency_key(&Uuid::new_v4().to_string())
    };
    let units = |l: &Value, quantity: i64| json!([{"line_id": l["id"], "quantity": quantity}]);

    // One shirt of three through Midtrans: a third of what the shirts cost after the discount.
    let resp = refund(
        "refund",
        json!({"lines": units(&shirts, 1), "reason": "returned"}),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let after: Value = resp.json().await.unwrap();
    let one_shirt = paid(&shirts) / 3;
    assert_eq!(after["refunded_amount"], one_shirt);
    // The other two: together exactly what the shirts cost.
    let resp = refund(
        "refund",
        json!({"lines": units(&shirts, 2), "reason": "returned"}),
    )
    .await;
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["refunded_amount"], paid(&shirts));

    // No shirt is left to refund; an amount and lines at once, or a line of another order,
    // are refused field by field.
    let body = refund(
        "refund",
        json!({"lines": [{"line_id": shirts["id"], "quantity": 1}, {"line_id": Uuid::nil(), "quantity": 1}],
               "amount": 5, "reason": "again"}),
    ).expect_problem(422, "validation_failed").await;
    let fields = problem_fields(&body);
    assert_eq!(fields, ["amount", "lines[0].quantity", "lines[1].line_id"]);

    // The hat, refunded outside Midtrans: what was paid for it.
    let resp = refund(
        "manual-refunds",
        json!({"lines": units(&hats, 1), "method": "cash", "reference": "STORE-1", "note": "returned at the shop"}),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["refunded_amount"], paid(&shirts) + paid(&hats));
    assert_eq!(
        after["status"], "partially_refunded",
        "shipping was not refunded"
    );
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn concurrent_refunds_of_one_line_never_give_back_more_units_than_were_bought() {
    let s = shop_with(TestApp::builder().with_midtrans()).await;
    let shirt = variant(&s, "SHIRT", 10_000).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 3).await;
    let order = paid_order(&s, &user, "bank_transfer").await;
    let id = order["id"].as_str().unwrap();
    let line = order["lines"][0]["id"].clone();
    let responses = join_all((0..8).map(|i| {
        s.app
            .by(&s.admin)
            .post(
                &format!("/api/v1/admin/orders/{id}/manual-refunds"),
                &json!({"lines": [{"line_id": line, "quantity": 1}], "method": "bank_transfer",
                        "reference": format!("BCA-{i}"), "note": "returned"}),
            )
            .into_future()
    }))
    .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        5,
        "{statuses:?}"
    );
    let units: i64 = sqlx::query_scalar("select sum(quantity)::int8 from refund_lines")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(units, 3);
}
