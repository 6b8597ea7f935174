//! The Snap "create transaction" request for an order (a pure function, unit-tested).
//!
//! `item_details` must sum exactly to `gross_amount`: every line becomes an item at its unit
//! price, shipping is one more, and each promotion's discount is an item with a negative price
//! (Midtrans accepts negative prices for discounts; midtrans.md §item_details). When prices
//! exclude tax, the order's tax is one more item. The expiry starts explicitly at the order's creation (otherwise Midtrans starts
//! the clock when the customer picks a method) and ends at the order's payment deadline.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Value};

use crate::orders::Order;

/// Midtrans limits item ids and names to 50 characters.
fn clip(text: &str) -> String {
    text.chars().take(50).collect()
}

/// `YYYY-MM-DD HH:MM:SS +0700`: Midtrans' documented format, in WIB.
pub fn wib(time: DateTime<Utc>) -> String {
    let wib = FixedOffset::east_opt(7 * 3600).expect("valid offset");
    time.with_timezone(&wib)
        .format("%Y-%m-%d %H:%M:%S %z")
        .to_string()
}

pub fn request(order: &Order, provider_order_id: &str, finish_url: Option<&str>) -> Value {
    let mut items: Vec<Value> = order
        .lines
        .iter()
        .map(|l| {
            let options: Vec<&str> = l.options.values().map(String::as_str).collect();
            let name = if options.is_empty() {
                l.product_name.clone()
            } else {
                format!("{} ({})", l.product_name, options.join(", "))
            };
            json!({ "id": clip(l.sku.as_str()), "price": l.unit_price, "quantity": l.quantity, "name": clip(&name) })
        })
        .collect();
    let promotions = || order.promotions.iter().filter(|p| p.released_at.is_none());
    for promotion in promotions().filter(|p| p.lines_discount > 0) {
        items.push(json!({
            "id": clip(&format!("DISCOUNT-{}", promotion.code.as_deref().unwrap_or("AUTO"))),
            "price": -promotion.lines_discount,
            "quantity": 1,
            "name": clip(&format!("Discount: {}", promotion.name)),
        }));
    }
    if order.shipping_fee > 0 {
        items.push(json!({
            "id": "SHIPPING",
            "price": order.shipping_fee,
            "quantity": 1,
            "name": clip(&format!("Shipping ({})", order.shipping_method)),
        }));
    }
    for promotion in promotions().filter(|p| p.shipping_discount > 0) {
        items.push(json!({
            "id": clip(&format!("SHIPPING-DISCOUNT-{}", promotion.code.as_deref().unwrap_or("AUTO"))),
            "price": -promotion.shipping_discount,
            "quantity": 1,
            "name": clip(&format!("Shipping discount: {}", promotion.name)),
        }));
    }
    if !order.prices_include_tax && order.tax_total > 0 {
        items.push(
            json!({ "id": "TAX", "price": order.tax_total, "quantity": 1, "name": "Tax (PPN)" }),
        );
    }
    let minutes = (order.payment_due_at - order.created_at)
        .num_seconds()
        .max(60)
        .div_euclid(60);
    let address = &order.shipping_address;
    let street = [Some(address.line1.as_str()), address.line2.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let country = if address.country_code == "ID" {
        "IDN"
    } else {
        address.country_code.as_str()
    };
    let mut body = json!({
        "transaction_details": { "order_id": provider_order_id, "gross_amount": order.grand_total },
        "item_details": items,
        "customer_details": {
            "first_name": clip(&order.customer_name),
            "email": order.customer_email,
            "phone": address.phone,
            "shipping_address": {
                "first_name": clip(&address.recipient_name),
                "phone": address.phone,
                "address": street,
                "city": address.city,
                "postal_code": address.postal_code,
                "country_code": country,
            },
        },
        "expiry": { "start_time": wib(order.created_at), "unit": "minute", "duration": minutes },
        "custom_field1": order.id.to_string(),
    });
    if let Some(finish) = finish_url {
        body["callbacks"] = json!({ "finish": finish });
    }
    body
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{
        orders::{Address, OrderLine, OrderStatus},
        promotions::OrderPromotion,
    };

    fn order() -> Order {
        let created = DateTime::parse_from_rfc3339("2026-11-26T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let line = |sku: &str, price: i64, quantity: i32| OrderLine {
            id: uuid::Uuid::nil(),
            variant_id: uuid::Uuid::nil().into(),
            product_id: uuid::Uuid::nil().into(),
            product_name: "A very long product name that certainly exceeds fifty characters".into(),
            sku: crate::catalog::Sku::parse(sku).unwrap(),
            options: BTreeMap::from([("size".to_owned(), "M".to_owned())]),
            unit_price: price,
            quantity,
            line_total: price * i64::from(quantity),
            discount: 0,
            returned_quantity: 0,
            shipped_quantity: 0,
            cancelled_quantity: 0,
            tax_class: "standard".into(),
            tax_rate_bp: 0,
            tax: 0,
            tax_included: true,
        };
        Order {
            id: uuid::Uuid::nil().into(),
            number: crate::orders::OrderNumber::parse("TK261126-ABCDEFGH").unwrap(),
            user_id: uuid::Uuid::nil(),
            status: OrderStatus::PendingPayment,
            currency: "IDR".into(),
            subtotal: 260_000,
            shipping_fee: 15_000,
            discount_total: 0,
            shipping_discount: 0,
            grand_total: 275_000,
            refunded_amount: 0,
            prices_include_tax: true,
            shipping_tax: 0,
            shipping_tax_rate_bp: 0,
            tax_total: 0,
            shipping_method: "standard".into(),
            shipping_address: Address {
                recipient_name: "Budi".into(),
                phone: "+628123".into(),
                line1: "Jl. Merdeka 1".into(),
                line2: None,
                city: "Jakarta".into(),
                province: None,
                postal_code: "10110".into(),
                country_code: "ID".into(),
            },
            note: None,
            customer_email: "budi@example.com".into(),
            customer_name: "Budi".into(),
            tracking_number: None,
            payment_due_at: created + chrono::Duration::minutes(30),
            paid_at: None,
            created_at: created,
            updated_at: created,
            lines: vec![line("SKU-A", 100_000, 2), line("SKU-B", 60_000, 1)],
            promotions: Vec::new(),
        }
    }

    fn item_sum(body: &Value) -> i64 {
        body["item_details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap())
            .sum()
    }

    #[test]
    fn discounts_are_negative_items_and_the_sum_still_matches() {
        let mut order = order();
        let promotion = |code: Option<&str>, lines: i64, shipping: i64| OrderPromotion {
            promotion_id: uuid::Uuid::nil(),
            code: code.map(str::to_owned),
            name: "Year-end sale with a name longer than fifty characters".into(),
            lines_discount: lines,
            shipping_discount: shipping,
            released_at: None,
        };
        order.promotions = vec![
            promotion(Some("HEMAT10"), 26_000, 0),
            promotion(None, 1_001, 0),
            promotion(Some("ONGKIR"), 0, 15_000),
        ];
        order.discount_total = 27_001;
        order.shipping_discount = 15_000;
        order.grand_total = 260_000 - 27_001 + 15_000 - 15_000;
        let body = request(&order, "TK261126-ABCDEFGH", None);
        assert_eq!(item_sum(&body), order.grand_total);
        assert_eq!(
            body["transaction_details"]["gross_amount"],
            order.grand_total
        );
        let ids: Vec<&str> = body["item_details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "SKU-A",
                "SKU-B",
                "DISCOUNT-HEMAT10",
                "DISCOUNT-AUTO",
                "SHIPPING",
                "SHIPPING-DISCOUNT-ONGKIR"
            ]
        );
        assert_eq!(body["item_details"][2]["price"], -26_000);
        assert!(body["item_details"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"].as_str().unwrap().chars().count() <= 50));
    }

    #[test]
    fn items_sum_to_the_gross_amount_and_expiry_is_explicit() {
        let body = request(
            &order(),
            "TK261126-ABCDEFGH",
            Some("https://shop.example/finish"),
        );
        let sum: i64 = body["item_details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum,
            body["transaction_details"]["gross_amount"]
                .as_i64()
                .unwrap()
        );
        assert_eq!(body["item_details"][2]["id"], "SHIPPING");
        assert!(
            body["item_details"][0]["name"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= 50
        );
        assert_eq!(
            body["expiry"],
            json!({"start_time": "2026-11-26 10:00:00 +0700", "unit": "minute", "duration": 30})
        );
        assert_eq!(body["callbacks"]["finish"], "https://shop.example/finish");
        assert_eq!(
            body["customer_details"]["shipping_address"]["country_code"],
            "IDN"
        );
    }
}
