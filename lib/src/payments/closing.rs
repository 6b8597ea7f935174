//! A cancelled or expired order must stop being payable at Midtrans: its Snap session is
//! closed (`POST /snap/v1/transactions/{token}/cancel`) and a transaction already issued (a
//! VA number or store code stays payable after the page closes) is cancelled. A payment that
//! races the closing is caught by reconciling: refunded automatically where the method allows,
//! else listed as a payment exception (see `reconcile`).

use uuid::Uuid;

use super::{midtrans::MidtransError, store, PaymentError, Payments};
use crate::orders::{Order, OrderStatus};

impl Payments {
    /// Closes the live payment of a cancelled or expired order. Safe to repeat; the live row
    /// is retired only once Midtrans confirmed, so the poller's sweep retries a failure.
    pub async fn close_payment(&self, order_id: Uuid) -> Result<(), PaymentError> {
        let client = self.client()?;
        let Some(payment) = store::latest_for_order(&self.db, order_id)
            .await?
            .filter(super::is_live)
        else {
            return Ok(());
        };
        let (order, _) = self.orders.admin_order(order_id.into()).await?;
        let retired_as = match order.status {
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            _ => return Ok(()),
        };
        let snap = match payment.snap_token.as_deref() {
            Some(token) => client.cancel_snap(token).await,
            None => Ok(()),
        };
        match snap {
            Ok(()) => {}
            Err(MidtransError::Refused { message, .. }) if message.contains("already canceled") => {
            }
            // "Transaction is on progress" (a method was chosen) or an unknown token: end
            // whatever Core transaction exists.
            Err(MidtransError::Refused { .. }) => {
                match client.status(&payment.provider_order_id).await? {
                    None => {}
                    // Not paid yet, or a card capture held for fraud review: void it.
                    Some(status)
                        if matches!(
                            status.transaction_status.as_deref(),
                            Some("pending" | "authorize")
                        ) || status.fraud_status.as_deref() == Some("challenge") =>
                    {
                        match client.cancel(&payment.provider_order_id).await {
                            Ok(_) | Err(MidtransError::Refused { code: 404, .. }) => {}
                            // Paid meanwhile: reconciling handles the late payment.
                            Err(MidtransError::Refused { code: 412, .. }) => {
                                self.reconcile(order_id).await?;
                                return Ok(());
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    // Paid, captured or ended already: reconciling records it, and refunds
                    // or lists a payment that raced the closing.
                    Some(_) => {
                        self.reconcile(order_id).await?;
                        return Ok(());
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        store::retire(&self.db, payment.payment_id, retired_as).await?;
        tracing::info!(order.id = %order_id, payment.provider_order_id = %payment.provider_order_id, "payment closed at Midtrans");
        Ok(())
    }

    /// Closes the payments of orders cancelled or expired without it (Midtrans was down, or
    /// the order expired in a process without a Midtrans client); returns how many it closed.
    pub async fn close_abandoned(&self, limit: i64) -> Result<u64, PaymentError> {
        let orders: Vec<Uuid> = sqlx::query_scalar!(
            "select o.order_id from orders o join payments p on p.order_id = o.order_id
             where o.status in ('cancelled', 'expired') and p.status in ('unavailable', 'pending', 'challenge')
             order by o.updated_at limit $1",
            limit,
        )
        .fetch_all(&self.db)
        .await?;
        let mut closed = 0;
        for order_id in orders {
            match self.close_payment(order_id).await {
                Ok(()) => closed += 1,
                Err(error) => {
                    tracing::warn!(order.id = %order_id, error = %error, "could not close the payment; retried later")
                }
            }
        }
        Ok(closed)
    }
}

/// Called by orders once an order was cancelled or expired; never fails the caller (the
/// payment-poller's sweep retries).
pub(crate) async fn close_quietly(payments: &Payments, order: &Order) {
    if !payments.is_configured() {
        return;
    }
    if let Err(error) = payments.close_payment(order.id.into()).await {
        tracing::warn!(order.id = %order.id, error = %error, "could not close the payment at Midtrans; the payment-poller retries");
    }
}
