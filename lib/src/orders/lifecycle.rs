//! Moving orders through the state machine: one function applies any legal transition with
//! its stock effect, history row and outbox event in one transaction. Customer cancellation
//! and the expiry sweep are built on it.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{events::OrderEvent, store, Actor, Order, OrderError, OrderId, OrderStatus, Orders};
use crate::{
    catalog::inventory::{self, StockOp},
    events::Event,
    outbox, promotions,
    validation::ValidationErrors,
};

/// A requested transition.
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: OrderStatus,
    pub actor: Actor,
    pub reason: String,
    /// Required when shipping.
    pub tracking_number: Option<String>,
    /// For refunds: the total refunded so far, as the payment provider reports it (absolute, so
    /// a refund seen twice — by its API answer and by its notification — counts once).
    pub refunded_total: Option<i64>,
}

impl Transition {
    pub fn new(to: OrderStatus, actor: Actor, reason: impl Into<String>) -> Self {
        Self {
            to,
            actor,
            reason: reason.into(),
            tracking_number: None,
            refunded_total: None,
        }
    }
}

/// The stock effect of moving from `from` to `to`.
fn stock_effect(from: OrderStatus, to: OrderStatus) -> Option<StockOp> {
    use OrderStatus::*;
    match (from, to) {
        (PendingPayment, Paid) => Some(StockOp::Commit),
        (PendingPayment, Cancelled | Expired) => Some(StockOp::Release),
        // A paid order cancelled before shipping puts its goods back on the shelf. A reversed
        // payment keeps its goods set aside (committed, not shipped) until staff decide:
        // cancelling restocks them, a confirmed payment ships them.
        (Paid | Processing | PaymentReversed, Cancelled) => Some(StockOp::Restock),
        _ => None,
    }
}

/// An order that was never paid gives its promotion redemptions back (a paid one keeps them:
/// the customer had the discount).
fn gives_back_promotions(from: OrderStatus, to: OrderStatus) -> bool {
    from == OrderStatus::PendingPayment
        && matches!(to, OrderStatus::Cancelled | OrderStatus::Expired)
}

fn validate(from: OrderStatus, t: &Transition) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    errors.length("reason", &t.reason, 0, 500);
    if t.to == OrderStatus::Shipped && from != OrderStatus::Shipped {
        let tracking = t
            .tracking_number
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        errors.length("tracking_number", tracking, 1, 100);
    }
    errors.finish()
}

/// Enters a just-placed order into the state machine at `pending_payment`: its first history
/// row and `order.created`, in the caller's (checkout's) transaction.
pub(crate) async fn enter(
    tx: &mut PgConnection,
    order_id: OrderId,
    actor: Actor,
) -> Result<Order, OrderError> {
    let order_id = order_id.as_uuid();
    let to = OrderStatus::PendingPayment;
    store::insert_history(tx, order_id, None, to, &actor.to_string(), "checkout").await?;
    let order = store::load(tx, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    outbox::enqueue(tx, to.event()(OrderEvent::announce(&order, None))).await?;
    Ok(order)
}

/// Applies a transition inside the caller's transaction; the order row is locked first, so
/// concurrent transitions of one order serialise and each sees the other's result.
pub(crate) async fn apply(
    tx: &mut PgConnection,
    order_id: OrderId,
    t: &Transition,
) -> Result<Order, OrderError> {
    let order_id = order_id.as_uuid();
    let (from, refunded) = store::lock_status(tx, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    if !from.can_become(t.to) {
        return Err(OrderError::IllegalTransition { from, to: t.to });
    }
    // Another partial refund must refund more than before; the same total again is a replay.
    if from == t.to && t.refunded_total.is_none_or(|total| total <= refunded) {
        return Err(OrderError::IllegalTransition { from, to: t.to });
    }
    // Legality first: a move the order can never make is refused as such, whatever its fields.
    validate(from, t)?;
    if let Some(op) = stock_effect(from, t.to) {
        let lines = store::line_quantities(tx, order_id).await?;
        let refused = inventory::apply_to_order(tx, order_id, op, &lines).await?;
        if !refused.is_empty() {
            // Reserved stock always covers its orders unless the ledger drifted; the
            // inventory reconciler repairs drift, so refuse loudly rather than guess.
            tracing::error!(order.id = %order_id, ?refused, "stock levels disagree with the order's reservation");
            return Err(OrderError::Database(sqlx::Error::Protocol(
                "stock reservation drift".into(),
            )));
        }
    }
    sqlx::query!(
        "update orders set status = $2,
             paid_at = case when $2 = 'paid' then now() else paid_at end,
             tracking_number = coalesce($3, tracking_number),
             refunded_amount = greatest(refunded_amount, least(grand_total, coalesce($4, refunded_amount)))
         where order_id = $1",
        order_id,
        t.to.as_str(),
        t.tracking_number.as_deref().map(str::trim),
        t.refunded_total,
    )
    .execute(&mut *tx)
    .await?;
    store::insert_history(
        tx,
        order_id,
        Some(from),
        t.to,
        &t.actor.to_string(),
        t.reason.trim(),
    )
    .await?;
    let mut order = store::load(tx, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    if gives_back_promotions(from, t.to) && !order.promotions.is_empty() {
        promotions::release(tx, &order).await?;
        order = store::load(tx, order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
    }
    // Staying put is only allowed for a refund (of cancelled units): announce it as one.
    let event = if from == t.to {
        Event::OrderPartiallyRefunded
    } else {
        t.to.event()
    };
    outbox::enqueue(tx, event(OrderEvent::announce(&order, Some(from)))).await?;
    tracing::info!(order.id = %order_id, from = %from, to = %t.to, actor = %t.actor, "order transition");
    Ok(order)
}

/// Locks an order for the rest of the caller's transaction and loads it.
pub(crate) async fn lock_order(
    tx: &mut PgConnection,
    order_id: OrderId,
) -> Result<Order, OrderError> {
    let order_id = order_id.as_uuid();
    store::lock_status(tx, order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    store::load(tx, order_id).await?.ok_or(OrderError::NotFound)
}

/// When the order was delivered; `None` if it never was.
pub(crate) async fn delivered_at(
    conn: &mut PgConnection,
    order_id: OrderId,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, OrderError> {
    let order_id = order_id.as_uuid();
    Ok(store::delivered_at(conn, order_id).await?)
}

/// Records units received back through a return on the order's lines, with a note in its
/// history, in the caller's transaction (the order locked by [`lock_order`]).
pub(crate) async fn record_returned_units(
    tx: &mut PgConnection,
    order: &Order,
    units: &[(Uuid, i32)],
    actor: Actor,
    note: &str,
) -> Result<(), OrderError> {
    store::add_returned_units(tx, order.id.as_uuid(), units).await?;
    add_note(tx, order, actor, note).await
}

/// Counts units of the order's lines as shipped or cancelled (line, shipped, cancelled), in
/// the caller's transaction (the order locked by [`lock_order`]).
pub(crate) async fn record_fulfilled_units(
    tx: &mut PgConnection,
    order_id: OrderId,
    units: &[(Uuid, i32, i32)],
) -> Result<(), OrderError> {
    let order_id = order_id.as_uuid();
    Ok(store::add_fulfilled_units(tx, order_id, units).await?)
}

/// A note in the order's history (e.g. a return's progress) without a status change, in the
/// caller's transaction.
pub(crate) async fn add_note(
    tx: &mut PgConnection,
    order: &Order,
    actor: Actor,
    note: &str,
) -> Result<(), OrderError> {
    Ok(store::insert_note(
        tx,
        order.id.as_uuid(),
        order.status,
        &actor.to_string(),
        note,
    )
    .await?)
}

impl Orders {
    /// Applies a transition in its own transaction.
    pub async fn transition(&self, order_id: OrderId, t: Transition) -> Result<Order, OrderError> {
        let mut tx = self.db.begin().await?;
        let order = apply(&mut tx, order_id, &t).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Records a note in the order's history without changing its status. The same note by
    /// the same actor is recorded once (repeated notifications say the same thing).
    pub async fn note(
        &self,
        order_id: OrderId,
        actor: Actor,
        reason: &str,
    ) -> Result<(), OrderError> {
        let order_id = order_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let (status, _) = store::lock_status(&mut tx, order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        let actor = actor.to_string();
        let known: bool = sqlx::query_scalar!(
            r#"select exists (select 1 from order_history
                             where order_id = $1 and kind = 'note' and actor = $2 and reason = $3) as "exists!""#,
            order_id,
            &actor,
            reason,
        )
        .fetch_one(&mut *tx)
        .await?;
        if !known {
            store::insert_note(&mut tx, order_id, status, &actor, reason).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A customer cancels their own unpaid order.
    pub async fn cancel_by_customer(
        &self,
        user_id: Uuid,
        order_id: OrderId,
    ) -> Result<Order, OrderError> {
        let mut tx = self.db.begin().await?;
        let owner: Option<Uuid> = sqlx::query_scalar!(
            "select user_id from orders where order_id = $1",
            order_id.as_uuid()
        )
        .fetch_optional(&mut *tx)
        .await?;
        if owner != Some(user_id) {
            return Err(OrderError::NotFound);
        }
        // Customers may only cancel before paying; after that, the shop decides (refunds).
        let (from, _) = store::lock_status(&mut tx, order_id.as_uuid())
            .await?
            .ok_or(OrderError::NotFound)?;
        if from != OrderStatus::PendingPayment {
            return Err(OrderError::IllegalTransition {
                from,
                to: OrderStatus::Cancelled,
            });
        }
        let t = Transition::new(
            OrderStatus::Cancelled,
            Actor::Customer(user_id),
            "cancelled by the customer",
        );
        let order = apply(&mut tx, order_id, &t).await?;
        tx.commit().await?;
        if let Some(payments) = &self.payments {
            payments.close_payment(&order).await;
        }
        Ok(order)
    }

    /// Expires unpaid orders past their payment deadline, releasing their stock; returns the
    /// expired orders. Safe to run from several workers (each order is locked and rechecked).
    pub async fn expire_overdue(&self, limit: i64) -> Result<Vec<Order>, OrderError> {
        let due: Vec<OrderId> = sqlx::query_scalar!(
            r#"select order_id as "order_id: OrderId" from orders
               where status = 'pending_payment' and payment_due_at < now()
               order by payment_due_at limit $1"#,
            limit,
        )
        .fetch_all(&self.db)
        .await?;
        let mut expired = Vec::new();
        for order_id in due {
            let t = Transition::new(
                OrderStatus::Expired,
                Actor::System,
                "payment deadline passed",
            );
            match self.transition(order_id, t).await {
                Ok(order) => {
                    if let Some(payments) = &self.payments {
                        payments.close_payment(&order).await;
                    }
                    expired.push(order)
                }
                // Paid or cancelled meanwhile: nothing to expire.
                Err(OrderError::IllegalTransition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }
}
