//! SQL for `returns` and `return_lines`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Disposition, Return, ReturnLine, ReturnReason, ReturnStatus};

#[derive(sqlx::FromRow)]
struct ReturnRow {
    return_id: Uuid,
    number: String,
    order_id: Uuid,
    order_number: String,
    user_id: Uuid,
    status: String,
    note: String,
    decision_note: Option<String>,
    currency: String,
    refund_amount: Option<i64>,
    shipping_refund: Option<i64>,
    adjustment: Option<i64>,
    adjustment_reason: Option<String>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    received_at: Option<DateTime<Utc>>,
    refunded_at: Option<DateTime<Utc>>,
    lines: Json<Vec<LineRow>>,
}

#[derive(serde::Deserialize)]
struct LineRow {
    order_line_id: Uuid,
    sku: String,
    product_name: String,
    quantity: i32,
    reason: String,
    disposition: Option<String>,
}

impl From<ReturnRow> for Return {
    fn from(r: ReturnRow) -> Self {
        Self {
            id: r.return_id,
            number: r.number,
            order_id: r.order_id,
            order_number: r.order_number,
            user_id: r.user_id,
            // The columns' check constraints admit only known values.
            status: ReturnStatus::parse(&r.status).unwrap_or(ReturnStatus::Requested),
            note: r.note,
            decision_note: r.decision_note,
            currency: r.currency,
            refund_amount: r.refund_amount,
            shipping_refund: r.shipping_refund,
            adjustment: r.adjustment,
            adjustment_reason: r.adjustment_reason,
            created_at: r.created_at,
            decided_at: r.decided_at,
            received_at: r.received_at,
            refunded_at: r.refunded_at,
            lines: r
                .lines
                .0
                .into_iter()
                .map(|l| ReturnLine {
                    order_line_id: l.order_line_id,
                    sku: l.sku,
                    product_name: l.product_name,
                    quantity: l.quantity,
                    reason: ReturnReason::parse(&l.reason).unwrap_or(ReturnReason::Other),
                    disposition: l.disposition.as_deref().and_then(Disposition::parse),
                })
                .collect(),
        }
    }
}

/// Loads a return; `lock` holds its row for the caller's transaction.
pub(super) async fn load(
    conn: &mut PgConnection,
    return_id: Uuid,
    lock: bool,
) -> Result<Option<Return>, sqlx::Error> {
    if lock {
        sqlx::query!(
            "select 1 as one from returns where return_id = $1 for update",
            return_id,
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let filter = Filter {
        return_id: Some(return_id),
        ..Filter::default()
    };
    Ok(select(conn, &filter, 1).await?.pop())
}

/// Which returns [`select`] reads.
#[derive(Default)]
pub(super) struct Filter {
    pub return_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub status: Option<ReturnStatus>,
    /// The last id of the previous page.
    pub before: Option<Uuid>,
}

/// Returns with their lines, newest first (UUIDv7 ids sort by creation), keyset-paginated
/// by id: one statement however many.
pub(super) async fn select(
    conn: &mut PgConnection,
    f: &Filter,
    limit: i64,
) -> Result<Vec<Return>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ReturnRow,
        r#"select r.return_id, r.number, r.order_id, r.user_id, r.status, r.note, r.decision_note,
                r.refund_amount, r.shipping_refund, r.adjustment, r.adjustment_reason, r.created_at,
                r.decided_at, r.received_at, r.refunded_at, o.order_number, o.currency,
                coalesce((select json_agg(json_build_object(
                              'order_line_id', rl.order_line_id, 'sku', l.sku, 'product_name', l.product_name,
                              'quantity', rl.quantity, 'reason', rl.reason, 'disposition', rl.disposition)
                              order by l.position)
                          from return_lines rl join order_lines l using (order_line_id)
                          where rl.return_id = r.return_id), '[]') as "lines!: Json<Vec<LineRow>>"
         from returns r join orders o using (order_id)
         where ($1::uuid is null or r.return_id = $1) and ($2::uuid is null or r.user_id = $2)
           and ($3::text is null or r.status = $3) and ($4::uuid is null or r.return_id < $4)
         order by r.return_id desc limit $5"#,
        f.return_id,
        f.user_id,
        f.status.map(ReturnStatus::as_str),
        f.before,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Units of each line of the order in returns that are still open (requested, approved or
/// received but not refunded yet): promised back, not yet refunded.
pub(super) async fn open_units(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select rl.order_line_id, sum(rl.quantity)::int8 as "units!"
           from return_lines rl join returns r using (return_id)
           where r.order_id = $1 and r.status in ('requested', 'approved', 'received')
           group by rl.order_line_id"#,
        order_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.order_line_id, r.units))
        .collect())
}

/// How many returns the order has had (numbers its next one).
pub(super) async fn count_for_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from returns where order_id = $1"#,
        order_id,
    )
    .fetch_one(conn)
    .await
}

/// Shipping refunded by the order's returns so far.
pub(super) async fn shipping_refunded(
    conn: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select coalesce(sum(shipping_refund), 0)::int8 as "shipping!" from returns where order_id = $1"#,
        order_id,
    )
    .fetch_one(conn)
    .await
}

pub(super) struct NewReturn<'a> {
    pub return_id: Uuid,
    pub number: &'a str,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub note: &'a str,
    pub lines: &'a [(Uuid, i32, ReturnReason)],
}

pub(super) async fn insert(tx: &mut PgConnection, r: NewReturn<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into returns (return_id, number, order_id, user_id, note) values ($1, $2, $3, $4, $5)",
        r.return_id,
        r.number,
        r.order_id,
        r.user_id,
        r.note,
    )
    .execute(&mut *tx)
    .await?;
    let lines: Vec<Uuid> = r.lines.iter().map(|l| l.0).collect();
    let quantities: Vec<i32> = r.lines.iter().map(|l| l.1).collect();
    let reasons: Vec<&str> = r.lines.iter().map(|l| l.2.as_str()).collect();
    sqlx::query!(
        "insert into return_lines (return_id, order_line_id, quantity, reason)
         select $1, t.line, t.quantity, t.reason
         from unnest($2::uuid[], $3::int4[], $4::text[]) as t(line, quantity, reason)",
        r.return_id,
        &lines,
        &quantities,
        &reasons as _,
    )
    .execute(&mut *tx)
    .await
    .map(|_| ())
}

/// Records staff's decision.
pub(super) async fn decide(
    tx: &mut PgConnection,
    return_id: Uuid,
    status: ReturnStatus,
    staff: Uuid,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update returns set status = $2, decided_by = $3, decided_at = now(), decision_note = $4
         where return_id = $1",
        return_id,
        status.as_str(),
        staff,
        note,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Marks the units received, each line with what became of it.
pub(super) async fn receive(
    tx: &mut PgConnection,
    return_id: Uuid,
    staff: Uuid,
    dispositions: &[(Uuid, Disposition)],
) -> Result<(), sqlx::Error> {
    let lines: Vec<Uuid> = dispositions.iter().map(|d| d.0).collect();
    let kinds: Vec<&str> = dispositions.iter().map(|d| d.1.as_str()).collect();
    sqlx::query!(
        "update return_lines rl set disposition = t.disposition
         from unnest($2::uuid[], $3::text[]) as t(line, disposition)
         where rl.return_id = $1 and rl.order_line_id = t.line",
        return_id,
        &lines,
        &kinds as _,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update returns set status = 'received', received_by = $2, received_at = now() where return_id = $1",
        return_id,
        staff,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

pub(super) struct MadeRefund<'a> {
    pub refund_key: &'a str,
    pub amount: i64,
    pub shipping: i64,
    pub adjustment: Option<i64>,
    pub adjustment_reason: Option<&'a str>,
    pub staff: Uuid,
}

/// Marks a received return refunded; `false` when it no longer was received (refunded by a
/// concurrent request).
pub(super) async fn refunded(
    tx: &mut PgConnection,
    return_id: Uuid,
    r: MadeRefund<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update returns set status = 'refunded', refund_key = $2, refund_amount = $3, shipping_refund = $4,
                            adjustment = $5, adjustment_reason = $6, refunded_by = $7, refunded_at = now()
         where return_id = $1 and status = 'received'",
        return_id,
        r.refund_key,
        r.amount,
        r.shipping,
        r.adjustment,
        r.adjustment_reason,
        r.staff,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many of a customer's returns are still under way (requested, approved or received).
pub(super) async fn open_count(tx: &mut PgConnection, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from returns
           where user_id = $1 and status in ('requested', 'approved', 'received')"#,
        user_id,
    )
    .fetch_one(tx)
    .await
}

/// Removes what the customer wrote from their returns (the units and amounts stay).
pub(super) async fn anonymise_customer(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!("update returns set note = '' where user_id = $1", user_id)
        .execute(tx)
        .await?;
    Ok(())
}
