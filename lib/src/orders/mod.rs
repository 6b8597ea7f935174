//! Orders: checkout (cart → order with reserved stock, exactly once per idempotency key), the
//! order state machine with its stock effects, history and events, expiry of unpaid orders,
//! and the customer and admin views.
//!
//! `status` is the state machine; `checkout` places orders; `lifecycle` moves them; `events`
//! is what their events say; `store` holds the SQL. Stock is reserved, committed and released
//! through `catalog::inventory`.

pub mod audit;
pub mod checkout;
pub mod events;
pub mod lifecycle;
mod number;
mod settings;
pub mod status;
mod store;

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

pub use self::{number::OrderNumber, settings::OrderConfig, status::OrderStatus};
/// Where an order ships to (the order keeps its own copy).
pub use crate::addresses::Address;
use crate::{
    catalog::{ProductId, Sku, VariantId},
    idempotency::IdempotencyError,
    promotions::OrderPromotion,
    validation::ValidationErrors,
};

crate::typed_id! {
    /// An order.
    pub struct OrderId;
}

/// A line as it was bought: names, options and price are snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    pub id: Uuid,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: Sku,
    pub options: BTreeMap<String, String>,
    pub unit_price: i64,
    pub quantity: i32,
    pub line_total: i64,
    /// What promotions took off this line (what was paid is `line_total - discount`).
    #[serde(default)]
    pub discount: i64,
    /// Units received back from the customer through returns.
    #[serde(default)]
    pub returned_quantity: i32,
    /// Units handed to a carrier in shipments.
    #[serde(default)]
    pub shipped_quantity: i32,
    /// Units cancelled before shipping (restocked and refunded).
    #[serde(default)]
    pub cancelled_quantity: i32,
    /// The tax class the line was taxed in, its rate (basis points) and the tax (rounded half
    /// up on what was paid for the line).
    #[serde(default = "standard_class")]
    pub tax_class: String,
    #[serde(default)]
    pub tax_rate_bp: i32,
    #[serde(default)]
    pub tax: i64,
    /// The price included the tax (otherwise the tax was added to it).
    #[serde(default = "included")]
    pub tax_included: bool,
}

fn standard_class() -> String {
    crate::tax::STANDARD.to_owned()
}

fn included() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    /// The public order number (also the Midtrans order id).
    pub number: OrderNumber,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub currency: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    /// Promotions' discount on the lines (the sum of the lines' discounts).
    pub discount_total: i64,
    /// Promotions' discount on the shipping fee.
    pub shipping_discount: i64,
    /// `subtotal - discount_total + shipping_fee - shipping_discount`, plus `tax_total` when
    /// prices did not include the tax.
    pub grand_total: i64,
    pub refunded_amount: i64,
    /// Whether prices and fees included the tax.
    pub prices_include_tax: bool,
    /// The tax on shipping (part of `tax_total`) and its rate (0: shipping was not taxed).
    pub shipping_tax: i64,
    pub shipping_tax_rate_bp: i32,
    /// The lines' taxes and the shipping tax.
    pub tax_total: i64,
    pub shipping_method: String,
    pub shipping_address: Address,
    pub note: Option<String>,
    pub customer_email: String,
    pub customer_name: String,
    pub tracking_number: Option<String>,
    pub payment_due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    /// The promotions the order redeemed, in the order they applied.
    pub promotions: Vec<OrderPromotion>,
}

impl OrderLine {
    /// Units neither shipped nor cancelled.
    pub fn unshipped(&self) -> i32 {
        self.quantity - self.shipped_quantity - self.cancelled_quantity
    }

    /// What the customer paid for the line: its total after promotions, with the tax when it
    /// was added to the price.
    pub fn paid(&self) -> i64 {
        self.line_total - self.discount + if self.tax_included { 0 } else { self.tax }
    }

    /// What the line's tax is levied on: what was paid for it without the tax.
    pub fn taxable(&self) -> i64 {
        self.paid() - self.tax
    }

    /// What the customer paid for `quantity` units after the first `refunded` units: the
    /// line's paid amount spread over its units in whole minor units (rounded down, so the
    /// last unit carries the remainder); refunding every unit, in any steps, gives back
    /// exactly [`Self::paid`].
    pub fn paid_for_units(&self, refunded: i32, quantity: i32) -> i64 {
        let (paid, units) = (i128::from(self.paid()), i128::from(self.quantity.max(1)));
        let through = |k: i32| (paid * i128::from(k) / units) as i64;
        through(refunded + quantity) - through(refunded)
    }
}

impl Order {
    pub fn item_count(&self) -> i64 {
        self.lines.iter().map(|l| i64::from(l.quantity)).sum()
    }

    /// The order's tax by class and rate (shipping as the class `shipping`), in line order.
    pub fn tax_lines(&self) -> Vec<TaxLine> {
        let mut out: Vec<TaxLine> = Vec::new();
        let mut add = |class: &str, rate_bp: i32, taxable: i64, tax: i64| match out
            .iter_mut()
            .find(|t| t.class == class && t.rate_bp == rate_bp)
        {
            Some(t) => {
                t.taxable_amount += taxable;
                t.tax_amount += tax;
            }
            None => out.push(TaxLine {
                class: class.to_owned(),
                rate_bp,
                taxable_amount: taxable,
                tax_amount: tax,
            }),
        };
        for l in &self.lines {
            add(&l.tax_class, l.tax_rate_bp, l.taxable(), l.tax);
        }
        let shipping_paid = self.shipping_fee - self.shipping_discount;
        if shipping_paid > 0 {
            let taxable = if self.prices_include_tax {
                shipping_paid - self.shipping_tax
            } else {
                shipping_paid
            };
            add(
                "shipping",
                self.shipping_tax_rate_bp,
                taxable,
                self.shipping_tax,
            );
        }
        out
    }

    /// How much of the order came back through returns.
    pub fn return_state(&self) -> ReturnState {
        let returned: i64 = self
            .lines
            .iter()
            .map(|l| i64::from(l.returned_quantity))
            .sum();
        match returned {
            0 => ReturnState::None,
            r if r >= self.item_count() => ReturnState::Returned,
            _ => ReturnState::PartiallyReturned,
        }
    }
}

/// Tax of one class and rate on an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaxLine {
    pub class: String,
    pub rate_bp: i32,
    /// What the tax is levied on (without the tax).
    pub taxable_amount: i64,
    pub tax_amount: i64,
}

/// How much of an order came back through returns (beside its status, which follows the money).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    None,
    PartiallyReturned,
    Returned,
}

/// One recorded transition.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// A note (e.g. the payment provider confirming a refund) rather than a status change.
    pub note: bool,
    /// The name of the staff member or customer behind `actor`.
    pub actor_name: Option<String>,
}

/// Who moved an order.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Customer(Uuid),
    Admin(Uuid),
    /// Midtrans (a verified notification or a status check).
    Payment,
    /// Background jobs (expiry, reconciliation).
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Customer(id) => write!(f, "customer:{id}"),
            Actor::Admin(id) => write!(f, "admin:{id}"),
            Actor::Payment => f.write_str("payment:midtrans"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Why a cart line blocked checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineIssue {
    InsufficientStock,
    PriceChanged,
    Unavailable,
}

impl LineIssue {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InsufficientStock => "insufficient_stock",
            Self::PriceChanged => "price_changed",
            Self::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineProblem {
    pub variant_id: VariantId,
    pub sku: Sku,
    pub requested: i32,
    pub available: i32,
    pub previous_unit_price: Option<i64>,
    pub unit_price: i64,
    pub issue: LineIssue,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("order not found")]
    NotFound,
    #[error("the cart is empty")]
    CartEmpty,
    #[error("verify your email address before checking out (POST /api/v1/me/email-verification sends a new link)")]
    EmailNotVerified,
    #[error("some items changed since they were added to the cart; review the cart")]
    CartChanged(Vec<LineProblem>),
    #[error("the cart's discount changed since it was shown; review the cart")]
    DiscountChanged { previous: i64, current: i64 },
    #[error("some items are not available in the requested quantity")]
    InsufficientStock(Vec<LineProblem>),
    #[error("an order cannot go from {from} to {to}")]
    IllegalTransition { from: OrderStatus, to: OrderStatus },
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Shipping(#[from] crate::shipping::ShippingError),
    /// The cart changed between its shipping quote and checkout's lock (checkout quotes again).
    #[error("the cart changed during checkout; try again")]
    ParcelChanged,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// How checkout starts a payment for a new order, and closing an order closes it (implemented
/// by `payments`). Must not fail:
/// when the payment provider is unreachable it reports the payment as unavailable and the
/// customer retries later.
#[async_trait::async_trait]
pub trait PaymentStarter: Send + Sync {
    async fn start_payment(&self, order: &Order) -> PaymentSummary;

    /// Makes a cancelled or expired order unpayable at the provider. Must not fail either: a
    /// payment not closed now is closed by the payment-poller's sweep.
    async fn close_payment(&self, order: &Order);
}

/// The payment of an order as shown with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSummary {
    /// `pending`, `unavailable`, `paid`, ...
    pub status: String,
    pub snap_token: Option<String>,
    pub redirect_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What checkout returns (and replays for a repeated idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutReceipt {
    pub order: Order,
    pub payment: Option<PaymentSummary>,
}

/// Filters of the admin order list.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_email: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

/// The order service.
#[derive(Clone)]
pub struct Orders {
    pub(crate) db: PgPool,
    pub(crate) config: Arc<OrderConfig>,
    pub(crate) currency: String,
    pub(crate) payments: Option<Arc<dyn PaymentStarter>>,
    /// Prices shipping at checkout (only the API checks out).
    pub(crate) shipping: Option<crate::shipping::Shipping>,
}

impl Orders {
    pub fn new(db: PgPool, config: OrderConfig, currency: impl Into<String>) -> Self {
        Self {
            db,
            config: Arc::new(config),
            currency: currency.into(),
            payments: None,
            shipping: None,
        }
    }

    /// Starts payments for new orders with `starter`.
    pub fn with_payments(mut self, starter: Arc<dyn PaymentStarter>) -> Self {
        self.payments = Some(starter);
        self
    }

    /// Prices the shipping of new orders with `shipping`.
    pub fn with_shipping(mut self, shipping: crate::shipping::Shipping) -> Self {
        self.shipping = Some(shipping);
        self
    }

    /// A customer's own order; another customer's is "not found".
    pub async fn customer_order(
        &self,
        user_id: Uuid,
        order_id: OrderId,
    ) -> Result<Order, OrderError> {
        let mut conn = self.db.acquire().await?;
        store::load(&mut conn, order_id.as_uuid())
            .await?
            .filter(|o| o.user_id == user_id)
            .ok_or(OrderError::NotFound)
    }

    /// A customer's orders, newest first; `before` is the last id of the previous page.
    pub async fn customer_orders(
        &self,
        user_id: Uuid,
        before: Option<OrderId>,
        limit: i64,
    ) -> Result<Vec<Order>, OrderError> {
        let filter = store::ListFilter {
            user_id: Some(user_id),
            ..Default::default()
        };
        Ok(store::list(&self.db, &filter, before, limit).await?)
    }

    /// Any order with its history, for admins.
    pub async fn admin_order(
        &self,
        order_id: OrderId,
    ) -> Result<(Order, Vec<HistoryEntry>), OrderError> {
        let mut conn = self.db.acquire().await?;
        let order = store::load(&mut conn, order_id.as_uuid())
            .await?
            .ok_or(OrderError::NotFound)?;
        let history = store::history(&mut conn, order_id.as_uuid()).await?;
        Ok((order, history))
    }

    pub async fn admin_orders(
        &self,
        filter: &OrderFilter,
        before: Option<OrderId>,
        limit: i64,
    ) -> Result<Vec<Order>, OrderError> {
        let filter = store::ListFilter {
            user_id: None,
            status: filter.status,
            customer_email: filter.customer_email.clone(),
            created_from: filter.created_from,
            created_to: filter.created_to,
        };
        Ok(store::list(&self.db, &filter, before, limit).await?)
    }
}

/// Every order of a customer, newest first (their data export).
pub(crate) async fn of_customer(db: &PgPool, user_id: Uuid) -> Result<Vec<Order>, sqlx::Error> {
    let filter = store::ListFilter {
        user_id: Some(user_id),
        ..Default::default()
    };
    store::list(db, &filter, None, i64::MAX).await
}

/// The numbers of a customer's orders not yet delivered or closed.
pub(crate) async fn open_order_numbers(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    store::open_numbers(tx, user_id).await
}

/// Keeps a deleted customer's orders for accounting without their personal data.
pub(crate) async fn anonymise_customer(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    store::anonymise_customer(tx, user_id).await
}

/// Whether the customer has an order that was not cancelled or expired (promotions for first
/// orders only ask).
pub async fn has_ordered(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    store::has_ordered(conn, user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_of_a_discounted_line_refund_exactly_what_was_paid_in_any_steps() {
        let line = OrderLine {
            id: Uuid::nil(),
            variant_id: Uuid::nil().into(),
            product_id: Uuid::nil().into(),
            product_name: "Shirt".into(),
            sku: Sku::parse("SHIRT").unwrap(),
            options: BTreeMap::new(),
            unit_price: 33_333,
            quantity: 3,
            line_total: 99_999,
            discount: 10_001,
            returned_quantity: 0,
            shipped_quantity: 0,
            cancelled_quantity: 0,
            tax_class: "standard".into(),
            tax_rate_bp: 1100,
            tax: 8_919,
            tax_included: true,
        };
        assert_eq!(line.paid(), 89_998);
        assert_eq!(line.paid_for_units(0, 1), 29_999);
        assert_eq!(line.paid_for_units(1, 1), 29_999);
        assert_eq!(line.paid_for_units(2, 1), 30_000);
        for steps in [[1, 1, 1], [2, 1, 0], [0, 3, 0], [1, 2, 0]] {
            let mut refunded = 0;
            let total: i64 = steps
                .iter()
                .map(|q| {
                    let amount = line.paid_for_units(refunded, *q);
                    refunded += q;
                    amount
                })
                .sum();
            assert_eq!(total, line.paid());
        }
    }
}
