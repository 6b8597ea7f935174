//! The test harness: every test gets the real toko app on a random port, backed by its own
//! fresh Postgres database, and talks to it over HTTP.
//!
//! Databases are cloned from a template that holds the migrated schema (built once per set of
//! migrations), which makes a fresh database cost tens of milliseconds instead of a full
//! migration run. Messaging tests get a RabbitMQ vhost of their own ([`TestBroker`]); email and
//! webhook tests get a real SMTP server ([`SmtpCatcher`]) and webhook endpoint ([`WebhookReceiver`]).
//!
//! A spec reads as a story: a [`Shop`] to start from, requests through [`TestApp::by`] /
//! [`TestApp::anonymous`] that state the answer they expect ([`Call::expect`],
//! [`Call::expect_problem`]), and [`eventually`] for whatever happens asynchronously.

pub mod broker;
pub mod client;
pub mod database;
pub mod elasticsearch;
pub mod poll;
pub mod shop;
pub mod smtp;
pub mod webhooks;

use std::{collections::HashMap, time::Duration};

use serde_json::{json, Value};
use sqlx::PgPool;
use toko::{config::ApiConfig, http, serving::BoundServer};

pub use broker::{TcpProxy, TestBroker};
pub use client::{Call, Client};
pub use database::TestDatabase;
pub use elasticsearch::TestIndex;
pub use poll::{at_least, eventually};
pub use shop::{Shop, ShopBuilder};
pub use smtp::SmtpCatcher;
pub use webhooks::WebhookReceiver;

/// A running app with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    /// `http://127.0.0.1:<metrics port>`: where `/metrics` is served.
    pub metrics_url: String,
    pub db: PgPool,
    pub database: TestDatabase,
    pub client: reqwest::Client,
    pub state: http::AppState,
    /// The Midtrans simulator, when the app was built `with_midtrans`.
    pub sim: Option<midtrans_sim::SimHandle>,
    /// The Elasticsearch index, when the app was built `with_search_index`; removed with the app.
    pub search_index: Option<TestIndex>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The server key the test simulator and app share.
pub const MIDTRANS_KEY: &str = "SB-Mid-server-toko-tests";

/// A signed-in user created through the API.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// The settings every test app starts from; tests override single values.
pub fn default_settings(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", "test-secret-that-is-long-enough-0123456789"),
        ("APP_ENV", "development"),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        // Tests send hundreds of requests from one address; the rate-limit tests turn it on.
        ("RATE_LIMIT_ENABLED", "false"),
        // Catalog reads would lag writes by a notification; the cache tests turn it on.
        ("CATALOG_CACHE_ENTRIES", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Builds a [`TestApp`] with setting overrides.
#[derive(Default)]
pub struct TestAppBuilder {
    overrides: Vec<(String, String)>,
    midtrans: bool,
    midtrans_port: Option<u16>,
    search_index: Option<TestIndex>,
}

impl TestAppBuilder {
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.overrides.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts a Midtrans simulator and points the app at it (notifications included).
    pub fn with_midtrans(mut self) -> Self {
        self.midtrans = true;
        self
    }

    /// Points the app at a simulator that will listen on `port` (started later by the test),
    /// to see how the app copes while Midtrans is unreachable.
    pub fn with_midtrans_at(mut self, port: u16) -> Self {
        self.midtrans_port = Some(port);
        self
    }

    /// Searches with Elasticsearch on `index` instead of PostgreSQL.
    pub fn with_search_index(mut self, index: TestIndex) -> Self {
        self.search_index = Some(index);
        self
    }

    pub async fn spawn(self) -> TestApp {
        init_test_logging();
        let database = TestDatabase::create().await;
        let mut settings = default_settings(&database.url);
        let sim = if self.midtrans {
            Some(
                midtrans_sim::spawn(midtrans_sim::SimConfig::new(MIDTRANS_KEY))
                    .await
                    .expect("start the Midtrans simulator"),
            )
        } else {
            None
        };
        let sim_url = sim
            .as_ref()
            .map(|s| s.base_url().to_owned())
            .or(self.midtrans_port.map(|p| format!("http://127.0.0.1:{p}")));
        if let Some(url) = sim_url {
            settings.insert("MIDTRANS_SERVER_KEY".into(), MIDTRANS_KEY.into());
            settings.insert("MIDTRANS_SNAP_URL".into(), format!("{url}/snap/v1"));
            settings.insert("MIDTRANS_API_URL".into(), url);
            settings.insert("MIDTRANS_TIMEOUT".into(), "3s".into());
        }
        if let Some(index) = &self.search_index {
            settings.extend(index.settings().into_iter().map(|(k, v)| (k.to_owned(), v)));
        }
        settings.extend(self.overrides);
        let config = ApiConfig::from_source(&settings).expect("valid test settings");
        let db = toko::db::connect(&config.database)
            .await
            .expect("connect to test database");
        let state = http::AppState::new(config, db.clone())
            .await
            .expect("app state");
        let server = BoundServer::bind([127, 0, 0, 1].into(), 0)
            .await
            .expect("bind");
        let base_url = format!("http://{}", server.local_addr);
        let metrics_server = BoundServer::bind([127, 0, 0, 1].into(), 0)
            .await
            .expect("bind the metrics port");
        let metrics_url = format!("http://{}", metrics_server.local_addr);
        tokio::spawn(metrics_server.serve(
            http::metrics_app(state.clone()),
            std::future::pending::<()>(),
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run_state = state.clone();
        tokio::spawn(async move {
            let _ = server
                .run(run_state, async {
                    let _ = rx.await;
                })
                .await;
        });
        if let Some(sim) = &sim {
            sim.set_notification_url(format!("{base_url}/api/v1/payments/midtrans/notification"));
        }
        TestApp {
            sim,
            search_index: self.search_index,
            base_url,
            metrics_url,
            db,
            database,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            state,
            shutdown: Some(tx),
        }
    }
}

/// Logs go to the test output when `TEST_LOG` is set.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        toko::telemetry::init(toko::config::LogFormat::Text);
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).json(body)
    }

    pub fn put(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).json(body)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// Registers a customer with a unique email and returns its tokens.
    pub async fn register_customer(&self) -> TestUser {
        let email = format!("customer-{}@example.com", uuid::Uuid::new_v4().simple());
        self.register(&email, "correct horse battery staple").await
    }

    pub async fn register(&self, email: &str, password: &str) -> TestUser {
        let body = self
            .anonymous()
            .post(
                "/api/v1/auth/register",
                &json!({ "email": email, "password": password, "name": "Test User" }),
            )
            .expect(201)
            .await;
        TestUser::from_session(&body, email, password)
    }

    /// Registers a user and promotes it to admin (as `tokoctl create-admin` would).
    /// A new administrator (every permission but managing staff).
    pub async fn register_admin(&self) -> TestUser {
        self.register_staff("admin").await
    }

    /// A new staff account with `role` (`owner`, `admin`, `catalog_manager`, ...).
    pub async fn register_staff(&self, role: &str) -> TestUser {
        let user = self.register_customer().await;
        sqlx::query("update users set role = $2 where email = $1")
            .bind(&user.email)
            .bind(role)
            .execute(&self.db)
            .await
            .expect("make staff");
        self.login(&user.email, &user.password).await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestUser {
        let body = self
            .anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({ "email": email, "password": password }),
            )
            .expect(200)
            .await;
        TestUser::from_session(&body, email, password)
    }
}

impl TestUser {
    fn from_session(body: &Value, email: &str, password: &str) -> Self {
        Self {
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            access_token: body["tokens"]["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh_token: body["tokens"]["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts a response is a problem+json with the given status and code; returns its body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let actual = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "unexpected status; body: {body}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type}; body: {body}"
    );
    assert_eq!(body["code"], code, "unexpected problem code; body: {body}");
    assert_eq!(body["status"], status, "status field; body: {body}");
    body
}

/// The fields a validation problem names, in its order.
pub fn problem_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().expect("a field name"))
        .collect()
}

/// Catalog fixtures created through the admin API.
impl TestApp {
    /// Creates a category (optionally under a parent) and returns its JSON.
    pub async fn create_category(
        &self,
        admin: &TestUser,
        name: &str,
        parent_id: Option<&str>,
    ) -> Value {
        self.by(admin)
            .post(
                "/api/v1/admin/categories",
                &json!({ "name": name, "parent_id": parent_id }),
            )
            .expect(201)
            .await
    }

    /// Creates a product from a full admin body and returns its JSON.
    pub async fn create_product(&self, admin: &TestUser, body: &Value) -> Value {
        self.by(admin)
            .post("/api/v1/admin/products", body)
            .expect(201)
            .await
    }

    /// Creates a category and returns its id.
    pub async fn create_category_id(
        &self,
        admin: &TestUser,
        name: &str,
        parent_id: Option<&str>,
    ) -> String {
        self.create_category(admin, name, parent_id).await["id"]
            .as_str()
            .expect("category id")
            .to_owned()
    }

    /// An active single-variant product; returns the variant's id.
    pub async fn create_simple_variant(
        &self,
        admin: &TestUser,
        category_id: &str,
        name: &str,
        sku: &str,
        price: i64,
        stock: i64,
    ) -> String {
        let product = self
            .create_simple_product(admin, category_id, name, sku, price, stock)
            .await;
        product["variants"][0]["id"]
            .as_str()
            .expect("variant id")
            .to_owned()
    }

    /// An active single-variant product with the given price and stock.
    pub async fn create_simple_product(
        &self,
        admin: &TestUser,
        category_id: &str,
        name: &str,
        sku: &str,
        price: i64,
        stock: i64,
    ) -> Value {
        self.create_product(
            admin,
            &json!({
                "name": name,
                "category_id": category_id,
                "status": "active",
                "variants": [{ "sku": sku, "price": price, "stock_on_hand": stock }]
            }),
        )
        .await
    }

    /// A new admin and one active product in a new category "Phones" with a single variant
    /// `sku`; returns the admin and the variant id.
    pub async fn admin_with_product(
        &self,
        sku: &str,
        price: i64,
        stock: i64,
    ) -> (TestUser, String) {
        let admin = self.register_admin().await;
        let category = self.create_category_id(&admin, "Phones", None).await;
        let variant = self
            .create_simple_variant(&admin, &category, "Phone", sku, price, stock)
            .await;
        (admin, variant)
    }

    /// The outbox events of one aggregate, oldest first: (event_type, payload).
    pub async fn outbox_events(&self, aggregate_id: &str) -> Vec<(String, Value)> {
        let id: uuid::Uuid = aggregate_id.parse().expect("aggregate id");
        sqlx::query!(
            "select event_type, payload from outbox_events where aggregate_id = $1 order by event_id",
            id,
        )
        .fetch_all(&self.db)
        .await
        .expect("outbox events")
        .into_iter()
        .map(|r| (r.event_type, r.payload))
        .collect()
    }
}

/// The line of an order (as the API shows it) with `sku`; panics when there is none.
pub fn order_line<'a>(order: &'a Value, sku: &str) -> &'a Value {
    order["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["sku"] == sku))
        .unwrap_or_else(|| panic!("no line {sku} in {order}"))
}

/// A valid Indonesian shipping address.
pub fn address() -> Value {
    json!({
        "recipient_name": "Budi Santoso",
        "phone": "+6281234567890",
        "line1": "Jl. Merdeka No. 10",
        "city": "Jakarta Pusat",
        "province": "DKI Jakarta",
        "postal_code": "10110",
        "country_code": "ID"
    })
}

/// Shopping fixtures driven through the API.
impl TestApp {
    /// Adds a variant to the customer's cart; asserts success.
    pub async fn add_to_cart(&self, user: &TestUser, variant_id: &str, quantity: i64) -> Value {
        self.by(user)
            .post(
                "/api/v1/cart/items",
                &json!({ "variant_id": variant_id, "quantity": quantity }),
            )
            .expect(200)
            .await
    }

    /// Sends a checkout with the standard body and the given key.
    pub fn checkout(&self, user: &TestUser, key: &str) -> Call {
        self.by(user)
            .post(
                "/api/v1/checkout",
                &json!({ "shipping_address": address(), "shipping_method": "standard" }),
            )
            .idempotency_key(key)
    }

    /// Checks out the customer's cart with the standard body and a fresh key; asserts the order
    /// was placed and returns it.
    pub async fn place_order(&self, user: &TestUser) -> Value {
        let placed = self
            .checkout(user, &uuid::Uuid::new_v4().to_string())
            .expect(201)
            .await;
        placed["order"].clone()
    }

    /// Moves an order's payment deadline into the past, as if `ORDER_PAYMENT_TTL` (at least 5
    /// minutes) had gone by.
    pub async fn backdate_payment_deadline(&self, order_id: &str) {
        let id: uuid::Uuid = order_id.parse().expect("order id");
        sqlx::query!(
            "update orders set payment_due_at = now() - interval '1 second' where order_id = $1",
            id,
        )
        .execute(&self.db)
        .await
        .expect("backdate the payment deadline");
    }

    /// Runs every `tokoctl audit` check on the test's database; fails naming each broken rule
    /// with its violations.
    pub async fn assert_consistent(&self) {
        let checks = toko::consistency::run(&self.db, &|_, _, _| {})
            .await
            .expect("run the consistency checks");
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| format!("{}: {:?}", c.name, c.violations))
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
    }

    /// Stock levels of a SKU: (on hand, reserved).
    pub async fn stock_of(&self, sku: &str) -> (i32, i32) {
        let row = sqlx::query!(
            "select stock_on_hand, stock_reserved from variants where sku = $1",
            sku,
        )
        .fetch_one(&self.db)
        .await
        .expect("stock levels");
        (row.stock_on_hand, row.stock_reserved)
    }
}

/// Driving the Midtrans simulator's control API.
impl TestApp {
    fn sim_url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.sim.as_ref().expect("built with_midtrans").base_url()
        )
    }

    /// `POST /_sim/transactions/{order_id}/{action}`; asserts success, returns the sim's view.
    pub async fn sim_action(&self, provider_order_id: &str, action: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(self.sim_url(&format!("/_sim/transactions/{provider_order_id}/{action}")))
            .json(&body)
            .send()
            .await
            .expect("simulator control call");
        assert!(
            resp.status().is_success(),
            "sim {action}: {}",
            resp.text().await.unwrap_or_default()
        );
        resp.json().await.expect("simulator body")
    }

    /// The customer pays order `number` (id `order_id`) through the simulator, with
    /// `payment_type` or the simulator's default; waits until toko has the order paid.
    pub async fn pay(&self, order_id: &str, number: &str, payment_type: Option<&str>) {
        let mut body = json!({ "outcome": "settlement" });
        if let Some(payment_type) = payment_type {
            body["payment_type"] = json!(payment_type);
        }
        self.sim_action(number, "pay", body).await;
        self.wait_for_order_status(order_id, "paid").await;
    }

    /// [`Self::pay`] for an order as the API shows it.
    pub async fn pay_order(&self, order: &Value, payment_type: Option<&str>) {
        let id = order["id"].as_str().expect("order id");
        let number = order["number"].as_str().expect("order number");
        self.pay(id, number, payment_type).await;
    }

    pub async fn sim_call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, self.sim_url(path))
            .send()
            .await
            .expect("simulator call")
    }

    /// The simulator's view of a transaction (`GET /_sim/transactions/{provider_order_id}`).
    pub async fn sim_transaction(&self, provider_order_id: &str) -> Value {
        self.sim_call(
            reqwest::Method::GET,
            &format!("/_sim/transactions/{provider_order_id}"),
        )
        .await
        .json()
        .await
        .expect("the simulator's transaction view")
    }

    /// Waits (up to 10 s) until the order has `status`; panics with the last status seen.
    pub async fn wait_for_order_status(&self, order_id: &str, status: &str) {
        let id: uuid::Uuid = order_id.parse().expect("order id");
        eventually(
            &format!("order {order_id} to be {status}"),
            Duration::from_secs(10),
            || async {
                let current: String =
                    sqlx::query_scalar!("select status from orders where order_id = $1", id,)
                        .fetch_one(&self.db)
                        .await
                        .expect("order status");
                if current == status {
                    Ok(())
                } else {
                    Err(current)
                }
            },
        )
        .await;
    }

    /// Waits (up to 10 s) until the test's only payment has `status`; panics with the last
    /// status seen.
    pub async fn wait_for_payment_status(&self, status: &str) {
        eventually(
            &format!("the payment to be {status}"),
            Duration::from_secs(10),
            || async {
                let current: String = sqlx::query_scalar("select status from payments")
                    .fetch_one(&self.db)
                    .await
                    .expect("payment status");
                if current == status {
                    Ok(())
                } else {
                    Err(current)
                }
            },
        )
        .await;
    }

    /// A customer with one unit of `variant_id` checked out; returns (customer, checkout body).
    pub async fn checked_out(&self, variant_id: &str, quantity: i64) -> (TestUser, Value) {
        let user = self.register_customer().await;
        self.add_to_cart(&user, variant_id, quantity).await;
        let resp = self
            .checkout(&user, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(resp.status(), 201);
        (user, resp.json().await.expect("checkout body"))
    }
}
