//! SQL for `payments`, `payment_notifications` and `refunds`.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub provider_order_id: String,
    pub status: String,
    pub gross_amount: i64,
    pub currency: String,
    pub snap_token: Option<String>,
    pub redirect_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub transaction_id: Option<String>,
    pub transaction_status: Option<String>,
    pub fraud_status: Option<String>,
    /// The method the customer chose (`credit_card`, `bank_transfer`, `gopay`, ...).
    pub payment_type: Option<String>,
    /// Why the last attempt to create the Snap session failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn latest_for_order(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentRow,
        "select payment_id, order_id, provider_order_id, status, gross_amount, currency, snap_token,
                redirect_url, expires_at, transaction_id, transaction_status, fraud_status,
                payment_type, last_error, created_at
         from payments where order_id = $1 order by created_at desc limit 1",
        order_id,
    )
    .fetch_optional(db)
    .await
}

pub async fn by_provider_order_id(
    db: impl PgExecutor<'_>,
    provider_order_id: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentRow,
        "select payment_id, order_id, provider_order_id, status, gross_amount, currency, snap_token,
                redirect_url, expires_at, transaction_id, transaction_status, fraud_status,
                payment_type, last_error, created_at
         from payments where provider_order_id = $1",
        provider_order_id,
    )
    .fetch_optional(db)
    .await
}

/// Opens the order's live payment (status `unavailable` until Snap answers); `None` when
/// another request holds the live slot (the unique index decides).
pub async fn open_live(
    db: &PgPool,
    order_id: Uuid,
    provider_order_id: &str,
    amount: i64,
    currency: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentRow,
        "insert into payments (payment_id, order_id, provider_order_id, status, gross_amount, currency)
         values ($1, $2, $3, 'unavailable', $4, $5)
         on conflict do nothing
         returning payment_id, order_id, provider_order_id, status, gross_amount, currency, snap_token,
                redirect_url, expires_at, transaction_id, transaction_status, fraud_status,
                payment_type, last_error, created_at",
        Uuid::now_v7(),
        order_id,
        provider_order_id,
        amount,
        currency,
    )
    .fetch_optional(db)
    .await
}

/// How many Snap sessions the order has had (the next provider order id's suffix).
pub async fn session_count(db: &PgPool, order_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from payments where order_id = $1"#,
        order_id,
    )
    .fetch_one(db)
    .await
}

pub async fn record_snap(
    db: &PgPool,
    payment_id: Uuid,
    token: &str,
    redirect_url: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payments set status = 'pending', snap_token = $2, redirect_url = $3, expires_at = $4, last_error = null
         where payment_id = $1",
        payment_id,
        token,
        redirect_url,
        expires_at,
    )
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn record_error(db: &PgPool, payment_id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payments set last_error = $2 where payment_id = $1",
        payment_id,
        error,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Retires a live payment whose Snap session can no longer be used, freeing the live slot.
pub async fn retire(db: &PgPool, payment_id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payments set status = $2 where payment_id = $1",
        payment_id,
        status,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Stores what Midtrans says about the transaction.
pub async fn record_status(
    db: impl PgExecutor<'_>,
    payment_id: Uuid,
    status: &str,
    transaction_id: Option<&str>,
    transaction_status: Option<&str>,
    fraud_status: Option<&str>,
    payment_type: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payments set status = $2, transaction_id = coalesce($3, transaction_id),
             transaction_status = $4, fraud_status = $5, payment_type = coalesce($6, payment_type), checked_at = now()
         where payment_id = $1",
        payment_id,
        status,
        transaction_id,
        transaction_status,
        fraud_status,
        payment_type,
    )
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn touch_checked(db: &PgPool, payment_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payments set checked_at = now() where payment_id = $1",
        payment_id,
    )
    .execute(db)
    .await
    .map(|_| ())
}

pub struct NotificationRecord<'a> {
    pub provider_order_id: Option<&'a str>,
    pub order_id: Option<Uuid>,
    pub transaction_status: Option<&'a str>,
    pub status_code: Option<&'a str>,
    pub raw_body: &'a str,
    pub signature_valid: bool,
    pub outcome: &'a str,
}

pub async fn insert_notification(
    db: &PgPool,
    n: NotificationRecord<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into payment_notifications (notification_id, provider_order_id, order_id, transaction_status,
                                            status_code, raw_body, signature_valid, outcome)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        n.provider_order_id,
        n.order_id,
        n.transaction_status,
        n.status_code,
        n.raw_body,
        n.signature_valid,
        n.outcome,
    )
    .execute(db)
    .await?;
    Ok(id)
}

pub async fn set_notification_outcome(
    db: &PgPool,
    notification_id: Uuid,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_notifications set outcome = $2 where notification_id = $1",
        notification_id,
        outcome,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// A gateway refund request, created once per refund key.
#[allow(clippy::too_many_arguments)]
pub async fn insert_refund(
    db: impl PgExecutor<'_>,
    refund_key: &str,
    order_id: Uuid,
    payment_id: Uuid,
    amount: i64,
    reason: &str,
    cancels_order: bool,
    cancels_units: bool,
    recorded_by: Option<Uuid>,
) -> Result<(Uuid, String, i64), sqlx::Error> {
    let row = sqlx::query!(
        "insert into refunds (refund_id, order_id, payment_id, refund_key, amount, reason, cancels_order,
                              cancels_units, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict on constraint refunds_refund_key_key do update set refund_key = excluded.refund_key
         returning refund_id, status, amount",
        Uuid::now_v7(),
        order_id,
        payment_id,
        refund_key,
        amount,
        reason,
        cancels_order,
        cancels_units,
        recorded_by,
    )
    .fetch_one(db)
    .await?;
    Ok((row.refund_id, row.status, row.amount))
}

/// A gateway refund asked for and not yet confirmed by Midtrans.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestedRefund {
    pub refund_id: Uuid,
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub provider_order_id: String,
    pub refund_key: String,
    pub amount: i64,
    pub reason: String,
    pub recorded_by: Option<Uuid>,
    pub cancels_order: bool,
    pub cancels_units: bool,
}

/// Whether a gateway refund of the order other than `refund_key` is still waiting for
/// Midtrans' answer.
pub async fn other_refund_in_flight(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
    refund_key: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from refunds
                         where order_id = $1 and status = 'requested' and refund_key <> $2) as "exists!""#,
        order_id,
        refund_key,
    )
    .fetch_one(db)
    .await
}

/// Gateway refunds still requested after `older_than`, oldest first.
pub async fn stale_requested_refunds(
    db: &PgPool,
    older_than: std::time::Duration,
    limit: i64,
) -> Result<Vec<RequestedRefund>, sqlx::Error> {
    sqlx::query_as!(
        RequestedRefund,
        r#"select r.refund_id, r.order_id, r.payment_id as "payment_id!", p.provider_order_id, r.refund_key, r.amount, r.reason,
                r.recorded_by, r.cancels_order, r.cancels_units
         from refunds r join payments p on p.payment_id = r.payment_id
         where r.status = 'requested' and r.kind = 'gateway' and r.updated_at < now() - $1::interval
         order by r.created_at limit $2"#,
        older_than as _,
        limit,
    )
    .fetch_all(db)
    .await
}

/// A refund already made: by staff outside Midtrans (`manual`), or in Midtrans' dashboard
/// (`gateway`, learnt from a notification). Recorded as succeeded.
pub struct MadeRefund<'a> {
    pub refund_key: &'a str,
    pub order_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub kind: &'a str,
    pub amount: i64,
    pub reason: &'a str,
    pub method: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub recorded_by: Option<Uuid>,
    pub cancels_order: bool,
    pub cancels_units: bool,
}

/// Records a refund already made; `false` when its key was recorded before.
pub async fn insert_made_refund(
    tx: &mut sqlx::PgConnection,
    r: MadeRefund<'_>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into refunds (refund_id, order_id, payment_id, refund_key, amount, reason, status, kind,
                              method, reference, recorded_by, cancels_order, cancels_units)
         values ($1, $2, $3, $4, $5, $6, 'succeeded', $7, $8, $9, $10, $11, $12)
         on conflict on constraint refunds_refund_key_key do nothing",
        Uuid::now_v7(),
        r.order_id,
        r.payment_id,
        r.refund_key,
        r.amount,
        r.reason,
        r.kind,
        r.method,
        r.reference,
        r.recorded_by,
        r.cancels_order,
        r.cancels_units,
    )
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Our ledger of an order's refunds: the succeeded total, and whether a gateway refund is
/// still in flight (requested, no answer yet).
pub async fn refund_ledger(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<(i64, bool), sqlx::Error> {
    let row = sqlx::query!(
        r#"select coalesce(sum(amount) filter (where status = 'succeeded'), 0)::int8 as "succeeded!",
                  coalesce(bool_or(status = 'requested'), false) as "in_flight!"
           from refunds where order_id = $1"#,
        order_id,
    )
    .fetch_one(db)
    .await?;
    Ok((row.succeeded, row.in_flight))
}

pub async fn set_refund_status(
    db: &PgPool,
    refund_id: Uuid,
    status: &str,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update refunds set status = $2, last_error = $3 where refund_id = $1",
        refund_id,
        status,
        error,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Orders waiting for payment whose payment was not checked for `older_than` (the poller's
/// work list), oldest first.
pub async fn due_for_check(
    db: &PgPool,
    older_than: std::time::Duration,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select o.order_id from orders o join payments p on p.order_id = o.order_id
         where o.status = 'pending_payment' and p.status in ('pending', 'challenge')
           and coalesce(p.checked_at, p.created_at) < now() - $1::interval
         order by coalesce(p.checked_at, p.created_at) limit $2",
        older_than as _,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Deletes notifications past their retention: unverified ones (anyone can send those) after
/// `unverified`, the rest after `verified`. Returns the rows deleted.
pub async fn prune_notifications(
    db: &PgPool,
    verified: std::time::Duration,
    unverified: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "delete from payment_notifications
         where received_at < now() - case when signature_valid then $1::interval else $2::interval end",
        verified as _,
        unverified as _,
    )
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// Units of each line of the order given back by refunds that did not fail.
pub async fn refunded_quantities(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select rl.order_line_id, sum(rl.quantity)::int8 as "quantity!"
           from refund_lines rl join refunds r on r.refund_id = rl.refund_id
           where r.order_id = $1 and r.status <> 'failed'
           group by rl.order_line_id"#,
        order_id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.order_line_id, r.quantity))
        .collect())
}

/// Records which units a refund gave back (once: a retried refund keeps its lines).
pub async fn insert_refund_lines(
    db: impl PgExecutor<'_>,
    refund_key: &str,
    lines: &[RefundedLine],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.order_line_id).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let amounts: Vec<i64> = lines.iter().map(|l| l.amount).collect();
    sqlx::query!(
        "insert into refund_lines (refund_id, order_line_id, quantity, amount)
         select r.refund_id, t.line, t.quantity, t.amount
         from refunds r, unnest($2::uuid[], $3::int4[], $4::int8[]) as t(line, quantity, amount)
         where r.refund_key = $1
         on conflict on constraint refund_lines_pkey do nothing",
        refund_key,
        &ids,
        &quantities,
        &amounts,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Units of an order line a refund gives back, and what was paid for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundedLine {
    pub order_line_id: Uuid,
    pub quantity: i32,
    pub amount: i64,
}

/// A refund by its key: `(status, amount)`.
pub async fn refund_by_key(
    db: impl PgExecutor<'_>,
    refund_key: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query!(
        "select status, amount from refunds where refund_key = $1",
        refund_key,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.status, r.amount)))
}

/// A requested gateway refund by its key, to send again.
pub async fn requested_refund(
    db: impl PgExecutor<'_>,
    refund_key: &str,
) -> Result<Option<RequestedRefund>, sqlx::Error> {
    sqlx::query_as!(
        RequestedRefund,
        r#"select r.refund_id, r.order_id, r.payment_id as "payment_id!", p.provider_order_id, r.refund_key, r.amount, r.reason,
                r.recorded_by, r.cancels_order, r.cancels_units
         from refunds r join payments p on p.payment_id = r.payment_id
         where r.refund_key = $1 and r.status = 'requested'"#,
        refund_key,
    )
    .fetch_optional(db)
    .await
}
