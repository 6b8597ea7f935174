//! Fulfilment: staff ship a paid order in parcels, mark them delivered, and cancel units that
//! will not ship — which puts them back in stock and refunds them (through Midtrans for a card,
//! recorded as made outside it for a virtual account), while the rest still ships.

use futures::future::join_all;
use serde_json::{json, Value};
use std::future::IntoFuture;
use toko_testkit::{order_line as line, problem_fields, Call, Shop, TestApp};

/// Ten shirts and ten hats, paid through the simulator.
async fn shop() -> Shop {
    Shop::on(TestApp::builder().with_midtrans())
        .category("apparel", "Apparel", None)
        .product("apparel", "Shirt", "SHIRT", 100_000, 10)
        .product("apparel", "Hat", "HAT", 40_000, 10)
        .open()
        .await
}

/// A customer buys `shirts` shirts and `hats` hats and pays with `payment_type`; returns
/// the paid order.
async fn paid_order(s: &Shop, shirts: i64, hats: i64, payment_type: &str) -> Value {
    let user = s.app.register_customer().await;
    for (variant, quantity) in [(&s.variants["SHIRT"], shirts), (&s.variants["HAT"], hats)] {
        if quantity > 0 {
            s.app.add_to_cart(&user, variant, quantity).await;
        }
    }
    let order = s.app.place_order(&user).await;
    s.app.pay_order(&order, Some(payment_type)).await;
    admin_order(s, order["id"].as_str().unwrap()).await
}

async fn admin_order(s: &Shop, id: &str) -> Value {
    let resp = s
        .app
        .by(&s.admin)
        .get(&format!("/api/v1/admin/orders/{id}"))
        .await;
    resp.json::<Value>().await.unwrap()["order"].clone()
}

fn admin_post(s: &Shop, path: &str, body: Value) -> Call {
    s.app.by(&s.admin).post(path, &body)
}

fn ship(s: &Shop, order: &Value, body: Value) -> Call {
    admin_post(
        s,
        &format!(
            "/api/v1/admin/orders/{}/shipments",
            order["id"].as_str().unwrap()
        ),
        body,
    )
}

/// Ships a parcel that must be accepted; returns (shipment, order).
async fn ship_parcel(s: &Shop, order: &Value, body: Value) -> (Value, Value) {
    let body = ship(s, order, body).expect(201).await;
    (body["shipment"].clone(), body["order"].clone())
}

async fn deliver(s: &Shop, order: &Value, shipment: &Value) -> Value {
    let resp = admin_post(
        s,
        &format!(
            "/api/v1/admin/orders/{}/shipments/{}/delivered",
            order["id"].as_str().unwrap(),
            shipment["id"].as_str().unwrap()
        ),
        Value::Null,
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json::<Value>().await.unwrap()["order"].clone()
}

fn cancel_units(s: &Shop, order: &Value, body: Value) -> Call {
    admin_post(
        s,
        &format!(
            "/api/v1/admin/orders/{}/cancel-units",
            order["id"].as_str().unwrap()
        ),
        body,
    )
}

async fn event_types(s: &Shop, order: &Value) -> Vec<String> {
    s.app
        .outbox_events(order["id"].as_str().unwrap())
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

fn units(order: &Value, sku: &str, quantity: i64) -> Value {
    json!({"line_id": line(order, sku)["id"], "quantity": quantity})
}

#[tokio::test]
async fn an_order_ships_in_parcels_and_is_delivered_when_every_parcel_arrives() {
    let s = shop().await;
    let order = paid_order(&s, 2, 1, "credit_card").await;

    let (first, after) = ship_parcel(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 1)], "carrier": "jne", "tracking_number": "JNE-1"}),
    )
    .await;
    assert_eq!(after["status"], "partially_shipped");
    assert_eq!(line(&after, "SHIRT")["shipped_quantity"], 1);
    assert_eq!(first["carrier"], "jne");
    assert_eq!(first["status"], "shipped");
    assert_eq!(first["lines"][0]["quantity"], 1);

    // More than is left, a line twice and no tracking number: every field at once, nothing
    // shipped.
    let problem = ship(&s, &order,
            json!({"lines": [units(&order, "SHIRT", 2), units(&order, "HAT", 1), units(&order, "HAT", 1)], "tracking_number": " "}),
        ).expect_problem(422, "validation_failed").await;
    assert_eq!(
        problem_fields(&problem),
        ["tracking_number", "lines[0].quantity", "lines[2].line_id"]
    );
    assert_eq!(
        line(&admin_order(&s, order["id"].as_str().unwrap()).await, "HAT")["shipped_quantity"],
        0
    );

    // Without lines: everything left, by the order's shipping method.
    let (second, after) = ship_parcel(&s, &order, json!({"tracking_number": "JNE-2"})).await;
    assert_eq!(after["status"], "shipped");
    assert_eq!(second["carrier"], "standard");
    assert_eq!(after["tracking_number"], "JNE-2");
    let problem = ship(&s, &order, json!({"tracking_number": "JNE-3"}))
        .expect_problem(409, "illegal_transition")
        .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("shipped"),
        "{problem}"
    );

    assert_eq!(deliver(&s, &order, &first).await["status"], "shipped");
    assert_eq!(
        deliver(&s, &order, &first).await["status"],
        "shipped",
        "delivering twice changes nothing"
    );
    assert_eq!(deliver(&s, &order, &second).await["status"], "delivered");

    let listed: Value = s
        .app
        .by(&s.admin)
        .get(&format!(
            "/api/v1/admin/orders/{}/shipments",
            order["id"].as_str().unwrap()
        ))
        .expect(200)
        .await;
    let listed: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["tracking_number"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("JNE-1", "delivered"), ("JNE-2", "delivered")]);

    let events = event_types(&s, &order).await;
    let after_payment: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .skip_while(|e| *e != "order.paid")
        .skip(1)
        .collect();
    assert_eq!(
        after_payment,
        [
            "order.partially_shipped",
            "shipment.created",
            "order.shipped",
            "shipment.created",
            "shipment.delivered",
            "order.delivered",
            "shipment.delivered"
        ]
    );
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn cancelling_units_not_shipped_restocks_and_refunds_them_and_the_rest_still_ships() {
    let s = shop().await;
    let order = paid_order(&s, 2, 1, "credit_card").await;
    assert_eq!(s.app.stock_of("HAT").await, (9, 0));
    ship_parcel(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 1)], "tracking_number": "JNE-1"}),
    )
    .await;

    // Shipped units cannot be cancelled; the reason is required: both at once.
    let problem = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 2)], "reason": ""}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(problem_fields(&problem), ["lines[0].quantity", "reason"]);

    let hat_paid = line(&order, "HAT")["line_total"].as_i64().unwrap()
        - line(&order, "HAT")["discount"].as_i64().unwrap();
    let after = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "HAT", 1)], "reason": "out of stock at the warehouse"}),
    )
    .expect(200)
    .await;
    assert_eq!(
        after["status"], "partially_shipped",
        "the shirt still ships"
    );
    assert_eq!(after["refunded_amount"], hat_paid);
    assert_eq!(line(&after, "HAT")["cancelled_quantity"], 1);
    assert_eq!(s.app.stock_of("HAT").await, (10, 0), "back on the shelf");

    // The last unit left: cancelled, nothing remains to ship, so the order is shipped.
    let shirt_unit = line(&order, "SHIRT")["line_total"].as_i64().unwrap() / 2;
    let after = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 1)], "reason": "damaged in the warehouse"}),
    )
    .expect(200)
    .await;
    assert_eq!(after["status"], "shipped");
    assert_eq!(after["refunded_amount"], hat_paid + shirt_unit);
    assert_eq!(s.app.stock_of("SHIRT").await, (9, 0));

    let events = event_types(&s, &order).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "order.partially_refunded")
            .count(),
        2,
        "{events:?}"
    );
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn a_virtual_account_payment_is_refunded_outside_midtrans_and_an_untouched_order_is_cancelled_instead(
) {
    let s = shop().await;
    let order = paid_order(&s, 1, 1, "bank_transfer").await;

    let problem = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 1), units(&order, "HAT", 1)], "reason": "cannot ship"}),
    )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(
        problem_fields(&problem),
        ["manual.method", "manual.reference"]
    );
    let manual = json!({"method": "bank_transfer", "reference": "BCA-77"});
    let problem = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "SHIRT", 1), units(&order, "HAT", 1)],
               "reason": "cannot ship", "manual": manual}),
    )
    .expect_problem(422, "validation_failed")
    .await;
    assert_eq!(
        problem_fields(&problem),
        ["lines"],
        "cancel the order instead"
    );

    let after = cancel_units(
        &s,
        &order,
        json!({"lines": [units(&order, "HAT", 1)], "reason": "cannot ship", "manual": manual}),
    )
    .expect(200)
    .await;
    assert_eq!(after["status"], "paid");
    assert!(after["refunded_amount"].as_i64().unwrap() > 0);
    let (_, shipped) = ship_parcel(&s, &order, json!({"tracking_number": "JNE-9"})).await;
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(line(&shipped, "HAT")["shipped_quantity"], 0);
    s.app.assert_consistent().await;
}

#[tokio::test]
async fn concurrent_parcels_never_ship_a_unit_twice() {
    let s = shop().await;
    let order = paid_order(&s, 3, 0, "credit_card").await;
    let body = json!({"lines": [units(&order, "SHIRT", 1)], "tracking_number": "RACE"});
    let statuses: Vec<u16> = join_all((0..8).map(|_| ship(&s, &order, body.clone()).into_future()))
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 201).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&c| c == 201 || c == 422 || c == 409),
        "{statuses:?}"
    );
    let after = admin_order(&s, order["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "shipped");
    assert_eq!(line(&after, "SHIRT")["shipped_quantity"], 3);
    s.app.assert_consistent().await;
}
