//! Secrets never reach the logs: the real `toko-api` binary runs with the most verbose
//! logging, a customer and an admin go through sign-up, sign-in, token refresh, checkout and
//! payment (with a forged notification thrown in), and everything the process printed is
//! searched for every password, key and token involved.

use std::{process::Stdio, time::Duration};

use serde_json::{json, Value};
use tokio::{io::AsyncReadExt, process::Command};
use toko_testkit::{address, smtp::free_port, TestDatabase};

const JWT_SECRET: &str = "jwt-secret-that-must-never-be-logged-7f3a9c";
const SERVER_KEY: &str = "SB-Mid-server-never-logged-51d0e2";
const DB_PASSWORD: &str = "db-password-never-logged-93be";
const PASSWORD: &str = "customer password never logged";
const WRONG_PASSWORD: &str = "wrong guess never logged";
const ADMIN_PASSWORD: &str = "admin password never logged";
const NEW_ADMIN_PASSWORD: &str = "new admin password never logged";
const RESET_PASSWORD: &str = "password set by a reset never logged";
const INVITED_PASSWORD: &str = "password of invited staff never logged";

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .json(&body)
                .header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let resp = request.send().await.expect("request to toko-api");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await;
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    async fn sign_up(&self, email: &str, password: &str) -> Value {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": password, "name": "Logged User"}),
        )
        .await
    }

    async fn sign_in(&self, email: &str, password: &str) -> Value {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }
}

fn tokens(session: &Value) -> (String, String) {
    let token = |name: &str| session["tokens"][name].as_str().expect("token").to_owned();
    (token("access_token"), token("refresh_token"))
}

#[tokio::test]
async fn no_secret_password_or_token_appears_in_debug_logs() {
    let database = TestDatabase::create().await;
    // Trust authentication ignores the password, so it can be a recognisable secret.
    let database_url = database
        .url
        .replacen("postgres@", &format!("postgres:{DB_PASSWORD}@"), 1);
    let sim = midtrans_sim::spawn(midtrans_sim::SimConfig::new(SERVER_KEY))
        .await
        .expect("simulator");
    let port = free_port();
    let metrics_port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    sim.set_notification_url(format!("{base}/api/v1/payments/midtrans/notification"));

    let mut server = Command::new(env!("CARGO_BIN_EXE_toko-api"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("APP_ENV", "development"),
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("METRICS_PORT", &metrics_port.to_string()),
            ("DATABASE_URL", &database_url),
            ("JWT_SECRET", JWT_SECRET),
            ("RATE_LIMIT_ENABLED", "false"),
            ("MIDTRANS_SERVER_KEY", SERVER_KEY),
            ("MIDTRANS_SNAP_URL", &format!("{}/snap/v1", sim.base_url())),
            ("MIDTRANS_API_URL", sim.base_url()),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "trace,h2=debug,hyper=debug,hyper_util=debug"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start toko-api");
    // Drain both pipes while the server runs: a full pipe would block its logging.
    let collect = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        tokio::spawn(async move {
            let mut text = String::new();
            pipe.read_to_string(&mut text)
                .await
                .expect("read the server output");
            text
        })
    };
    let stdout = collect(Box::new(server.stdout.take().unwrap()));
    let stderr = collect(Box::new(server.stderr.take().unwrap()));
    let api = Api {
        base,
        http: reqwest::Client::new(),
    };
    wait_until_ready(&api).await;

    // A customer signs up, fails a sign-in, signs in, refreshes and reads their account.
    let email = "logged@example.com";
    let (access, refresh) = tokens(&api.sign_up(email, PASSWORD).await);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": WRONG_PASSWORD})),
        )
        .await;
    assert_eq!(status, 401);
    let (login_access, login_refresh) = tokens(&api.sign_in(email, PASSWORD).await);
    let refreshed = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login_refresh}),
        )
        .await;
    let (refreshed_access, refreshed_refresh) = (
        refreshed["access_token"]
            .as_str()
            .or(refreshed["tokens"]["access_token"].as_str())
            .expect("access token")
            .to_owned(),
        refreshed["refresh_token"]
            .as_str()
            .or(refreshed["tokens"]["refresh_token"].as_str())
            .expect("refresh token")
            .to_owned(),
    );
    // A stale refresh token is refused (reuse detection logs a warning and revokes the session,
    // its access tokens included).
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": login_refresh})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/me",
            Some(&refreshed_access),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (customer_access, customer_refresh) = tokens(&api.sign_in(email, PASSWORD).await);
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/me",
            Some(&customer_access),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // The owner (promoted as `tokoctl create-admin` would) lists a product.
    let admin_email = "logged-admin@example.com";
    api.sign_up(admin_email, ADMIN_PASSWORD).await;
    let db = sqlx::PgPool::connect(&database.url)
        .await
        .expect("database");
    sqlx::query("update users set role = 'owner' where email = $1")
        .bind(admin_email)
        .execute(&db)
        .await
        .unwrap();
    let (admin_access, _) = tokens(&api.sign_in(admin_email, ADMIN_PASSWORD).await);
    api.post(
        "/api/v1/me/password",
        Some(&admin_access),
        json!({"current_password": ADMIN_PASSWORD, "new_password": NEW_ADMIN_PASSWORD}),
    )
    .await;
    let (admin_access, _) = tokens(&api.sign_in(admin_email, NEW_ADMIN_PASSWORD).await);
    let category = api
        .post(
            "/api/v1/admin/categories",
            Some(&admin_access),
            json!({"name": "Lamps"}),
        )
        .await;
    let product = api
        .post(
            "/api/v1/admin/products",
            Some(&admin_access),
            json!({"name": "Lamp", "category_id": category["id"], "status": "active",
                   "variants": [{"sku": "LAMP-LOG", "price": 150_000, "stock_on_hand": 3}]}),
        )
        .await;

    // The customer checks out and pays; Midtrans notifies, and someone forges a notification.
    api.post(
        "/api/v1/cart/items",
        Some(&customer_access),
        json!({"variant_id": product["variants"][0]["id"], "quantity": 1}),
    )
    .await;
    let checkout = api
        .post(
            "/api/v1/checkout",
            Some(&customer_access),
            json!({"shipping_address": address(), "shipping_method": "standard"}),
        )
        .await;
    let number = checkout["order"]["number"]
        .as_str()
        .expect("order number")
        .to_owned();
    let snap_token = checkout["payment"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let paid = api
        .http
        .post(format!("{}/_sim/transactions/{number}/pay", sim.base_url()))
        .json(&json!({"outcome": "settlement"}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    let forged_signature = "f".repeat(128);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/payments/midtrans/notification",
            None,
            Some(
                json!({"order_id": number, "status_code": "200", "gross_amount": "1.00",
                        "transaction_status": "settlement", "signature_key": forged_signature}),
            ),
        )
        .await;
    assert!(status >= 400, "a forged notification is refused");
    wait_for_paid(&db, &number).await;

    // The customer resets their password with the link's token.
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({ "email": email })),
        )
        .await;
    assert_eq!(status, 202);
    let request_id: uuid::Uuid = sqlx::query_scalar("select request_id from password_resets")
        .fetch_one(&db)
        .await
        .unwrap();
    let reset_token =
        toko::auth::resets::reset_token(&toko::config::Secret::new(JWT_SECRET), request_id);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({ "token": reset_token, "new_password": RESET_PASSWORD })),
        )
        .await;
    assert_eq!(status, 204);
    // The owner invites staff; the invitee accepts with the link's token.
    let invite = api
        .post(
            "/api/v1/admin/staff-invites",
            Some(&admin_access),
            json!({"email": "logged-hire@example.com", "name": "Hire", "role": "support"}),
        )
        .await;
    let invite_token = toko::auth::staff::invite_token(
        &toko::config::Secret::new(JWT_SECRET),
        invite["id"].as_str().expect("invite id").parse().unwrap(),
    );
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/accept-invite",
            None,
            Some(json!({ "token": invite_token, "new_password": INVITED_PASSWORD })),
        )
        .await;
    assert_eq!(status, 201);

    // The customer asks to delete the account (refused: the paid order is on its way).
    let (reset_access, _) = tokens(&api.sign_in(email, RESET_PASSWORD).await);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/me/deletion",
            Some(&reset_access),
            Some(json!({ "current_password": RESET_PASSWORD })),
        )
        .await;
    assert_eq!(status, 409);

    let password_hash: String =
        sqlx::query_scalar("select password_hash from users where email = $1")
            .bind(email)
            .fetch_one(&db)
            .await
            .unwrap();

    // Stop the server and read everything it printed.
    server.start_kill().expect("stop toko-api");
    let _ = server.wait().await;
    let logs = stdout.await.unwrap() + &stderr.await.unwrap();

    // The logs are there and detailed (else the search below proves nothing)...
    assert!(
        logs.lines().count() > 50,
        "expected verbose logs, got:\n{logs}"
    );
    for expected in [
        "/api/v1/auth/login",
        "/api/v1/checkout",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/auth/accept-invite",
        "/api/v1/me/deletion",
        "/api/v1/payments/midtrans/notification",
        &number,
    ] {
        assert!(logs.contains(expected), "the logs mention {expected}");
    }
    // ...and carry none of these.
    let secrets = [
        ("JWT secret", JWT_SECRET.to_owned()),
        ("Midtrans server key", SERVER_KEY.to_owned()),
        ("database password", DB_PASSWORD.to_owned()),
        ("customer password", PASSWORD.to_owned()),
        ("wrong password", WRONG_PASSWORD.to_owned()),
        ("admin password", ADMIN_PASSWORD.to_owned()),
        ("new admin password", NEW_ADMIN_PASSWORD.to_owned()),
        ("password set by a reset", RESET_PASSWORD.to_owned()),
        ("password reset token", reset_token),
        ("staff invite token", invite_token),
        ("invited staff password", INVITED_PASSWORD.to_owned()),
        ("access token after the reset", reset_access),
        ("password hash", password_hash),
        ("access token", access),
        ("refresh token", refresh),
        ("login access token", login_access),
        ("rotated refresh token", login_refresh),
        ("refreshed access token", refreshed_access),
        ("refreshed refresh token", refreshed_refresh),
        ("customer access token", customer_access),
        ("customer refresh token", customer_refresh),
        ("admin access token", admin_access),
        ("forged signature", forged_signature),
        ("argon2 hash marker", "$argon2".to_owned()),
        ("bearer header", "Bearer ey".to_owned()),
        ("basic auth header", "Basic U0It".to_owned()),
    ];
    for (what, secret) in secrets {
        if let Some(line) = logs.lines().find(|line| line.contains(&secret)) {
            panic!("the {what} appears in the logs: {line}");
        }
    }
    if !snap_token.is_empty() {
        assert!(
            !logs.contains(&snap_token),
            "the Snap token appears in the logs"
        );
    }
}

async fn wait_until_ready(api: &Api) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready = api
            .http
            .get(format!("{}/health/ready", api.base))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "toko-api did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_paid(db: &sqlx::PgPool, number: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status: String =
            sqlx::query_scalar("select status from orders where order_number = $1")
                .bind(number)
                .fetch_one(db)
                .await
                .unwrap();
        if status == "paid" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order was never paid (status {status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
