//! "Reconcile order X with Midtrans": ask Midtrans for the transaction's status and apply it
//! to the order, idempotently and never backwards. Webhooks call it after verifying and
//! recording a notification (the notification body itself is never trusted); the payment
//! poller calls it for orders whose notification never came.

use serde_json::Value;
use uuid::Uuid;

use super::{
    exceptions::{ExceptionKind, NewException},
    mapping::{parse_idr, PaymentState},
    midtrans::{signature, MidtransError, TransactionStatus},
    refunds::gateway_refund_allowed,
    store::{self, NotificationRecord, PaymentRow},
    PaymentError, Payments,
};
use crate::orders::{lifecycle::Transition, Actor, OrderError, OrderStatus};

/// What reconciling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The order moved to this status.
    Applied(OrderStatus),
    /// Midtrans' state was already reflected (duplicate, stale or out-of-order news).
    Unchanged,
    /// Midtrans has no transaction yet (the customer has not picked a method).
    NoTransaction,
    /// The amount or currency does not match the order: refused and logged.
    AmountMismatch,
    /// Paid after the order was cancelled or expired: refunded automatically where the
    /// method allows, else listed as a payment exception.
    LatePayment,
    /// A settlement the bank reversed: the order is held and listed as an exception.
    Reversed,
    /// Midtrans confirmed something toko already recorded (a refund staff made): noted in
    /// the order's history.
    Noted,
}

impl Reconciled {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::Unchanged => "unchanged",
            Self::NoTransaction => "no_transaction",
            Self::AmountMismatch => "amount_mismatch",
            Self::LatePayment => "late_payment",
            Self::Reversed => "reversed",
            Self::Noted => "noted",
        }
    }
}

/// Stores what Midtrans says about `payment`'s transaction, as `state`.
async fn record(
    db: impl sqlx::PgExecutor<'_>,
    payment: &PaymentRow,
    state: PaymentState,
    status: &TransactionStatus,
) -> Result<(), sqlx::Error> {
    store::record_status(
        db,
        payment.payment_id,
        state.as_str(),
        status.transaction_id.as_deref(),
        status.transaction_status.as_deref(),
        status.fraud_status.as_deref(),
        status.payment_type.as_deref(),
    )
    .await
}

impl Payments {
    /// Reconciles an order's latest payment with Midtrans.
    pub async fn reconcile(&self, order_id: Uuid) -> Result<Reconciled, PaymentError> {
        let client = self.client()?;
        let payment = store::latest_for_order(&self.db, order_id)
            .await?
            .ok_or(PaymentError::NoPayment)?;
        let Some(status) = client.status(&payment.provider_order_id).await? else {
            store::touch_checked(&self.db, payment.payment_id).await?;
            return Ok(Reconciled::NoTransaction);
        };
        self.apply(&payment, &status).await
    }

    /// Applies a status Midtrans reported for `payment`.
    async fn apply(
        &self,
        payment: &PaymentRow,
        status: &TransactionStatus,
    ) -> Result<Reconciled, PaymentError> {
        let order = self.orders.admin_order(payment.order_id.into()).await?.0;
        let transaction_status = status.transaction_status.as_deref().unwrap_or_default();
        let Some(state) =
            PaymentState::from_midtrans(transaction_status, status.fraud_status.as_deref())
        else {
            tracing::warn!(order.id = %order.id, transaction_status, "unknown Midtrans transaction status; ignored");
            return Ok(Reconciled::Unchanged);
        };
        let amount = status.gross_amount.as_deref().and_then(parse_idr);
        let currency_ok = status
            .currency
            .as_deref()
            .is_none_or(|c| c == order.currency);
        if amount != Some(payment.gross_amount) || !currency_ok {
            tracing::error!(
                order.id = %order.id,
                expected = payment.gross_amount,
                received = ?status.gross_amount,
                currency = ?status.currency,
                "Midtrans amount or currency does not match the order; refused"
            );
            self.open_exception(NewException {
                order_id: order.id.into(),
                payment_id: Some(payment.payment_id),
                kind: ExceptionKind::AmountMismatch,
                detail: format!(
                    "Midtrans reports {} {} ({transaction_status}) for {}, whose payment is {} {}",
                    status.gross_amount.as_deref().unwrap_or("no amount"),
                    status.currency.as_deref().unwrap_or(""),
                    payment.provider_order_id,
                    payment.gross_amount,
                    order.currency
                ),
                amount,
                resolution: None,
            })
            .await?;
            return Ok(Reconciled::AmountMismatch);
        }

        // A settlement that becomes `deny` is a bank reversal (Permata VA, Mandiri bill,
        // Indomaret), not a failed attempt: the money is gone after we counted it.
        let reversal = state == PaymentState::Failed && payment.status == "paid";
        let outcome = if reversal {
            self.reverse(&order, payment, transaction_status).await?
        } else {
            match state.order_status() {
                Some(target) => {
                    self.move_order(
                        payment,
                        order.status,
                        target,
                        state,
                        status,
                        transaction_status,
                    )
                    .await?
                }
                None => Reconciled::Unchanged,
            }
        };
        let state = if reversal {
            PaymentState::Reversed
        } else {
            state
        };
        if outcome == Reconciled::LatePayment {
            self.settle_late_payment(&order, payment, status, transaction_status)
                .await?;
        }
        // The payment row follows Midtrans, except that stale news never overwrites a settled
        // state (a `pending` arriving after `settlement`).
        let settled = matches!(
            payment.status.as_str(),
            "paid" | "refunded" | "partially_refunded" | "reversed"
        );
        // (An applied move recorded it with the order, in one transaction.)
        if !matches!(outcome, Reconciled::Applied(_))
            && (outcome == Reconciled::Reversed || !settled)
        {
            record(&self.db, payment, state, status).await?;
        }
        Ok(outcome)
    }

    /// Moves the order to `target` and records the payment's new state with it, in one
    /// transaction (whoever reads a paid order finds its payment paid).
    async fn move_order(
        &self,
        payment: &PaymentRow,
        current: OrderStatus,
        target: OrderStatus,
        state: PaymentState,
        status: &TransactionStatus,
        transaction_status: &str,
    ) -> Result<Reconciled, PaymentError> {
        let order_id = payment.order_id;
        if target == OrderStatus::Paid
            && matches!(current, OrderStatus::Cancelled | OrderStatus::Expired)
        {
            tracing::error!(order.id = %order_id, order.status = %current, "payment received for a closed order: refund it");
            return Ok(Reconciled::LatePayment);
        }
        let refund = matches!(
            state,
            PaymentState::Refunded | PaymentState::PartiallyRefunded
        );
        let mut tx = self.db.begin().await?;
        let mut refunded_total = None;
        if refund {
            if !current.is_paid() {
                // A late payment refunded automatically: the order stays closed.
                return Ok(Reconciled::Unchanged);
            }
            let reported = status.refund_amount.as_deref().and_then(parse_idr);
            let (ledger, in_flight) = store::refund_ledger(&mut *tx, order_id).await?;
            if in_flight || reported.is_none_or(|r| r <= ledger) {
                drop(tx);
                // A refund staff made through toko: their request moves the order (naming them
                // and their reason); Midtrans' confirmation is a separate note.
                let note = format!(
                    "midtrans: {transaction_status} confirmed ({} refunded in total)",
                    status
                        .refund_amount
                        .as_deref()
                        .unwrap_or("amount not given")
                );
                self.orders
                    .note(order_id.into(), Actor::Payment, &note)
                    .await?;
                return Ok(Reconciled::Noted);
            }
            // A refund made in Midtrans' dashboard: enter the difference in our ledger.
            let total = reported.unwrap_or(ledger);
            let provider_order_id = status.order_id.as_deref().unwrap_or_default();
            store::insert_made_refund(
                &mut tx,
                store::MadeRefund {
                    refund_key: &format!("{provider_order_id}-dashboard-{total}"),
                    order_id,
                    payment_id: None,
                    kind: "gateway",
                    amount: total - ledger,
                    reason: "refunded in the Midtrans dashboard",
                    method: None,
                    reference: None,
                    recorded_by: None,
                    cancels_order: false,
                    cancels_units: false,
                },
            )
            .await?;
            refunded_total = Some(total);
        }
        let transition = Transition {
            refunded_total,
            ..Transition::new(
                target,
                Actor::Payment,
                format!("midtrans: {transaction_status}"),
            )
        };
        match crate::orders::lifecycle::apply(&mut tx, order_id.into(), &transition).await {
            Ok(order) => {
                record(&mut *tx, payment, state, status).await?;
                tx.commit().await?;
                Ok(Reconciled::Applied(order.status))
            }
            // Already there, or further along: news that is late or repeated.
            Err(OrderError::IllegalTransition { .. }) => Ok(Reconciled::Unchanged),
            Err(e) => Err(e.into()),
        }
    }

    /// A settlement reversed to deny: a paid order not yet shipped is held (never shipped,
    /// goods set aside); staff are told through a payment exception either way.
    async fn reverse(
        &self,
        order: &crate::orders::Order,
        payment: &PaymentRow,
        transaction_status: &str,
    ) -> Result<Reconciled, PaymentError> {
        let mut tx = self.db.begin().await?;
        let held = matches!(order.status, OrderStatus::Paid | OrderStatus::Processing);
        if held {
            let transition = Transition::new(
                OrderStatus::PaymentReversed,
                Actor::Payment,
                format!("midtrans: settlement reversed to {transaction_status} by the bank"),
            );
            crate::orders::lifecycle::apply(&mut tx, order.id, &transition).await?;
        }
        super::exceptions::open(
            &mut tx,
            NewException {
                order_id: order.id.into(),
                payment_id: Some(payment.payment_id),
                kind: ExceptionKind::Reversal,
                detail: format!(
                    "the bank reversed the settled {} payment {} ({}); the order was {}{}",
                    payment.payment_type.as_deref().unwrap_or("unknown"),
                    payment.provider_order_id,
                    transaction_status,
                    order.status,
                    if held {
                        " and is now held as payment_reversed"
                    } else {
                        ", already past shipping"
                    }
                ),
                amount: Some(payment.gross_amount),
                resolution: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Reconciled::Reversed)
    }

    /// A payment that arrived for a cancelled or expired order (it raced the cancellation):
    /// voided or refunded in full through Midtrans where the method allows, else listed for
    /// staff. Either way it is recorded as a payment exception (resolved when automatic).
    async fn settle_late_payment(
        &self,
        order: &crate::orders::Order,
        payment: &PaymentRow,
        status: &TransactionStatus,
        transaction_status: &str,
    ) -> Result<(), PaymentError> {
        let client = self.client()?;
        let method = status
            .payment_type
            .as_deref()
            .or(payment.payment_type.as_deref())
            .unwrap_or("unknown");
        let amount = payment.gross_amount;
        let refundable = gateway_refund_allowed(method, amount, amount).is_ok();
        let attempt = if transaction_status == "capture" {
            Some(("voided", client.cancel(&payment.provider_order_id).await))
        } else if refundable {
            let key = format!("{}-late", payment.provider_order_id);
            let reason = format!("paid after the order was {}", order.status);
            Some((
                "refunded",
                client
                    .refund(&payment.provider_order_id, &key, amount, &reason)
                    .await,
            ))
        } else {
            None
        };
        let (resolution, outcome) = match attempt {
            None => (None, format!("Midtrans cannot refund {method} payments")),
            Some((done, Ok(_) | Err(MidtransError::Refused { code: 406, .. }))) => {
                let done = format!("{done} automatically through Midtrans");
                (Some(done.clone()), done)
            }
            Some((_, Err(e))) => {
                tracing::warn!(order.id = %order.id, error = %e, "automatic refund of a late payment failed");
                (None, format!("the automatic refund failed ({e})"))
            }
        };
        let detail = format!(
            "{method} payment of {amount} for {} arrived after the order was {}: {outcome}",
            payment.provider_order_id, order.status
        );
        self.open_exception(NewException {
            order_id: order.id.into(),
            payment_id: Some(payment.payment_id),
            kind: ExceptionKind::LatePayment,
            detail,
            amount: Some(amount),
            resolution: resolution.as_deref(),
        })
        .await
    }

    /// Handles a raw notification body: verify, record, then reconcile through the status API.
    /// Errors: malformed (400), bad signature (401), unknown order id (404). A status API
    /// failure is not an error: the notification is recorded and the poller catches up.
    pub async fn handle_notification<'a>(&self, raw: &'a str) -> Result<Reconciled, PaymentError> {
        let client = self.client()?;
        let body: Value = serde_json::from_str(raw)
            .map_err(|e| PaymentError::MalformedNotification(e.to_string()))?;
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        // Anyone can post here: what is kept of an unverified notification is bounded.
        let kept = |value: &'a str, valid: bool| {
            if valid {
                value
            } else {
                prefix(value, UNVERIFIED_BODY_KEPT)
            }
        };
        let record =
            |outcome: &'static str, valid: bool, order_id: Option<Uuid>| NotificationRecord {
                provider_order_id: field("order_id").map(|v| prefix(v, MAX_ORDER_ID_LENGTH)),
                order_id,
                transaction_status: field("transaction_status").map(|v| prefix(v, 64)),
                status_code: field("status_code").map(|v| prefix(v, 16)),
                raw_body: kept(raw, valid),
                signature_valid: valid,
                outcome,
            };
        if field("order_id").is_some_and(|id| id.len() > MAX_ORDER_ID_LENGTH) {
            store::insert_notification(&self.db, record("malformed", false, None)).await?;
            return Err(PaymentError::MalformedNotification(format!(
                "order_id is longer than {MAX_ORDER_ID_LENGTH} characters"
            )));
        }
        let (Some(order_id), Some(status_code), Some(gross_amount), Some(signature_key)) = (
            field("order_id"),
            field("status_code"),
            field("gross_amount"),
            field("signature_key"),
        ) else {
            store::insert_notification(&self.db, record("malformed", false, None)).await?;
            return Err(PaymentError::MalformedNotification(
                "order_id, status_code, gross_amount and signature_key are required strings".into(),
            ));
        };
        if !signature::verify(
            order_id,
            status_code,
            gross_amount,
            client.server_key(),
            signature_key,
        ) {
            store::insert_notification(&self.db, record("invalid_signature", false, None)).await?;
            tracing::warn!(
                payment.provider_order_id = order_id,
                "notification with an invalid signature refused"
            );
            return Err(PaymentError::InvalidSignature);
        }
        let Some(payment) = store::by_provider_order_id(&self.db, order_id).await? else {
            store::insert_notification(&self.db, record("unknown_order", true, None)).await?;
            return Err(PaymentError::UnknownOrder);
        };
        let notification =
            store::insert_notification(&self.db, record("received", true, Some(payment.order_id)))
                .await?;
        let outcome = match client.status(&payment.provider_order_id).await {
            Ok(Some(status)) => self.apply(&payment, &status).await,
            Ok(None) => Ok(Reconciled::NoTransaction),
            Err(error) => {
                tracing::warn!(order.id = %payment.order_id, error = %error, "status check failed; the poller will reconcile");
                store::set_notification_outcome(&self.db, notification, "deferred").await?;
                return Ok(Reconciled::Unchanged);
            }
        }?;
        store::set_notification_outcome(&self.db, notification, outcome.as_str()).await?;
        Ok(outcome)
    }

    /// Orders waiting for payment whose payment was not checked recently (for the poller).
    pub async fn due_for_check(
        &self,
        older_than: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<Uuid>, PaymentError> {
        Ok(store::due_for_check(&self.db, older_than, limit).await?)
    }
}

/// Bytes of an unverified notification's body that are stored (its start shows what it was).
pub const UNVERIFIED_BODY_KEPT: usize = 1024;

/// Midtrans order ids are at most 50 characters.
pub const MAX_ORDER_ID_LENGTH: usize = 50;

/// The longest prefix of `value` within `max` bytes, cut at a character boundary.
fn prefix(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}
