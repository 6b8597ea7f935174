//! Giving money back: full and partial refunds through Midtrans with stable refund keys,
//! cancelling a paid order (refund + restock), and cancelling an unpaid order's payment.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    mapping::parse_idr, midtrans::MidtransError, reconcile::Reconciled, store, PaymentError,
    Payments,
};
use crate::{
    idempotency::IdempotencyKey,
    orders::{lifecycle::Transition, Actor, Order, OrderStatus},
    validation::ValidationErrors,
};

/// A refund request.
#[derive(Clone)]
pub struct RefundRequest {
    /// Minor units; the whole unrefunded amount when absent.
    pub amount: Option<i64>,
    pub reason: String,
    /// Makes retries of one refund the same refund (the admin's Idempotency-Key, or a fresh id).
    pub idempotency_seed: String,
    pub actor: Actor,
}

/// Midtrans refund keys allow letters, digits, `-` and `_`; derive a short, stable one.
fn refund_key(order: &Order, seed: &str) -> String {
    let digest = Sha256::digest(format!("{}:{seed}", order.id).as_bytes());
    format!("{}-r-{}", order.number, &hex::encode(digest)[..12])
}

impl Payments {
    /// Refunds part or all of a paid order, moving it to `partially_refunded` or `refunded`.
    /// Retrying with the same idempotency seed repeats the same refund, never a second one;
    /// with an idempotency key the first answer is also replayed for 24 hours.
    pub async fn refund(
        &self,
        order_id: Uuid,
        request: RefundRequest,
        key: Option<&IdempotencyKey>,
    ) -> Result<Order, PaymentError> {
        match key {
            Some(key) => {
                key.run_once(&self.db, || {
                    self.refund_into(order_id, request.clone(), None)
                })
                .await
            }
            None => self.refund_into(order_id, request, None).await,
        }
    }

    /// Cancels an order. Unpaid: releases its stock (and voids the Midtrans transaction when
    /// one exists). Paid but not shipped: refunds it in full and restocks.
    pub async fn cancel_order(
        &self,
        order_id: Uuid,
        reason: String,
        actor: Actor,
        idempotency_seed: String,
    ) -> Result<Order, PaymentError> {
        let (order, _) = self.orders.admin_order(order_id).await?;
        match order.status {
            OrderStatus::PendingPayment => self.cancel_payment(order_id, actor).await,
            OrderStatus::Paid | OrderStatus::Processing => {
                let request = RefundRequest {
                    amount: None,
                    reason,
                    idempotency_seed,
                    actor,
                };
                self.refund_into(order_id, request, Some(OrderStatus::Cancelled))
                    .await
            }
            other => Err(crate::orders::OrderError::IllegalTransition {
                from: other,
                to: OrderStatus::Cancelled,
            }
            .into()),
        }
    }

    /// Voids the live Midtrans transaction of an unpaid order and cancels the order.
    pub async fn cancel_payment(
        &self,
        order_id: Uuid,
        actor: Actor,
    ) -> Result<Order, PaymentError> {
        let (order, _) = self.orders.admin_order(order_id).await?;
        if order.status != OrderStatus::PendingPayment {
            return Err(PaymentError::NotPayable(order.status));
        }
        if let (Some(client), Some(payment)) = (
            &self.client,
            store::latest_for_order(&self.db, order_id).await?,
        ) {
            match client.cancel(&payment.provider_order_id).await {
                Ok(_) => {
                    if let Reconciled::Applied(_) = self.reconcile(order_id).await? {
                        return Ok(self.orders.admin_order(order_id).await?.0);
                    }
                }
                // No transaction yet (the customer never picked a method): nothing to void.
                Err(MidtransError::Refused { code: 404, .. }) => {}
                Err(e) => return Err(e.into()),
            }
            store::retire(&self.db, payment.payment_id, "cancelled").await?;
        }
        let transition = Transition::new(OrderStatus::Cancelled, actor, "payment cancelled");
        match self.orders.transition(order_id, transition).await {
            Ok(order) => Ok(order),
            // Midtrans' cancellation was applied by its notification meanwhile.
            Err(crate::orders::OrderError::IllegalTransition { .. }) => {
                Ok(self.orders.admin_order(order_id).await?.0)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn refund_into(
        &self,
        order_id: Uuid,
        request: RefundRequest,
        final_status: Option<OrderStatus>,
    ) -> Result<Order, PaymentError> {
        let client = self.client()?;
        let (order, _) = self.orders.admin_order(order_id).await?;
        if !order.status.is_paid() || order.status == OrderStatus::Completed {
            return Err(PaymentError::NotRefundable(order.status));
        }
        let remaining = order.grand_total - order.refunded_amount;
        let amount = request.amount.unwrap_or(remaining);
        let mut errors = ValidationErrors::new();
        errors.check(
            (1..=remaining).contains(&amount),
            "amount",
            format!("must be between 1 and {remaining} (the unrefunded amount)"),
        );
        errors.length("reason", request.reason.trim(), 1, 255);
        errors.finish()?;

        let payment = store::latest_for_order(&self.db, order_id)
            .await?
            .filter(|p| matches!(p.status.as_str(), "paid" | "partially_refunded"))
            .ok_or(PaymentError::NoPayment)?;
        let key = refund_key(&order, &request.idempotency_seed);
        let (refund_id, status, recorded_amount) = store::insert_refund(
            &self.db,
            &key,
            order_id,
            payment.payment_id,
            amount,
            request.reason.trim(),
            final_status == Some(OrderStatus::Cancelled),
        )
        .await?;
        if status == "succeeded" {
            return Ok(order);
        }
        let answer = match client
            .refund(
                &payment.provider_order_id,
                &key,
                recorded_amount,
                request.reason.trim(),
            )
            .await
        {
            Ok(answer) => answer,
            // Midtrans already has this refund key: an earlier attempt went through.
            Err(MidtransError::Refused { code: 406, .. }) => {
                store::set_refund_status(&self.db, refund_id, "succeeded", None).await?;
                self.reconcile(order_id).await?;
                return Ok(self.orders.admin_order(order_id).await?.0);
            }
            Err(e) => {
                store::set_refund_status(&self.db, refund_id, "failed", Some(&e.to_string()))
                    .await?;
                return Err(e.into());
            }
        };
        store::set_refund_status(&self.db, refund_id, "succeeded", None).await?;
        // Midtrans reports the cumulative refunded amount: apply that (not our addition), so
        // the refund's own notification, racing with this, cannot count it twice.
        let total = answer
            .refund_amount
            .as_deref()
            .and_then(parse_idr)
            .unwrap_or(order.refunded_amount + recorded_amount);
        let target = final_status.unwrap_or(if total >= order.grand_total {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        });
        let transition = Transition {
            refunded_total: Some(total),
            ..Transition::new(target, request.actor, request.reason.trim())
        };
        match self.orders.transition(order_id, transition).await {
            Ok(order) => Ok(order),
            Err(crate::orders::OrderError::IllegalTransition { .. }) => {
                Ok(self.orders.admin_order(order_id).await?.0)
            }
            Err(e) => Err(e.into()),
        }
    }
}
