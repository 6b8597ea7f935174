//! Accounts: register, login, refresh rotation with reuse detection, logout, profile, roles.

use std::future::IntoFuture;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};
use toko_testkit::{assert_problem, problem_fields, Call, TestApp, TestUser};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn register_returns_the_user_and_a_working_token_pair() {
    let app = TestApp::spawn().await;
    let body = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "  Budi@Example.COM ", "password": PASSWORD, "name": "Budi"}),
        )
        .expect(201)
        .await;
    assert_eq!(
        body["user"]["email"], "budi@example.com",
        "email is normalised"
    );
    assert_eq!(body["user"]["role"], "customer");
    assert_eq!(body["tokens"]["token_type"], "Bearer");
    assert!(body["user"].get("password_hash").is_none());

    let events = app
        .outbox_events(body["user"]["id"].as_str().unwrap())
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].0.as_str(), events[0].1["email"].as_str()),
        ("user.registered", Some("budi@example.com"))
    );

    let token = body["tokens"]["access_token"].as_str().unwrap();
    let me: Value = app.with_token(token).get("/api/v1/me").expect(200).await;
    assert_eq!(me["email"], "budi@example.com");
    assert_eq!(me["name"], "Budi");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    let hash: String = sqlx::query_scalar("select password_hash from users where email = $1")
        .bind(&user.email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn registering_a_taken_email_is_a_conflict_even_when_racing() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "race@example.com", "password": PASSWORD, "name": "Racer"});
    let responses = join_all((0..6).map(|_| {
        app.anonymous()
            .post("/api/v1/auth/register", &body)
            .into_future()
    }))
    .await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409]);

    app.anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "RACE@example.com", "password": PASSWORD, "name": "x"}),
        )
        .expect_problem(409, "email_taken")
        .await;
}

#[tokio::test]
async fn invalid_registrations_name_every_bad_field() {
    let app = TestApp::spawn().await;
    let body = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "not-an-email", "password": "short", "name": " "}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    let fields = problem_fields(&body);
    assert_eq!(fields, vec!["email", "name", "password"]);

    for (password, why) in [
        ("ana@example.com", "email as password"),
        ("password123", "common password"),
    ] {
        let body = app
            .anonymous()
            .post(
                "/api/v1/auth/register",
                &json!({"email": "ana@example.com", "password": password, "name": "Ana"}),
            )
            .expect_problem(422, "validation_failed")
            .await;
        assert_eq!(body["errors"][0]["field"], "password", "{why}");
    }
    // A forgotten field is reported with the others.
    let body = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "not-an-email", "password": "short"}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    let fields = problem_fields(&body);
    assert_eq!(fields, vec!["email", "name", "password"], "{body}");

    // Fields that do not even fit the schema (a number for a string, a missing field) are
    // listed together too, not only the first one the parser met.
    let body = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": 42, "password": true}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    let errors: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        vec![
            ("name", "is required"),
            ("email", "must be a string"),
            ("password", "must be a string"),
        ],
        "{body}"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was written");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_fail_alike() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;

    let mut cpu_costs = Vec::new();
    for email in [user.email.as_str(), "nobody@example.com"] {
        let mut cheapest = Duration::MAX;
        for _ in 0..3 {
            let before = process_cpu_time();
            let resp = app
                .anonymous()
                .post(
                    "/api/v1/auth/login",
                    &json!({"email": email, "password": "wrong password here"}),
                )
                .await;
            cheapest = cheapest.min(process_cpu_time() - before);
            let body = assert_problem(resp, 401, "invalid_credentials").await;
            assert_eq!(body["detail"], "invalid email or password");
        }
        cpu_costs.push(cheapest);
    }
    // Both paths run one argon2 verification (the unknown email against a dummy hash of the
    // same cost); without it the unknown email would cost a millisecond instead of tens. CPU
    // time, unlike wall time, does not grow when other processes load the machine (the app
    // runs in this test's process).
    let (known, unknown) = (cpu_costs[0].as_secs_f64(), cpu_costs[1].as_secs_f64());
    assert!(
        unknown > known * 0.5,
        "an unknown email costs far less CPU than a wrong password: {unknown:.4}s vs {known:.4}s"
    );
}

/// CPU time used so far by this process (all threads).
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_account() {
    let app = TestApp::builder()
        .setting("LOGIN_MAX_FAILURES", "3")
        .spawn()
        .await;
    let user = app.register_customer().await;
    for _ in 0..3 {
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": user.email, "password": "wrong password here"}),
            )
            .expect(401)
            .await;
    }
    // Even the right password is refused while the account is throttled.
    let resp = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
    assert_problem(resp, 429, "too_many_login_attempts").await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_ip() {
    let app = TestApp::builder()
        .setting("LOGIN_MAX_FAILURES_PER_IP", "4")
        .spawn()
        .await;
    for i in 0..4 {
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": format!("ghost{i}@example.com"), "password": "wrong password"}),
            )
            .expect(401)
            .await;
    }
    let resp = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": "another@example.com", "password": "wrong password"}),
        )
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429, "too_many_login_attempts").await;
}

#[tokio::test]
async fn the_full_session_lifecycle_detects_refresh_token_reuse() {
    let app = TestApp::spawn().await;
    let registered = app.register("siti@example.com", PASSWORD).await;
    let session = app.login("SITI@example.com", PASSWORD).await;
    assert_eq!(session.id, registered.id);

    // Rotate once: a new pair; the presented refresh token is spent.
    let rotated = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": session.refresh_token}),
        )
        .expect(200)
        .await;
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, session.refresh_token);
    app.with_token(&new_access)
        .get("/api/v1/me")
        .expect(200)
        .await;

    // Reusing the spent token is refused and revokes the family...
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": session.refresh_token}),
        )
        .expect_problem(401, "invalid_refresh_token")
        .await;
    // ...so the token the rotation issued is dead too.
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": new_refresh}),
        )
        .expect_problem(401, "invalid_refresh_token")
        .await;

    // The user's other session (from registration) is untouched.
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": registered.refresh_token}),
        )
        .expect(200)
        .await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    let body = json!({"refresh_token": user.refresh_token});
    let responses = join_all((0..8).map(|_| {
        app.anonymous()
            .post("/api/v1/auth/refresh", &body)
            .into_future()
    }))
    .await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    app.anonymous()
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": user.refresh_token}),
        )
        .expect(204)
        .await;
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
        )
        .expect_problem(401, "invalid_refresh_token")
        .await;
}

#[tokio::test]
async fn users_update_their_name() {
    let app = TestApp::spawn().await;
    let user = app.register_customer().await;
    let body = app
        .by(&user)
        .patch("/api/v1/me", &json!({"name": "  Dewi Lestari "}))
        .expect(200)
        .await;
    assert_eq!(body["name"], "Dewi Lestari");

    let body = app
        .by(&user)
        .patch("/api/v1/me", &json!({"name": ""}))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "name");
}

#[tokio::test]
async fn changing_the_password_revokes_other_sessions_but_keeps_this_one() {
    let app = TestApp::spawn().await;
    let this = app.register_customer().await;
    let other = app.login(&this.email, &this.password).await;

    let body = app
        .by(&this)
        .post(
            "/api/v1/me/password",
            &json!({"current_password": "not my password", "new_password": "a brand new passphrase"}),
        )
        .expect_problem(422, "wrong_current_password")
        .await;
    assert_eq!(body["errors"][0]["field"], "current_password");

    app
        .by(&this)
        .post(
            "/api/v1/me/password",
            &json!({"current_password": this.password, "new_password": "a brand new passphrase", "refresh_token": this.refresh_token}),
        )
        .expect(204)
        .await;

    let kept = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": this.refresh_token}),
        )
        .await;
    assert_eq!(kept.status(), 200, "this session survives");
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": other.refresh_token}),
        )
        .expect_problem(401, "invalid_refresh_token")
        .await;

    app.login(&this.email, "a brand new passphrase").await;
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": this.email, "password": this.password}),
        )
        .expect(401)
        .await;
}

mod access_tokens {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    /// The claims of a real token, with `changes` applied (a `null` removes the claim).
    fn forged(
        secret: &str,
        real: &str,
        changes: Value,
        exp_offset: i64,
        alg: jsonwebtoken::Algorithm,
    ) -> String {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let now = chrono_now();
        let payload = URL_SAFE_NO_PAD
            .decode(real.split('.').nth(1).unwrap())
            .unwrap();
        let mut claims: serde_json::Map<String, Value> = serde_json::from_slice(&payload).unwrap();
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + exp_offset));
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn chrono_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[tokio::test]
    async fn only_valid_tokens_are_accepted() {
        let app = TestApp::spawn().await;
        let user = app.register_customer().await;
        let hs256 = jsonwebtoken::Algorithm::HS256;
        let secret = "test-secret-that-is-long-enough-0123456789";

        // A token we sign ourselves with the right key is accepted (the harness is honest)...
        let good = forged(secret, &user.access_token, json!({}), 60, hs256);
        app.with_token(&good).get("/api/v1/me").expect(200).await;

        let payload = user.access_token.split('.').nth(1).unwrap();
        let cases = [
            (
                "another key",
                forged(
                    "some-other-secret-of-enough-length-000",
                    &user.access_token,
                    json!({}),
                    60,
                    hs256,
                ),
            ),
            (
                "expired",
                forged(secret, &user.access_token, json!({}), -120, hs256),
            ),
            (
                "without a session",
                forged(secret, &user.access_token, json!({"sid": null}), 60, hs256),
            ),
            (
                "a session that does not exist",
                forged(
                    secret,
                    &user.access_token,
                    json!({"sid": uuid::Uuid::new_v4()}),
                    60,
                    hs256,
                ),
            ),
            (
                "HS512 instead of HS256",
                forged(
                    secret,
                    &user.access_token,
                    json!({}),
                    60,
                    jsonwebtoken::Algorithm::HS512,
                ),
            ),
            (
                "alg none",
                format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
            ),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        for (why, token) in cases {
            let resp = app.with_token(&token).get("/api/v1/me").await;
            assert!(resp.headers().get("www-authenticate").is_some(), "{why}");
            assert_problem(resp, 401, "unauthorized").await;
        }
        app.anonymous()
            .get("/api/v1/me")
            .expect_problem(401, "unauthorized")
            .await;
    }
}

mod roles {
    use super::*;

    #[tokio::test]
    async fn admin_routes_need_an_admin() {
        let app = TestApp::spawn().await;
        let customer = app.register_customer().await;
        let admin = app.register_admin().await;

        app.anonymous()
            .get("/api/v1/admin/users")
            .expect_problem(401, "unauthorized")
            .await;
        app.by(&customer)
            .get("/api/v1/admin/users")
            .expect_problem(403, "forbidden")
            .await;
        let body = app.by(&admin).get("/api/v1/admin/users").expect(200).await;
        assert_eq!(body["items"].as_array().unwrap().len(), 2);
    }
}

mod revocation {
    use super::*;

    async fn me(app: &TestApp, access_token: &str) -> u16 {
        app.with_token(access_token)
            .get("/api/v1/me")
            .await
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn a_password_change_voids_every_access_token_at_once() {
        let app = TestApp::spawn().await;
        let this = app.register_customer().await;
        let other = app.login(&this.email, &this.password).await;
        assert_eq!(me(&app, &other.access_token).await, 200);

        app
            .by(&this)
            .post(
                "/api/v1/me/password",
                &json!({"current_password": this.password, "new_password": "a brand new passphrase", "refresh_token": this.refresh_token}),
            )
            .expect(204)
            .await;

        assert_eq!(
            me(&app, &other.access_token).await,
            401,
            "the other session"
        );
        assert_eq!(
            me(&app, &this.access_token).await,
            200,
            "this session stays"
        );
        let renewed: Value = app
            .anonymous()
            .post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": this.refresh_token}),
            )
            .await
            .json()
            .await
            .unwrap();
        let access = renewed["access_token"].as_str().unwrap();
        assert_eq!(me(&app, access).await, 200);
    }

    #[tokio::test]
    async fn logging_out_voids_that_sessions_access_token_at_once() {
        let app = TestApp::spawn().await;
        let this = app.register_customer().await;
        let other = app.login(&this.email, &this.password).await;
        app.anonymous()
            .post(
                "/api/v1/auth/logout",
                &json!({"refresh_token": this.refresh_token}),
            )
            .expect(204)
            .await;
        assert_eq!(me(&app, &this.access_token).await, 401);
        assert_eq!(me(&app, &other.access_token).await, 200, "another session");
    }

    #[tokio::test]
    async fn logging_out_everywhere_voids_every_session_at_once() {
        let app = TestApp::spawn().await;
        let this = app.register_customer().await;
        let other = app.login(&this.email, &this.password).await;
        app.by(&this)
            .delete("/api/v1/me/sessions")
            .expect(204)
            .await;
        for user in [&this, &other] {
            assert_eq!(me(&app, &user.access_token).await, 401);
            app.anonymous()
                .post(
                    "/api/v1/auth/refresh",
                    &json!({"refresh_token": user.refresh_token}),
                )
                .expect_problem(401, "invalid_refresh_token")
                .await;
        }
    }

    fn set_disabled(app: &TestApp, admin: &TestUser, user_id: &str, action: &str) -> Call {
        app.by(admin).post(
            &format!("/api/v1/admin/users/{user_id}/{action}"),
            &json!({}),
        )
    }

    #[tokio::test]
    async fn disabling_an_account_ends_its_sessions_at_once_until_it_is_enabled() {
        let app = TestApp::spawn().await;
        let admin = app.register_admin().await;
        let this = app.register_customer().await;
        let other = app.login(&this.email, &this.password).await;

        let body = set_disabled(&app, &admin, &this.id, "disable")
            .expect(200)
            .await;
        assert!(body["disabled_at"].is_string(), "{body}");

        for session in [&this, &other] {
            assert_eq!(me(&app, &session.access_token).await, 401);
            app.anonymous()
                .post(
                    "/api/v1/auth/refresh",
                    &json!({"refresh_token": session.refresh_token}),
                )
                .expect_problem(401, "invalid_refresh_token")
                .await;
        }
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": this.email, "password": this.password}),
            )
            .expect_problem(403, "account_disabled")
            .await;
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                &json!({"email": this.email, "password": "not the password at all"}),
            )
            .expect_problem(401, "invalid_credentials")
            .await;

        let body = set_disabled(&app, &admin, &this.id, "enable")
            .expect(200)
            .await;
        assert!(body.get("disabled_at").is_none(), "{body}");
        assert_eq!(
            me(&app, &this.access_token).await,
            401,
            "ended sessions stay ended"
        );
        let again = app.login(&this.email, &this.password).await;
        assert_eq!(me(&app, &again.access_token).await, 200);
    }

    #[tokio::test]
    async fn staff_cannot_disable_themselves_or_an_unknown_account() {
        let app = TestApp::spawn().await;
        let admin = app.register_admin().await;
        set_disabled(&app, &admin, &admin.id, "disable")
            .expect_problem(409, "cannot_disable_self")
            .await;
        assert_eq!(me(&app, &admin.access_token).await, 200);
        let unknown =
            set_disabled(&app, &admin, &uuid::Uuid::new_v4().to_string(), "disable").await;
        assert_problem(unknown, 404, "not_found").await;
    }

    #[tokio::test]
    async fn a_deleted_users_token_is_refused_with_401() {
        let app = TestApp::spawn().await;
        let user = app.register_customer().await;
        assert_eq!(me(&app, &user.access_token).await, 200);
        sqlx::query("delete from users where user_id = $1::uuid")
            .bind(&user.id)
            .execute(&app.db)
            .await
            .unwrap();
        // After the brief session cache has moved on.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        app.by(&user)
            .get("/api/v1/cart")
            .expect_problem(401, "unauthorized")
            .await;
    }
}
