//! The payment-poller: asks Midtrans about unpaid orders whose notification may never come.
//!
//! `order.created` schedules the first check `PAYMENT_POLL_AFTER` after the order; a periodic
//! sweep reconciles the due ones (see [`super::reconcile`]) and reschedules those still
//! unpaid with a doubling interval (capped at an hour), until the order is paid, closed or
//! expired.

use std::time::Duration;

use super::{PaymentError, Payments};
use crate::{
    events::{Event, EventKind},
    messaging::{Delivered, Handler, HandlerError, Idempotency},
};
use async_trait::async_trait;
use uuid::Uuid;

const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// The queue handler: schedules the first check of each new order.
pub struct PaymentPoller {
    payments: Payments,
    first_check_after: Duration,
}

impl PaymentPoller {
    pub fn new(payments: Payments, first_check_after: Duration) -> Self {
        Self {
            payments,
            first_check_after,
        }
    }
}

/// The poller schedules a check of every new order.
pub fn subscribes(kind: EventKind) -> bool {
    use EventKind::*;
    match kind {
        OrderCreated => true,
        ProductCreated
        | ProductUpdated
        | ProductArchived
        | ProductDeleted
        | VariantCreated
        | VariantUpdated
        | VariantDeleted
        | StockChanged
        | CategoryChanged
        | UserRegistered
        | UserDeleted
        | StaffInvited
        | OrderPaid
        | OrderProcessing
        | OrderPartiallyShipped
        | OrderShipped
        | ShipmentCreated
        | ShipmentDelivered
        | OrderDelivered
        | OrderCompleted
        | OrderCancelled
        | OrderExpired
        | OrderRefunded
        | OrderPartiallyRefunded
        | OrderPaymentReversed
        | PaymentExceptionOpened
        | WebhookEndpointDisabled
        | PromotionRedeemed
        | PromotionReleased
        | ReturnRequested
        | ReturnApproved
        | ReturnRejected
        | ReturnReceived
        | ReturnRefunded
        | UserPasswordResetRequested
        | UserEmailVerificationRequested => false,
    }
}

#[async_trait]
impl Handler for PaymentPoller {
    fn name(&self) -> &str {
        "payment-poller"
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let order_id = match msg.event()? {
            Event::OrderCreated(order) => order.order_id.as_uuid(),
            other => return Err(HandlerError::not_subscribed(other.kind())),
        };
        let Some(mut tx) =
            Idempotency::begin(&self.payments.db, self.name(), &msg.message_id).await?
        else {
            return Ok(());
        };
        sqlx::query!(
            "insert into payment_checks (order_id, next_check_at)
             select order_id, created_at + $2::interval from orders where order_id = $1
             on conflict (order_id) do nothing",
            order_id,
            self.first_check_after as _,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: u64,
    pub settled: u64,
    pub failed: u64,
}

impl Payments {
    /// Reconciles the orders whose check is due (several pollers may run: rows are claimed
    /// with `SKIP LOCKED` and pushed to their next slot before the slow Midtrans call).
    pub async fn poll_due(
        &self,
        base_interval: Duration,
        limit: i64,
    ) -> Result<SweepReport, PaymentError> {
        let due: Vec<(Uuid, i32)> = sqlx::query!(
            "with due as (
                 select order_id from payment_checks where next_check_at <= now()
                 order by next_check_at limit $1 for update skip locked
             )
             update payment_checks c set attempts = c.attempts + 1,
                 next_check_at = now() + least($2::interval * power(2, c.attempts), $3::interval)
             from due where c.order_id = due.order_id
             returning c.order_id, c.attempts",
            limit,
            base_interval as _,
            MAX_INTERVAL as _,
        )
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|r| (r.order_id, r.attempts))
        .collect();
        let mut report = SweepReport::default();
        for (order_id, attempts) in due {
            report.checked += 1;
            let outcome = self.reconcile(order_id).await;
            let still_open: bool = sqlx::query_scalar!(
                r#"select status = 'pending_payment' as "open!" from orders where order_id = $1"#,
                order_id,
            )
            .fetch_optional(&self.db)
            .await?
            .unwrap_or(false);
            match outcome {
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(order.id = %order_id, attempts, error = %error, "payment check failed; retried later");
                }
                Ok(_) if !still_open => {
                    report.settled += 1;
                    sqlx::query!("delete from payment_checks where order_id = $1", order_id,)
                        .execute(&self.db)
                        .await?;
                }
                Ok(_) => {}
            }
        }
        Ok(report)
    }
}
