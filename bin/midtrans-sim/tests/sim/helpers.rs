//! Test harness: a simulator on a random port, a notification receiver (a small poem server
//! whose answer is chosen by the URL path), and polling helpers with deadlines.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use midtrans_sim::{spawn, SimConfig, SimHandle};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Path};
use poem::{handler, post, EndpointExt, Response, Route, Server};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "SB-Mid-server-test-key-123";
/// Longest a test waits for something asynchronous before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Short retry delays so every retry of the table can be observed quickly.
pub fn fast_config() -> SimConfig {
    let mut config = SimConfig::new(KEY);
    config.retry_delays = [10, 20, 30, 40, 50].map(Duration::from_millis).to_vec();
    config.notification_timeout = Duration::from_secs(2);
    config.expiry_sweep = None;
    config
}

/// One notification request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: Value,
    pub content_type: Option<String>,
}

/// A webhook receiver. `POST /status/{code}` answers `code`; `POST /redirect/{code}/{target}`
/// answers `code` with `Location: /status/{target}`; `POST /loop` redirects to itself (307).
pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

type Seen = Arc<Mutex<Vec<Received>>>;

fn remember(seen: &Seen, req: &poem::Request, body: &[u8]) {
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(Received {
        path: req.uri().path().to_owned(),
        body,
        content_type: req.content_type().map(str::to_owned),
    });
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("test uses valid status codes")
}

#[handler]
fn answer(
    seen: Data<&Seen>,
    req: &poem::Request,
    Path(code): Path<u16>,
    body: Vec<u8>,
) -> Response {
    remember(&seen, req, &body);
    Response::builder().status(status(code)).finish()
}

#[handler]
fn redirect(
    seen: Data<&Seen>,
    req: &poem::Request,
    Path((code, target)): Path<(u16, u16)>,
    body: Vec<u8>,
) -> Response {
    remember(&seen, req, &body);
    Response::builder()
        .status(status(code))
        .header("location", format!("/status/{target}"))
        .finish()
}

#[handler]
fn redirect_loop(seen: Data<&Seen>, req: &poem::Request, body: Vec<u8>) -> Response {
    remember(&seen, req, &body);
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header("location", "/loop")
        .finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let app = Route::new()
            .at("/status/:code", post(answer))
            .at("/redirect/:code/:target", post(redirect))
            .at("/loop", post(redirect_loop))
            .data(Arc::clone(&seen));
        let stop = CancellationToken::new();
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(1)))
                .await
        });
        Self { addr, seen, stop }
    }

    /// URL answering with `code`.
    pub fn url(&self, code: u16) -> String {
        format!("http://{}/status/{code}", self.addr)
    }

    pub fn url_for(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Notifications received for `order_id`, oldest first.
    pub fn for_order(&self, order_id: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.body["order_id"] == order_id)
            .collect()
    }

    /// Waits until at least `count` notifications for `order_id` arrived; returns them.
    pub async fn wait_for(&self, order_id: &str, count: usize) -> Vec<Received> {
        eventually(&format!("{count} notifications for {order_id}"), || {
            let got = self.for_order(order_id);
            (got.len() >= count).then_some(got)
        })
        .await
    }
}

/// Polls `check` every 10 ms until it returns `Some`, failing the test after [`DEADLINE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The simulator plus an HTTP client that sends the server key.
pub struct TestSim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

impl TestSim {
    pub async fn start(config: SimConfig) -> Self {
        let handle = spawn(config).await.expect("simulator starts");
        Self {
            handle,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// A POST with the correct server key.
    pub fn authed_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .headers(auth_headers(KEY))
            .header("accept", "application/json")
    }

    /// Creates a Snap transaction for `order_id` and `amount` (one item); asserts 201.
    pub async fn create(&self, order_id: &str, amount: i64) -> Value {
        self.create_with(snap_body(order_id, amount), &[]).await
    }

    /// Creates a Snap transaction from `body` with extra headers; asserts 201.
    pub async fn create_with(&self, body: Value, headers: &[(&str, &str)]) -> Value {
        let mut request = self.authed_post("/snap/v1/transactions").json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 201, "snap create of {body}");
        response.json().await.unwrap()
    }

    /// Core API call; returns (HTTP status, body).
    pub async fn core(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .headers(auth_headers(KEY));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn status(&self, id: &str) -> (u16, Value) {
        self.core(reqwest::Method::GET, &format!("/v2/{id}/status"), None)
            .await
    }

    pub async fn action(&self, id: &str, action: &str) -> (u16, Value) {
        self.core(reqwest::Method::POST, &format!("/v2/{id}/{action}"), None)
            .await
    }

    /// Control API POST; returns (HTTP status, body).
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/_sim{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Chooses a payment method with `outcome`; asserts success and returns the order view.
    pub async fn pay(&self, order_id: &str, payment_type: &str, outcome: &str) -> Value {
        let (status, view) = self
            .control(
                &format!("/transactions/{order_id}/pay"),
                json!({ "payment_type": payment_type, "outcome": outcome }),
            )
            .await;
        assert_eq!(status, 200, "pay {order_id}: {view}");
        view
    }

    pub async fn view(&self, order_id: &str) -> Value {
        self.http
            .get(self.url(&format!("/_sim/transactions/{order_id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the delivery log of `order_id` satisfies `done`; returns the rows.
    pub async fn wait_attempts(
        &self,
        order_id: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let view = self.view(order_id).await;
            let rows = view["delivery_attempts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if done(&rows) {
                return rows;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "timed out waiting for delivery attempts of {order_id}: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn auth_headers(key: &str) -> HeaderMap {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
    );
    headers
}

/// A valid Snap body: one item whose price is the whole amount.
pub fn snap_body(order_id: &str, amount: i64) -> Value {
    json!({
        "transaction_details": { "order_id": order_id, "gross_amount": amount },
        "item_details": [{ "id": "SKU-1", "price": amount, "quantity": 1, "name": "Item" }],
        "customer_details": { "first_name": "Budi", "email": "budi@example.com" }
    })
}

/// Checks `signature_key` independently of the crate's own signing code.
pub fn assert_signed(body: &Value) {
    let field = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} must be a string in {body}"))
            .to_owned()
    };
    let mut hasher = Sha512::new();
    hasher.update(field("order_id"));
    hasher.update(field("status_code"));
    hasher.update(field("gross_amount"));
    hasher.update(KEY);
    assert_eq!(
        field("signature_key"),
        hex::encode(hasher.finalize()),
        "bad signature in {body}"
    );
}

/// `(transaction_status, status_code)` pairs of received notifications.
pub fn statuses(received: &[Received]) -> Vec<(String, String)> {
    received
        .iter()
        .map(|r| {
            (
                r.body["transaction_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r.body["status_code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

pub fn pair(status: &str, code: &str) -> (String, String) {
    (status.to_owned(), code.to_owned())
}
