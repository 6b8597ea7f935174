//! Rate limits: per IP, per user, stricter on auth, 429 with Retry-After and RateLimit
//! headers, and one budget shared by several API replicas through Redis.

use serde_json::json;
use toko_testkit::{assert_problem, TestApp, TestAppBuilder};

/// Limits per hour, so a test never straddles a window; if one is about to end, wait for it.
fn limited(
    builder: TestAppBuilder,
    anonymous: u32,
    authenticated: u32,
    auth: u32,
) -> TestAppBuilder {
    builder
        .setting("RATE_LIMIT_ENABLED", "true")
        .setting("RATE_LIMIT_WINDOW", "1h")
        .setting("RATE_LIMIT_ANONYMOUS_PER_MINUTE", &anonymous.to_string())
        .setting(
            "RATE_LIMIT_AUTHENTICATED_PER_MINUTE",
            &authenticated.to_string(),
        )
        .setting("RATE_LIMIT_AUTH_PER_MINUTE", &auth.to_string())
}

async fn avoid_window_edge(app: &TestApp) {
    let resp = app.anonymous().get("/api/v1/categories").await;
    let reset: u64 = resp.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    if reset < 15 {
        tokio::time::sleep(std::time::Duration::from_secs(reset + 1)).await;
    }
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_ip_and_users_per_account() {
    let app = limited(TestApp::builder(), 6, 4, 100).spawn().await;
    avoid_window_edge(&app).await;
    let user = app.register_customer().await;
    for expected_remaining in (0..5).rev() {
        let resp = app.anonymous().get("/api/v1/categories").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["ratelimit-limit"], "6");
        assert_eq!(
            resp.headers()["ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
    }
    let refused = app.anonymous().get("/api/v1/products").await;
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    assert_problem(refused, 429, "rate_limited").await;

    // The signed-in user has a budget of their own.
    for _ in 0..4 {
        app.by(&user).get("/api/v1/me").expect(200).await;
    }
    app.by(&user)
        .get("/api/v1/me")
        .expect_problem(429, "rate_limited")
        .await;
    // Health and metrics are never limited.
    app.anonymous().get("/health/live").expect(200).await;
}

#[tokio::test]
async fn auth_endpoints_have_a_stricter_limit() {
    let app = limited(TestApp::builder(), 1000, 1000, 3).spawn().await;
    avoid_window_edge(&app).await;
    for _ in 0..3 {
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": "x@example.com", "password": "whatever pass"}),
            )
            .expect(401)
            .await;
    }
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": "x@example.com", "password": "whatever pass"}),
        )
        .expect_problem(429, "rate_limited")
        .await;
    assert_eq!(
        app.anonymous().get("/api/v1/categories").await.status(),
        200,
        "other routes are unaffected"
    );
}

#[tokio::test]
async fn replicas_sharing_redis_share_one_budget() {
    let prefix = format!("toko-test-{}", uuid::Uuid::new_v4().simple());
    let replica = || {
        limited(TestApp::builder(), 6, 100, 100)
            .setting("REDIS_URL", "redis://127.0.0.1:6379")
            .setting("RATE_LIMIT_KEY_PREFIX", &prefix)
            .spawn()
    };
    let (a, b) = (replica().await, replica().await);
    assert!(a.state.rate_limiter.is_shared());
    avoid_window_edge(&a).await;
    for app in [&a, &b, &a, &b] {
        app.anonymous().get("/api/v1/categories").expect(200).await;
    }
    // The window check and four requests used five of the six, whichever replica served them.
    b.anonymous().get("/api/v1/categories").expect(200).await;
    a.anonymous()
        .get("/api/v1/categories")
        .expect_problem(429, "rate_limited")
        .await;
    b.anonymous()
        .get("/api/v1/categories")
        .expect_problem(429, "rate_limited")
        .await;
}

#[tokio::test]
async fn handler_errors_carry_the_ratelimit_headers_too() {
    let app = limited(TestApp::builder(), 50, 50, 50).spawn().await;
    let resp = app
        .anonymous()
        .get("/api/v1/products/no-such-product")
        .await;
    assert!(
        resp.headers().contains_key("ratelimit-limit")
            && resp.headers().contains_key("ratelimit-remaining")
            && resp.headers().contains_key("ratelimit-reset"),
        "{:?}",
        resp.headers()
    );
    assert_problem(resp, 404, "not_found").await;
}
