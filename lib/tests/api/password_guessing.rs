//! Password guessing: every guess (a login, or the current password of a password change) is
//! counted before it is verified, per account from one address, per address, and per account
//! across addresses (a high ceiling), so no more guesses than a limit are ever verified and
//! one address cannot lock the owner out.

use futures::future::join_all;
use serde_json::json;
use std::future::IntoFuture;
use toko_testkit::{assert_problem, Call, TestApp, TestUser};

fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Call {
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .header("x-forwarded-for", ip)
}

#[tokio::test]
async fn concurrent_guesses_never_verify_more_than_the_limit() {
    let app = TestApp::builder()
        .setting("LOGIN_MAX_FAILURES", "5")
        .spawn()
        .await;
    let user = app.register_customer().await;
    let attempts = (0..24)
        .map(|i| format!("wrong password number {i}"))
        .chain([user.password.clone()]);
    let requests = attempts.map(|password| {
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": user.email, "password": password}),
            )
            .into_future()
    });
    let statuses: Vec<u16> = join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    let verified = statuses.iter().filter(|s| matches!(s, 200 | 401)).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        verified <= 5,
        "{verified} of 25 concurrent guesses were verified: {statuses:?}"
    );
    assert_eq!(verified + refused, 25, "{statuses:?}");
}

#[tokio::test]
async fn the_current_password_of_a_password_change_is_throttled_like_a_login() {
    let app = TestApp::builder()
        .setting("LOGIN_MAX_FAILURES", "3")
        .spawn()
        .await;
    let user = app.register_customer().await;
    let change = |current: &str| {
        app.by(&user).post(
            "/api/v1/me/password",
            &json!({"current_password": current, "new_password": "a brand new passphrase"}),
        )
    };
    for i in 0..3 {
        change(&format!("guess number {i}"))
            .expect_problem(422, "wrong_current_password")
            .await;
    }
    // Even the right one is refused now: the oracle is closed.
    let resp = change(&user.password).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429, "too_many_login_attempts").await;
    // ...and the same counters guard the login.
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": user.password}),
        )
        .expect_problem(429, "too_many_login_attempts")
        .await;
}

async fn throttled_app(per_account: &str) -> (TestApp, TestUser) {
    let app = TestApp::builder()
        .setting("TRUST_FORWARDED_FOR", "true")
        .setting("LOGIN_MAX_FAILURES", "3")
        .setting("LOGIN_MAX_FAILURES_PER_ACCOUNT", per_account)
        .spawn()
        .await;
    let user = app.register_customer().await;
    (app, user)
}

#[tokio::test]
async fn an_attacker_from_one_address_cannot_lock_the_owner_out() {
    let (app, owner) = throttled_app("100").await;
    for _ in 0..3 {
        login_from(&app, "198.51.100.66", &owner.email, "not the password")
            .expect(401)
            .await;
    }
    login_from(&app, "198.51.100.66", &owner.email, &owner.password)
        .expect_problem(429, "too_many_login_attempts")
        .await;

    let resp = login_from(&app, "203.0.113.5", &owner.email, &owner.password).await;
    assert_eq!(
        resp.status(),
        200,
        "the owner, from their own address, gets in"
    );
}

#[tokio::test]
async fn guesses_from_many_addresses_stop_at_the_account_ceiling() {
    let (app, owner) = throttled_app("6").await;
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            login_from(&app, ip, &owner.email, "not the password")
                .expect(401)
                .await;
        }
    }
    login_from(&app, "198.51.100.4", &owner.email, "not the password")
        .expect_problem(429, "too_many_login_attempts")
        .await;
}

#[tokio::test]
async fn successful_logins_do_not_use_up_the_address_limit() {
    let app = TestApp::builder()
        .setting("LOGIN_MAX_FAILURES_PER_IP", "3")
        .spawn()
        .await;
    let user = app.register_customer().await;
    for _ in 0..5 {
        app.login(&user.email, &user.password).await;
    }
}

#[tokio::test]
async fn counters_of_ended_windows_are_deleted() {
    let app = TestApp::builder()
        .setting("LOGIN_FAILURE_WINDOW", "1s")
        .spawn()
        .await;
    let guess = |email: &'static str| {
        app.anonymous().post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": "not the password"}),
        )
    };
    let keys = || async {
        let keys: Vec<String> =
            sqlx::query_scalar("select throttle_key from login_failures order by throttle_key")
                .fetch_all(&app.db)
                .await
                .unwrap();
        keys
    };
    guess("first@example.com").expect(401).await;
    assert_eq!(keys().await.len(), 3, "account from IP, IP, account");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    guess("second@example.com").expect(401).await;
    let left = keys().await;
    assert!(
        left.iter().all(|k| !k.contains("first@example.com")),
        "{left:?}"
    );
    assert_eq!(left.len(), 3, "{left:?}");
}
