//! Payment exceptions: what Midtrans did that needs a person — a payment for a closed order
//! that could not be refunded automatically, a settlement the bank reversed, an amount that
//! does not match the order, a refund that needs a manual step. One list for staff, each with
//! its state and the action that resolves it; opening one leaves a `payment.exception_opened`
//! event (staff are emailed) in the same transaction.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{PaymentError, Payments};
use crate::{
    events::{Event, Payload},
    outbox,
    validation::ValidationErrors,
};

/// A new payment exception (the payload of `payment.exception_opened`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PaymentExceptionOpened {
    pub exception_id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    /// `late_payment`, `reversal`, `amount_mismatch`, `refund_failed`, ...
    pub kind: String,
    /// `open` (staff must act) or `resolved` (handled automatically, listed for the record).
    pub state: String,
    pub detail: String,
    /// The amount concerned, in minor units, when there is one.
    pub amount: Option<i64>,
    /// What staff should do.
    pub action: String,
}

impl PaymentExceptionOpened {
    pub fn needs_staff(&self) -> bool {
        self.state == "open"
    }
}

impl Payload for PaymentExceptionOpened {
    fn aggregate_id(&self) -> Uuid {
        self.exception_id
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// Paid after the order was cancelled or expired, and the method cannot be refunded
    /// through Midtrans (or the automatic refund failed).
    LatePayment,
    /// A settlement the bank reversed to deny.
    Reversal,
    /// Midtrans reports an amount or currency other than the order's.
    AmountMismatch,
    /// A refund Midtrans refused or cannot make: staff refund outside Midtrans and record it.
    RefundNeedsManualStep,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 4] = [
        Self::LatePayment,
        Self::Reversal,
        Self::AmountMismatch,
        Self::RefundNeedsManualStep,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LatePayment => "late_payment",
            Self::Reversal => "reversal",
            Self::AmountMismatch => "amount_mismatch",
            Self::RefundNeedsManualStep => "refund_needs_manual_step",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// What a person does to resolve it.
    pub fn action(self) -> &'static str {
        match self {
            Self::LatePayment | Self::RefundNeedsManualStep => {
                "refund the customer outside Midtrans (bank transfer, cash), record it with POST /api/v1/admin/orders/{id}/manual-refunds when the order is paid, then resolve this exception with the reference"
            }
            Self::Reversal => {
                "the order is held (payment_reversed, not shippable, goods set aside): ask the bank; cancel the order (restocks) or move it back to paid if the money arrived after all, then resolve this exception"
            }
            Self::AmountMismatch => {
                "compare the amount in the Midtrans dashboard with the order; refund or collect the difference outside toko, then resolve this exception"
            }
        }
    }
}

/// One exception as staff see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentException {
    pub exception_id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub kind: String,
    /// `open` or `resolved`.
    pub state: String,
    pub detail: String,
    pub amount: Option<i64>,
    pub resolution: Option<String>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl PaymentException {
    pub fn action(&self) -> &'static str {
        ExceptionKind::parse(&self.kind).map_or("", ExceptionKind::action)
    }
}

/// A new exception; `resolution` set records one already handled (e.g. refunded automatically).
pub struct NewException<'a> {
    pub order_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub kind: ExceptionKind,
    pub detail: String,
    pub amount: Option<i64>,
    pub resolution: Option<&'a str>,
}

/// Opens an exception (once per order, kind and payment) with its event, in the caller's
/// transaction. Returns whether it is new.
pub async fn open(tx: &mut PgConnection, e: NewException<'_>) -> Result<bool, sqlx::Error> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query!(
        "insert into payment_exceptions (exception_id, order_id, payment_id, kind, detail, amount, state, resolution, resolved_at)
         values ($1, $2, $3, $4, $5, $6, case when $7::text is null then 'open' else 'resolved' end, $7,
                 case when $7::text is null then null else now() end)
         on conflict do nothing",
        id,
        e.order_id,
        e.payment_id,
        e.kind.as_str(),
        &e.detail,
        e.amount,
        e.resolution,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        let order_number: String = sqlx::query_scalar!(
            "select order_number from orders where order_id = $1",
            e.order_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        let opened = PaymentExceptionOpened {
            exception_id: id,
            order_id: e.order_id,
            order_number,
            kind: e.kind.as_str().to_owned(),
            state: if e.resolution.is_some() {
                "resolved"
            } else {
                "open"
            }
            .to_owned(),
            detail: e.detail.clone(),
            amount: e.amount,
            action: e.kind.action().to_owned(),
        };
        outbox::enqueue(tx, Event::PaymentExceptionOpened(opened)).await?;
        tracing::warn!(order.id = %e.order_id, kind = e.kind.as_str(), detail = %e.detail, "payment exception");
    }
    Ok(inserted)
}

impl Payments {
    /// Opens an exception in its own transaction.
    pub(crate) async fn open_exception(&self, e: NewException<'_>) -> Result<(), PaymentError> {
        let mut tx = self.db.begin().await?;
        open(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Exceptions, newest first, optionally only those in `state` (`open`, `resolved`).
    pub async fn exceptions(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PaymentException>, PaymentError> {
        Ok(list(&self.db, state, Some(limit)).await?)
    }

    /// Marks an exception resolved by a staff member, with what they did.
    pub async fn resolve_exception(
        &self,
        exception_id: Uuid,
        staff: Uuid,
        resolution: &str,
    ) -> Result<PaymentException, PaymentError> {
        resolve(&self.db, exception_id, staff, resolution).await
    }
}

/// Marks an exception resolved by `staff` with what they did; `tokoctl` calls it directly.
pub async fn resolve(
    db: &PgPool,
    exception_id: Uuid,
    staff: Uuid,
    resolution: &str,
) -> Result<PaymentException, PaymentError> {
    let mut errors = ValidationErrors::new();
    errors.length("resolution", resolution.trim(), 1, 1000);
    errors.finish()?;
    let updated = sqlx::query!(
        "update payment_exceptions set state = 'resolved', resolution = $2, resolved_by = $3, resolved_at = now()
         where exception_id = $1 and state = 'open'",
        exception_id,
        resolution.trim(),
        staff,
    )
    .execute(db)
    .await?;
    // The select of `list`, by id.
    let exception = sqlx::query_as!(
        PaymentException,
        "select e.exception_id, e.order_id, o.order_number, e.kind, e.state, e.detail, e.amount,
                e.resolution, e.resolved_by, e.resolved_at, e.created_at
         from payment_exceptions e join orders o on o.order_id = e.order_id
         where ($1::uuid is null or e.exception_id = $1) and ($2::text is null or e.state = $2)
         order by e.created_at desc, e.exception_id desc limit $3",
        Some(exception_id),
        None::<&str>,
        1_i64,
    )
    .fetch_optional(db)
    .await?
    .ok_or(PaymentError::ExceptionNotFound)?;
    if updated.rows_affected() == 0 {
        return Err(PaymentError::ExceptionResolved);
    }
    Ok(exception)
}

/// The id of the admin account with this email (who resolves exceptions from `tokoctl`).
pub async fn admin_by_email(db: &PgPool, email: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select user_id from users where lower(email) = lower($1) and role <> 'customer'",
        email.trim(),
    )
    .fetch_optional(db)
    .await
}

/// Exceptions newest first (`state`: `open`, `resolved`, or both); `tokoctl` calls it
/// directly, without a Midtrans client.
pub async fn list(
    db: &PgPool,
    state: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<PaymentException>, sqlx::Error> {
    // Exceptions by id and/or state (each filter off when null), newest first.
    sqlx::query_as!(
        PaymentException,
        "select e.exception_id, e.order_id, o.order_number, e.kind, e.state, e.detail, e.amount,
                e.resolution, e.resolved_by, e.resolved_at, e.created_at
         from payment_exceptions e join orders o on o.order_id = e.order_id
         where ($1::uuid is null or e.exception_id = $1) and ($2::text is null or e.state = $2)
         order by e.created_at desc, e.exception_id desc limit $3",
        None::<Uuid>,
        state,
        limit,
    )
    .fetch_all(db)
    .await
}
