//! The address book: saved addresses with one default, used by shipping quotes and checkout
//! by id or as the default; every bad field named at once; other customers' addresses are
//! invisible; the book's limit and its single default hold under concurrent requests.

use reqwest::Method;
use serde_json::{json, Value};
use std::future::IntoFuture;
use toko_testkit::{address, problem_fields, Call, TestApp, TestUser};

struct Book {
    app: TestApp,
    customer: TestUser,
    variant: String,
}

impl Book {
    /// A shop shipping standard parcels to Jakarta for 8,000 and elsewhere in Indonesia for
    /// 10,000, and a customer with one item in the cart.
    async fn open() -> Self {
        let app = TestApp::spawn().await;
        let (admin, variant) = app.admin_with_product("ADDR-1", 100_000, 50).await;
        for zone in [
            json!({"name": "Indonesia", "countries": ["ID"],
                   "rates": [{"method": "standard", "fee": 10000}]}),
            json!({"name": "Jakarta", "countries": ["ID"], "provinces": ["DKI Jakarta"],
                   "rates": [{"method": "standard", "fee": 8000}]}),
        ] {
            app.by(&admin)
                .post("/api/v1/admin/shipping-zones", &zone)
                .expect(201)
                .await;
        }
        let customer = app.register_customer().await;
        app.add_to_cart(&customer, &variant, 1).await;
        Self {
            app,
            customer,
            variant,
        }
    }

    fn save(&self, user: &TestUser, body: Value) -> Call {
        self.app.by(user).post("/api/v1/me/addresses", &body)
    }

    /// Saves an address for the customer; returns it as the API shows it.
    async fn saved(&self, body: Value) -> Value {
        let resp = self.save(&self.customer, body).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    /// The customer's addresses: (label, is_default), oldest first.
    async fn labels(&self) -> Vec<(String, bool)> {
        let body = self
            .app
            .by(&self.customer)
            .get("/api/v1/me/addresses")
            .expect(200)
            .await;
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["label"].as_str().unwrap_or_default().to_owned(),
                    a["is_default"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    fn quote(&self, user: &TestUser, query: &str) -> Call {
        self.app
            .by(user)
            .get(&format!("/api/v1/cart/shipping-options?{query}"))
    }

    /// The standard fee the customer is quoted for `query`.
    async fn standard_fee(&self, query: &str) -> i64 {
        let body = self.quote(&self.customer, query).expect(200).await;
        body["items"][0]["fee"].as_i64().unwrap()
    }

    fn checkout(&self, user: &TestUser, body: Value, key: &str) -> Call {
        self.app
            .by(user)
            .post("/api/v1/checkout", &body)
            .idempotency_key(key)
    }

    async fn orders(&self) -> i64 {
        sqlx::query_scalar("select count(*) from orders")
            .fetch_one(&self.app.db)
            .await
            .unwrap()
    }
}

fn bandung() -> Value {
    json!({
        "recipient_name": "Siti Rahma",
        "phone": "0227654321",
        "line1": "Jl. Asia Afrika 8",
        "city": "Bandung",
        "province": "Jawa Barat",
        "postal_code": "40111",
        "country_code": "ID"
    })
}

#[tokio::test]
async fn checkout_and_quotes_ship_to_the_default_address_or_the_one_named() {
    let book = Book::open().await;
    // The first address is the default even when not asked; a later one may take over.
    let home = book
        .saved(json!({"label": "  Home ", "address": address()}))
        .await;
    assert_eq!(home["label"], "Home");
    assert_eq!(home["is_default"], true);
    let office = book
        .saved(json!({"label": "Office", "address": bandung(), "is_default": true}))
        .await;
    assert_eq!(
        book.labels().await,
        [("Home".to_owned(), false), ("Office".to_owned(), true)]
    );

    // Quotes: the default (Bandung), the one named (Jakarta), or the parts given.
    assert_eq!(book.standard_fee("").await, 10_000);
    let home_id = home["id"].as_str().unwrap();
    assert_eq!(
        book.standard_fee(&format!("address_id={home_id}")).await,
        8_000
    );
    assert_eq!(
        book.standard_fee("country_code=ID&province=DKI%20Jakarta")
            .await,
        8_000
    );

    // Checkout with neither address nor id ships to the default address.
    let placed = book
        .checkout(
            &book.customer,
            json!({"shipping_method": "standard"}),
            "by-default",
        )
        .expect(201)
        .await;
    assert_eq!(placed["order"]["shipping_address"], office["address"]);
    assert_eq!(placed["order"]["shipping_fee"], 10_000);

    // By id; and editing the address later leaves the order's copy alone.
    book.app.add_to_cart(&book.customer, &book.variant, 1).await;
    let placed = book
        .checkout(
            &book.customer,
            json!({"address_id": home_id, "shipping_method": "standard"}),
            "by-id",
        )
        .expect(201)
        .await;
    assert_eq!(placed["order"]["shipping_address"], address());
    assert_eq!(placed["order"]["shipping_fee"], 8_000);
    let mut moved = address();
    moved["line1"] = json!("Jl. Thamrin 1");
    let replaced = book
        .app
        .by(&book.customer)
        .put(
            &format!("/api/v1/me/addresses/{home_id}"),
            &json!({"label": "Home", "address": moved}),
        )
        .expect(200)
        .await;
    assert_eq!(replaced["address"]["line1"], "Jl. Thamrin 1");
    assert_eq!(replaced["is_default"], false);
    let order_id = placed["order"]["id"].as_str().unwrap();
    let order = book
        .app
        .by(&book.customer)
        .get(&format!("/api/v1/orders/{order_id}"))
        .expect(200)
        .await;
    assert_eq!(order["shipping_address"]["line1"], "Jl. Merdeka No. 10");
    book.app.assert_consistent().await;
}

#[tokio::test]
async fn every_bad_field_of_an_address_is_named_and_nothing_is_saved() {
    let book = Book::open().await;
    let mut bad = address();
    bad["phone"] = json!("call me");
    bad["postal_code"] = json!("1");
    bad["country_code"] = json!("id");
    bad["recipient_name"] = json!("  ");
    let problem = book
        .save(
            &book.customer,
            json!({"label": "x".repeat(51), "address": bad}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        problem_fields(&problem),
        [
            "address.recipient_name",
            "address.phone",
            "address.postal_code",
            "address.country_code",
            "label"
        ]
    );
    assert!(book.labels().await.is_empty());
}

#[tokio::test]
async fn checkout_without_an_address_or_with_a_wrong_one_is_refused_before_anything_is_written() {
    let book = Book::open().await;
    let other = book.app.register_customer().await;
    let theirs: Value = book
        .save(&other, json!({"address": bandung()}))
        .await
        .json()
        .await
        .unwrap();
    let their_id = theirs["id"].as_str().unwrap();

    // No address and no default: the problem names the address (and every other bad field).
    let problem = book
        .checkout(
            &book.customer,
            json!({"shipping_method": "teleport"}),
            "none",
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        problem_fields(&problem),
        ["shipping_address", "shipping_method"]
    );

    // Someone else's address is not in this customer's book.
    let problem = book
        .checkout(
            &book.customer,
            json!({"address_id": their_id, "shipping_method": "standard"}),
            "theirs",
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["address_id"]);
    let problem = book
        .quote(&book.customer, &format!("address_id={their_id}"))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["address_id"]);

    // An address and an id at once is ambiguous.
    let mine = book.saved(json!({"address": address()})).await;
    let problem = book
        .checkout(
            &book.customer,
            json!({"address_id": mine["id"], "shipping_address": address(),
                   "shipping_method": "standard"}),
            "both",
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["address_id"]);
    book.quote(
        &book.customer,
        &format!(
            "address_id={}&country_code=ID",
            mine["id"].as_str().unwrap()
        ),
    )
    .expect_problem(422, "validation_failed")
    .await;

    // A guest cart has no address book.
    let guest = book
        .app
        .anonymous()
        .request(Method::POST, "/api/v1/carts")
        .expect(201)
        .await;
    let problem = book
        .app
        .anonymous()
        .get(&format!(
            "/api/v1/cart/shipping-options?address_id={}",
            mine["id"].as_str().unwrap()
        ))
        .header("x-cart-token", guest["cart_token"].as_str().unwrap())
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["address_id"]);

    assert_eq!(book.orders().await, 0);
}

#[tokio::test]
async fn another_customers_address_cannot_be_read_changed_or_deleted() {
    let book = Book::open().await;
    let mine = book.saved(json!({"address": address()})).await;
    let path = format!("/api/v1/me/addresses/{}", mine["id"].as_str().unwrap());
    let other = book.app.register_customer().await;
    let as_other = book.app.by(&other);
    for request in [
        as_other.get(&path),
        as_other.put(&path, &json!({"address": bandung()})),
        as_other.delete(&path),
    ] {
        request.expect_problem(404, "not_found").await;
    }
    let unchanged = book.app.by(&book.customer).get(&path).expect(200).await;
    assert_eq!(unchanged, mine);
}

#[tokio::test]
async fn deleting_the_default_leaves_no_default_and_checkout_then_asks_for_an_address() {
    let book = Book::open().await;
    let home = book
        .saved(json!({"label": "Home", "address": address()}))
        .await;
    book.saved(json!({"label": "Office", "address": bandung()}))
        .await;
    book.app
        .by(&book.customer)
        .delete(&format!(
            "/api/v1/me/addresses/{}",
            home["id"].as_str().unwrap()
        ))
        .expect(204)
        .await;
    assert_eq!(book.labels().await, [("Office".to_owned(), false)]);
    let problem = book
        .checkout(
            &book.customer,
            json!({"shipping_method": "standard"}),
            "no-default",
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["shipping_address"]);
}

#[tokio::test]
async fn the_book_holds_twenty_addresses_and_one_default_under_concurrent_writes() {
    let book = Book::open().await;
    let mut ids = Vec::new();
    for i in 0..19 {
        let saved = book
            .saved(json!({"label": format!("A{i}"), "address": address()}))
            .await;
        ids.push(saved["id"].as_str().unwrap().to_owned());
    }

    // Eight saves race for the last place: one wins, the rest find the book full.
    let saves = (0..8).map(|i| {
        book.save(
            &book.customer,
            json!({"label": format!("Race {i}"), "address": bandung(), "is_default": true}),
        )
        .into_future()
    });
    let statuses: Vec<u16> = futures::future::join_all(saves)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    book.save(&book.customer, json!({"address": address()}))
        .expect_problem(409, "address_book_full")
        .await;

    // Ten addresses made the default at once: every request succeeds, one default remains.
    let defaults = ids.iter().take(10).map(|id| {
        book.app
            .by(&book.customer)
            .put(
                &format!("/api/v1/me/addresses/{id}"),
                &json!({"address": address(), "is_default": true}),
            )
            .expect(200)
    });
    futures::future::join_all(defaults).await;
    let labels = book.labels().await;
    assert_eq!(labels.len(), 20);
    assert_eq!(labels.iter().filter(|(_, default)| *default).count(), 1);
}
