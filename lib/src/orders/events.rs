//! The payload of the order events (`order.created`, `order.paid`, ...): the whole order as it
//! stands after the change, so consumers (emails, outbound webhooks) need not read it back.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Address, Order, OrderId, OrderLine, OrderNumber, OrderStatus};
use crate::{events::Payload, promotions::OrderPromotion};

/// An order after a change of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderEvent {
    pub order_id: OrderId,
    /// The public order number (also the Midtrans order id).
    pub order_number: OrderNumber,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// The status before this change; absent when the order was just placed.
    pub from_status: Option<OrderStatus>,
    /// ISO 4217; every amount is in its minor units.
    pub currency: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    /// Promotions' discount on the lines.
    #[serde(default)]
    pub discount_total: i64,
    /// Promotions' discount on shipping.
    #[serde(default)]
    pub shipping_discount: i64,
    pub grand_total: i64,
    pub refunded_amount: i64,
    /// Whether prices included the tax (otherwise `tax_total` was added to the grand total).
    #[serde(default = "included")]
    pub prices_include_tax: bool,
    /// The lines' taxes and the shipping tax.
    #[serde(default)]
    pub tax_total: i64,
    #[serde(default)]
    pub shipping_tax: i64,
    pub shipping_method: String,
    pub shipping_address: Address,
    pub note: Option<String>,
    pub customer_email: String,
    pub customer_name: String,
    pub tracking_number: Option<String>,
    pub payment_due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    /// The promotions the order redeemed.
    #[serde(default)]
    pub promotions: Vec<OrderPromotion>,
}

impl OrderEvent {
    /// The order as it stands, having moved from `from` (`None` at checkout).
    pub fn announce(order: &Order, from: Option<OrderStatus>) -> Self {
        Self {
            order_id: order.id,
            order_number: order.number.clone(),
            user_id: order.user_id,
            status: order.status,
            from_status: from,
            currency: order.currency.clone(),
            subtotal: order.subtotal,
            shipping_fee: order.shipping_fee,
            discount_total: order.discount_total,
            shipping_discount: order.shipping_discount,
            grand_total: order.grand_total,
            refunded_amount: order.refunded_amount,
            prices_include_tax: order.prices_include_tax,
            tax_total: order.tax_total,
            shipping_tax: order.shipping_tax,
            shipping_method: order.shipping_method.clone(),
            shipping_address: order.shipping_address.clone(),
            note: order.note.clone(),
            customer_email: order.customer_email.clone(),
            customer_name: order.customer_name.clone(),
            tracking_number: order.tracking_number.clone(),
            payment_due_at: order.payment_due_at,
            paid_at: order.paid_at,
            created_at: order.created_at,
            lines: order.lines.clone(),
            promotions: order.promotions.clone(),
        }
    }

    pub fn item_count(&self) -> i64 {
        self.lines.iter().map(|l| i64::from(l.quantity)).sum()
    }
}

fn included() -> bool {
    true
}

impl Payload for OrderEvent {
    fn aggregate_id(&self) -> Uuid {
        self.order_id.into()
    }
}
