//! The order lifecycle: every legal transition and its stock effect, illegal ones refused,
//! history and events, expiry, and who may see or cancel which order.

use serde_json::{json, Value};
use toko::orders::{lifecycle::Transition, Actor, OrderId, OrderStatus};
use toko_testkit::{Call, Shop, TestApp, TestUser};
use uuid::Uuid;

/// Twenty novels.
async fn shop_with(settings: &[(&str, &str)]) -> Shop {
    let mut builder = TestApp::builder();
    for (k, v) in settings {
        builder = builder.setting(k, v);
    }
    Shop::on(builder)
        .category("books", "Books", None)
        .product("books", "Novel", "NOVEL", 80_000, 20)
        .open()
        .await
}

/// A customer with a fresh pending order of `quantity` novels.
async fn place_order(s: &Shop, quantity: i64) -> (TestUser, String) {
    let user = s.app.register_customer().await;
    s.app
        .add_to_cart(&user, &s.variants["NOVEL"], quantity)
        .await;
    let order = s.app.place_order(&user).await;
    (user, order["id"].as_str().unwrap().to_owned())
}

fn admin_move(s: &Shop, order_id: &str, to: &str, tracking: Option<&str>) -> Call {
    s.app.by(&s.admin).post(
        &format!("/api/v1/admin/orders/{order_id}/transitions"),
        &json!({"to": to, "reason": "test", "tracking_number": tracking}),
    )
}

async fn status_of(s: &Shop, order_id: &str) -> String {
    sqlx::query_scalar("select status from orders where order_id = $1")
        .bind(Uuid::parse_str(order_id).unwrap())
        .fetch_one(&s.app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_happy_path_commits_stock_and_records_history_and_events() {
    let s = shop_with(&[]).await;
    let (_, order) = place_order(&s, 3).await;
    assert_eq!(s.app.stock_of("NOVEL").await, (20, 3));

    admin_move(&s, &order, "paid", None).expect(200).await;
    assert_eq!(
        s.app.stock_of("NOVEL").await,
        (17, 0),
        "payment commits the reservation"
    );
    admin_move(&s, &order, "processing", None).expect(200).await;
    let body = admin_move(&s, &order, "shipped", None)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "tracking_number");
    let shipped: Value = admin_move(&s, &order, "shipped", Some("JNE-123456"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shipped["tracking_number"], "JNE-123456");
    admin_move(&s, &order, "delivered", None).expect(200).await;
    admin_move(&s, &order, "completed", None).expect(200).await;

    let detail: Value = s
        .app
        .by(&s.admin)
        .get(&format!("/api/v1/admin/orders/{order}"))
        .expect(200)
        .await;
    let history: Vec<(Value, &str)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].as_str().unwrap()))
        .collect();
    assert_eq!(history.len(), 6);
    assert_eq!(history[0], (Value::Null, "pending_payment"));
    assert_eq!(history[5], (json!("delivered"), "completed"));
    assert!(detail["history"][1]["actor"]
        .as_str()
        .unwrap()
        .starts_with("admin:"));

    let events: Vec<String> = s
        .app
        .outbox_events(&order)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        events,
        vec![
            "order.created",
            "order.paid",
            "order.processing",
            "order.shipped",
            "shipment.created",
            "order.delivered",
            "shipment.delivered",
            "order.completed"
        ]
    );
    let ledger: Vec<(String, i32, i32)> = sqlx::query_as(
        "select kind, on_hand_delta, reserved_delta from stock_movements where order_id = $1 order by movement_id",
    ).bind(Uuid::parse_str(&order).unwrap()).fetch_all(&s.app.db).await.unwrap();
    assert_eq!(
        ledger,
        vec![("reservation".into(), 0, 3), ("commit".into(), -3, -3)]
    );
}

#[tokio::test]
async fn cancelling_releases_or_restocks_and_illegal_moves_are_conflicts() {
    let s = shop_with(&[]).await;
    let (_, unpaid) = place_order(&s, 2).await;
    admin_move(&s, &unpaid, "cancelled", None).expect(200).await;
    assert_eq!(
        s.app.stock_of("NOVEL").await,
        (20, 0),
        "cancelling before payment releases the reservation"
    );

    let (_, paid) = place_order(&s, 4).await;
    admin_move(&s, &paid, "paid", None).await;
    assert_eq!(s.app.stock_of("NOVEL").await, (16, 0));
    admin_move(&s, &paid, "cancelled", None).expect(200).await;
    assert_eq!(
        s.app.stock_of("NOVEL").await,
        (20, 0),
        "a paid order cancelled before shipping restocks"
    );

    let (_, processing) = place_order(&s, 1).await;
    admin_move(&s, &processing, "paid", None).await;
    admin_move(&s, &processing, "processing", None).await;
    admin_move(&s, &processing, "cancelled", None)
        .expect(200)
        .await;
    assert_eq!(s.app.stock_of("NOVEL").await, (20, 0));

    let (_, shipped) = place_order(&s, 1).await;
    for (to, tracking) in [
        ("paid", None),
        ("processing", None),
        ("shipped", Some("T-1")),
    ] {
        admin_move(&s, &shipped, to, tracking).await;
    }
    for (order, to) in [
        (&shipped, "cancelled"),
        (&shipped, "pending_payment"),
        (&unpaid, "paid"),
        (&paid, "processing"),
    ] {
        let body = admin_move(&s, order, to, None)
            .expect_problem(409, "illegal_transition")
            .await;
        assert!(body["detail"].as_str().unwrap().contains(to), "{body}");
    }
    let (_, fresh) = place_order(&s, 1).await;
    admin_move(&s, &fresh, "shipped", Some("T-2"))
        .expect_problem(409, "illegal_transition")
        .await;
    // Legality before the fields: an unpaid order can never ship, tracking number or not.
    let body = admin_move(&s, &fresh, "shipped", None)
        .expect_problem(409, "illegal_transition")
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    admin_move(&s, &fresh, "completed", None)
        .expect_problem(409, "illegal_transition")
        .await;
    let body = admin_move(&s, &fresh, "refunded", None)
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        body["errors"][0]["field"], "to",
        "refunds have their own endpoint"
    );
    assert_eq!(status_of(&s, &fresh).await, "pending_payment");
}

#[tokio::test]
async fn refund_transitions_follow_the_state_machine() {
    let s = shop_with(&[]).await;
    let orders = &s.app.state.orders;
    let admin = Actor::Admin(Uuid::nil());
    let refund = |to: OrderStatus, total: i64| Transition {
        refunded_total: Some(total),
        ..Transition::new(to, admin, "refund")
    };

    let (_, a) = place_order(&s, 1).await;
    let a: OrderId = a.parse().unwrap();
    orders
        .transition(a, Transition::new(OrderStatus::Paid, admin, ""))
        .await
        .unwrap();
    let partial = orders
        .transition(a, refund(OrderStatus::PartiallyRefunded, 20_000))
        .await
        .unwrap();
    assert_eq!(partial.refunded_amount, 20_000);
    let partial = orders
        .transition(a, refund(OrderStatus::PartiallyRefunded, 30_000))
        .await
        .unwrap();
    assert_eq!(partial.refunded_amount, 30_000);
    assert!(
        orders
            .transition(a, refund(OrderStatus::PartiallyRefunded, 30_000))
            .await
            .is_err(),
        "the same total again is a replay"
    );
    let full = orders
        .transition(a, refund(OrderStatus::Refunded, 95_000))
        .await
        .unwrap();
    assert_eq!(
        (full.status, full.refunded_amount),
        (OrderStatus::Refunded, full.grand_total)
    );
    assert!(
        orders
            .transition(a, refund(OrderStatus::Refunded, 1))
            .await
            .is_err(),
        "refunded is final"
    );

    for last in ["shipped", "delivered"] {
        let (_, o) = place_order(&s, 1).await;
        admin_move(&s, &o, "paid", None).await;
        admin_move(&s, &o, "processing", None).await;
        admin_move(&s, &o, "shipped", Some("T")).await;
        if last == "delivered" {
            admin_move(&s, &o, "delivered", None).await;
        }
        let done = orders
            .transition(o.parse().unwrap(), refund(OrderStatus::Refunded, 95_000))
            .await
            .unwrap();
        assert_eq!(done.status, OrderStatus::Refunded);
    }
    let (_, unpaid) = place_order(&s, 1).await;
    assert!(orders
        .transition(unpaid.parse().unwrap(), refund(OrderStatus::Refunded, 1))
        .await
        .is_err());
}

#[tokio::test]
async fn unpaid_orders_expire_and_release_their_stock() {
    let s = shop_with(&[]).await;
    let (_, late) = place_order(&s, 5).await;
    let (_, paid) = place_order(&s, 2).await;
    admin_move(&s, &paid, "paid", None).await;
    assert_eq!(s.app.stock_of("NOVEL").await, (18, 5));
    // The deadline passes (ORDER_PAYMENT_TTL is at least 5 minutes: move it instead of waiting).
    s.app.backdate_payment_deadline(&late).await;
    s.app.backdate_payment_deadline(&paid).await;

    let expired = s.app.state.orders.expire_overdue(100).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id.to_string(), late);
    assert_eq!(status_of(&s, &late).await, "expired");
    assert_eq!(status_of(&s, &paid).await, "paid");
    assert_eq!(s.app.stock_of("NOVEL").await, (18, 0));
    let events: Vec<String> = s
        .app
        .outbox_events(&late)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(events.last().unwrap(), "order.expired");
    assert!(
        s.app
            .state
            .orders
            .expire_overdue(100)
            .await
            .unwrap()
            .is_empty(),
        "nothing twice"
    );
}

#[tokio::test]
async fn customers_see_and_cancel_only_their_own_orders() {
    let s = shop_with(&[]).await;
    let (alice, first) = place_order(&s, 1).await;
    s.app.add_to_cart(&alice, &s.variants["NOVEL"], 2).await;
    let second: Value = s
        .app
        .checkout(&alice, "alice-2")
        .await
        .json()
        .await
        .unwrap();
    let second = second["order"]["id"].as_str().unwrap().to_owned();
    let (bob, bobs) = place_order(&s, 1).await;

    let page: Value = s
        .app
        .by(&alice)
        .get("/api/v1/orders?limit=1")
        .expect(200)
        .await;
    assert_eq!(page["items"][0]["id"], second.as_str(), "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let page: Value = s
        .app
        .by(&alice)
        .get(&format!("/api/v1/orders?limit=1&cursor={cursor}"))
        .expect(200)
        .await;
    assert_eq!(page["items"][0]["id"], first.as_str());
    let page: Value = s
        .app
        .by(&alice)
        .get(&format!("/api/v1/orders?limit=10&cursor={first}"))
        .expect(200)
        .await;
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "bob's order never shows up in alice's list"
    );

    // Bob can neither read nor cancel Alice's order: it does not exist for him.
    s.app
        .by(&bob)
        .get(&format!("/api/v1/orders/{first}"))
        .expect_problem(404, "not_found")
        .await;
    s.app
        .by(&bob)
        .post(&format!("/api/v1/orders/{first}/cancel"), &json!({}))
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(status_of(&s, &first).await, "pending_payment");

    let mine: Value = s
        .app
        .by(&bob)
        .get(&format!("/api/v1/orders/{bobs}"))
        .expect(200)
        .await;
    assert_eq!(mine["id"], bobs.as_str());

    let cancelled = s
        .app
        .by(&alice)
        .post(&format!("/api/v1/orders/{first}/cancel"), &json!({}))
        .expect(200)
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    admin_move(&s, &second, "paid", None).await;
    s.app
        .by(&alice)
        .post(&format!("/api/v1/orders/{second}/cancel"), &json!({}))
        .expect_problem(409, "illegal_transition")
        .await;
}

#[tokio::test]
async fn admins_filter_orders_by_status_email_and_date() {
    let s = shop_with(&[]).await;
    let (alice, a) = place_order(&s, 1).await;
    let (_, b) = place_order(&s, 1).await;
    admin_move(&s, &b, "paid", None).await;
    let auth = &s.admin.access_token;
    let list = |query: String| {
        let app = &s.app;
        async move {
            let page: Value = app
                .with_token(auth)
                .get(&format!("/api/v1/admin/orders?{query}"))
                .expect(200)
                .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("status=paid".into()).await, vec![b.clone()]);
    assert_eq!(
        list(format!("customer_email={}", alice.email.to_uppercase())).await,
        vec![a.clone()]
    );
    assert_eq!(
        list("created_from=2000-01-01T00:00:00Z".into()).await,
        vec![b.clone(), a.clone()]
    );
    assert!(list("created_to=2000-01-01T00:00:00Z".into())
        .await
        .is_empty());
    s.app
        .with_token(auth)
        .get("/api/v1/admin/orders?status=lost")
        .expect_problem(400, "invalid_parameter")
        .await;
    let customer = s.app.register_customer().await;
    s.app
        .by(&customer)
        .get("/api/v1/admin/orders")
        .expect_problem(403, "forbidden")
        .await;
}
