//! Carts: customers' carts, guest carts with tokens, the merge at login, limits and owners.

use reqwest::Method;
use serde_json::{json, Value};
use toko_testkit::{TestApp, TestUser};

struct Fixture {
    app: TestApp,
    admin: TestUser,
    category: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::builder()
        .setting("CART_MAX_LINE_QUANTITY", "5")
        .spawn()
        .await;
    let admin = app.register_admin().await;
    let category = app.create_category_id(&admin, "Mugs", None).await;
    Fixture {
        app,
        admin,
        category,
    }
}

impl Fixture {
    async fn variant(&self, sku: &str, price: i64, stock: i64) -> String {
        self.app
            .create_simple_variant(
                &self.admin,
                &self.category,
                &format!("Product {sku}"),
                sku,
                price,
                stock,
            )
            .await
    }
}

#[tokio::test]
async fn a_customer_cart_is_created_lazily_and_totals_are_computed_by_the_server() {
    let f = fixture().await;
    let mug = f.variant("MUG", 25_000, 10).await;
    let cup = f.variant("CUP", 10_000, 10).await;
    let user = f.app.register_customer().await;

    let empty: Value = f.app.by(&user).get("/api/v1/cart").expect(200).await;
    assert_eq!(
        (empty["item_count"].as_i64(), empty["subtotal"].as_i64()),
        (Some(0), Some(0))
    );

    f.app.add_to_cart(&user, &mug, 2).await;
    f.app.add_to_cart(&user, &cup, 1).await;
    let cart = f.app.add_to_cart(&user, &mug, 1).await;
    assert_eq!(cart["id"], empty["id"], "the same open cart");
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        2,
        "adding the same variant adds to its line"
    );
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["items"][0]["line_total"], 75_000);
    assert_eq!(cart["item_count"], 4);
    assert_eq!(cart["subtotal"], 85_000);
    assert_eq!(cart["currency"], "IDR");

    let item = cart["items"][1]["id"].as_str().unwrap();
    let cart: Value = f
        .app
        .by(&user)
        .patch(
            &format!("/api/v1/cart/items/{item}"),
            &json!({"quantity": 4}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["subtotal"], 115_000);
    let cart: Value = f
        .app
        .by(&user)
        .patch(
            &format!("/api/v1/cart/items/{item}"),
            &json!({"quantity": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "quantity 0 removes the line"
    );
    let mug_item = cart["items"][0]["id"].as_str().unwrap();
    let cart: Value = f
        .app
        .by(&user)
        .delete(&format!("/api/v1/cart/items/{mug_item}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["item_count"], 0);

    f.app.add_to_cart(&user, &cup, 2).await;
    let cart: Value = f
        .app
        .by(&user)
        .delete("/api/v1/cart")
        .await
        .json()
        .await
        .unwrap();
    assert!(cart["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn stock_limits_and_unavailable_products_are_conflicts() {
    let f = fixture().await;
    let scarce = f.variant("SCARCE", 5_000, 3).await;
    let user = f.app.register_customer().await;
    let add = |variant: &str, quantity: i64| {
        f.app.by(&user).post(
            "/api/v1/cart/items",
            &json!({"variant_id": variant, "quantity": quantity}),
        )
    };
    let body = add(&scarce, 4)
        .expect_problem(409, "insufficient_stock")
        .await;
    assert_eq!(body["available_quantity"], 3);
    f.app.add_to_cart(&user, &scarce, 2).await;
    let body = add(&scarce, 2)
        .expect_problem(409, "insufficient_stock")
        .await;
    assert_eq!(body["available_quantity"], 3);

    let body = add(&scarce, 0)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "quantity");
    let plenty = f.variant("PLENTY", 5_000, 100).await;
    add(&plenty, 6)
        .expect_problem(422, "validation_failed")
        .await;
    let body = add("00000000-0000-0000-0000-000000000000", 1)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "variant_id");

    let draft = f.app.create_product(&f.admin, &json!({
        "name": "Draft Mug", "category_id": f.category, "variants": [{"sku": "DRAFT-MUG", "price": 1, "stock_on_hand": 5}]
    })).await;
    let draft_variant = draft["variants"][0]["id"].as_str().unwrap();
    add(draft_variant, 1)
        .expect_problem(409, "variant_unavailable")
        .await;
}

#[tokio::test]
async fn guest_carts_work_with_a_token_and_merge_into_the_customer_cart_at_login() {
    let f = fixture().await;
    let a = f.variant("MERGE-A", 10_000, 3).await;
    let b = f.variant("MERGE-B", 20_000, 10).await;
    let user = f.app.register_customer().await;
    f.app.add_to_cart(&user, &a, 2).await;

    let guest = f
        .app
        .anonymous()
        .request(Method::POST, "/api/v1/carts")
        .expect(201)
        .await;
    let token = guest["cart_token"].as_str().unwrap().to_owned();
    for (variant, quantity) in [(&a, 2), (&b, 1)] {
        f.app
            .anonymous()
            .post(
                "/api/v1/cart/items",
                &json!({"variant_id": variant, "quantity": quantity}),
            )
            .header("x-cart-token", &token)
            .expect(200)
            .await;
    }
    let cart: Value = f
        .app
        .anonymous()
        .get("/api/v1/cart")
        .header("x-cart-token", &token)
        .expect(200)
        .await;
    assert_eq!(cart["item_count"], 3);

    f.app
        .anonymous()
        .get("/api/v1/cart")
        .header("x-cart-token", "bogus")
        .expect_problem(404, "cart_not_found")
        .await;
    f.app
        .anonymous()
        .get("/api/v1/cart")
        .expect_problem(401, "unauthorized")
        .await;

    // Log in with the guest token: 2 + 2 of A capped at the 3 available, B added.
    f.app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": user.password}),
        )
        .header("x-cart-token", &token)
        .expect(200)
        .await;
    let merged: Value = f.app.by(&user).get("/api/v1/cart").expect(200).await;
    let lines: Vec<(&str, i64)> = merged["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["sku"].as_str().unwrap(), i["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines, vec![("MERGE-A", 3), ("MERGE-B", 1)]);
    f.app
        .anonymous()
        .get("/api/v1/cart")
        .header("x-cart-token", &token)
        .expect_problem(404, "cart_not_found")
        .await;

    // Registering with a guest token merges too.
    let second = f
        .app
        .anonymous()
        .request(Method::POST, "/api/v1/carts")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let token = second["cart_token"].as_str().unwrap();
    f.app
        .anonymous()
        .post(
            "/api/v1/cart/items",
            &json!({"variant_id": b, "quantity": 2}),
        )
        .header("x-cart-token", token)
        .await;
    let resp = f.app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "newbie@example.com", "password": "correct horse battery", "name": "N"}),
        )
        .header("x-cart-token", token)
        .await;
    let session: Value = resp.json().await.unwrap();
    let cart: Value = f
        .app
        .with_token(session["tokens"]["access_token"].as_str().unwrap())
        .get("/api/v1/cart")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["item_count"], 2);
}

#[tokio::test]
async fn a_customer_cannot_touch_another_customers_cart_items() {
    let f = fixture().await;
    let mug = f.variant("IDOR-MUG", 1_000, 10).await;
    let alice = f.app.register_customer().await;
    let bob = f.app.register_customer().await;
    let cart = f.app.add_to_cart(&alice, &mug, 1).await;
    let item = cart["items"][0]["id"].as_str().unwrap();

    f.app
        .by(&bob)
        .patch(
            &format!("/api/v1/cart/items/{item}"),
            &json!({"quantity": 3}),
        )
        .expect_problem(404, "not_found")
        .await;
    f.app
        .by(&bob)
        .delete(&format!("/api/v1/cart/items/{item}"))
        .expect_problem(404, "not_found")
        .await;
    let bobs: Value = f.app.by(&bob).get("/api/v1/cart").expect(200).await;
    assert_ne!(bobs["id"], cart["id"]);
    let alices: Value = f.app.by(&alice).get("/api/v1/cart").expect(200).await;
    assert_eq!(alices["items"][0]["quantity"], 1);
}
