//! What every request gets: problem+json errors, request ids, security headers, health,
//! metrics.

use reqwest::Method;
use serde_json::{json, Value};
use toko_testkit::{assert_problem, Call, TestApp};

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "malformed_json").await;
}

#[tokio::test]
async fn wrong_json_types_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let body = app
        .anonymous()
        .post("/api/v1/auth/login", &json!({"email": 42, "password": "x"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "email");

    let body = app
        .anonymous()
        .post("/api/v1/auth/login", &json!({"email": "a@b.co"}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "password");
}

#[tokio::test]
async fn the_wrong_content_type_is_a_415_problem() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.anonymous()
        .get("/api/v1/nope")
        .expect_problem(404, "not_found")
        .await;
    app.anonymous()
        .get("/nope")
        .expect_problem(404, "not_found")
        .await;
    app.anonymous()
        .request(Method::PUT, "/api/v1/auth/login")
        .expect_problem(405, "method_not_allowed")
        .await;
}

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let app = TestApp::builder()
        .setting("REQUEST_BODY_LIMIT", "1024")
        .spawn()
        .await;
    let big = "x".repeat(4096);
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": big, "password": "x"}),
        )
        .expect_problem(413, "payload_too_large")
        .await;
}

#[tokio::test]
async fn deeply_nested_bodies_are_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let deep = format!(
        r#"{{"email": {}1{}, "password": "x"}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(deep.clone())
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "json_too_deep").await;
    // The payment webhook reads raw bytes; the same cap holds there.
    let resp = app
        .client
        .post(app.url("/api/v1/payments/midtrans/notification"))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "json_too_deep").await;
}

#[tokio::test]
async fn bad_query_parameters_are_400_problems_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let admin = app.register_admin().await;
    let body = app
        .by(&admin)
        .get("/api/v1/admin/users?limit=1000")
        .expect_problem(400, "invalid_parameter")
        .await;
    assert_eq!(body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_appear_in_problems() {
    let app = TestApp::spawn().await;
    let resp = app
        .anonymous()
        .get("/api/v1/me")
        .header("x-request-id", "trace-abc-123")
        .await;
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["request_id"], "trace-abc-123");

    let resp = app.anonymous().get("/health/live").await;
    let generated = resp.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    let resp = app.anonymous().get("/health/live").await;
    let h = resp.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::builder()
        .setting("CORS_ALLOWED_ORIGINS", "https://shop.example")
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.anonymous()
            .request(Method::OPTIONS, "/api/v1/auth/login")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
    };
    let allowed = preflight("https://shop.example").await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let denied = preflight("https://evil.example").await;
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn health_endpoints_report_liveness_and_readiness() {
    let app = TestApp::spawn().await;
    let live: Value = app.anonymous().get("/health/live").expect(200).await;
    assert_eq!(live["status"], "ok");
    let ready = app.anonymous().get("/health/ready").expect(200).await;
    assert_eq!(ready["checks"]["database"]["ok"], true);
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.close().await;
    let body = app
        .anonymous()
        .get("/health/ready")
        .expect_problem(503, "not_ready")
        .await;
    assert!(
        body["detail"].as_str().unwrap().starts_with("database:"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_status() {
    let app = TestApp::spawn().await;
    app.anonymous().get("/api/v1/me").await;
    app.anonymous().get("/api/v1/me").await;
    let text = reqwest::get(format!("{}/metrics", app.metrics_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"toko_http_requests_total{method="GET",route="get_me",status="401"} 2"#),
        "{text}"
    );
    assert!(text.contains("toko_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_ip_is_the_right_most_forwarded_entry() {
    // Per-IP login throttling shows which address the API counts.
    let app = TestApp::builder()
        .setting("TRUST_FORWARDED_FOR", "true")
        .setting("LOGIN_MAX_FAILURES_PER_IP", "2")
        .spawn()
        .await;
    let fail = |forwarded: &'static str| {
        app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": format!("{}@example.com", uuid::Uuid::new_v4().simple()), "password": "wrong password"}),
            )
            .header("x-forwarded-for", forwarded)
    };
    // The client forges the left entry each time; the proxy appended 203.0.113.7.
    fail("1.1.1.1, 203.0.113.7").expect(401).await;
    fail("2.2.2.2, 203.0.113.7").expect(401).await;
    fail("3.3.3.3, 203.0.113.7")
        .expect_problem(429, "too_many_login_attempts")
        .await;
    // Another client behind the same proxy is another address.
    fail("9.9.9.9, 198.51.100.2").expect(401).await;
}

#[tokio::test]
async fn the_client_ip_counts_every_forwarded_for_line_and_the_trusted_hops() {
    // HAProxy's `option forwardfor` appends a header line of its own rather than an entry.
    let app = TestApp::builder()
        .setting("TRUST_FORWARDED_FOR", "true")
        .setting("LOGIN_MAX_FAILURES_PER_IP", "2")
        .spawn()
        .await;
    let fail = |lines: &[&str]| {
        let mut request = app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": format!("{}@example.com", uuid::Uuid::new_v4().simple()), "password": "wrong password"}),
            );
        for line in lines {
            request = request.header("x-forwarded-for", line);
        }
        request
    };
    fail(&["1.1.1.1", "203.0.113.7"]).expect(401).await;
    fail(&["2.2.2.2", "203.0.113.7"]).expect(401).await;
    fail(&["3.3.3.3", "203.0.113.7"])
        .expect_problem(429, "too_many_login_attempts")
        .await;

    // Two proxies: the client is the second entry from the right.
    let app = TestApp::builder()
        .setting("TRUST_FORWARDED_FOR", "true")
        .setting("TRUSTED_PROXY_HOPS", "2")
        .setting("LOGIN_MAX_FAILURES_PER_IP", "2")
        .spawn()
        .await;
    let fail = |forwarded: &'static str| {
        app
            .anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": format!("{}@example.com", uuid::Uuid::new_v4().simple()), "password": "wrong password"}),
            )
            .header("x-forwarded-for", forwarded)
    };
    fail("1.1.1.1, 203.0.113.9, 10.0.0.2").expect(401).await;
    fail("2.2.2.2, 203.0.113.9, 10.0.0.3").expect(401).await;
    fail("3.3.3.3, 203.0.113.9, 10.0.0.2")
        .expect_problem(429, "too_many_login_attempts")
        .await;
}

mod cors {
    use super::*;

    fn preflight(app: &TestApp, origin: &str) -> Call {
        app.anonymous()
            .request(Method::OPTIONS, "/api/v1/products")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
    }

    async fn allowed_origin(app: &TestApp, origin: &str) -> Option<String> {
        let get = app
            .anonymous()
            .get("/api/v1/products")
            .header("origin", origin)
            .await;
        let pre = preflight(app, origin).await;
        let header = |r: &reqwest::Response| {
            r.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(header(&get), header(&pre), "GET and preflight agree");
        header(&get)
    }

    #[tokio::test]
    async fn without_allowed_origins_no_origin_gets_cross_origin_access() {
        let app = TestApp::spawn().await;
        assert_eq!(allowed_origin(&app, "https://evil.example").await, None);
    }

    #[tokio::test]
    async fn listed_origins_get_access_and_others_do_not() {
        let app = TestApp::builder()
            .setting("CORS_ALLOWED_ORIGINS", "https://shop.example")
            .spawn()
            .await;
        assert_eq!(
            allowed_origin(&app, "https://shop.example")
                .await
                .as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(allowed_origin(&app, "https://evil.example").await, None);
    }

    #[tokio::test]
    async fn any_origin_only_when_asked_for_with_a_star() {
        let app = TestApp::builder()
            .setting("CORS_ALLOWED_ORIGINS", "*")
            .spawn()
            .await;
        assert!(allowed_origin(&app, "https://anyone.example")
            .await
            .is_some());
    }
}
