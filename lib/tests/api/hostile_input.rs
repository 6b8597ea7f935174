//! Crafted input is a 4xx naming what is wrong, never a 500: oversized text, cursors the
//! database cannot compare, a deleted user's token, bodies sent to routes the caller may not
//! use, and the database going away or refusing connections.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use sqlx::PgPool;
use toko_testkit::{assert_problem, problem_fields, TestApp, TestDatabase};

fn cursor(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap())
}

#[tokio::test]
async fn listing_cursors_with_keys_the_database_cannot_compare_are_a_400() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4();
    for (sort, crafted) in [
        ("name", json!({"s": "name", "n": "a\u{0}b", "id": id})),
        (
            "newest",
            json!({"s": "newest", "t": chrono::DateTime::<chrono::Utc>::MIN_UTC, "id": id}),
        ),
        (
            "newest",
            json!({"s": "newest", "t": chrono::DateTime::<chrono::Utc>::MAX_UTC, "id": id}),
        ),
    ] {
        let resp = app
            .get(&format!(
                "/api/v1/products?sort={sort}&cursor={}",
                cursor(crafted.clone())
            ))
            .send()
            .await
            .unwrap();
        let body = assert_problem(resp, 400, "invalid_parameter").await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{crafted}: {body}");
    }
}

#[tokio::test]
async fn a_login_email_longer_than_any_address_is_a_422_naming_it() {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.com", "a".repeat(3 * 1024));
    let resp = app
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": "x".repeat(200)}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 422, "validation_failed").await;
    let fields = problem_fields(&body);
    assert_eq!(fields, ["email", "password"], "{body}");
}

#[tokio::test]
async fn over_long_query_and_path_parameters_are_a_400_naming_them() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(60 * 1024);
    for (path, name) in [
        (format!("/api/v1/products?brand={long}"), "brand"),
        (format!("/api/v1/products?category={long}"), "category"),
        (format!("/api/v1/search?q=phone&brand={long}"), "brand"),
        (
            format!("/api/v1/products/{}", "a".repeat(500)),
            "id_or_slug",
        ),
    ] {
        let resp = app.get(&path).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(name) || body["errors"][0]["field"] == name,
            "{name}: {body}"
        );
    }
}

#[tokio::test]
async fn a_customer_sending_an_invalid_body_to_an_admin_route_gets_403() {
    let app = TestApp::spawn().await;
    let customer = app.register_customer().await;
    let resp = app
        .post("/api/v1/admin/products", &json!({"name": 42}))
        .bearer_auth(&customer.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn requests_while_the_database_is_unreachable_are_a_503_with_retry_after() {
    let app = TestApp::spawn().await;
    app.db.close().await;
    let resp = app.get("/api/v1/products").send().await.unwrap();
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert_problem(resp, 503, "database_unavailable").await;
}

/// A PostgreSQL role that may hold no more connections: every new connection the app opens is
/// refused with `too_many_connections` (53300), as when the server is at `max_connections`.
const LIMITED_ROLE: &str = "toko_test_connection_limited";

#[tokio::test]
async fn a_database_refusing_new_connections_is_a_503_with_retry_after() {
    let database = TestDatabase::create().await;
    let admin = PgPool::connect(&database.url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "do $$ begin create role {LIMITED_ROLE} login; exception when duplicate_object then null; end $$;
         alter role {LIMITED_ROLE} connection limit -1;
         grant all on all tables in schema public to {LIMITED_ROLE};
         grant all on all sequences in schema public to {LIMITED_ROLE};"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let mut limited_url = reqwest::Url::parse(&database.url).unwrap();
    limited_url.set_username(LIMITED_ROLE).unwrap();
    limited_url.set_password(None).unwrap();
    let app = TestApp::builder()
        .setting("DATABASE_URL", limited_url.as_str())
        .spawn()
        .await;
    let resp = app.get("/api/v1/products").send().await.unwrap();
    assert_eq!(resp.status(), 200, "the role can read while it may connect");

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "alter role {LIMITED_ROLE} connection limit 0;
         select pg_terminate_backend(pid) from pg_stat_activity where usename = '{LIMITED_ROLE}';"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let resp = app.get("/api/v1/products").send().await.unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 503, "database_unavailable").await;

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop owned by {LIMITED_ROLE}; alter role {LIMITED_ROLE} connection limit -1;"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
