//! A customer's own data: the export they download, and deleting the account, which keeps
//! orders for the shop's accounting without personal data, ends every session at once, is
//! refused while an order is on its way, and never races an order into a deleted account.

use serde_json::{json, Value};
use toko_testkit::{address, Call, Shop, TestUser};
use uuid::Uuid;

/// Plenty of one product to order.
async fn shop() -> Shop {
    Shop::builder()
        .category("phones", "Phones", None)
        .product("phones", "Phone", "DATA-1", 50_000, 500)
        .open()
        .await
}

/// A customer with a saved address, one order (cancelled unless `keep_open`) and an item
/// left in the cart; returns the order.
async fn customer_with_history(s: &Shop, keep_open: bool) -> (TestUser, Value) {
    let customer = s.app.register_customer().await;
    s.app
        .by(&customer)
        .post(
            "/api/v1/me/addresses",
            &json!({"label": "Home", "address": address()}),
        )
        .expect(201)
        .await;
    s.app.add_to_cart(&customer, &s.variants["DATA-1"], 1).await;
    let placed = s.app.checkout(&customer, "history").expect(201).await;
    let order = placed["order"].clone();
    if !keep_open {
        s.app
            .by(&customer)
            .post(
                &format!("/api/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
                &json!({}),
            )
            .expect(200)
            .await;
    }
    s.app.add_to_cart(&customer, &s.variants["DATA-1"], 2).await;
    (customer, order)
}

fn delete_account(s: &Shop, user: &TestUser, password: &str) -> Call {
    s.app.by(user).post(
        "/api/v1/me/deletion",
        &json!({"current_password": password}),
    )
}

/// Rows anywhere in the customer's tables whose text holds `needle`.
async fn rows_holding(s: &Shop, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for table in [
        "users",
        "orders",
        "addresses",
        "carts",
        "idempotency_keys",
        "email_verifications",
        "password_resets",
        "returns",
        "refresh_tokens",
    ] {
        // The table names are the literals above.
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} t where t::text ilike '%' || $1 || '%'"
        )))
        .bind(needle)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
        if count > 0 {
            found.push(format!("{table}: {count}"));
        }
    }
    found
}

#[tokio::test]
async fn the_export_holds_the_account_its_addresses_and_its_orders() {
    let shop = shop().await;
    let (customer, order) = customer_with_history(&shop, true).await;
    let resp = shop.app.by(&customer).get("/api/v1/me/export").await;
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with(&format!(
            "attachment; filename=\"toko-account-{}-",
            customer.id
        )),
        "{disposition}"
    );
    let export: Value = resp.json().await.unwrap();
    assert_eq!(export["account"]["email"], customer.email);
    assert_eq!(export["addresses"][0]["address"], address());
    assert_eq!(export["orders"].as_array().unwrap().len(), 1);
    assert_eq!(export["orders"][0]["number"], order["number"]);
    assert_eq!(export["orders"][0]["shipping_address"], address());
    assert_eq!(export["returns"], json!([]));

    // Only one's own: another customer's export holds none of it.
    let other = shop.app.register_customer().await;
    let theirs = shop
        .app
        .by(&other)
        .get("/api/v1/me/export")
        .expect(200)
        .await;
    assert_eq!(theirs["orders"], json!([]));
    assert_eq!(theirs["addresses"], json!([]));
}

#[tokio::test]
async fn deleting_an_account_keeps_its_orders_without_personal_data_and_ends_every_session() {
    let shop = shop().await;
    let (customer, order) = customer_with_history(&shop, false).await;
    let order_id = order["id"].as_str().unwrap();

    // The password is asked again; a wrong one changes nothing.
    let problem = delete_account(&shop, &customer, "not my password at all")
        .expect_problem(422, "wrong_current_password")
        .await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    assert!(!rows_holding(&shop, &customer.email).await.is_empty());

    delete_account(&shop, &customer, &customer.password)
        .expect(204)
        .await;

    // Nothing personal is left in the customer's tables: email, phone, street, name.
    for needle in [
        customer.email.as_str(),
        "+6281234567890",
        "Jl. Merdeka",
        "Budi Santoso",
    ] {
        assert_eq!(
            rows_holding(&shop, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }

    // The order stays for accounting, with its amounts and the region it shipped to.
    let detail = shop
        .app
        .by(&shop.admin)
        .get(&format!("/api/v1/admin/orders/{order_id}"))
        .expect(200)
        .await;
    let kept = &detail["order"];
    assert_eq!(kept["grand_total"], order["grand_total"]);
    assert_eq!(kept["status"], "cancelled");
    assert_eq!(kept["shipping_address"]["city"], "Jakarta Pusat");
    assert_eq!(kept["shipping_address"]["postal_code"], "10110");
    assert_eq!(kept["shipping_address"]["recipient_name"], "");

    // Every session ended at once; the password no longer signs in; the address is free.
    shop.app.by(&customer).get("/api/v1/me").expect(401).await;
    shop.app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": customer.refresh_token}),
        )
        .expect(401)
        .await;
    shop.app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": customer.email, "password": customer.password}),
        )
        .expect(401)
        .await;
    shop.app.register(&customer.email, &customer.password).await;

    // Other systems are told, without personal data.
    let events = shop.app.outbox_events(&customer.id).await;
    let (kind, payload) = events.last().unwrap();
    assert_eq!(kind, "user.deleted");
    assert_eq!(payload["user_id"], customer.id);
    assert!(!payload.to_string().contains(&customer.email));
    shop.app.assert_consistent().await;
}

#[tokio::test]
async fn an_order_on_its_way_keeps_the_account_and_staff_are_not_deleted_this_way() {
    let shop = shop().await;
    let (customer, order) = customer_with_history(&shop, true).await;
    let problem = delete_account(&shop, &customer, &customer.password)
        .expect_problem(409, "account_has_open_orders")
        .await;
    let number = order["number"].as_str().unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains(number),
        "{problem}"
    );
    shop.app.by(&customer).get("/api/v1/me").expect(200).await;
    assert!(!rows_holding(&shop, &customer.email).await.is_empty());

    let admin = &shop.admin;
    delete_account(&shop, admin, &admin.password)
        .expect_problem(409, "staff_account")
        .await;
}

#[tokio::test]
async fn a_checkout_racing_the_deletion_either_keeps_the_account_or_is_refused() {
    let shop = shop().await;
    let mut outcomes = Vec::new();
    // The deletion checks the password first (slow on purpose): checkouts sent later and
    // later sweep across the moment it locks the account.
    for round in 0..16u64 {
        let customer = shop.app.register_customer().await;
        shop.app
            .add_to_cart(&customer, &shop.variants["DATA-1"], 1)
            .await;
        let key = format!("race-{round}");
        let checkout = async {
            tokio::time::sleep(std::time::Duration::from_millis(round * 2)).await;
            shop.app.checkout(&customer, &key).await
        };
        let (checkout, deletion) = tokio::join!(
            checkout,
            delete_account(&shop, &customer, &customer.password)
        );
        let (checkout, deletion) = (checkout.status().as_u16(), deletion.status().as_u16());
        outcomes.push((checkout, deletion));
        match (checkout, deletion) {
            // The order came first: the account stays, with its email on the order.
            (201, 409) => {}
            // The deletion came first: no order was placed for the deleted account (its
            // session, account or cart was gone when checkout looked).
            (401 | 404 | 409, 204) => {
                let orders: i64 =
                    sqlx::query_scalar("select count(*) from orders where user_id = $1")
                        .bind(Uuid::parse_str(&customer.id).unwrap())
                        .fetch_one(&shop.app.db)
                        .await
                        .unwrap();
                assert_eq!(orders, 0);
            }
            other => panic!("round {round}: checkout and deletion answered {other:?}"),
        }
    }
    shop.app.assert_consistent().await;
    eprintln!("(checkout, deletion) per round: {outcomes:?}");
}
