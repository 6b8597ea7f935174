//! Giving money back: refunds through Midtrans with stable refund keys where the payment
//! method allows it, refunds staff made outside Midtrans (recorded here), cancelling a paid
//! order (void before settlement, refund after) and cancelling an unpaid order's payment.
//!
//! Our `refunds` table is the ledger: an order's refunded amount is the sum of its succeeded
//! refunds, never Midtrans' `refund_amount` (whose cumulative meaning is unconfirmed).

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    exceptions::{ExceptionKind, NewException},
    midtrans::MidtransError,
    store, PaymentError, Payments,
};
use crate::{
    idempotency::IdempotencyKey,
    orders::{lifecycle::Transition, Actor, Order, OrderError, OrderId, OrderStatus},
    validation::ValidationErrors,
};

/// Payment types Midtrans' refund API accepts (midtrans.md §4, confirmed 2026-04). Virtual
/// accounts, Mandiri bill and store payments are refunded outside Midtrans.
pub const GATEWAY_REFUNDABLE: [&str; 8] = [
    "credit_card",
    "gopay",
    "shopeepay",
    "dana",
    "ovo",
    "qris",
    "kredivo",
    "akulaku",
];

/// Payment types Midtrans refunds only in full.
pub const NO_PARTIAL_REFUND: [&str; 2] = ["shopeepay", "ovo"];

/// Whether Midtrans can refund `amount` of a `payment_type` payment with `remaining` unrefunded.
pub fn gateway_refund_allowed(
    payment_type: &str,
    amount: i64,
    remaining: i64,
) -> Result<(), PaymentError> {
    if !GATEWAY_REFUNDABLE.contains(&payment_type) {
        return Err(PaymentError::GatewayRefundUnsupported {
            method: payment_type.to_owned(),
        });
    }
    if NO_PARTIAL_REFUND.contains(&payment_type) && amount != remaining {
        return Err(PaymentError::PartialRefundUnsupported {
            method: payment_type.to_owned(),
        });
    }
    Ok(())
}

/// Units of an order line to refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRefund {
    pub order_line_id: Uuid,
    pub quantity: i32,
}

/// A refund request.
#[derive(Clone)]
pub struct RefundRequest {
    /// Minor units; the whole unrefunded amount when absent (and no `lines`).
    pub amount: Option<i64>,
    /// Refund these units instead of an amount: what was paid for them, after their lines'
    /// promotion discounts.
    pub lines: Vec<LineRefund>,
    pub reason: String,
    /// Makes retries of one refund the same refund (the admin's Idempotency-Key, or a fresh id).
    pub idempotency_seed: String,
    pub actor: Actor,
    /// The `lines` are units not shipped yet, cancelled by this refund (see [`UnitsRefund`]).
    pub cancels_units: bool,
    /// The most the caller may give back in one refund (their role's); `None`: no limit.
    pub limit: Option<i64>,
}

/// A refund staff made outside Midtrans (bank transfer, cash...), to be recorded.
#[derive(Clone)]
pub struct ManualRefund {
    /// Required unless `lines` are given.
    pub amount: Option<i64>,
    /// Units given back instead of an amount (see [`RefundRequest::lines`]).
    pub lines: Vec<LineRefund>,
    /// How the money went back, e.g. `bank_transfer`.
    pub method: String,
    /// The bank's or the shop's reference of the transfer.
    pub reference: String,
    pub note: String,
    /// Makes a retried recording the same refund.
    pub idempotency_seed: String,
    pub staff: Uuid,
    /// The most the caller may give back in one refund; `None`: no limit.
    pub limit: Option<i64>,
    /// Also cancel the order (restocking it): the refund must then be the whole unrefunded
    /// amount. How staff cancel a paid order Midtrans cannot refund.
    pub cancels_order: bool,
    /// The `lines` are units not shipped yet, cancelled by this refund (see [`UnitsRefund`]).
    pub cancels_units: bool,
}

/// A refund of units sent back (a return): what was paid for them plus `extra` (shipping the
/// shop's policy gives back, and staff's adjustment).
#[derive(Clone)]
pub struct UnitsRefund {
    pub lines: Vec<LineRefund>,
    pub extra: i64,
    pub reason: String,
    /// Makes every retry the same refund (the return's id).
    pub idempotency_seed: String,
    pub staff: Uuid,
    /// How staff gave the money back themselves: required when Midtrans cannot refund the
    /// payment's method, and staff may always choose it.
    pub manual: Option<MadeOutside>,
    /// The units were never shipped: they are cancelled and restocked in the refund's
    /// transaction, and the order stays where its fulfilment is (instead of becoming
    /// `partially_refunded`), so the rest can still ship.
    pub cancels_units: bool,
    /// The most the caller may give back in one refund; `None`: no limit.
    pub limit: Option<i64>,
}

/// A refund staff made outside Midtrans: how, and the transfer's reference.
#[derive(Debug, Clone)]
pub struct MadeOutside {
    pub method: String,
    pub reference: String,
}

/// A refund made: its key in the ledger and its amount.
#[derive(Debug, Clone)]
pub struct MadeRefundReceipt {
    pub refund_key: String,
    pub amount: i64,
    pub order: Order,
}

/// Midtrans refund keys allow letters, digits, `-` and `_`; derive a short, stable one.
fn refund_key(order: &Order, seed: &str) -> String {
    let digest = Sha256::digest(format!("{}:{seed}", order.id).as_bytes());
    format!("{}-r-{}", order.number, &hex::encode(digest)[..12])
}

/// The status a refund leaves an order in `current` in, having refunded `total` of it.
fn status_after_refund(
    current: OrderStatus,
    total: i64,
    grand_total: i64,
    cancels_order: bool,
    cancels_units: bool,
) -> OrderStatus {
    if cancels_order {
        OrderStatus::Cancelled
    } else if total >= grand_total {
        OrderStatus::Refunded
    } else if cancels_units && current.can_become(current) {
        current
    } else {
        OrderStatus::PartiallyRefunded
    }
}

/// Cancels the refunded units when the refund is for units not shipped, in its transaction.
async fn cancel_refunded_units(
    tx: &mut sqlx::PgConnection,
    order: &Order,
    lines: &[LineRefund],
    actor: Actor,
    errors: &mut ValidationErrors,
) -> Result<(), PaymentError> {
    let units: Vec<(Uuid, i32)> = lines
        .iter()
        .map(|l| (l.order_line_id, l.quantity))
        .collect();
    errors.check(!units.is_empty(), "lines", "name the units to cancel");
    crate::fulfilment::cancel_units(tx, order, &units, actor, errors).await?;
    Ok(())
}

/// The amount of a refund: given, or what was paid for the refunded units (each line's share
/// after its discount, continuing from the units refunded before), with those units.
/// `default` is the amount when neither is given (`None`: one of them is required).
/// `extra` is added to what the units cost (a return's shipping and staff adjustment).
async fn refund_amount(
    conn: &mut sqlx::PgConnection,
    order: &Order,
    amount: Option<i64>,
    lines: &[LineRefund],
    extra: i64,
    default: Option<i64>,
    errors: &mut ValidationErrors,
) -> Result<(i64, Vec<store::RefundedLine>), PaymentError> {
    if lines.is_empty() {
        errors.check(
            amount.or(default).is_some(),
            "amount",
            "is required unless lines are given",
        );
        return Ok((amount.or(default).unwrap_or(0), Vec::new()));
    }
    errors.check(
        amount.is_none(),
        "amount",
        "give either an amount or lines, not both",
    );
    let refunded: std::collections::HashMap<Uuid, i64> =
        store::refunded_quantities(&mut *conn, order.id.into())
            .await?
            .into_iter()
            .collect();
    let mut refunded_lines = Vec::with_capacity(lines.len());
    for (i, wanted) in lines.iter().enumerate() {
        let Some(line) = order.lines.iter().find(|l| l.id == wanted.order_line_id) else {
            errors.add(format!("lines[{i}].line_id"), "not a line of this order");
            continue;
        };
        if lines[..i].iter().any(|l| l.order_line_id == line.id) {
            errors.add(format!("lines[{i}].line_id"), "appears twice");
            continue;
        }
        let done = refunded.get(&line.id).copied().unwrap_or(0) as i32;
        let left = line.quantity - done;
        if !(1..=left).contains(&wanted.quantity) {
            errors.add(
                format!("lines[{i}].quantity"),
                format!("must be between 1 and {left} (the units not refunded yet)"),
            );
            continue;
        }
        refunded_lines.push(store::RefundedLine {
            order_line_id: line.id,
            quantity: wanted.quantity,
            amount: line.paid_for_units(done, wanted.quantity),
        });
    }
    Ok((
        refunded_lines.iter().map(|l| l.amount).sum::<i64>() + extra,
        refunded_lines,
    ))
}

/// Validates a refund of `amount` against what is left to refund.
fn check_amount(
    order: &Order,
    amount: i64,
    lines_valid: bool,
    limit: Option<i64>,
    errors: &mut ValidationErrors,
) -> Result<(), PaymentError> {
    if !order.status.is_paid() || order.status == OrderStatus::Completed {
        return Err(PaymentError::NotRefundable(order.status));
    }
    if let Some(limit) = limit.filter(|limit| lines_valid && amount > *limit) {
        return Err(PaymentError::OverRefundLimit { amount, limit });
    }
    let remaining = order.grand_total - order.refunded_amount;
    // Invalid lines are reported as such, not as the amount they would have made.
    errors.check(
        !lines_valid || (1..=remaining).contains(&amount),
        "amount",
        format!("must be between 1 and {remaining} (the unrefunded amount)"),
    );
    Ok(())
}

impl Payments {
    /// Refunds part or all of a paid order through Midtrans, moving it to
    /// `partially_refunded` or `refunded`. Refused, naming the method, when Midtrans cannot
    /// refund it (staff then refund outside Midtrans and record it with [`Self::record_manual_refund`]).
    /// Retrying with the same idempotency seed repeats the same refund, never a second one;
    /// with an idempotency key the first answer is also replayed for 24 hours.
    pub async fn refund(
        &self,
        order_id: OrderId,
        request: RefundRequest,
        key: Option<&IdempotencyKey>,
    ) -> Result<Order, PaymentError> {
        let order_id = order_id.as_uuid();
        match key {
            Some(key) => {
                key.run_once(&self.db, || {
                    self.refund_into(order_id, request.clone(), None, 0)
                })
                .await
            }
            None => self.refund_into(order_id, request, None, 0).await,
        }
    }

    /// Records a refund staff made outside Midtrans: the order, its refunded amount, history
    /// (naming the staff member and their note), events and emails move exactly as for a
    /// gateway refund, in one transaction.
    pub async fn record_manual_refund(
        &self,
        order_id: OrderId,
        refund: ManualRefund,
        key: Option<&IdempotencyKey>,
    ) -> Result<Order, PaymentError> {
        let order_id = order_id.as_uuid();
        match key {
            Some(key) => {
                key.run_once(&self.db, || {
                    self.record_manual_refund_once(order_id, &refund, 0)
                })
                .await
            }
            None => self.record_manual_refund_once(order_id, &refund, 0).await,
        }
    }

    async fn record_manual_refund_once(
        &self,
        order_id: Uuid,
        refund: &ManualRefund,
        extra: i64,
    ) -> Result<Order, PaymentError> {
        let mut tx = self.db.begin().await?;
        // Lock the order so concurrent refunds see each other's amounts and units.
        let order = crate::orders::lifecycle::lock_order(&mut tx, order_id.into()).await?;
        let mut errors = ValidationErrors::new();
        let (amount, lines) = refund_amount(
            &mut tx,
            &order,
            refund.amount,
            &refund.lines,
            extra,
            None,
            &mut errors,
        )
        .await?;
        let lines_valid = lines.len() == refund.lines.len();
        check_amount(&order, amount, lines_valid, refund.limit, &mut errors)?;
        if refund.cancels_units && lines_valid {
            let actor = Actor::Admin(refund.staff);
            cancel_refunded_units(&mut tx, &order, &refund.lines, actor, &mut errors).await?;
        }
        errors.length("method", refund.method.trim(), 1, 50);
        errors.length("reference", refund.reference.trim(), 1, 100);
        errors.length("note", refund.note.trim(), 1, 500);
        let remaining = order.grand_total - order.refunded_amount;
        if refund.cancels_order {
            errors.check(
                amount == remaining,
                "amount",
                format!("must be the whole unrefunded amount ({remaining}) to cancel the order"),
            );
        }
        errors.finish()?;
        let payment = store::latest_for_order(&mut *tx, order_id).await?;
        let key = refund_key(&order, &format!("manual:{}", refund.idempotency_seed));
        if store::other_refund_in_flight(&mut *tx, order_id, &key).await? {
            return Err(PaymentError::RefundInProgress);
        }
        let reason = format!(
            "{} (refunded outside Midtrans: {} by {}, reference {})",
            refund.note.trim(),
            crate::notifications::templates::money(amount, &order.currency),
            refund.method.trim(),
            refund.reference.trim()
        );
        let recorded = store::insert_made_refund(
            &mut tx,
            store::MadeRefund {
                refund_key: &key,
                order_id,
                payment_id: payment.map(|p| p.payment_id),
                kind: "manual",
                amount,
                reason: refund.note.trim(),
                method: Some(refund.method.trim()),
                reference: Some(refund.reference.trim()),
                recorded_by: Some(refund.staff),
                cancels_order: refund.cancels_order,
                cancels_units: refund.cancels_units,
            },
        )
        .await?;
        if !recorded {
            // The same recording retried: nothing more to move.
            return Ok(order);
        }
        store::insert_refund_lines(&mut *tx, &key, &lines).await?;
        let (total, _) = store::refund_ledger(&mut *tx, order_id).await?;
        // Cancelling units may have moved the order (nothing left to ship).
        let current = crate::orders::lifecycle::lock_order(&mut tx, order_id.into()).await?;
        let target = status_after_refund(
            current.status,
            total,
            order.grand_total,
            refund.cancels_order,
            refund.cancels_units,
        );
        let transition = Transition {
            refunded_total: Some(total),
            ..Transition::new(target, Actor::Admin(refund.staff), reason)
        };
        let order = crate::orders::lifecycle::apply(&mut tx, order_id.into(), &transition).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Cancels an order. Unpaid: releases its stock and closes its payment at Midtrans. Paid
    /// but not shipped: a card payment not yet settled is voided (Midtrans' Cancel API),
    /// anything else refunded in full; the goods go back on the shelf. Held after a reversal:
    /// cancelled and restocked (the bank already took the money back).
    pub async fn cancel_order(
        &self,
        order_id: OrderId,
        reason: String,
        actor: Actor,
        idempotency_seed: String,
        refund_limit: Option<i64>,
    ) -> Result<Order, PaymentError> {
        let order_id = order_id.as_uuid();
        let (order, _) = self.orders.admin_order(order_id.into()).await?;
        match order.status {
            OrderStatus::PendingPayment => self.cancel_payment(order_id.into(), actor).await,
            OrderStatus::PaymentReversed => {
                let transition = Transition::new(OrderStatus::Cancelled, actor, reason);
                Ok(self.orders.transition(order_id.into(), transition).await?)
            }
            OrderStatus::Paid | OrderStatus::Processing => {
                if let Some(order) = self.void(&order, &reason, actor).await? {
                    return Ok(order);
                }
                let request = RefundRequest {
                    amount: None,
                    lines: Vec::new(),
                    reason,
                    idempotency_seed,
                    actor,
                    cancels_units: false,
                    limit: refund_limit,
                };
                self.refund_into(order_id, request, Some(OrderStatus::Cancelled), 0)
                    .await
            }
            other => Err(OrderError::IllegalTransition {
                from: other,
                to: OrderStatus::Cancelled,
            }
            .into()),
        }
    }

    /// Voids a captured card payment that Midtrans has not settled yet, cancelling the order
    /// in the same database transaction (held open across the call, so Midtrans' `cancel`
    /// notification waits for it and finds the order already cancelled by staff). `None`
    /// when there is nothing to void (settled, or not a card capture): refund instead.
    async fn void(
        &self,
        order: &Order,
        reason: &str,
        actor: Actor,
    ) -> Result<Option<Order>, PaymentError> {
        let client = self.client()?;
        let Some(payment) = store::latest_for_order(&self.db, order.id.into())
            .await?
            .filter(|p| p.status == "paid" && p.transaction_status.as_deref() == Some("capture"))
        else {
            return Ok(None);
        };
        let mut tx = self.db.begin().await?;
        let transition = Transition::new(
            OrderStatus::Cancelled,
            actor,
            format!("{reason} (card payment voided before settlement)"),
        );
        let cancelled = crate::orders::lifecycle::apply(&mut tx, order.id, &transition).await?;
        match client.cancel(&payment.provider_order_id).await {
            Ok(answer) => {
                store::record_status(
                    &mut *tx,
                    payment.payment_id,
                    "cancelled",
                    answer.transaction_id.as_deref(),
                    answer.transaction_status.as_deref(),
                    answer.fraud_status.as_deref(),
                    None,
                )
                .await?;
                tx.commit().await?;
                tracing::info!(order.id = %order.id, "captured card payment voided");
                Ok(Some(cancelled))
            }
            // Settled meanwhile: it must be refunded instead.
            Err(MidtransError::Refused { code: 412, .. }) => {
                tx.rollback().await?;
                self.reconcile(order.id.into()).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Cancels an unpaid order (releasing its stock), then closes its payment at Midtrans:
    /// the Snap session, and the transaction when the customer already chose a method. A
    /// payment racing the cancellation is refunded automatically or listed (see `closing`).
    pub async fn cancel_payment(
        &self,
        order_id: OrderId,
        actor: Actor,
    ) -> Result<Order, PaymentError> {
        let order_id = order_id.as_uuid();
        let transition = Transition::new(OrderStatus::Cancelled, actor, "payment cancelled");
        let order = match self.orders.transition(order_id.into(), transition).await {
            Ok(order) => order,
            Err(OrderError::IllegalTransition { from, .. }) => {
                return Err(PaymentError::NotPayable(from))
            }
            Err(e) => return Err(e.into()),
        };
        super::closing::close_quietly(self, &order).await;
        Ok(order)
    }

    async fn refund_into(
        &self,
        order_id: Uuid,
        request: RefundRequest,
        final_status: Option<OrderStatus>,
        extra: i64,
    ) -> Result<Order, PaymentError> {
        self.client()?;
        // The order stays locked until the refund (and its units) is recorded, so concurrent
        // refunds see each other.
        let mut tx = self.db.begin().await?;
        let order = crate::orders::lifecycle::lock_order(&mut tx, order_id.into()).await?;
        let remaining = order.grand_total - order.refunded_amount;
        let mut errors = ValidationErrors::new();
        let (amount, lines) = refund_amount(
            &mut tx,
            &order,
            request.amount,
            &request.lines,
            extra,
            Some(remaining),
            &mut errors,
        )
        .await?;
        let lines_valid = lines.len() == request.lines.len();
        check_amount(&order, amount, lines_valid, request.limit, &mut errors)?;
        if request.cancels_units && lines_valid {
            cancel_refunded_units(&mut tx, &order, &request.lines, request.actor, &mut errors)
                .await?;
        }
        errors.length("reason", request.reason.trim(), 1, 255);
        errors.finish()?;

        let payment = store::latest_for_order(&mut *tx, order_id)
            .await?
            .filter(|p| matches!(p.status.as_str(), "paid" | "partially_refunded"))
            .ok_or(PaymentError::NoPayment)?;
        if let Some(method) = payment.payment_type.as_deref() {
            gateway_refund_allowed(method, amount, remaining)?;
        }
        let key = refund_key(&order, &request.idempotency_seed);
        // Its amount is not in the order yet: another refund now could give back too much.
        if store::other_refund_in_flight(&mut *tx, order_id, &key).await? {
            return Err(PaymentError::RefundInProgress);
        }
        let staff = match request.actor {
            Actor::Admin(id) => Some(id),
            _ => None,
        };
        let (refund_id, status, recorded_amount) = store::insert_refund(
            &mut *tx,
            &key,
            order_id,
            payment.payment_id,
            amount,
            request.reason.trim(),
            final_status == Some(OrderStatus::Cancelled),
            request.cancels_units,
            staff,
        )
        .await?;
        store::insert_refund_lines(&mut *tx, &key, &lines).await?;
        tx.commit().await?;
        if status == "succeeded" {
            return Ok(order);
        }
        self.send_refund(store::RequestedRefund {
            refund_id,
            order_id,
            payment_id: payment.payment_id,
            provider_order_id: payment.provider_order_id,
            refund_key: key,
            amount: recorded_amount,
            reason: request.reason.trim().to_owned(),
            recorded_by: staff,
            cancels_order: final_status == Some(OrderStatus::Cancelled),
            cancels_units: request.cancels_units,
        })
        .await
    }

    /// The refund made with `seed` (through Midtrans or recorded), if it succeeded.
    pub async fn refund_made(
        &self,
        order: &Order,
        seed: &str,
    ) -> Result<Option<MadeRefundReceipt>, PaymentError> {
        for key in [
            refund_key(order, seed),
            refund_key(order, &format!("manual:{seed}")),
        ] {
            if let Some((status, amount)) = store::refund_by_key(&self.db, &key).await? {
                if status == "succeeded" {
                    return Ok(Some(MadeRefundReceipt {
                        refund_key: key,
                        amount,
                        order: order.clone(),
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Refunds units sent back: through Midtrans when the payment's method allows it and
    /// staff did not refund outside it, otherwise recorded as made outside Midtrans. The same
    /// seed is the same refund: a retry after success changes nothing, after a lost answer
    /// sends the same refund again.
    pub async fn refund_units(
        &self,
        order_id: OrderId,
        refund: UnitsRefund,
    ) -> Result<MadeRefundReceipt, PaymentError> {
        let order_id = order_id.as_uuid();
        let (order, _) = self.orders.admin_order(order_id.into()).await?;
        let done = |key: String, amount: i64, order: Order| MadeRefundReceipt {
            refund_key: key,
            amount,
            order,
        };
        if let Some(outside) = &refund.manual {
            let key = refund_key(&order, &format!("manual:{}", refund.idempotency_seed));
            if let Some((_, amount)) = store::refund_by_key(&self.db, &key).await? {
                return Ok(done(key, amount, order));
            }
            let manual = ManualRefund {
                amount: None,
                lines: refund.lines,
                method: outside.method.clone(),
                reference: outside.reference.clone(),
                note: refund.reason,
                idempotency_seed: refund.idempotency_seed,
                staff: refund.staff,
                limit: refund.limit,
                cancels_order: false,
                cancels_units: refund.cancels_units,
            };
            let order = self
                .record_manual_refund_once(order_id, &manual, refund.extra)
                .await?;
            let (_, amount) = store::refund_by_key(&self.db, &key)
                .await?
                .ok_or(PaymentError::Database(sqlx::Error::RowNotFound))?;
            return Ok(done(key, amount, order));
        }
        let method = store::latest_for_order(&self.db, order_id)
            .await?
            .and_then(|p| p.payment_type)
            .unwrap_or_default();
        if !GATEWAY_REFUNDABLE.contains(&method.as_str()) || self.client().is_err() {
            let why = format!(
                "is required: {} payments are not refunded through Midtrans; refund the customer \
                 yourself and say how",
                if method.is_empty() { "these" } else { &method }
            );
            let mut errors = ValidationErrors::new();
            errors.add("manual.method", why.clone());
            errors.add("manual.reference", why);
            return Err(errors.into());
        }
        let key = refund_key(&order, &refund.idempotency_seed);
        match store::refund_by_key(&self.db, &key).await? {
            Some((status, amount)) if status == "succeeded" => {
                return Ok(done(key, amount, order));
            }
            Some(_) => {
                // Asked for before without a final answer: ask again with the same key.
                if let Some(requested) = store::requested_refund(&self.db, &key).await? {
                    let amount = requested.amount;
                    let order = self.send_refund(requested).await?;
                    return Ok(done(key, amount, order));
                }
                return Err(PaymentError::Provider(
                    "Midtrans refused this refund; refund the customer outside Midtrans and record how".into(),
                ));
            }
            None => {}
        }
        let request = RefundRequest {
            amount: None,
            lines: refund.lines,
            reason: refund.reason,
            idempotency_seed: refund.idempotency_seed,
            actor: Actor::Admin(refund.staff),
            cancels_units: refund.cancels_units,
            limit: refund.limit,
        };
        let order = self
            .refund_into(order_id, request, None, refund.extra)
            .await?;
        let (_, amount) = store::refund_by_key(&self.db, &key)
            .await?
            .ok_or(PaymentError::Database(sqlx::Error::RowNotFound))?;
        Ok(done(key, amount, order))
    }

    /// Sends a requested refund to Midtrans (its key makes a repeat the same refund) and, once
    /// accepted, records it and moves the order in the name of whoever asked for it.
    async fn send_refund(&self, r: store::RequestedRefund) -> Result<Order, PaymentError> {
        let client = self.client()?;
        match client
            .refund(&r.provider_order_id, &r.refund_key, r.amount, &r.reason)
            .await
        {
            Ok(_) => {}
            // A refund key reused within 7 days is a retry of the same refund (midtrans.md §4):
            // an earlier attempt went through.
            Err(MidtransError::Refused { code: 406, .. }) => {}
            Err(e) => {
                if let MidtransError::Refused { code, message } = &e {
                    store::set_refund_status(&self.db, r.refund_id, "failed", Some(&e.to_string()))
                        .await?;
                    // Midtrans will not make this refund: someone must, outside it.
                    self.open_exception(NewException {
                        order_id: r.order_id,
                        payment_id: Some(r.payment_id),
                        kind: ExceptionKind::RefundNeedsManualStep,
                        detail: format!(
                            "Midtrans refused a refund of {} ({code}: {message}); reason given: {}",
                            r.amount, r.reason
                        ),
                        amount: Some(r.amount),
                        resolution: None,
                    })
                    .await?;
                } else {
                    // Midtrans may have it or not: left requested, retried with the same key
                    // by the payment-poller.
                    store::set_refund_status(
                        &self.db,
                        r.refund_id,
                        "requested",
                        Some(&e.to_string()),
                    )
                    .await?;
                }
                return Err(e.into());
            }
        }
        store::set_refund_status(&self.db, r.refund_id, "succeeded", None).await?;
        let (total, _) = store::refund_ledger(&self.db, r.order_id).await?;
        let (order, _) = self.orders.admin_order(r.order_id.into()).await?;
        let target = status_after_refund(
            order.status,
            total,
            order.grand_total,
            r.cancels_order,
            r.cancels_units,
        );
        let actor = r.recorded_by.map_or(Actor::System, Actor::Admin);
        let transition = Transition {
            refunded_total: Some(total),
            ..Transition::new(target, actor, r.reason.as_str())
        };
        match self.orders.transition(r.order_id.into(), transition).await {
            Ok(order) => Ok(order),
            Err(OrderError::IllegalTransition { .. }) => {
                Ok(self.orders.admin_order(r.order_id.into()).await?.0)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends again the refunds left requested for `older_than` (the request died, or Midtrans
    /// was unreachable, after the refund was asked for): the same refund key makes each the
    /// same refund. Returns how many went through.
    pub async fn resume_refunds(
        &self,
        older_than: std::time::Duration,
        limit: i64,
    ) -> Result<u64, PaymentError> {
        let mut done = 0;
        for refund in store::stale_requested_refunds(&self.db, older_than, limit).await? {
            let order_id = refund.order_id;
            match self.send_refund(refund).await {
                Ok(_) => done += 1,
                Err(error) => {
                    tracing::warn!(order.id = %order_id, error = %error, "requested refund still not through")
                }
            }
        }
        Ok(done)
    }
}
