//! Password reset: the same answer for every address, a single-use link that expires, at
//! most a few links per account per hour (also under concurrency), and a reset that ends
//! every session.

use futures::future::join_all;
use serde_json::{json, Value};
use std::future::IntoFuture;
use toko::{auth::resets::reset_token, config::Secret};
use toko_testkit::{problem_fields, Call, TestApp, TestUser};
use uuid::Uuid;

/// The key the test apps derive reset links with.
fn key() -> Secret {
    Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone())
}

fn ask(app: &TestApp, email: &str) -> Call {
    app.anonymous()
        .post("/api/v1/auth/password-reset", &json!({ "email": email }))
}

fn confirm(app: &TestApp, token: &str, new_password: &str) -> Call {
    app.anonymous().post(
        "/api/v1/auth/password-reset/confirm",
        &json!({ "token": token, "new_password": new_password }),
    )
}

/// The requests recorded for `user`, oldest first.
async fn requests(app: &TestApp, user: &TestUser) -> Vec<Uuid> {
    sqlx::query_scalar(
        "select request_id from password_resets where user_id = $1 order by created_at",
    )
    .bind(Uuid::parse_str(&user.id).unwrap())
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn me(app: &TestApp, access_token: &str) -> u16 {
    app.with_token(access_token)
        .get("/api/v1/me")
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;

    // Known and unknown addresses get the same answer; only the account gets a request.
    let known = ask(&app, &user.email.to_uppercase()).await;
    let unknown = ask(&app, "nobody@example.com").await;
    assert_eq!(
        (known.status().as_u16(), unknown.status().as_u16()),
        (202, 202)
    );
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    let ids = requests(&app, &user).await;
    assert_eq!(ids.len(), 1);
    let token = reset_token(&key(), ids[0]);
    // The event names the request, never its token.
    let events = app.outbox_events(&user.id).await;
    let (kind, payload) = events.last().unwrap();
    assert_eq!(kind, "user.password_reset_requested");
    assert_eq!(payload["request_id"], ids[0].to_string());
    assert!(!payload.to_string().contains(&token), "{payload}");
    let stored: Vec<u8> = sqlx::query_scalar("select token_hash from password_resets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    // A wrong token and a weak password are both named.
    let problem = confirm(&app, "not-a-token", "short")
        .expect_problem(422, "validation_failed")
        .await;
    let fields = problem_fields(&problem);
    assert_eq!(fields, ["token", "new_password"]);

    let new_password = "a brand new passphrase 42";
    confirm(&app, &token, new_password).expect(204).await;
    // Every session ended: the access token and the refresh token stop working at once.
    assert_eq!(me(&app, &user.access_token).await, 401);
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": user.refresh_token }),
        )
        .expect(401)
        .await;
    // The old password is gone, the new one signs in; the link works once.
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({ "email": user.email, "password": user.password }),
        )
        .expect(401)
        .await;
    let signed_in = app.login(&user.email, new_password).await;
    assert_eq!(me(&app, &signed_in.access_token).await, 200);
    let problem = confirm(&app, &token, "another new passphrase 43")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem["errors"][0]["field"], "token");
}

#[tokio::test]
async fn links_expire_a_newer_reset_closes_older_links_and_disabled_accounts_get_none() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    ask(&app, &user.email).await;
    ask(&app, &user.email).await;
    let ids = requests(&app, &user).await;
    let (first, second) = (reset_token(&key(), ids[0]), reset_token(&key(), ids[1]));
    sqlx::query(
        "update password_resets set expires_at = now() - interval '1 second' where request_id = $1",
    )
    .bind(ids[0])
    .execute(&app.db)
    .await
    .unwrap();
    confirm(&app, &first, "a brand new passphrase 42")
        .expect_problem(422, "validation_failed")
        .await;
    confirm(&app, &second, "a brand new passphrase 42")
        .expect(204)
        .await;

    ask(&app, &user.email).await;
    let third = reset_token(&key(), *requests(&app, &user).await.last().unwrap());
    ask(&app, &user.email).await;
    let fourth = reset_token(&key(), *requests(&app, &user).await.last().unwrap());
    confirm(&app, &fourth, "yet another passphrase 44")
        .expect(204)
        .await;
    confirm(&app, &third, "one more passphrase 45")
        .expect_problem(422, "validation_failed")
        .await;

    // A disabled account gets no link (and the same answer).
    let admin = app.register_admin().await;
    let other = app.register_customer().await;
    app.by(&admin)
        .post(
            &format!("/api/v1/admin/users/{}/disable", other.id),
            &json!({}),
        )
        .expect(200)
        .await;
    ask(&app, &other.email).expect(202).await;
    assert!(requests(&app, &other).await.is_empty());
}

#[tokio::test]
async fn at_most_three_links_per_account_per_hour_even_when_requests_race() {
    let app = TestApp::builder()
        .setting("RATE_LIMIT_ENABLED", "false")
        .spawn()
        .await;
    let user = app.register_customer().await;
    let answers = join_all((0..12).map(|_| ask(&app, &user.email).into_future())).await;
    assert!(answers.iter().all(|a| a.status() == 202));
    assert_eq!(requests(&app, &user).await.len(), 3);
    let events: Vec<(String, Value)> = app.outbox_events(&user.id).await;
    let sent = events
        .iter()
        .filter(|(kind, _)| kind == "user.password_reset_requested")
        .count();
    assert_eq!(sent, 3, "one email per recorded request");
}
