//! Request and response bodies of carts, checkout and orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::{
    cart::{Cart, CartLine},
    catalog::{ProductId, VariantId},
    orders::{
        Address, CheckoutReceipt, HistoryEntry, Order, OrderId, OrderLine, OrderStatus,
        PaymentSummary,
    },
    promotions::{rules::NotApplied, OrderPromotion},
};

/// A line of a cart, priced now.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CartItemOut {
    pub id: Uuid,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub product_slug: String,
    pub sku: String,
    pub options: BTreeMap<String, String>,
    pub image_url: Option<String>,
    pub quantity: i32,
    /// The current unit price (minor units).
    pub unit_price: i64,
    /// The price when the item was added, present when it has changed since.
    pub previous_unit_price: Option<i64>,
    pub line_total: i64,
    /// Units available now.
    pub available: i32,
    /// False when the product is no longer for sale.
    pub purchasable: bool,
    /// What promotions take off this line.
    pub discount: i64,
}

impl From<CartLine> for CartItemOut {
    fn from(l: CartLine) -> Self {
        Self {
            id: l.id,
            variant_id: l.variant_id,
            product_id: l.product_id,
            product_name: l.product_name,
            product_slug: l.product_slug,
            sku: l.sku.into(),
            options: l.options,
            image_url: l.image_url,
            quantity: l.quantity,
            unit_price: l.unit_price,
            previous_unit_price: l.previous_unit_price,
            line_total: l.line_total,
            available: l.available,
            purchasable: l.purchasable,
            discount: l.discount,
        }
    }
}

/// A cart with totals computed by the server.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CartOut {
    pub id: Uuid,
    pub items: Vec<CartItemOut>,
    /// Total units.
    pub item_count: i64,
    pub subtotal: i64,
    /// What promotions take off the items (shipping discounts are known at checkout).
    pub discount_total: i64,
    /// The discount shown before, present when it has changed since: checkout refuses the
    /// cart until it has been shown again.
    pub previous_discount_total: Option<i64>,
    /// The items' tax after their discounts (shipping's is added at checkout).
    pub tax_total: i64,
    /// Whether prices include the tax; otherwise `tax_total` is added at checkout.
    pub prices_include_tax: bool,
    /// `subtotal - discount_total`, plus `tax_total` when prices exclude it; before shipping.
    pub total: i64,
    /// The promotion code the cart holds (applied or not).
    pub promotion_code: Option<String>,
    /// The promotions that apply, in the order they apply.
    pub promotions: Vec<AppliedPromotionOut>,
    /// The cart's code when it does not apply, and why.
    pub rejected_code: Option<RejectedCodeOut>,
    pub currency: String,
    pub updated_at: DateTime<Utc>,
}

/// A promotion applied to a cart.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AppliedPromotionOut {
    pub promotion_id: Uuid,
    pub name: String,
    /// Absent for an automatic promotion.
    pub code: Option<String>,
    /// Taken off the items.
    pub discount: i64,
    /// Free shipping: the fee is taken off at checkout for a covered method.
    pub free_shipping: bool,
}

/// Why a code does not apply.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum NotAppliedReason {
    Unknown,
    Disabled,
    NotStarted,
    Expired,
    MinimumNotMet,
    LimitReached,
    NotEligible,
    NothingMatches,
    NotCombinable,
}

impl From<NotApplied> for NotAppliedReason {
    fn from(reason: NotApplied) -> Self {
        match reason {
            NotApplied::Unknown => Self::Unknown,
            NotApplied::Disabled => Self::Disabled,
            NotApplied::NotStarted => Self::NotStarted,
            NotApplied::Expired => Self::Expired,
            NotApplied::MinimumNotMet => Self::MinimumNotMet,
            NotApplied::LimitReached => Self::LimitReached,
            NotApplied::NotEligible => Self::NotEligible,
            NotApplied::NothingMatches => Self::NothingMatches,
            NotApplied::NotCombinable => Self::NotCombinable,
        }
    }
}

/// A code the cart holds that does not apply now.
#[derive(Debug, Clone, Object)]
pub struct RejectedCodeOut {
    pub code: String,
    pub reason: NotAppliedReason,
}

/// A promotion code to put on the cart.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct PromotionCodeIn {
    /// Case does not matter.
    pub code: String,
}

impl CartOut {
    pub fn new(cart: Cart, currency: &str) -> Self {
        Self {
            id: cart.id,
            items: cart.lines.into_iter().map(Into::into).collect(),
            item_count: cart.item_count,
            subtotal: cart.subtotal,
            discount_total: cart.discount_total,
            previous_discount_total: (cart.seen_discount != cart.discount_total)
                .then_some(cart.seen_discount),
            total: cart.subtotal - cart.discount_total
                + if cart.prices_include_tax {
                    0
                } else {
                    cart.tax_total
                },
            tax_total: cart.tax_total,
            prices_include_tax: cart.prices_include_tax,
            promotion_code: cart.promotion_code,
            promotions: cart
                .promotions
                .into_iter()
                .map(|p| AppliedPromotionOut {
                    free_shipping: p.free_shipping,
                    promotion_id: p.promotion_id,
                    name: p.name,
                    code: p.code,
                    discount: p.lines_discount,
                })
                .collect(),
            rejected_code: cart.rejected_code.map(|(code, reason)| RejectedCodeOut {
                code,
                reason: reason.into(),
            }),
            currency: currency.to_owned(),
            updated_at: cart.updated_at,
        }
    }
}

/// A new guest cart: keep the token and send it as `X-Cart-Token`.
#[derive(Debug, Clone, Object)]
pub struct GuestCartOut {
    pub cart_token: String,
    pub cart: CartOut,
}

/// An item to add.
#[derive(Debug, Object, serde::Deserialize)]
pub struct CartItemIn {
    pub variant_id: VariantId,
    pub quantity: i32,
}

/// A new quantity (0 removes the item).
#[derive(Debug, Object, serde::Deserialize)]
pub struct CartItemPatch {
    pub quantity: i32,
}

/// A postal address.
#[derive(Debug, Clone, Object, serde::Deserialize, serde::Serialize)]
#[oai(remote = "Address", skip_serializing_if_is_none)]
pub struct AddressDto {
    pub recipient_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 code, e.g. `ID` or `IDN`.
    pub country_code: String,
}

/// The checkout form.
#[derive(Debug, Clone, Object, serde::Deserialize, serde::Serialize)]
pub struct CheckoutIn {
    /// Where to ship. Or give `address_id`; with neither, the default address of the
    /// customer's address book.
    pub shipping_address: Option<AddressDto>,
    /// One of `GET /api/v1/me/addresses`.
    pub address_id: Option<Uuid>,
    /// A code from `GET /api/v1/shipping-methods`.
    pub shipping_method: String,
    pub note: Option<String>,
}

macro_rules! order_status_dto {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// Where an order is in its lifecycle.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Deserialize)]
        pub enum OrderStatusDto {
            $($(#[$doc])* #[oai(rename = $name)] #[serde(rename = $name)] $variant,)+
        }

        impl From<OrderStatus> for OrderStatusDto {
            fn from(s: OrderStatus) -> Self {
                match s {
                    $(OrderStatus::$variant => Self::$variant,)+
                }
            }
        }

        impl From<OrderStatusDto> for OrderStatus {
            fn from(s: OrderStatusDto) -> Self {
                match s {
                    $(OrderStatusDto::$variant => Self::$variant,)+
                }
            }
        }
    };
}

crate::with_order_statuses!(order_status_dto);

/// A line as bought (snapshots of name, options and price).
#[derive(Debug, Clone, Object)]
pub struct OrderLineOut {
    pub id: Uuid,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: String,
    pub options: BTreeMap<String, String>,
    pub unit_price: i64,
    pub quantity: i32,
    pub line_total: i64,
    /// What promotions took off this line; the customer paid `line_total - discount` for it.
    pub discount: i64,
    /// Units received back through returns.
    pub returned_quantity: i32,
    /// Units handed to a carrier (see the order's shipments).
    pub shipped_quantity: i32,
    /// Units cancelled before shipping (restocked and refunded).
    pub cancelled_quantity: i32,
    /// The tax class, its rate in basis points (1100 = 11%) and the line's tax.
    pub tax_class: String,
    pub tax_rate_bp: i32,
    pub tax: i64,
}

impl From<OrderLine> for OrderLineOut {
    fn from(l: OrderLine) -> Self {
        Self {
            id: l.id,
            variant_id: l.variant_id,
            product_id: l.product_id,
            product_name: l.product_name,
            sku: l.sku.into(),
            options: l.options,
            unit_price: l.unit_price,
            quantity: l.quantity,
            line_total: l.line_total,
            discount: l.discount,
            returned_quantity: l.returned_quantity,
            shipped_quantity: l.shipped_quantity,
            cancelled_quantity: l.cancelled_quantity,
            tax_class: l.tax_class,
            tax_rate_bp: l.tax_rate_bp,
            tax: l.tax,
        }
    }
}

/// A promotion an order redeemed.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OrderPromotionOut {
    pub promotion_id: Uuid,
    pub code: Option<String>,
    pub name: String,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    /// Set when the unpaid order was cancelled or expired and gave the redemption back.
    pub released_at: Option<DateTime<Utc>>,
}

impl From<OrderPromotion> for OrderPromotionOut {
    fn from(p: OrderPromotion) -> Self {
        Self {
            promotion_id: p.promotion_id,
            code: p.code,
            name: p.name,
            lines_discount: p.lines_discount,
            shipping_discount: p.shipping_discount,
            released_at: p.released_at,
        }
    }
}

/// An order. Amounts are integers in minor units of `currency`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OrderOut {
    pub id: OrderId,
    /// The public order number.
    pub number: String,
    pub status: OrderStatusDto,
    pub currency: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    /// Promotions' discount on the lines.
    pub discount_total: i64,
    /// Promotions' discount on shipping.
    pub shipping_discount: i64,
    /// `subtotal - discount_total + shipping_fee - shipping_discount`.
    pub grand_total: i64,
    pub refunded_amount: i64,
    /// Whether prices and fees include the tax; otherwise `tax_total` is added to the grand
    /// total.
    pub prices_include_tax: bool,
    /// The lines' taxes and the shipping tax.
    pub tax_total: i64,
    pub shipping_tax: i64,
    /// Tax by class and rate (`shipping` for the shipping fee); they sum to `tax_total`.
    pub tax_lines: Vec<TaxLineOut>,
    pub shipping_method: String,
    pub shipping_address: AddressDto,
    pub note: Option<String>,
    pub customer_email: String,
    pub customer_name: String,
    pub tracking_number: Option<String>,
    /// Unpaid orders expire (releasing their stock) at this time.
    pub payment_due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub item_count: i64,
    pub lines: Vec<OrderLineOut>,
    pub promotions: Vec<OrderPromotionOut>,
    pub return_state: ReturnStateDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Tax of one class and rate on an order.
#[derive(Debug, Clone, Object)]
pub struct TaxLineOut {
    pub class: String,
    /// Basis points: 1100 is 11%.
    pub rate_bp: i32,
    /// What the tax is levied on, without the tax.
    pub taxable_amount: i64,
    pub tax_amount: i64,
}

impl From<crate::orders::TaxLine> for TaxLineOut {
    fn from(t: crate::orders::TaxLine) -> Self {
        Self {
            class: t.class,
            rate_bp: t.rate_bp,
            taxable_amount: t.taxable_amount,
            tax_amount: t.tax_amount,
        }
    }
}

/// How much of the order came back through returns (its `status` follows the money).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ReturnStateDto {
    None,
    PartiallyReturned,
    Returned,
}

impl From<crate::orders::ReturnState> for ReturnStateDto {
    fn from(state: crate::orders::ReturnState) -> Self {
        use crate::orders::ReturnState as S;
        match state {
            S::None => Self::None,
            S::PartiallyReturned => Self::PartiallyReturned,
            S::Returned => Self::Returned,
        }
    }
}

impl From<Order> for OrderOut {
    fn from(o: Order) -> Self {
        Self {
            item_count: o.item_count(),
            return_state: o.return_state().into(),
            tax_lines: o.tax_lines().into_iter().map(Into::into).collect(),
            prices_include_tax: o.prices_include_tax,
            tax_total: o.tax_total,
            shipping_tax: o.shipping_tax,
            id: o.id,
            number: o.number.into(),
            status: o.status.into(),
            currency: o.currency,
            subtotal: o.subtotal,
            shipping_fee: o.shipping_fee,
            discount_total: o.discount_total,
            shipping_discount: o.shipping_discount,
            grand_total: o.grand_total,
            refunded_amount: o.refunded_amount,
            shipping_method: o.shipping_method,
            shipping_address: o.shipping_address.into(),
            note: o.note,
            customer_email: o.customer_email,
            customer_name: o.customer_name,
            tracking_number: o.tracking_number,
            payment_due_at: o.payment_due_at,
            paid_at: o.paid_at,
            lines: o.lines.into_iter().map(Into::into).collect(),
            promotions: o.promotions.into_iter().map(Into::into).collect(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// How to pay an order: open `redirect_url` (or run Snap with `snap_token`).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentOut {
    /// `pending` (waiting for the customer), `unavailable` (the payment provider could not be
    /// reached: retry with `POST /api/v1/orders/{id}/payment`), `paid`, `failed`, `expired`,
    /// `challenge` (held for review), `refunded`, `partially_refunded`, `cancelled`.
    pub status: String,
    pub snap_token: Option<String>,
    pub redirect_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<PaymentSummary> for PaymentOut {
    fn from(p: PaymentSummary) -> Self {
        Self {
            status: p.status,
            snap_token: p.snap_token,
            redirect_url: p.redirect_url,
            expires_at: p.expires_at,
        }
    }
}

/// A placed order and how to pay it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CheckoutOut {
    pub order: OrderOut,
    pub payment: Option<PaymentOut>,
}

impl From<CheckoutReceipt> for CheckoutOut {
    fn from(r: CheckoutReceipt) -> Self {
        Self {
            order: r.order.into(),
            payment: r.payment.map(Into::into),
        }
    }
}

/// A page of orders, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OrderPageOut {
    pub items: Vec<OrderOut>,
    pub next_cursor: Option<String>,
}

impl OrderPageOut {
    pub fn new(orders: Vec<Order>, limit: i64) -> Self {
        let next_cursor = (orders.len() as i64 == limit)
            .then(|| orders.last().map(|o| o.id.to_string()))
            .flatten();
        Self {
            items: orders.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}

/// One recorded transition.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct HistoryOut {
    pub from: Option<OrderStatusDto>,
    pub to: OrderStatusDto,
    /// `customer:<id>`, `admin:<id>`, `payment:midtrans` or `system`.
    pub actor: String,
    /// The staff member's or customer's name, for `admin:` and `customer:` actors.
    pub actor_name: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// `transition` (a status change) or `note` (recorded without changing the status, e.g.
    /// the payment provider confirming a refund).
    pub kind: String,
}

impl From<HistoryEntry> for HistoryOut {
    fn from(h: HistoryEntry) -> Self {
        Self {
            from: h.from.map(Into::into),
            to: h.to.into(),
            actor: h.actor,
            actor_name: h.actor_name,
            reason: h.reason,
            at: h.at,
            kind: if h.note { "note" } else { "transition" }.into(),
        }
    }
}

/// An order with its history.
#[derive(Debug, Clone, Object)]
pub struct OrderDetailOut {
    pub order: OrderOut,
    pub history: Vec<HistoryOut>,
}

/// A requested status change.
#[derive(Debug, Object, serde::Deserialize)]
pub struct TransitionIn {
    pub to: OrderStatusDto,
    pub reason: Option<String>,
    /// Required when moving to `shipped`.
    pub tracking_number: Option<String>,
}

/// A shipping option.
#[derive(Debug, Clone, Object)]
pub struct ShippingMethodOut {
    pub code: String,
    pub name: String,
    pub fee: i64,
    pub currency: String,
}

/// The shipping options.
#[derive(Debug, Clone, Object)]
pub struct ShippingMethodsOut {
    pub items: Vec<ShippingMethodOut>,
}

/// A refund.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct RefundIn {
    /// Minor units; the whole unrefunded amount when absent (and no `lines`).
    pub amount: Option<i64>,
    /// Units to refund instead of an amount: the refund is what was paid for them, after
    /// their lines' promotion discounts (`line_total - discount` spread over the line's units).
    pub lines: Option<Vec<RefundLineIn>>,
    pub reason: String,
}

/// Units of an order line to refund.
#[derive(Debug, Clone, Copy, Object, serde::Deserialize, serde::Serialize)]
pub struct RefundLineIn {
    pub line_id: Uuid,
    /// At most the units not refunded yet.
    pub quantity: i32,
}

impl From<RefundLineIn> for crate::payments::refunds::LineRefund {
    fn from(l: RefundLineIn) -> Self {
        Self {
            order_line_id: l.line_id,
            quantity: l.quantity,
        }
    }
}

/// The optional refund lines of a request, parsed.
pub fn refund_lines(lines: Option<Vec<RefundLineIn>>) -> Vec<crate::payments::refunds::LineRefund> {
    lines
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// A refund staff made outside Midtrans, to record.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct ManualRefundIn {
    /// Minor units, at most the unrefunded amount; required unless `lines` are given.
    pub amount: Option<i64>,
    /// Units given back instead of an amount (see the gateway refund's `lines`).
    pub lines: Option<Vec<RefundLineIn>>,
    /// How the money went back, e.g. `bank_transfer`, `cash`.
    pub method: String,
    /// The transfer's reference (bank or shop), 1-100 characters.
    pub reference: String,
    /// Why, in the staff member's words (recorded in the order history).
    pub note: String,
    /// Also cancel the order and put its goods back on the shelf (how a paid order that
    /// Midtrans cannot refund is cancelled); `amount` must then be the whole unrefunded amount.
    pub cancel_order: Option<bool>,
}

/// A payment event that needs a person.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentExceptionOut {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    /// `late_payment`, `reversal`, `amount_mismatch` or `refund_needs_manual_step`.
    pub kind: String,
    /// `open` or `resolved`.
    pub state: String,
    pub detail: String,
    /// Money concerned (minor units).
    pub amount: Option<i64>,
    /// What a person does to resolve it.
    pub action: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<crate::payments::exceptions::PaymentException> for PaymentExceptionOut {
    fn from(e: crate::payments::exceptions::PaymentException) -> Self {
        Self {
            action: e.action().to_owned(),
            id: e.exception_id,
            order_id: e.order_id,
            order_number: e.order_number,
            kind: e.kind,
            state: e.state,
            detail: e.detail,
            amount: e.amount,
            resolution: e.resolution,
            resolved_by: e.resolved_by,
            resolved_at: e.resolved_at,
            created_at: e.created_at,
        }
    }
}

/// The state of a payment exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ExceptionStateDto {
    Open,
    Resolved,
}

impl ExceptionStateDto {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// Payment exceptions, newest first.
#[derive(Debug, Clone, Object)]
pub struct PaymentExceptionListOut {
    pub items: Vec<PaymentExceptionOut>,
}

/// How a payment exception was resolved.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct ResolveExceptionIn {
    /// What was done (e.g. "refunded by BCA transfer, ref 123"), 1-1000 characters.
    pub resolution: String,
}
