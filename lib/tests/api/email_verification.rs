//! Email verification: registration sends a link (derived, never stored or published), the
//! link verifies the address once, customers may ask for a new one, and a shop can require a
//! verified address to check out.

use serde_json::{json, Value};
use toko::{auth::verification::verification_token, config::Secret};
use toko_testkit::{address, Call, TestApp, TestUser};
use uuid::Uuid;

fn key() -> Secret {
    Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone())
}

/// The verification links recorded for `user`, oldest first.
async fn links(app: &TestApp, user: &TestUser) -> Vec<Uuid> {
    sqlx::query_scalar(
        "select verification_id from email_verifications where user_id = $1 order by created_at",
    )
    .bind(Uuid::parse_str(&user.id).unwrap())
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn status(app: &TestApp, user: &TestUser) -> Value {
    app.by(user)
        .get("/api/v1/me/email-verification")
        .await
        .json()
        .await
        .unwrap()
}

fn verify(app: &TestApp, token: &str) -> Call {
    app.anonymous()
        .post("/api/v1/auth/verify-email", &json!({ "token": token }))
}

fn resend(app: &TestApp, user: &TestUser) -> Call {
    app.by(user)
        .post("/api/v1/me/email-verification", &json!({}))
}

#[tokio::test]
async fn the_registration_link_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    assert_eq!(status(&app, &user).await["verified"], false);
    let ids = links(&app, &user).await;
    assert_eq!(ids.len(), 1, "registration records one link");
    let token = verification_token(&key(), ids[0]);
    let (kind, payload) = app.outbox_events(&user.id).await.remove(0);
    assert_eq!(kind, "user.registered");
    assert_eq!(payload["verification_id"], ids[0].to_string());
    assert!(!payload.to_string().contains(&token));

    let problem = verify(&app, "forged")
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem["errors"][0]["field"], "token");
    // A password reset token of the same id is not a verification token.
    let reset = toko::auth::resets::reset_token(&key(), ids[0]);
    verify(&app, &reset)
        .expect_problem(422, "validation_failed")
        .await;

    verify(&app, &token).expect(204).await;
    let verified = status(&app, &user).await;
    assert_eq!(verified["verified"], true);
    assert!(verified["verified_at"].is_string());
    verify(&app, &token)
        .expect_problem(422, "validation_failed")
        .await;
    resend(&app, &user)
        .expect_problem(409, "email_already_verified")
        .await;
}

#[tokio::test]
async fn new_links_are_limited_and_expired_links_do_not_verify() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    for _ in 0..4 {
        resend(&app, &user).expect(202).await;
    }
    let ids = links(&app, &user).await;
    assert_eq!(
        ids.len(),
        3,
        "the registration's link and two more within the hour"
    );
    let kinds: Vec<String> = app
        .outbox_events(&user.id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .filter(|kind| kind == "user.email_verification_requested")
        .collect();
    assert_eq!(kinds.len(), 2);
    sqlx::query("update email_verifications set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    verify(&app, &verification_token(&key(), ids[2]))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(status(&app, &user).await["verified"], false);
}

#[tokio::test]
async fn a_shop_can_require_a_verified_address_to_check_out() {
    let app = TestApp::builder()
        .setting("CHECKOUT_REQUIRES_VERIFIED_EMAIL", "true")
        .spawn()
        .await;
    let admin = app.register_admin().await;
    let category = app.create_category_id(&admin, "Books", None).await;
    let variant = app
        .create_simple_variant(&admin, &category, "Novel", "NOVEL", 80_000, 10)
        .await;
    let user = app.register_customer().await;
    app.add_to_cart(&user, &variant, 1).await;
    let checkout = || {
        app.by(&user)
            .post(
                "/api/v1/checkout",
                &json!({ "shipping_address": address(), "shipping_method": "standard" }),
            )
            .idempotency_key(&Uuid::new_v4().to_string())
    };
    checkout().expect_problem(403, "email_not_verified").await;
    let id = links(&app, &user).await[0];
    verify(&app, &verification_token(&key(), id))
        .expect(204)
        .await;
    checkout().expect(201).await;
}
