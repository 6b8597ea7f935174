//! The test harness: every test gets the real toko app on a random port, backed by its own
//! fresh Postgres database, and talks to it over HTTP.
//!
//! Databases are cloned from a template that holds the migrated schema (built once per set of
//! migrations), which makes a fresh database cost tens of milliseconds instead of a full
//! migration run. Messaging tests get a RabbitMQ vhost of their own ([`TestBroker`]).

pub mod broker;
pub mod database;

use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::PgPool;
use toko::{config::ApiConfig, http};

pub use broker::{eventually, TcpProxy, TestBroker};
pub use database::TestDatabase;

/// A running app with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    pub db: PgPool,
    pub database: TestDatabase,
    pub client: reqwest::Client,
    pub state: http::AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

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
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Builds a [`TestApp`] with setting overrides.
#[derive(Default)]
pub struct TestAppBuilder {
    overrides: Vec<(String, String)>,
}

impl TestAppBuilder {
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.overrides.push((name.to_owned(), value.to_owned()));
        self
    }

    pub async fn spawn(self) -> TestApp {
        init_test_logging();
        let database = TestDatabase::create().await;
        let mut settings = default_settings(&database.url);
        settings.extend(self.overrides);
        let config = ApiConfig::from_source(&settings).expect("valid test settings");
        let db = toko::db::connect(&config.database).await.expect("connect to test database");
        let state = http::AppState::new(config, db.clone()).await.expect("app state");
        let server = http::BoundServer::bind([127, 0, 0, 1].into(), 0).await.expect("bind");
        let base_url = format!("http://{}", server.local_addr);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run_state = state.clone();
        tokio::spawn(async move {
            let _ = server
                .run(run_state, async {
                    let _ = rx.await;
                })
                .await;
        });
        TestApp {
            base_url,
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

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// Registers a customer with a unique email and returns its tokens.
    pub async fn register_customer(&self) -> TestUser {
        let email = format!("customer-{}@example.com", uuid::Uuid::new_v4().simple());
        self.register(&email, "correct horse battery staple").await
    }

    pub async fn register(&self, email: &str, password: &str) -> TestUser {
        let resp = self
            .post(
                "/api/v1/auth/register",
                &json!({ "email": email, "password": password, "name": "Test User" }),
            )
            .send()
            .await
            .expect("register request");
        assert_eq!(resp.status(), 201, "register failed: {}", resp.text().await.unwrap_or_default());
        let body: Value = resp.json().await.expect("register body");
        TestUser::from_session(&body, email, password)
    }

    /// Registers a user and promotes it to admin (as `tokoctl create-admin` would).
    pub async fn register_admin(&self) -> TestUser {
        let user = self.register_customer().await;
        sqlx::query("update users set role = 'admin' where email = $1")
            .bind(&user.email)
            .execute(&self.db)
            .await
            .expect("promote admin");
        self.login(&user.email, &user.password).await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestUser {
        let resp = self
            .post("/api/v1/auth/login", &json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request");
        assert_eq!(resp.status(), 200, "login failed: {}", resp.text().await.unwrap_or_default());
        let body: Value = resp.json().await.expect("login body");
        TestUser::from_session(&body, email, password)
    }
}

impl TestUser {
    fn from_session(body: &Value, email: &str, password: &str) -> Self {
        Self {
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            access_token: body["tokens"]["access_token"].as_str().expect("access token").to_owned(),
            refresh_token: body["tokens"]["refresh_token"].as_str().expect("refresh token").to_owned(),
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
    assert!(content_type.starts_with("application/problem+json"), "content-type {content_type}; body: {body}");
    assert_eq!(body["code"], code, "unexpected problem code; body: {body}");
    assert_eq!(body["status"], status, "status field; body: {body}");
    body
}

/// Catalog fixtures created through the admin API.
impl TestApp {
    /// Creates a category (optionally under a parent) and returns its JSON.
    pub async fn create_category(&self, admin: &TestUser, name: &str, parent_id: Option<&str>) -> Value {
        let resp = self
            .post("/api/v1/admin/categories", &json!({ "name": name, "parent_id": parent_id }))
            .bearer_auth(&admin.access_token)
            .send()
            .await
            .expect("create category");
        assert_eq!(resp.status(), 201, "create category: {}", resp.text().await.unwrap_or_default());
        resp.json().await.expect("category body")
    }

    /// Creates a product from a full admin body and returns its JSON.
    pub async fn create_product(&self, admin: &TestUser, body: &Value) -> Value {
        let resp = self
            .post("/api/v1/admin/products", body)
            .bearer_auth(&admin.access_token)
            .send()
            .await
            .expect("create product");
        assert_eq!(resp.status(), 201, "create product: {}", resp.text().await.unwrap_or_default());
        resp.json().await.expect("product body")
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

    /// The outbox events of one aggregate, oldest first: (event_type, payload).
    pub async fn outbox_events(&self, aggregate_id: &str) -> Vec<(String, Value)> {
        let id: uuid::Uuid = aggregate_id.parse().expect("aggregate id");
        sqlx::query_as("select event_type, payload from outbox_events where aggregate_id = $1 order by event_id")
            .bind(id)
            .fetch_all(&self.db)
            .await
            .expect("outbox events")
    }
}
