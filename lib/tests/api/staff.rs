//! Staff: the owner invites people with a role, the invitee sets a password and works with
//! exactly that role's permissions; roles change and staff are disabled by the owner only,
//! with effect on the next request.

use serde_json::{json, Value};
use toko_testkit::{problem_fields, Call, TestApp, TestUser};

/// The link token of an invite, derived as the notifier derives it for the email.
fn invite_token(invite: &Value) -> String {
    let key = toko::config::Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone());
    toko::auth::staff::invite_token(&key, invite["id"].as_str().unwrap().parse().unwrap())
}

fn invite(app: &TestApp, by: &TestUser, body: Value) -> Call {
    app.by(by).post("/api/v1/admin/staff-invites", &body)
}

fn accept(app: &TestApp, token: &str) -> Call {
    app.anonymous().post(
        "/api/v1/auth/accept-invite",
        &json!({"token": token, "new_password": "a fresh staff passphrase"}),
    )
}

fn product(category: &str) -> Value {
    json!({"name": "Batik Shirt", "status": "draft", "category_id": category,
           "variants": [{"sku": "BATIK-1", "price": 150000, "stock_on_hand": 3}]})
}

#[tokio::test]
async fn an_invited_person_sets_a_password_and_works_with_the_invited_role_only() {
    let app = TestApp::spawn().await;
    let owner = app.register_staff("owner").await;
    let category = app.create_category_id(&owner, "Shirts", None).await;
    let email = format!("hire-{}@example.com", uuid::Uuid::new_v4().simple());
    let sent = invite(
        &app,
        &owner,
        json!({"email": email.to_uppercase(), "name": " Dewi ", "role": "catalog_manager"}),
    )
    .expect(201)
    .await;
    assert_eq!(sent["email"], email);
    assert_eq!(sent["role"], "catalog_manager");

    let session = accept(&app, &invite_token(&sent)).expect(201).await;
    assert_eq!(session["user"]["name"], "Dewi");
    assert_eq!(session["user"]["role"], "catalog_manager");
    let token = session["tokens"]["access_token"].as_str().unwrap();

    // The catalog is theirs; orders and staff are not.
    app.with_token(token)
        .post("/api/v1/admin/products", &product(&category))
        .expect(201)
        .await;
    let problem = app
        .with_token(token)
        .get("/api/v1/admin/orders")
        .expect_problem(403, "forbidden")
        .await;
    assert!(problem["detail"].as_str().unwrap().contains("orders.read"));

    // The owner sees pending invites and may withdraw one: its link then stops working.
    let other = invite(
        &app,
        &owner,
        json!({"email": "second-hire@example.com", "name": "Rudi", "role": "support"}),
    )
    .await;
    let other: Value = other.json().await.unwrap();
    let pending = app
        .by(&owner)
        .get("/api/v1/admin/staff-invites")
        .expect(200)
        .await;
    let emails: Vec<&str> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["second-hire@example.com"],
        "accepted invites are not pending"
    );
    let revoke = || {
        app.by(&owner).delete(&format!(
            "/api/v1/admin/staff-invites/{}",
            other["id"].as_str().unwrap()
        ))
    };
    revoke().expect(204).await;
    revoke().expect_problem(404, "not_found").await;
    let problem = accept(&app, &invite_token(&other))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["token"]);

    // The link works once; an address with an account gets no invite; only the owner invites.
    let problem = accept(&app, &invite_token(&sent))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["token"]);
    invite(
        &app,
        &owner,
        json!({"email": email, "name": "Again", "role": "support"}),
    )
    .expect_problem(409, "email_taken")
    .await;
    let admin = app.register_admin().await;
    invite(
        &app,
        &admin,
        json!({"email": "someone@example.com", "name": "S", "role": "support"}),
    )
    .expect_problem(403, "forbidden")
    .await;
    let problem = invite(
        &app,
        &owner,
        json!({"email": "bad", "name": "", "role": "customer"}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem_fields(&problem), ["email", "name", "role"]);
}

#[tokio::test]
async fn the_owner_changes_roles_and_disables_staff_with_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.register_staff("owner").await;
    let support = app.register_staff("support").await;
    let category = app.create_category_id(&owner, "Shirts", None).await;
    let create = || {
        app.by(&support)
            .post("/api/v1/admin/products", &product(&category))
    };
    create().expect(403).await;

    let change = |user: &TestUser, by: &TestUser, role: &str| {
        app.by(by).put(
            &format!("/api/v1/admin/users/{}/role", user.id),
            &json!({"role": role}),
        )
    };
    change(&support, &owner, "catalog_manager")
        .expect(200)
        .await;
    // The same access token, the new role.
    create().expect(201).await;

    change(&owner, &owner, "support")
        .expect_problem(409, "cannot_change_own_role")
        .await;
    let customer = app.register_customer().await;
    change(&customer, &owner, "support")
        .expect_problem(409, "not_staff")
        .await;
    let admin = app.register_admin().await;
    change(&support, &admin, "owner")
        .expect_problem(403, "forbidden")
        .await;

    // Administrators disable customers, not staff; the owner disables staff.
    let disable = |user: &TestUser, by: &TestUser| {
        app.by(by).post(
            &format!("/api/v1/admin/users/{}/disable", user.id),
            &json!({}),
        )
    };
    disable(&customer, &admin).expect(200).await;
    disable(&support, &admin)
        .expect_problem(403, "forbidden")
        .await;
    disable(&support, &owner).expect(200).await;
    create().expect(401).await;
}

#[tokio::test]
async fn an_order_manager_refunds_up_to_the_limit_and_an_administrator_beyond_it() {
    let app = TestApp::builder()
        .with_midtrans()
        .setting("ORDER_MANAGER_REFUND_LIMIT", "30000")
        .spawn()
        .await;
    let (admin, variant) = app.admin_with_product("LIMIT-1", 100_000, 10).await;
    let (_, placed) = app.checked_out(&variant, 1).await;
    let order = &placed["order"];
    let id = order["id"].as_str().unwrap();
    app.sim_action(
        order["number"].as_str().unwrap(),
        "pay",
        json!({"outcome": "settlement", "payment_type": "gopay"}),
    )
    .await;
    app.wait_for_order_status(id, "paid").await;
    let manager = app.register_staff("order_manager").await;
    let refund = |by: &TestUser, amount: i64| {
        app.by(by).post(
            &format!("/api/v1/admin/orders/{id}/refund"),
            &json!({"amount": amount, "reason": "damaged box"}),
        )
    };

    let problem = refund(&manager, 30_001)
        .expect_problem(403, "refund_limit_exceeded")
        .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("30000"),
        "{problem}"
    );
    // Cancelling the paid order would refund it all: over the limit too.
    app.by(&manager)
        .post(
            &format!("/api/v1/admin/orders/{id}/transitions"),
            &json!({"to": "cancelled", "reason": "customer asked"}),
        )
        .expect_problem(403, "refund_limit_exceeded")
        .await;
    let unchanged = app
        .by(&admin)
        .get(&format!("/api/v1/admin/orders/{id}"))
        .expect(200)
        .await;
    assert_eq!(unchanged["order"]["status"], "paid");
    assert_eq!(unchanged["order"]["refunded_amount"], 0);

    let resp = refund(&manager, 30_000).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = refund(&admin, 40_000).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["refunded_amount"], 70_000);
    app.assert_consistent().await;
}
