//! Returns: a customer sends delivered units back within the window, staff approve or reject,
//! receive them (restocked or written off) and refund what was paid for them — through
//! Midtrans for a card, recorded as made outside it for a virtual account.

use futures::future::join_all;
use serde_json::{json, Value};
use std::future::IntoFuture;
use toko_testkit::{order_line as line, problem_fields, Call, Shop, TestApp, TestUser};
use uuid::Uuid;

/// An apparel category to stock per spec, paid through the simulator.
async fn shop(builder: toko_testkit::TestAppBuilder) -> Shop {
    Shop::on(builder.with_midtrans())
        .category("apparel", "Apparel", None)
        .open()
        .await
}

async fn variant(s: &Shop, sku: &str, price: i64) -> String {
    s.app
        .create_simple_variant(
            &s.admin,
            &s.categories["apparel"],
            &format!("Item {sku}"),
            sku,
            price,
            100,
        )
        .await
}

fn as_admin(s: &Shop, method: reqwest::Method, path: &str, body: Value) -> Call {
    s.app.by(&s.admin).request(method, path).json(&body)
}

/// An admin call that must succeed; returns its body.
async fn admin_ok(s: &Shop, path: &str, body: Value) -> Value {
    let resp = as_admin(s, reqwest::Method::POST, path, body).await;
    assert_eq!(resp.status(), 200, "{path}: {}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

/// `user` checks out their cart (with `code` when given), pays with `payment_type` and
/// the order is delivered; returns the order.
async fn delivered_order(
    s: &Shop,
    user: &TestUser,
    payment_type: &str,
    code: Option<&str>,
) -> Value {
    if let Some(code) = code {
        s.app
            .by(user)
            .post("/api/v1/cart/promotions", &json!({ "code": code }))
            .expect(200)
            .await;
    }
    let order = s.app.place_order(user).await;
    s.app.pay_order(&order, Some(payment_type)).await;
    let id = order["id"].as_str().unwrap();
    for (to, tracking) in [
        ("processing", None),
        ("shipped", Some("JNE-42")),
        ("delivered", None),
    ] {
        admin_ok(
            s,
            &format!("/api/v1/admin/orders/{id}/transitions"),
            json!({"to": to, "tracking_number": tracking}),
        )
        .await;
    }
    admin_order(s, id).await
}

async fn admin_order(s: &Shop, id: &str) -> Value {
    as_admin(
        s,
        reqwest::Method::GET,
        &format!("/api/v1/admin/orders/{id}"),
        Value::Null,
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["order"]
        .clone()
}

fn ask_return(s: &Shop, user: &TestUser, order: &Value, lines: Value) -> Call {
    s.app.by(user).post(
        &format!("/api/v1/orders/{}/returns", order["id"].as_str().unwrap()),
        &json!({ "lines": lines, "note": "see photos" }),
    )
}

/// Asks for a return that must be accepted; returns it.
async fn requested_return(s: &Shop, user: &TestUser, order: &Value, lines: Value) -> Value {
    let resp = ask_return(s, user, order, lines).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn event_types(s: &Shop, aggregate: &str) -> Vec<String> {
    s.app
        .outbox_events(aggregate)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

fn paid(line: &Value) -> i64 {
    line["line_total"].as_i64().unwrap() - line["discount"].as_i64().unwrap()
}

#[tokio::test]
async fn a_card_payment_return_is_approved_received_and_refunded_through_midtrans() {
    let s = shop(TestApp::builder()).await;
    let shirt = variant(&s, "SHIRT", 33_333).await;
    let hat = variant(&s, "HAT", 20_000).await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/api/v1/admin/promotions",
        json!({"name": "Ten percent", "code": "TEN", "effect": "order_percent", "percent": 10}),
    )
    .expect(201)
    .await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &shirt, 3).await;
    s.app.add_to_cart(&user, &hat, 1).await;
    let order = delivered_order(&s, &user, "credit_card", Some("TEN")).await;
    let (shirts, hats) = (line(&order, "SHIRT").clone(), line(&order, "HAT").clone());
    assert!(
        shirts["discount"].as_i64().unwrap() > 0,
        "the lines are discounted"
    );
    let stock_before = s.app.stock_of("SHIRT").await;

    // Two of the three shirts and the hat.
    let requested = requested_return(
        &s,
        &user,
        &order,
        json!([{"line_id": shirts["id"], "quantity": 2, "reason": "not_as_described"},
                   {"line_id": hats["id"], "quantity": 1, "reason": "damaged"}]),
    )
    .await;
    assert_eq!(requested["status"], "requested");
    assert_eq!(
        requested["number"],
        format!("{}-R1", order["number"].as_str().unwrap())
    );
    let id = requested["id"].as_str().unwrap().to_owned();
    // The customer sees it; another customer does not.
    let mine: Value = s.app.by(&user).get("/api/v1/returns").expect(200).await;
    assert_eq!(mine["items"][0]["id"], id.as_str());
    let other = s.app.register_customer().await;
    s.app
        .by(&other)
        .get(&format!("/api/v1/returns/{id}"))
        .expect(404)
        .await;

    // Nothing can be received or refunded before it is approved.
    as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/refund"),
        json!({}),
    )
    .expect_problem(409, "return_status_conflict")
    .await;
    let approved = admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/approve"),
        json!({"note": "use the prepaid label"}),
    )
    .await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decision_note"], "use the prepaid label");

    // Received: every line needs a disposition.
    let problem = as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"line_id": shirts["id"], "disposition": "restock"}]}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem_fields(&problem), ["lines"]);
    let received = admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"line_id": shirts["id"], "disposition": "restock"},
                             {"line_id": hats["id"], "disposition": "write_off"}]}),
    )
    .await;
    assert_eq!(received["status"], "received");
    let (on_hand, reserved) = s.app.stock_of("SHIRT").await;
    assert_eq!(
        (on_hand, reserved),
        (stock_before.0 + 2, stock_before.1),
        "two shirts restocked"
    );
    assert_eq!(
        s.app.stock_of("HAT").await.0,
        99,
        "the damaged hat is written off"
    );

    // Refunded through Midtrans: what was paid for two of three discounted shirts and the hat,
    // less a restocking fee.
    let problem = as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/refund"),
        json!({"adjustment": {"amount": -1_000, "reason": ""}}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem_fields(&problem), ["adjustment.reason"]);
    let refunded = admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/refund"),
        json!({"adjustment": {"amount": -1_000, "reason": "restocking fee"}}),
    )
    .await;
    let two_shirts = paid(&shirts) * 2 / 3;
    let expected = two_shirts + paid(&hats) - 1_000;
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["refund_amount"], expected);
    assert_eq!(
        refunded["shipping_refund"], 0,
        "the default policy keeps shipping"
    );
    let kind: String = sqlx::query_scalar("select kind from refunds where order_id = $1")
        .bind(Uuid::parse_str(order["id"].as_str().unwrap()).unwrap())
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(
        kind, "gateway",
        "a card payment is refunded through Midtrans"
    );
    // Again: the same return, no second refund.
    let again = admin_ok(&s, &format!("/api/v1/admin/returns/{id}/refund"), json!({})).await;
    assert_eq!(again["refund_amount"], expected);

    let after = admin_order(&s, order["id"].as_str().unwrap()).await;
    assert_eq!(after["refunded_amount"], expected);
    assert_eq!(after["status"], "partially_refunded");
    assert_eq!(after["return_state"], "partially_returned");
    assert_eq!(line(&after, "SHIRT")["returned_quantity"], 2);
    assert_eq!(
        event_types(&s, &id).await,
        [
            "return.requested",
            "return.approved",
            "return.received",
            "return.refunded"
        ]
    );
    let restocks: i64 = sqlx::query_scalar(
        "select coalesce(sum(on_hand_delta), 0)::int8 from stock_movements where kind = 'return'",
    )
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(restocks, 2);

    // The last shirt can still come back; the hat cannot.
    let problem = ask_return(
        &s,
        &user,
        &after,
        json!([{"line_id": shirts["id"], "quantity": 2, "reason": "other"},
                   {"line_id": hats["id"], "quantity": 1, "reason": "other"}]),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(
        problem_fields(&problem),
        ["lines[0].quantity", "lines[1].quantity"]
    );
    let second = requested_return(
        &s,
        &user,
        &after,
        json!([{"line_id": shirts["id"], "quantity": 1, "reason": "other"}]),
    )
    .await;
    assert!(second["number"].as_str().unwrap().ends_with("-R2"));
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn a_virtual_account_return_is_refunded_outside_midtrans_with_shipping_for_the_whole_order() {
    let s = shop(TestApp::builder().setting("RETURN_SHIPPING_REFUND", "whole_order")).await;
    let mug = variant(&s, "MUG", 45_000).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &mug, 2).await;
    let order = delivered_order(&s, &user, "bank_transfer", None).await;
    let mugs = line(&order, "MUG").clone();
    let r = requested_return(
        &s,
        &user,
        &order,
        json!([{"line_id": mugs["id"], "quantity": 2, "reason": "defective"}]),
    )
    .await;
    let id = r["id"].as_str().unwrap();
    admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/approve"),
        json!({}),
    )
    .await;
    admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/receive"),
        json!({"lines": [{"line_id": mugs["id"], "disposition": "restock"}]}),
    )
    .await;

    // Midtrans cannot refund a virtual account: staff must say how they refunded it.
    let problem = as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/refund"),
        json!({}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(
        problem_fields(&problem),
        ["manual.method", "manual.reference"]
    );
    assert!(problem.to_string().contains("bank_transfer"), "{problem}");
    let refunded = admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/refund"),
        json!({"manual": {"method": "bank_transfer", "reference": "BCA-7781"}}),
    )
    .await;
    let shipping = order["shipping_fee"].as_i64().unwrap();
    assert!(shipping > 0);
    assert_eq!(refunded["shipping_refund"], shipping);
    assert_eq!(refunded["refund_amount"], paid(&mugs) + shipping);
    let after = admin_order(&s, order["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "refunded", "everything, shipping included");
    assert_eq!(after["return_state"], "returned");
    let (kind, method): (String, Option<String>) =
        sqlx::query_as("select kind, method from refunds where order_id = $1")
            .bind(Uuid::parse_str(order["id"].as_str().unwrap()).unwrap())
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(
        (kind.as_str(), method.as_deref()),
        ("manual", Some("bank_transfer"))
    );
    // Refunding again changes nothing.
    let again = admin_ok(&s, &format!("/api/v1/admin/returns/{id}/refund"), json!({})).await;
    assert_eq!(again["refund_amount"], paid(&mugs) + shipping);
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn rejected_returns_free_their_units_and_only_delivered_orders_within_the_window_return() {
    let s = shop(TestApp::builder().setting("RETURN_WINDOW_DAYS", "14")).await;
    let book = variant(&s, "BOOK", 80_000).await;
    let user = s.app.register_customer().await;

    // Paid but not delivered: nothing to return yet.
    s.app.add_to_cart(&user, &book, 1).await;
    let pending = &s.app.place_order(&user).await;
    ask_return(
        &s,
        &user,
        pending,
        json!([{"line_id": pending["lines"][0]["id"], "quantity": 1, "reason": "other"}]),
    )
    .expect_problem(409, "order_not_returnable")
    .await;

    s.app.add_to_cart(&user, &book, 1).await;
    let order = delivered_order(&s, &user, "gopay", None).await;
    let book_line = json!([{"line_id": line(&order, "BOOK")["id"], "quantity": 1, "reason": "no_longer_wanted"}]);
    // Someone else's order is not found.
    let stranger = s.app.register_customer().await;
    ask_return(&s, &stranger, &order, book_line.clone())
        .expect_problem(404, "not_found")
        .await;

    let r = requested_return(&s, &user, &order, book_line.clone()).await;
    let id = r["id"].as_str().unwrap();
    // The unit is promised: a second request for it is refused.
    let problem = ask_return(&s, &user, &order, book_line.clone())
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["lines[0].quantity"]);
    // Rejecting needs a reason, then frees the unit.
    let problem = as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/reject"),
        json!({"reason": " "}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem_fields(&problem), ["reason"]);
    let rejected = admin_ok(
        &s,
        &format!("/api/v1/admin/returns/{id}/reject"),
        json!({"reason": "the seal is broken"}),
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    as_admin(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/admin/returns/{id}/approve"),
        json!({}),
    )
    .expect_problem(409, "return_status_conflict")
    .await;
    let listed: Value = as_admin(
        &s,
        reqwest::Method::GET,
        "/api/v1/admin/returns?status=rejected",
        Value::Null,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        event_types(&s, id).await,
        ["return.requested", "return.rejected"]
    );
    requested_return(&s, &user, &order, book_line.clone()).await;

    // Fifteen days after delivery (the whole history moved back) the window is closed.
    s.app.add_to_cart(&user, &book, 1).await;
    let late = delivered_order(&s, &user, "gopay", None).await;
    sqlx::query(
        "update order_history set created_at = created_at - interval '15 days' where order_id = $1",
    )
    .bind(Uuid::parse_str(late["id"].as_str().unwrap()).unwrap())
    .execute(&s.app.db)
    .await
    .unwrap();
    ask_return(
        &s,
        &user,
        &late,
        json!([{"line_id": line(&late, "BOOK")["id"], "quantity": 1, "reason": "other"}]),
    )
    .expect_problem(409, "return_window_closed")
    .await;
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn a_bad_return_request_names_every_field_and_writes_nothing() {
    let s = shop(TestApp::builder()).await;
    let book = variant(&s, "BOOK", 80_000).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &book, 2).await;
    let order = delivered_order(&s, &user, "gopay", None).await;
    let book_id = line(&order, "BOOK")["id"].clone();
    let problem = s
        .app
        .by(&user)
        .post(
            &format!("/api/v1/orders/{}/returns", order["id"].as_str().unwrap()),
            &json!({"lines": [{"line_id": book_id, "quantity": 0, "reason": "damaged"},
                              {"line_id": Uuid::nil(), "quantity": 1, "reason": "damaged"},
                              {"line_id": book_id, "quantity": 1, "reason": "damaged"}],
                    "note": "x".repeat(1001)}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        problem_fields(&problem),
        [
            "note",
            "lines[0].quantity",
            "lines[1].line_id",
            "lines[2].line_id"
        ]
    );
    let problem = ask_return(&s, &user, &order, json!([]))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(problem_fields(&problem), ["lines"]);
    let problem = ask_return(
        &s,
        &user,
        &order,
        json!([{"line_id": book_id, "quantity": 1, "reason": "bored"}]),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert!(problem.to_string().contains("reason"), "{problem}");
    let count: i64 = sqlx::query_scalar("select count(*) from returns")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn concurrent_returns_of_one_line_never_return_more_than_was_delivered() {
    let s = shop(TestApp::builder().setting("DATABASE_MAX_CONNECTIONS", "20")).await;
    let cup = variant(&s, "CUP", 10_000).await;
    let user = s.app.register_customer().await;
    s.app.add_to_cart(&user, &cup, 3).await;
    let order = delivered_order(&s, &user, "gopay", None).await;
    let cup_line =
        json!([{"line_id": line(&order, "CUP")["id"], "quantity": 1, "reason": "defective"}]);
    let responses =
        join_all((0..12).map(|_| ask_return(&s, &user, &order, cup_line.clone()).into_future()))
            .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        9,
        "{statuses:?}"
    );
    let promised: i64 = sqlx::query_scalar("select sum(quantity)::int8 from return_lines")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(promised, 3);
    let numbers: Vec<String> = sqlx::query_scalar("select number from returns order by number")
        .fetch_all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(numbers.len(), 3, "distinct numbers: {numbers:?}");
    s.app.assert_consistent().await;
}
