//! Tax: prices that include it (the tax is shown, the amounts do not change) or exclude it
//! (added per line, rounded half up, shipping included), exempt and staff-defined classes,
//! Midtrans items that still sum to the gross amount, and refunds and returns that give back
//! the tax that was paid.

use serde_json::{json, Value};
use toko_testkit::{order_line as line, problem_fields, Call, Shop, TestApp, TestUser};
use uuid::Uuid;

/// A goods category to stock per spec, paid through the simulator.
async fn shop(builder: toko_testkit::TestAppBuilder) -> Shop {
    Shop::on(builder.with_midtrans())
        .category("goods", "Goods", None)
        .open()
        .await
}

fn as_admin(s: &Shop, method: reqwest::Method, path: &str, body: Value) -> Call {
    s.app.by(&s.admin).request(method, path).json(&body)
}

/// A product with one variant, in `class` (standard when `None`); returns the variant id.
async fn variant(s: &Shop, sku: &str, price: i64, class: Option<&str>) -> String {
    let product = s
        .app
        .create_simple_product(
            &s.admin,
            &s.categories["goods"],
            &format!("Item {sku}"),
            sku,
            price,
            100,
        )
        .await;
    if let Some(class) = class {
        as_admin(
            s,
            reqwest::Method::PUT,
            &format!(
                "/api/v1/admin/products/{}/tax-class",
                product["id"].as_str().unwrap()
            ),
            json!({ "tax_class": class }),
        )
        .expect(200)
        .await;
    }
    product["variants"][0]["id"].as_str().unwrap().to_owned()
}

async fn place_order(s: &Shop, user: &TestUser) -> Value {
    s.app.place_order(user).await
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

/// The tax lines add up to the order's tax and each says what it is levied on.
fn assert_tax_lines_add_up(order: &Value) {
    let lines = order["tax_lines"].as_array().unwrap();
    let sum: i64 = lines.iter().map(|t| int(&t["tax_amount"])).sum();
    assert_eq!(sum, int(&order["tax_total"]), "{order}");
    let taxed: i64 = lines
        .iter()
        .map(|t| int(&t["taxable_amount"]) + int(&t["tax_amount"]))
        .sum();
    let paid = int(&order["subtotal"]) - int(&order["discount_total"])
        + int(&order["shipping_fee"])
        - int(&order["shipping_discount"])
        + if order["prices_include_tax"] == true {
            0
        } else {
            int(&order["tax_total"])
        };
    assert_eq!(
        taxed, paid,
        "taxable amounts plus tax are what is paid: {order}"
    );
    assert_eq!(paid, int(&order["grand_total"]));
}

#[tokio::test]
async fn prices_that_include_tax_show_it_without_changing_what_is_paid() {
    let s = shop(TestApp::builder()).await;
    let shirt = variant(&s, "SHIRT", 111_000, None).await;
    let rice = variant(&s, "RICE", 50_000, Some("exempt")).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 1).await;
    s.app.add_to_cart(&user, &rice, 2).await;
    let order = place_order(&s, &user).await;

    assert_eq!(order["prices_include_tax"], true);
    // 111,000 with 11% in it: 11,000 is tax; exempt rice has none.
    assert_eq!(line(&order, "SHIRT")["tax"], 11_000);
    assert_eq!(line(&order, "SHIRT")["tax_rate_bp"], 1100);
    assert_eq!(line(&order, "RICE")["tax"], 0);
    assert_eq!(line(&order, "RICE")["tax_class"], "exempt");
    // Shipping 15,000 with 11% in it: 1,486.49 → 1,486.
    assert_eq!(order["shipping_tax"], 1_486);
    assert_eq!(order["tax_total"], 11_000 + 1_486);
    assert_eq!(
        order["grand_total"],
        111_000 + 100_000 + 15_000,
        "the tax is inside the prices"
    );
    assert_tax_lines_add_up(&order);
    s.app.pay_order(&order, Some("credit_card")).await;
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn prices_without_tax_get_it_added_per_line_rounded_half_up_after_discounts() {
    let s = shop(
        TestApp::builder()
            .setting("TAX_PRICES_INCLUDE_TAX", "false")
            .setting("TAX_STANDARD_RATE", "11"),
    )
    .await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/tax-classes",
        json!({"code": "books", "name": "Books", "rate_bp": 1000}),
    )
    .expect(201)
    .await;
    let gadget = variant(&s, "GADGET", 33_333, None).await;
    let pamphlet = variant(&s, "PAMPHLET", 45, Some("books")).await;
    let rice = variant(&s, "RICE", 20_000, Some("exempt")).await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/promotions",
        json!({"name": "Five off", "code": "FIVE", "effect": "order_percent", "percent": 5}),
    )
    .expect(201)
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &gadget, 1).await;
    s.app.add_to_cart(&user, &pamphlet, 1).await;
    s.app.add_to_cart(&user, &rice, 1).await;
    let cart = s
        .app
        .by(&user)
        .post("/api/v1/cart/promotions", &json!({"code": "FIVE"}))
        .expect(200)
        .await;
    let order = place_order(&s, &user).await;

    assert_eq!(order["prices_include_tax"], false);
    // The cart showed the items' tax checkout charged, and a total with it.
    let items_tax: i64 = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| int(&l["tax"]))
        .sum();
    assert_eq!(cart["prices_include_tax"], false);
    assert_eq!(int(&cart["tax_total"]), items_tax);
    assert_eq!(
        int(&cart["total"]),
        int(&order["subtotal"]) - int(&order["discount_total"]) + items_tax
    );
    // Each line: rate × what was paid for it after its share of the discount, half up.
    for (sku, rate) in [("GADGET", 1100), ("PAMPHLET", 1000), ("RICE", 0)] {
        let l = line(&order, sku);
        let base = int(&l["line_total"]) - int(&l["discount"]);
        assert_eq!(
            int(&l["tax"]),
            (2 * base * rate + 10_000) / 20_000,
            "{sku}: {l}"
        );
        assert_eq!(l["tax_rate_bp"], rate);
    }
    // 45 - 2 (its 5%) = 43 at 10%: 4.3 → 4; undiscounted, 4.5 would have been 5.
    assert_eq!(int(&line(&order, "PAMPHLET")["discount"]), 2);
    assert_eq!(line(&order, "PAMPHLET")["tax"], 4);
    assert_eq!(order["shipping_tax"], 1_650, "15,000 at 11%");
    assert_tax_lines_add_up(&order);
    let classes: Vec<&str> = order["tax_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["standard", "books", "exempt", "shipping"]);

    // Midtrans accepts it: the items (with a tax item) sum to the gross amount.
    s.app.pay_order(&order, Some("credit_card")).await;
    let id = order["id"].as_str().unwrap();
    // Refunding every line by units gives back what was paid for them, tax included.
    let lines: Vec<Value> = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"line_id": l["id"], "quantity": l["quantity"]}))
        .collect();
    let after = as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/orders/{id}/refund"),
        json!({"lines": lines, "reason": "all back"}),
    )
    .expect(200)
    .await;
    let shipping_paid = int(&order["shipping_fee"]) - int(&order["shipping_discount"])
        + int(&order["shipping_tax"]);
    assert_eq!(
        int(&after["refunded_amount"]),
        int(&order["grand_total"]) - shipping_paid
    );
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn a_return_of_a_taxed_line_refunds_the_tax_that_was_paid_for_it() {
    let s = shop(TestApp::builder().setting("TAX_PRICES_INCLUDE_TAX", "false")).await;
    let lamp = variant(&s, "LAMP", 99_999, None).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &lamp, 3).await;
    let order = place_order(&s, &user).await;
    s.app.pay_order(&order, Some("gopay")).await;
    let id = order["id"].as_str().unwrap();
    for (to, tracking) in [
        ("processing", None),
        ("shipped", Some("SICEPAT-1")),
        ("delivered", None),
    ] {
        as_admin(
            &s,
            reqwest::Method::POST,
            &format!("/api/v1/admin/orders/{id}/transitions"),
            json!({"to": to, "tracking_number": tracking}),
        )
        .expect(200)
        .await;
    }
    let lamps = line(&order, "LAMP");
    // 299,997 at 11%: 32,999.67 → 33,000 tax, paid 332,997 for three lamps.
    assert_eq!(lamps["tax"], 33_000);
    let r = s
        .app
        .by(&user)
        .post(
            &format!("/api/v1/orders/{id}/returns"),
            &json!({"lines": [{"line_id": lamps["id"], "quantity": 1, "reason": "defective"}]}),
        )
        .expect(201)
        .await;
    let rid = r["id"].as_str().unwrap();
    for (step, body) in [
        ("approve", json!({})),
        (
            "receive",
            json!({"lines": [{"line_id": lamps["id"], "disposition": "write_off"}]}),
        ),
        ("refund", json!({})),
    ] {
        let resp = as_admin(
            &s,
            reqwest::Method::POST,
            &format!("/api/v1/admin/returns/{rid}/{step}"),
            body,
        )
        .await;
        assert_eq!(resp.status(), 200, "{step}: {}", resp.text().await.unwrap());
    }
    let refunded: Value = as_admin(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/admin/returns/{rid}"),
        Value::Null,
    )
    .await
    .json()
    .await
    .unwrap();
    // A third of what the lamps cost with their tax, rounded down (the last lamp carries the rest).
    assert_eq!(refunded["refund_amount"], (299_997 + 33_000) / 3);
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn staff_manage_tax_classes_and_bad_input_names_every_field() {
    let s = shop(TestApp::builder().setting("TAX_STANDARD_RATE", "12")).await;
    let listed: Value = as_admin(
        &s,
        reqwest::Method::GET,
        "/api/v1/admin/tax-classes",
        Value::Null,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["classes"][0]["code"], "standard");
    assert_eq!(
        listed["classes"][0]["rate_bp"], 1200,
        "the standard rate is the setting"
    );
    assert_eq!(listed["prices_include_tax"], true);

    let problem = as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/tax-classes",
        json!({"code": "Bad Code", "name": "", "rate_bp": 10_001}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    let fields = problem_fields(&problem);
    assert_eq!(fields, ["code", "name", "rate_bp"]);
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/tax-classes",
        json!({"code": "luxury", "name": "Luxury goods", "rate_bp": 2000}),
    )
    .expect(201)
    .await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/tax-classes",
        json!({"code": "luxury", "name": "Again", "rate_bp": 1}),
    )
    .expect_problem(409, "tax_class_taken")
    .await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/tax-classes",
        json!({"code": "standard", "name": "Again", "rate_bp": 0}),
    )
    .expect_problem(409, "tax_class_taken")
    .await;
    as_admin(
        &s,
        reqwest::Method::PATCH,
        "/api/v1/admin/tax-classes/standard",
        json!({"rate_bp": 1000}),
    )
    .expect_problem(409, "tax_rate_is_a_setting")
    .await;
    let resp = as_admin(
        &s,
        reqwest::Method::PATCH,
        "/api/v1/admin/tax-classes/luxury",
        json!({"rate_bp": 2500}),
    )
    .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["rate_bp"], 2500);

    let watch = variant(&s, "WATCH", 1_000_000, Some("luxury")).await;
    as_admin(
        &s,
        reqwest::Method::DELETE,
        "/api/v1/admin/tax-classes/luxury",
        Value::Null,
    )
    .expect_problem(409, "tax_class_in_use")
    .await;
    let product: Uuid = sqlx::query_scalar("select product_id from variants where variant_id = $1")
        .bind(Uuid::parse_str(&watch).unwrap())
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    let problem = as_admin(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/admin/products/{product}/tax-class"),
        json!({"tax_class": "nope"}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem["errors"][0]["field"], "tax_class");
    as_admin(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/admin/products/{}/tax-class", Uuid::nil()),
        json!({"tax_class": "exempt"}),
    )
    .expect(404)
    .await;

    // An order taxed at 25% keeps that rate after the class changes.
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &watch, 1).await;
    let order = place_order(&s, &user).await;
    assert_eq!(line(&order, "WATCH")["tax_rate_bp"], 2500);
    assert_eq!(
        line(&order, "WATCH")["tax"],
        200_000,
        "1,000,000 with 25% in it"
    );
    as_admin(
        &s,
        reqwest::Method::PATCH,
        "/api/v1/admin/tax-classes/luxury",
        json!({"rate_bp": 1000}),
    )
    .await;
    let got: Value = s
        .app
        .by(&user)
        .get(&format!("/api/v1/orders/{}", order["id"].as_str().unwrap()))
        .expect(200)
        .await;
    assert_eq!(line(&got, "WATCH")["tax_rate_bp"], 2500);
    as_admin(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/admin/products/{product}/tax-class"),
        json!({"tax_class": "standard"}),
    )
    .await;
    as_admin(
        &s,
        reqwest::Method::DELETE,
        "/api/v1/admin/tax-classes/luxury",
        Value::Null,
    )
    .expect(204)
    .await;
}
