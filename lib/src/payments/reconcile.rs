//! "Reconcile order X with Midtrans": ask Midtrans for the transaction's status and apply it
//! to the order, idempotently and never backwards. Webhooks call it after verifying and
//! recording a notification (the notification body itself is never trusted); the payment
//! poller calls it for orders whose notification never came.

use serde_json::Value;
use uuid::Uuid;

use super::{
    mapping::{parse_idr, PaymentState},
    midtrans::{signature, TransactionStatus},
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
    /// Paid after the order was cancelled or expired: needs a person (and a refund).
    LatePayment,
}

impl Reconciled {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::Unchanged => "unchanged",
            Self::NoTransaction => "no_transaction",
            Self::AmountMismatch => "amount_mismatch",
            Self::LatePayment => "late_payment",
        }
    }
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
        let order = self.orders.admin_order(payment.order_id).await?.0;
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
            return Ok(Reconciled::AmountMismatch);
        }

        let outcome = match state.order_status() {
            Some(target) => {
                self.move_order(
                    order.id,
                    order.status,
                    target,
                    state,
                    status,
                    transaction_status,
                )
                .await?
            }
            None => Reconciled::Unchanged,
        };
        // The payment row follows Midtrans, except that stale news never overwrites a settled
        // state (a `pending` arriving after `settlement`).
        let settled = matches!(
            payment.status.as_str(),
            "paid" | "refunded" | "partially_refunded"
        );
        if matches!(outcome, Reconciled::Applied(_)) || !settled {
            store::record_status(
                &self.db,
                payment.payment_id,
                state.as_str(),
                status.transaction_id.as_deref(),
                Some(transaction_status),
                status.fraud_status.as_deref(),
                status.payment_type.as_deref(),
            )
            .await?;
        }
        Ok(outcome)
    }

    async fn move_order(
        &self,
        order_id: Uuid,
        current: OrderStatus,
        target: OrderStatus,
        state: PaymentState,
        status: &TransactionStatus,
        transaction_status: &str,
    ) -> Result<Reconciled, PaymentError> {
        if target == OrderStatus::Paid
            && matches!(current, OrderStatus::Cancelled | OrderStatus::Expired)
        {
            tracing::error!(order.id = %order_id, order.status = %current, "payment received for a closed order: refund it");
            return Ok(Reconciled::LatePayment);
        }
        // A full refund requested to cancel the order cancels it, whoever gets there first:
        // the cancelling request or Midtrans' notification of its refund.
        let target = if target == OrderStatus::Refunded
            && store::refunding_to_cancel(&self.db, order_id).await?
        {
            OrderStatus::Cancelled
        } else {
            target
        };
        let refunded_total = matches!(
            state,
            PaymentState::Refunded | PaymentState::PartiallyRefunded
        )
        .then(|| status.refund_amount.as_deref().and_then(parse_idr))
        .flatten();
        let transition = Transition {
            refunded_total,
            ..Transition::new(
                target,
                Actor::Payment,
                format!("midtrans: {transaction_status}"),
            )
        };
        match self.orders.transition(order_id, transition).await {
            Ok(order) => Ok(Reconciled::Applied(order.status)),
            // Already there, or further along: news that is late or repeated.
            Err(OrderError::IllegalTransition { .. }) => Ok(Reconciled::Unchanged),
            Err(e) => Err(e.into()),
        }
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
