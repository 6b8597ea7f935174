//! Returns (RMA): a customer asks to send back delivered units within the return window; staff
//! approve or reject, mark the units received (each back into stock or written off) and refund
//! what was paid for them (after their promotion discounts, plus shipping when the policy
//! says so, adjusted by staff with a reason), through Midtrans where the payment method
//! allows it, otherwise as a refund staff made themselves.
//!
//! ```text
//! requested ─▶ approved ─▶ received ─▶ refunded
//!     └──────────┴─▶ rejected
//! ```
//!
//! The order row is locked while a return is requested, so returns racing for the same units
//! see each other; received units are counted on the order's lines, whose check constraint
//! keeps them within what was bought. Every step writes its event (`return.requested`,
//! `.approved`, `.rejected`, `.received`, `.refunded`) and a note in the order's history.

pub mod audit;
mod settings;
mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

pub use self::settings::{ReturnConfig, ShippingRefund};
use crate::{
    catalog::{
        inventory::{self, StockOp},
        VariantId,
    },
    events::{Event, Payload},
    orders::{lifecycle, Actor, Order, OrderError, OrderStatus, Orders},
    outbox,
    payments::{
        refunds::{LineRefund, MadeOutside, MadeRefundReceipt, UnitsRefund},
        PaymentError, Payments,
    },
    validation::ValidationErrors,
};

/// The largest adjustment staff may make to a return's refund, either way (minor units).
pub const MAX_ADJUSTMENT: i64 = 1_000_000_000_000;

/// The return enums with their names on the wire: the one list that the domain types below
/// and the API's enums are generated from. `with_return_enums!(m)` expands to one
/// `m! { Name, "doc" { Variant => "name", ... } }` per enum.
#[macro_export]
macro_rules! with_return_enums {
    ($callback:ident) => {
        $callback! { ReturnReason, "Why the customer sends units back." {
            Damaged => "damaged",
            Defective => "defective",
            WrongItem => "wrong_item",
            NotAsDescribed => "not_as_described",
            NoLongerWanted => "no_longer_wanted",
            Other => "other",
        } }
        $callback! { ReturnStatus, "Where a return is: requested, then approved or rejected; approved, then received (or rejected); received, then refunded." {
            Requested => "requested",
            Approved => "approved",
            Rejected => "rejected",
            Received => "received",
            Refunded => "refunded",
        } }
        $callback! { Disposition, "What became of received units: back into sellable stock (`restock`) or written off as damaged (`write_off`)." {
            Restock => "restock",
            WriteOff => "write_off",
        } }
    };
}

macro_rules! return_enum {
    ($name:ident, $doc:literal { $($variant:ident => $text:literal,)+ }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value)
            }
        }
    };
}

with_return_enums!(return_enum);

/// A line of a return: units of one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReturnLine {
    pub order_line_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub quantity: i32,
    pub reason: ReturnReason,
    /// Set when the units were received.
    pub disposition: Option<Disposition>,
}

/// A return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Return {
    pub id: Uuid,
    /// The order number with a running suffix (`…-R1`).
    pub number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub status: ReturnStatus,
    /// The customer's note.
    pub note: String,
    /// Why staff approved or rejected it.
    pub decision_note: Option<String>,
    pub currency: String,
    /// What was refunded (units, shipping and adjustment), once refunded.
    pub refund_amount: Option<i64>,
    /// The part of the refund that was shipping.
    pub shipping_refund: Option<i64>,
    /// Staff's adjustment of the refund (negative: less), with its reason.
    pub adjustment: Option<i64>,
    pub adjustment_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub lines: Vec<ReturnLine>,
}

/// What every `return.*` event says: the return as it is after the step, and whom to tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReturnEvent {
    #[serde(flatten)]
    pub details: Return,
    pub customer_email: String,
    pub customer_name: String,
}

impl Payload for ReturnEvent {
    fn aggregate_id(&self) -> Uuid {
        self.details.id
    }
}

/// Units a customer asks to return.
#[derive(Debug, Clone)]
pub struct RequestedLine {
    pub order_line_id: Uuid,
    pub quantity: i32,
    pub reason: ReturnReason,
}

#[derive(Debug, Clone)]
pub struct ReturnRequest {
    pub lines: Vec<RequestedLine>,
    pub note: String,
}

/// How staff refund a received return.
#[derive(Debug, Clone, Default)]
pub struct RefundReturn {
    /// Added to (or, negative, taken from) what the units and shipping come to.
    pub adjustment: Option<i64>,
    /// Required with an adjustment.
    pub adjustment_reason: Option<String>,
    /// The refund was made outside Midtrans (required when Midtrans cannot refund the payment).
    pub manual: Option<MadeOutside>,
    /// The most the staff member may give back in one refund; `None`: no limit.
    pub limit: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("return not found")]
    NotFound,
    #[error("the order is {0}: only delivered orders can be returned")]
    OrderNotReturnable(OrderStatus),
    #[error("the return window closed at {closed_at} ({days} days after delivery)")]
    WindowClosed { closed_at: DateTime<Utc>, days: i64 },
    #[error("the return is {status}: it cannot be {action}")]
    WrongStatus {
        status: ReturnStatus,
        action: &'static str,
    },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl std::fmt::Display for ReturnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The return service.
#[derive(Clone)]
pub struct Returns {
    db: PgPool,
    orders: Orders,
    payments: Payments,
    config: Arc<ReturnConfig>,
}

impl Returns {
    pub fn new(db: PgPool, orders: Orders, payments: Payments, config: ReturnConfig) -> Self {
        Self {
            db,
            orders,
            payments,
            config: Arc::new(config),
        }
    }

    /// A customer asks to return delivered units of their order.
    pub async fn request(
        &self,
        user_id: Uuid,
        order_id: Uuid,
        request: ReturnRequest,
    ) -> Result<Return, ReturnError> {
        let mut tx = self.db.begin().await?;
        // Locked: a concurrent request for the same units waits and then sees this one.
        let order = match lifecycle::lock_order(&mut tx, order_id.into()).await {
            Ok(order) if order.user_id == user_id => order,
            Ok(_) | Err(OrderError::NotFound) => return Err(ReturnError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let delivered_at = lifecycle::delivered_at(&mut tx, order_id.into()).await?;
        let delivered_at = match (order.status, delivered_at) {
            (OrderStatus::Delivered | OrderStatus::PartiallyRefunded, Some(at)) => at,
            (status, _) => return Err(ReturnError::OrderNotReturnable(status)),
        };
        let closes = delivered_at + self.config.window;
        if Utc::now() > closes {
            return Err(ReturnError::WindowClosed {
                closed_at: closes,
                days: self.config.window.num_days(),
            });
        }
        let left = self.returnable_units(&mut tx, &order).await?;
        let mut errors = ValidationErrors::new();
        errors.check(
            !request.lines.is_empty(),
            "lines",
            "name at least one line to return",
        );
        errors.check(request.lines.len() <= 100, "lines", "at most 100 lines");
        errors.length("note", request.note.trim(), 0, 1000);
        for (i, wanted) in request.lines.iter().enumerate() {
            let Some(line) = order.lines.iter().find(|l| l.id == wanted.order_line_id) else {
                errors.add(format!("lines[{i}].line_id"), "not a line of this order");
                continue;
            };
            if request.lines[..i]
                .iter()
                .any(|l| l.order_line_id == line.id)
            {
                errors.add(format!("lines[{i}].line_id"), "appears twice");
                continue;
            }
            let left = left(line.id);
            errors.check(
                (1..=left).contains(&wanted.quantity),
                format!("lines[{i}].quantity"),
                if left == 0 {
                    "nothing left to return on this line (every unit is returned, being returned or refunded)".to_owned()
                } else {
                    format!("must be between 1 and {left} (the delivered units not returned, being returned or refunded)")
                },
            );
        }
        errors.finish()?;

        let return_id = Uuid::now_v7();
        let number = format!(
            "{}-R{}",
            order.number,
            store::count_for_order(&mut tx, order_id).await? + 1
        );
        let lines: Vec<(Uuid, i32, ReturnReason)> = request
            .lines
            .iter()
            .map(|l| (l.order_line_id, l.quantity, l.reason))
            .collect();
        store::insert(
            &mut tx,
            store::NewReturn {
                return_id,
                number: &number,
                order_id,
                user_id,
                note: request.note.trim(),
                lines: &lines,
            },
        )
        .await?;
        let units: i32 = lines.iter().map(|l| l.1).sum();
        lifecycle::add_note(
            &mut tx,
            &order,
            Actor::Customer(user_id),
            &format!("return {number} requested ({units} units)"),
        )
        .await?;
        let r = self
            .announce(&mut tx, return_id, &order, Event::ReturnRequested)
            .await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Units of each line the customer may still ask to return: bought, minus refunded,
    /// minus promised back by open returns.
    async fn returnable_units(
        &self,
        conn: &mut sqlx::PgConnection,
        order: &Order,
    ) -> Result<impl Fn(Uuid) -> i32, ReturnError> {
        let refunded: std::collections::HashMap<Uuid, i64> =
            crate::payments::store::refunded_quantities(&mut *conn, order.id.into())
                .await?
                .into_iter()
                .collect();
        let open = store::open_units(conn, order.id.into()).await?;
        let left: std::collections::HashMap<Uuid, i32> = order
            .lines
            .iter()
            .map(|l| {
                let taken = refunded.get(&l.id).copied().unwrap_or(0)
                    + open.get(&l.id).copied().unwrap_or(0);
                (l.id, (i64::from(l.quantity) - taken).max(0) as i32)
            })
            .collect();
        Ok(move |line: Uuid| left.get(&line).copied().unwrap_or(0))
    }

    /// A customer's own return; another customer's is "not found".
    pub async fn customer_return(
        &self,
        user_id: Uuid,
        return_id: Uuid,
    ) -> Result<Return, ReturnError> {
        let mut conn = self.db.acquire().await?;
        store::load(&mut conn, return_id, false)
            .await?
            .filter(|r| r.user_id == user_id)
            .ok_or(ReturnError::NotFound)
    }

    /// A customer's returns (`Some(user)`) or everyone's, newest first; `before` is the last
    /// id of the previous page.
    pub async fn list(
        &self,
        user_id: Option<Uuid>,
        status: Option<ReturnStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Return>, ReturnError> {
        let mut conn = self.db.acquire().await?;
        let filter = store::Filter {
            user_id,
            status,
            before,
            ..store::Filter::default()
        };
        Ok(store::select(&mut conn, &filter, limit).await?)
    }

    /// Any return, for staff.
    pub async fn get(&self, return_id: Uuid) -> Result<Return, ReturnError> {
        let mut conn = self.db.acquire().await?;
        store::load(&mut conn, return_id, false)
            .await?
            .ok_or(ReturnError::NotFound)
    }

    /// Staff accept a requested return: the customer may send the units.
    pub async fn approve(
        &self,
        return_id: Uuid,
        staff: Uuid,
        note: Option<String>,
    ) -> Result<Return, ReturnError> {
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        let mut errors = ValidationErrors::new();
        errors.length("note", note.as_deref().unwrap_or_default(), 0, 500);
        self.decide(return_id, staff, ReturnStatus::Approved, note, errors)
            .await
    }

    /// Staff turn a return down (requested, or approved but never sent), saying why.
    pub async fn reject(
        &self,
        return_id: Uuid,
        staff: Uuid,
        reason: String,
    ) -> Result<Return, ReturnError> {
        let reason = reason.trim().to_owned();
        let mut errors = ValidationErrors::new();
        errors.length("reason", &reason, 1, 500);
        self.decide(
            return_id,
            staff,
            ReturnStatus::Rejected,
            Some(reason),
            errors,
        )
        .await
    }

    async fn decide(
        &self,
        return_id: Uuid,
        staff: Uuid,
        to: ReturnStatus,
        note: Option<String>,
        errors: ValidationErrors,
    ) -> Result<Return, ReturnError> {
        let mut tx = self.db.begin().await?;
        let current = self.lock(&mut tx, return_id).await?;
        let allowed = match to {
            ReturnStatus::Approved => current.status == ReturnStatus::Requested,
            _ => matches!(
                current.status,
                ReturnStatus::Requested | ReturnStatus::Approved
            ),
        };
        if !allowed {
            return Err(ReturnError::WrongStatus {
                status: current.status,
                action: if to == ReturnStatus::Approved {
                    "approved"
                } else {
                    "rejected"
                },
            });
        }
        errors.finish()?;
        store::decide(&mut tx, return_id, to, staff, note.as_deref()).await?;
        let order = lifecycle::lock_order(&mut tx, current.order_id.into()).await?;
        lifecycle::add_note(
            &mut tx,
            &order,
            Actor::Admin(staff),
            &format!(
                "return {} {}{}",
                current.number,
                to,
                note.map(|n| format!(": {n}")).unwrap_or_default()
            ),
        )
        .await?;
        let event = if to == ReturnStatus::Approved {
            Event::ReturnApproved
        } else {
            Event::ReturnRejected
        };
        let r = self.announce(&mut tx, return_id, &order, event).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Staff mark an approved return's units received, saying for every line whether its
    /// units go back into stock or are written off.
    pub async fn receive(
        &self,
        return_id: Uuid,
        staff: Uuid,
        dispositions: Vec<(Uuid, Disposition)>,
    ) -> Result<Return, ReturnError> {
        let mut tx = self.db.begin().await?;
        // The order first, as everywhere, then the return.
        let order_id = store::load(&mut tx, return_id, false)
            .await?
            .ok_or(ReturnError::NotFound)?
            .order_id;
        let order = lifecycle::lock_order(&mut tx, order_id.into()).await?;
        let current = self.lock(&mut tx, return_id).await?;
        if current.status != ReturnStatus::Approved {
            return Err(ReturnError::WrongStatus {
                status: current.status,
                action: "received (approve it first)",
            });
        }
        let mut errors = ValidationErrors::new();
        for (i, (line, _)) in dispositions.iter().enumerate() {
            if !current.lines.iter().any(|l| l.order_line_id == *line) {
                errors.add(format!("lines[{i}].line_id"), "not a line of this return");
            } else if dispositions[..i].iter().any(|(l, _)| l == line) {
                errors.add(format!("lines[{i}].line_id"), "appears twice");
            }
        }
        let missing: Vec<&str> = current
            .lines
            .iter()
            .filter(|l| !dispositions.iter().any(|(id, _)| *id == l.order_line_id))
            .map(|l| l.sku.as_str())
            .collect();
        errors.check(
            missing.is_empty(),
            "lines",
            format!(
                "say what became of every line of the return (missing: {})",
                missing.join(", ")
            ),
        );
        errors.finish()?;

        let units = |wanted: Disposition| -> Vec<(VariantId, i32)> {
            current
                .lines
                .iter()
                .filter(|l| dispositions.contains(&(l.order_line_id, wanted)))
                .filter_map(|l| {
                    let variant = order.lines.iter().find(|o| o.id == l.order_line_id)?;
                    Some((variant.variant_id, l.quantity))
                })
                .collect()
        };
        let restocked = units(Disposition::Restock);
        if !restocked.is_empty() {
            let refused =
                inventory::apply_to_order(&mut tx, order_id, StockOp::Return, &restocked).await?;
            if !refused.is_empty() {
                // Adding stock on hand is refused only for a variant gone from the catalog.
                let mut errors = ValidationErrors::new();
                errors.add(
                    "lines",
                    "a restocked variant no longer exists: write it off",
                );
                return Err(errors.into());
            }
        }
        store::receive(&mut tx, return_id, staff, &dispositions).await?;
        let received: Vec<(Uuid, i32)> = current
            .lines
            .iter()
            .map(|l| (l.order_line_id, l.quantity))
            .collect();
        let restocked_units: i32 = restocked.iter().map(|r| r.1).sum();
        let all_units: i32 = received.iter().map(|r| r.1).sum();
        lifecycle::record_returned_units(
            &mut tx,
            &order,
            &received,
            Actor::Admin(staff),
            &format!(
                "return {} received: {restocked_units} of {all_units} units restocked",
                current.number
            ),
        )
        .await?;
        let order = lifecycle::lock_order(&mut tx, order_id.into()).await?;
        let r = self
            .announce(&mut tx, return_id, &order, Event::ReturnReceived)
            .await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Refunds a received return: what was paid for its units (after their discounts), plus
    /// shipping when the policy gives it back, plus staff's adjustment. Through Midtrans
    /// where the payment's method allows it, otherwise staff say how they refunded it.
    /// Repeating it is safe: the same return is the same refund.
    pub async fn refund(
        &self,
        return_id: Uuid,
        staff: Uuid,
        how: RefundReturn,
    ) -> Result<Return, ReturnError> {
        let current = self.get(return_id).await?;
        match current.status {
            ReturnStatus::Received => {}
            ReturnStatus::Refunded => return Ok(current),
            status => {
                return Err(ReturnError::WrongStatus {
                    status,
                    action: "refunded (receive its units first)",
                })
            }
        }
        let (order, _) = self.orders.admin_order(current.order_id.into()).await?;
        let seed = format!("return-{return_id}");
        if let Some(made) = self.payments.refund_made(&order, &seed).await? {
            // Refunded before its return was marked (the request died in between).
            return self.mark_refunded(&current, staff, &how, made, 0).await;
        }
        let reason = how
            .adjustment_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let mut errors = ValidationErrors::new();
        if let Some(adjustment) = how.adjustment {
            errors.check(
                adjustment != 0 && adjustment.abs() <= MAX_ADJUSTMENT,
                "adjustment.amount",
                format!("must not be 0, and at most {MAX_ADJUSTMENT} either way"),
            );
            errors.check(
                reason.is_some(),
                "adjustment.reason",
                "is required with an adjustment",
            );
        }
        errors.length("adjustment.reason", reason.unwrap_or_default(), 0, 500);
        if let Some(manual) = &how.manual {
            errors.length("manual.method", manual.method.trim(), 1, 50);
            errors.length("manual.reference", manual.reference.trim(), 1, 100);
        }
        errors.finish()?;

        let shipping = self.shipping_refund(&current, &order).await?;
        let units = self.units_refund(&current, &order).await?;
        let adjustment = how.adjustment.unwrap_or(0);
        let total = units + shipping + adjustment;
        let remaining = order.grand_total - order.refunded_amount;
        if !(1..=remaining).contains(&total) {
            return Err(ValidationErrors::single(
                "adjustment.amount",
                format!(
                    "the refund would be {total} ({units} for the units, {shipping} for shipping, \
                     {adjustment} adjusted): it must be between 1 and {remaining}, what is left unrefunded"
                ),
            )
            .into());
        }
        let receipt = self
            .payments
            .refund_units(
                order.id,
                UnitsRefund {
                    lines: current
                        .lines
                        .iter()
                        .map(|l| LineRefund {
                            order_line_id: l.order_line_id,
                            quantity: l.quantity,
                        })
                        .collect(),
                    extra: shipping + adjustment,
                    reason: format!(
                        "return {}{}",
                        current.number,
                        reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    idempotency_seed: seed,
                    staff,
                    cancels_units: false,
                    limit: how.limit,
                    manual: how.manual.as_ref().map(|m| MadeOutside {
                        method: m.method.trim().to_owned(),
                        reference: m.reference.trim().to_owned(),
                    }),
                },
            )
            .await?;
        self.mark_refunded(&current, staff, &how, receipt, shipping)
            .await
    }

    async fn mark_refunded(
        &self,
        current: &Return,
        staff: Uuid,
        how: &RefundReturn,
        receipt: MadeRefundReceipt,
        shipping: i64,
    ) -> Result<Return, ReturnError> {
        let reason = how
            .adjustment_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let mut tx = self.db.begin().await?;
        let order = lifecycle::lock_order(&mut tx, current.order_id.into()).await?;
        let marked = store::refunded(
            &mut tx,
            current.id,
            store::MadeRefund {
                refund_key: &receipt.refund_key,
                amount: receipt.amount,
                shipping,
                adjustment: how.adjustment,
                adjustment_reason: reason,
                staff,
            },
        )
        .await?;
        if !marked {
            // Refunded by a concurrent request meanwhile (the same refund: same key).
            tx.rollback().await?;
            return self.get(current.id).await;
        }
        lifecycle::add_note(
            &mut tx,
            &order,
            Actor::Admin(staff),
            &format!(
                "return {} refunded: {}",
                current.number,
                crate::notifications::templates::money(receipt.amount, &order.currency)
            ),
        )
        .await?;
        let r = self
            .announce(&mut tx, current.id, &order, Event::ReturnRefunded)
            .await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Shipping this return gives back: under the whole-order policy, what the customer paid
    /// for shipping, once, by the return that completes the order's return.
    async fn shipping_refund(&self, r: &Return, order: &Order) -> Result<i64, ReturnError> {
        if self.config.shipping_refund == ShippingRefund::Never {
            return Ok(0);
        }
        let everything_back = order
            .lines
            .iter()
            .all(|l| l.returned_quantity == l.quantity);
        if !everything_back || store::shipping_refunded(&self.db, r.order_id).await? > 0 {
            return Ok(0);
        }
        Ok(order.shipping_fee - order.shipping_discount)
    }

    /// What was paid for the return's units (continuing each line from its refunded units).
    async fn units_refund(&self, r: &Return, order: &Order) -> Result<i64, ReturnError> {
        let refunded: std::collections::HashMap<Uuid, i64> =
            crate::payments::store::refunded_quantities(&self.db, order.id.into())
                .await?
                .into_iter()
                .collect();
        Ok(r.lines
            .iter()
            .filter_map(|l| {
                let line = order.lines.iter().find(|o| o.id == l.order_line_id)?;
                let done = refunded.get(&line.id).copied().unwrap_or(0) as i32;
                Some(line.paid_for_units(done, l.quantity))
            })
            .sum())
    }

    async fn lock(
        &self,
        tx: &mut sqlx::PgConnection,
        return_id: Uuid,
    ) -> Result<Return, ReturnError> {
        store::load(tx, return_id, true)
            .await?
            .ok_or(ReturnError::NotFound)
    }

    /// Loads the return as it now is and writes its event.
    async fn announce(
        &self,
        tx: &mut sqlx::PgConnection,
        return_id: Uuid,
        order: &Order,
        event: fn(ReturnEvent) -> Event,
    ) -> Result<Return, ReturnError> {
        let details = store::load(tx, return_id, false)
            .await?
            .ok_or(ReturnError::NotFound)?;
        outbox::enqueue(
            tx,
            event(ReturnEvent {
                details: details.clone(),
                customer_email: order.customer_email.clone(),
                customer_name: order.customer_name.clone(),
            }),
        )
        .await?;
        Ok(details)
    }
}

/// Every return of a customer, newest first (their data export).
pub(crate) async fn of_customer(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<Vec<Return>, sqlx::Error> {
    let filter = store::Filter {
        user_id: Some(user_id),
        ..store::Filter::default()
    };
    store::select(conn, &filter, i64::MAX).await
}

/// How many of a customer's returns are still under way.
pub(crate) async fn open_count(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<i64, sqlx::Error> {
    store::open_count(tx, user_id).await
}

/// Keeps a deleted customer's returns without what they wrote.
pub(crate) async fn anonymise_customer(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    store::anonymise_customer(tx, user_id).await
}
