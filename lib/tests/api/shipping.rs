//! Shipping rates: flat fees until the first zone, zones by country, province and postal
//! prefix (the most specific wins), weight and subtotal brackets, free-shipping thresholds,
//! methods that do not serve an address, and an external rate provider that fails, is slow,
//! or answers.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{json, Value};
use toko_testkit::{
    address, assert_problem, problem_fields, Call, TestApp, TestAppBuilder, TestUser,
};
use uuid::Uuid;

struct Shop {
    app: TestApp,
    admin: TestUser,
    customer: TestUser,
    category: String,
}

impl Shop {
    async fn open(builder: TestAppBuilder) -> Self {
        let app = builder.spawn().await;
        let admin = app.register_admin().await;
        let customer = app.register_customer().await;
        let category = app.create_category_id(&admin, "Goods", None).await;
        Self {
            app,
            admin,
            customer,
            category,
        }
    }

    /// A product whose one variant weighs `weight_grams`; returns the variant id.
    async fn variant(&self, price: i64, weight_grams: i64) -> String {
        let sku = format!("SH-{}", &Uuid::new_v4().simple().to_string()[..10]).to_uppercase();
        let product = self
            .app
            .create_product(
                &self.admin,
                &json!({
                    "name": format!("Parcel {sku}"),
                    "category_id": self.category,
                    "status": "active",
                    "variants": [{ "sku": sku, "price": price, "stock_on_hand": 50,
                                   "weight_grams": weight_grams }]
                }),
            )
            .await;
        product["variants"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn zone(&self, body: Value) -> Value {
        let resp = self
            .app
            .by(&self.admin)
            .post("/api/v1/admin/shipping-zones", &body)
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    /// The customer's shipping options to `query`: method → (fee, free).
    async fn options(&self, query: &str) -> Vec<(String, i64, bool)> {
        let body = self
            .app
            .by(&self.customer)
            .get(&format!("/api/v1/cart/shipping-options?{query}"))
            .expect(200)
            .await;
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["method"].as_str().unwrap().to_owned(),
                    o["fee"].as_i64().unwrap(),
                    o["free"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    fn checkout(&self, address: Value, method: &str) -> Call {
        self.app
            .by(&self.customer)
            .post(
                "/api/v1/checkout",
                &json!({ "shipping_address": address, "shipping_method": method }),
            )
            .idempotency_key(&Uuid::new_v4().to_string())
    }

    /// (on hand, reserved)
    async fn stock(&self, variant_id: &str) -> (i32, i32) {
        sqlx::query_as("select stock_on_hand, stock_reserved from variants where variant_id = $1")
            .bind(Uuid::parse_str(variant_id).unwrap())
            .fetch_one(&self.app.db)
            .await
            .unwrap()
    }

    async fn orders(&self) -> i64 {
        sqlx::query_scalar("select count(*) from orders")
            .fetch_one(&self.app.db)
            .await
            .unwrap()
    }
}

fn address_in(province: &str, postal_code: &str, country_code: &str) -> Value {
    let mut a = address();
    a["province"] = json!(province);
    a["postal_code"] = json!(postal_code);
    a["country_code"] = json!(country_code);
    a
}

fn owned(options: &[(&str, i64, bool)]) -> Vec<(String, i64, bool)> {
    options
        .iter()
        .map(|(m, f, free)| (m.to_string(), *f, *free))
        .collect()
}

#[tokio::test]
async fn without_zones_every_method_ships_everywhere_at_its_flat_fee() {
    let shop = Shop::open(TestApp::builder()).await;
    let variant = shop.variant(100_000, 700).await;
    shop.app.add_to_cart(&shop.customer, &variant, 2).await;

    assert_eq!(
        shop.options("country_code=SG&postal_code=018989").await,
        owned(&[("standard", 15_000, false), ("express", 35_000, false)])
    );
    let order = shop.checkout(address(), "express").expect(201).await;
    assert_eq!(order["order"]["shipping_fee"], 35_000);
}

#[tokio::test]
async fn the_most_specific_zone_prices_the_parcel_by_its_weight_bracket() {
    let shop = Shop::open(TestApp::builder()).await;
    shop.zone(json!({
        "name": "Indonesia",
        "countries": ["ID"],
        "rates": [
            {"method": "standard", "max_weight_grams": 1000, "fee": 10000, "min_days": 3, "max_days": 5},
            {"method": "standard", "min_weight_grams": 1001, "max_weight_grams": 5000, "fee": 22000},
            {"method": "express", "max_weight_grams": 2000, "fee": 40000}
        ]
    }))
    .await;
    let jakarta = shop
        .zone(json!({
            "name": "Jakarta",
            "countries": ["ID"],
            "provinces": ["DKI Jakarta"],
            "rates": [{"method": "standard", "fee": 8000}]
        }))
        .await;
    assert_eq!(jakarta["provinces"], json!(["dki jakarta"]));
    shop.zone(json!({
        "name": "Central Jakarta",
        "countries": ["ID"],
        "postal_prefixes": ["101"],
        "rates": [{"method": "standard", "fee": 5000}, {"method": "express", "fee": 12000}]
    }))
    .await;
    let variant = shop.variant(50_000, 750).await;
    shop.app.add_to_cart(&shop.customer, &variant, 2).await; // 1.5 kg

    // Bali: only the country zone matches; 1.5 kg is in standard's second bracket.
    assert_eq!(
        shop.options("country_code=ID&province=Bali&postal_code=80361")
            .await,
        owned(&[("standard", 22_000, false), ("express", 40_000, false)])
    );
    // South Jakarta: the province zone wins and offers standard only.
    assert_eq!(
        shop.options("country_code=ID&province=dki%20jakarta&postal_code=12160")
            .await,
        owned(&[("standard", 8_000, false)])
    );
    // Central Jakarta: the postal prefix is more specific than the province.
    assert_eq!(
        shop.options("country_code=ID&province=DKI%20Jakarta&postal_code=10110")
            .await,
        owned(&[("standard", 5_000, false), ("express", 12_000, false)])
    );
    // Nothing ships to Singapore once zones exist.
    assert!(shop
        .options("country_code=SG&postal_code=018989")
        .await
        .is_empty());

    // Checkout charges the quote, and refuses a method that does not serve the address,
    // naming what does, without writing anything.
    let south_jakarta = address_in("DKI Jakarta", "12160", "ID");
    let body = shop
        .checkout(south_jakarta.clone(), "express")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "shipping_method");
    assert_eq!(
        body["errors"][0]["message"],
        "is not available for this address; available: standard"
    );
    let body = shop
        .checkout(address_in("Central", "018989", "SG"), "standard")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "no shipping method serves this address"
    );
    assert_eq!(shop.orders().await, 0);
    assert_eq!(shop.stock(&variant).await, (50, 0));

    let order = shop.checkout(south_jakarta, "standard").expect(201).await;
    assert_eq!(order["order"]["shipping_fee"], 8_000);
    assert_eq!(order["order"]["grand_total"], 100_000 + 8_000);

    // Heavier than every express bracket: express is not offered in Bali.
    shop.app.add_to_cart(&shop.customer, &variant, 4).await; // 3 kg
    assert_eq!(
        shop.options("country_code=ID&province=Bali&postal_code=80361")
            .await,
        owned(&[("standard", 22_000, false)])
    );
}

#[tokio::test]
async fn a_free_shipping_threshold_compares_the_subtotal_before_discounts() {
    let shop = Shop::open(TestApp::builder()).await;
    shop.zone(json!({
        "name": "Indonesia",
        "countries": ["ID"],
        "rates": [
            {"method": "standard", "fee": 15000, "free_from": 300000},
            {"method": "express", "fee": 30000, "min_subtotal": 100000}
        ]
    }))
    .await;
    shop.app
        .by(&shop.admin)
        .post(
            "/api/v1/admin/promotions",
            &json!({"name": "Ten off", "code": "TENOFF", "effect": "order_percent", "percent": 10}),
        )
        .expect(201)
        .await;
    let variant = shop.variant(100_000, 100).await;
    shop.app.add_to_cart(&shop.customer, &variant, 2).await;
    assert_eq!(
        shop.options("country_code=ID").await,
        owned(&[("standard", 15_000, false), ("express", 30_000, false)])
    );

    shop.app.add_to_cart(&shop.customer, &variant, 1).await; // 300,000
    shop.app
        .by(&shop.customer)
        .post("/api/v1/cart/promotions", &json!({"code": "TENOFF"}))
        .expect(200)
        .await;
    assert_eq!(
        shop.options("country_code=ID").await,
        owned(&[("standard", 0, true), ("express", 30_000, false)]),
        "300,000 reaches the threshold although 270,000 is paid for the goods"
    );
    let order = shop.checkout(address(), "standard").expect(201).await;
    assert_eq!(order["order"]["shipping_fee"], 0);
    assert_eq!(order["order"]["grand_total"], 270_000);
}

#[tokio::test]
async fn zones_are_validated_field_by_field_replaced_whole_and_deleted() {
    let shop = Shop::open(TestApp::builder()).await;
    let body = shop.app.by(&shop.admin).post("/api/v1/admin/shipping-zones", &json!({
                "name": " ",
                "countries": ["id", "IDN"],
                "postal_prefixes": ["10-1", "#"],
                "rates": [
                    {"method": "teleport", "fee": -1},
                    {"method": "standard", "min_weight_grams": 500, "max_weight_grams": 100, "fee": 1,
                     "min_days": 5, "max_days": 2}
                ]
            })).expect_problem(422, "validation_failed").await;
    let fields = problem_fields(&body);
    assert_eq!(
        fields,
        [
            "name",
            "countries[0]",
            "postal_prefixes[1]",
            "rates[0].method",
            "rates[0].fee",
            "rates[1].max_weight_grams",
            "rates[1].max_days"
        ]
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from shipping_zones")
            .fetch_one(&shop.app.db)
            .await
            .unwrap(),
        0
    );

    let zone = shop
        .zone(
            json!({"name": "Java", "countries": ["ID"], "postal_prefixes": ["10-1"],
                     "rates": [{"method": "standard", "fee": 9000}]}),
        )
        .await;
    assert_eq!(zone["postal_prefixes"], json!(["101"]));
    let path = format!(
        "/api/v1/admin/shipping-zones/{}",
        zone["id"].as_str().unwrap()
    );
    let replaced = shop
        .app
        .by(&shop.admin)
        .put(
            &path,
            &json!({"name": "Java", "countries": ["ID"],
                    "rates": [{"method": "express", "fee": 20000}]}),
        )
        .await;
    assert_eq!(replaced.status(), 200);
    let got: Value = shop.app.by(&shop.admin).get(&path).expect(200).await;
    assert_eq!(got["postal_prefixes"], json!([]));
    assert_eq!(got["rates"].as_array().unwrap().len(), 1);
    assert_eq!(got["rates"][0]["method"], "express");

    shop.app.by(&shop.admin).delete(&path).expect(204).await;
    shop.app
        .by(&shop.admin)
        .delete(&path)
        .expect_problem(404, "not_found")
        .await;
}

#[tokio::test]
async fn a_quote_needs_a_country_and_names_every_bad_part() {
    let shop = Shop::open(TestApp::builder()).await;
    let body = shop
        .app
        .by(&shop.customer)
        .get("/api/v1/cart/shipping-options?postal_code=%23%23")
        .expect_problem(422, "validation_failed")
        .await;
    let fields = problem_fields(&body);
    assert_eq!(fields, ["country_code", "postal_code"]);
    // An empty cart has nothing to ship.
    assert!(shop.options("country_code=ID").await.is_empty());
}

/// How the stand-in courier service behaves.
#[derive(Clone, Copy)]
enum Courier {
    Answers,
    Fails,
    Hangs,
}

/// The courier's behaviour and the requests it received.
type CourierState = (Arc<Mutex<Courier>>, Arc<Mutex<Vec<Value>>>);

/// A courier rate service on a free port; returns its URL and the requests it received.
async fn courier(mode: Arc<Mutex<Courier>>) -> (String, Arc<Mutex<Vec<Value>>>) {
    use poem::{handler, post, web::Json, EndpointExt, Route};
    let received = Arc::new(Mutex::new(Vec::new()));

    #[handler]
    async fn rates(
        Json(request): Json<Value>,
        poem::web::Data(state): poem::web::Data<&CourierState>,
    ) -> poem::Response {
        state.1.lock().unwrap().push(request.clone());
        let mode = *state.0.lock().unwrap();
        match mode {
            Courier::Answers => {
                let heavy = request["weight_grams"].as_i64().unwrap() > 1000;
                poem::Response::builder().content_type("application/json").body(
                    json!({"rates": [
                        {"method": "express", "fee": if heavy { 41000 } else { 21000 }, "min_days": 1, "max_days": 1},
                        {"method": "standard", "fee": 9000},
                        {"method": "cargo-ship", "fee": 1}
                    ]})
                    .to_string(),
                )
            }
            Courier::Fails => poem::Response::builder()
                .status(poem::http::StatusCode::BAD_GATEWAY)
                .body("upstream down"),
            Courier::Hangs => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                poem::Response::builder().body("too late")
            }
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = Route::new()
        .at("/rates", post(rates))
        .data((mode, received.clone()));
    tokio::spawn(
        poem::Server::new(poem::listener::TcpListener::bind(format!(
            "127.0.0.1:{port}"
        )))
        .run(app),
    );
    // Ready once it accepts a connection.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (format!("http://127.0.0.1:{port}/rates"), received)
}

#[tokio::test]
async fn a_rate_provider_prices_the_shop_methods_and_its_failure_falls_back_to_the_table() {
    let mode = Arc::new(Mutex::new(Courier::Answers));
    let (url, received) = courier(mode.clone()).await;
    let shop = Shop::open(
        TestApp::builder()
            .setting("SHIPPING_RATE_PROVIDER_URL", &url)
            .setting("SHIPPING_RATE_PROVIDER_TIMEOUT", "300ms"),
    )
    .await;
    let variant = shop.variant(80_000, 600).await;
    shop.app.add_to_cart(&shop.customer, &variant, 2).await;

    // The courier's rates, for the shop's own methods only, in the shop's order.
    assert_eq!(
        shop.options("country_code=ID&province=Jawa%20Barat&postal_code=40-111")
            .await,
        owned(&[("standard", 9_000, false), ("express", 41_000, false)])
    );
    let request = received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        request,
        json!({
            "destination": {"country_code": "ID", "province": "jawa barat", "postal_code": "40111"},
            "weight_grams": 1200,
            "subtotal": 160_000,
            "methods": ["standard", "express"]
        })
    );
    let order = shop.checkout(address(), "express").expect(201).await;
    assert_eq!(order["order"]["shipping_fee"], 41_000);

    // Failing or hanging: the table (no zones: the flat fees) answers, within the timeout.
    shop.app.add_to_cart(&shop.customer, &variant, 1).await;
    for failure in [Courier::Fails, Courier::Hangs] {
        *mode.lock().unwrap() = failure;
        assert_eq!(
            shop.options("country_code=ID").await,
            owned(&[("standard", 15_000, false), ("express", 35_000, false)])
        );
    }
    let order = shop.checkout(address(), "standard").expect(201).await;
    assert_eq!(order["order"]["shipping_fee"], 15_000);
}

#[tokio::test]
async fn a_failing_rate_provider_set_to_refuse_stops_checkout_cleanly() {
    let mode = Arc::new(Mutex::new(Courier::Hangs));
    let (url, _) = courier(mode.clone()).await;
    let shop = Shop::open(
        TestApp::builder()
            .setting("SHIPPING_RATE_PROVIDER_URL", &url)
            .setting("SHIPPING_RATE_PROVIDER_TIMEOUT", "300ms")
            .setting("SHIPPING_RATE_PROVIDER_FALLBACK", "refuse"),
    )
    .await;
    let variant = shop.variant(80_000, 600).await;
    shop.app.add_to_cart(&shop.customer, &variant, 2).await;

    for failure in [Courier::Hangs, Courier::Fails] {
        *mode.lock().unwrap() = failure;
        let refused = shop.checkout(address(), "standard").await;
        assert_eq!(
            refused.headers()["retry-after"].to_str().unwrap(),
            "5",
            "a retry may succeed"
        );
        assert_problem(refused, 503, "shipping_rates_unavailable").await;
    }
    assert_eq!(shop.orders().await, 0);
    assert_eq!(shop.stock(&variant).await, (50, 0));
    let cart: Value = shop
        .app
        .by(&shop.customer)
        .get("/api/v1/cart")
        .expect(200)
        .await;
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "the cart is kept"
    );

    *mode.lock().unwrap() = Courier::Answers;
    shop.checkout(address(), "standard").expect(201).await;
}
