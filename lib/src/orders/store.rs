//! SQL for `orders`, `order_lines` and `order_history`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Address, HistoryEntry, Order, OrderId, OrderLine, OrderNumber, OrderStatus};
use crate::{
    catalog::{ProductId, Sku, VariantId},
    promotions::OrderPromotion,
};

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: OrderId,
    order_number: OrderNumber,
    user_id: Uuid,
    status: String,
    currency: String,
    subtotal: i64,
    shipping_fee: i64,
    discount_total: i64,
    shipping_discount: i64,
    grand_total: i64,
    refunded_amount: i64,
    prices_include_tax: bool,
    shipping_tax: i64,
    shipping_tax_rate_bp: i32,
    tax_total: i64,
    shipping_method: String,
    shipping_address: Json<Address>,
    note: Option<String>,
    customer_email: String,
    customer_name: String,
    tracking_number: Option<String>,
    payment_due_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    lines: Json<Vec<LineRow>>,
    promotions: Json<Vec<OrderPromotion>>,
}

#[derive(serde::Deserialize)]
struct LineRow {
    order_line_id: Uuid,
    variant_id: VariantId,
    product_id: ProductId,
    product_name: String,
    sku: Sku,
    variant_options: BTreeMap<String, String>,
    unit_price: i64,
    quantity: i32,
    line_total: i64,
    discount: i64,
    returned_quantity: i32,
    shipped_quantity: i32,
    cancelled_quantity: i32,
    tax_class: String,
    tax_rate_bp: i32,
    tax: i64,
}

impl From<OrderRow> for Order {
    fn from(r: OrderRow) -> Self {
        Self {
            id: r.order_id,
            number: r.order_number,
            user_id: r.user_id,
            // The column's check constraint admits only known statuses.
            status: OrderStatus::parse(&r.status).unwrap_or(OrderStatus::PendingPayment),
            currency: r.currency,
            subtotal: r.subtotal,
            shipping_fee: r.shipping_fee,
            discount_total: r.discount_total,
            shipping_discount: r.shipping_discount,
            grand_total: r.grand_total,
            refunded_amount: r.refunded_amount,
            prices_include_tax: r.prices_include_tax,
            shipping_tax: r.shipping_tax,
            shipping_tax_rate_bp: r.shipping_tax_rate_bp,
            tax_total: r.tax_total,
            shipping_method: r.shipping_method,
            shipping_address: r.shipping_address.0,
            note: r.note,
            customer_email: r.customer_email,
            customer_name: r.customer_name,
            tracking_number: r.tracking_number,
            payment_due_at: r.payment_due_at,
            paid_at: r.paid_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            lines: r
                .lines
                .0
                .into_iter()
                .map(|l| OrderLine {
                    id: l.order_line_id,
                    variant_id: l.variant_id,
                    product_id: l.product_id,
                    product_name: l.product_name,
                    sku: l.sku,
                    options: l.variant_options,
                    unit_price: l.unit_price,
                    quantity: l.quantity,
                    line_total: l.line_total,
                    discount: l.discount,
                    returned_quantity: l.returned_quantity,
                    shipped_quantity: l.shipped_quantity,
                    cancelled_quantity: l.cancelled_quantity,
                    tax_class: l.tax_class,
                    tax_rate_bp: l.tax_rate_bp,
                    tax: l.tax,
                    tax_included: r.prices_include_tax,
                })
                .collect(),
            promotions: r.promotions.0,
        }
    }
}

pub(super) async fn load(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Order>, sqlx::Error> {
    let row = sqlx::query_as!(
        OrderRow,
        r#"select o.order_id as "order_id: OrderId", o.order_number as "order_number: OrderNumber",
                  o.user_id, o.status, o.currency, o.subtotal, o.shipping_fee, o.discount_total, o.shipping_discount, o.grand_total,
                  o.refunded_amount, o.shipping_method,
                  o.shipping_address as "shipping_address: Json<Address>", o.note,
                  o.customer_email, o.customer_name, o.tracking_number, o.payment_due_at,
                  o.paid_at, o.created_at, o.updated_at, o.prices_include_tax, o.shipping_tax,
                  o.shipping_tax_rate_bp, o.tax_total,
                  coalesce((select json_agg(l order by l.position) from order_lines l
                            where l.order_id = o.order_id), '[]') as "lines!: Json<Vec<LineRow>>",
                  coalesce((select json_agg(json_build_object('promotion_id', r.promotion_id, 'code', r.code, 'name', r.name,
                                                              'lines_discount', r.lines_discount,
                                                              'shipping_discount', r.shipping_discount,
                                                              'released_at', r.released_at) order by r.position)
                            from promotion_redemptions r where r.order_id = o.order_id), '[]')
                    as "promotions!: Json<Vec<OrderPromotion>>"
           from orders o
           where o.order_id = $1"#,
        order_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// Locks an order for a transition and returns its status and refunded amount.
pub(super) async fn lock_status(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<(OrderStatus, i64)>, sqlx::Error> {
    let row = sqlx::query!(
        "select status, refunded_amount from orders where order_id = $1 for update",
        order_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.and_then(|r| Some((OrderStatus::parse(&r.status)?, r.refunded_amount))))
}

#[derive(Default)]
pub(super) struct ListFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    pub customer_email: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

/// Orders newest first (UUIDv7 ids sort by creation), keyset-paginated by id.
pub(super) async fn list(
    db: &PgPool,
    f: &ListFilter,
    before: Option<OrderId>,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    // The filters make the statement: built at runtime (the same columns as `load`'s).
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "select o.*, coalesce((select json_agg(l order by l.position) from order_lines l where l.order_id = o.order_id), '[]') as lines,
                coalesce((select json_agg(json_build_object('promotion_id', r.promotion_id, 'code', r.code, 'name', r.name,
                                                            'lines_discount', r.lines_discount,
                                                            'shipping_discount', r.shipping_discount,
                                                            'released_at', r.released_at) order by r.position)
                          from promotion_redemptions r where r.order_id = o.order_id), '[]') as promotions
         from orders o",
    );
    q.push(" where true");
    if let Some(user_id) = f.user_id {
        q.push(" and o.user_id = ").push_bind(user_id);
    }
    if let Some(status) = f.status {
        q.push(" and o.status = ").push_bind(status.as_str());
    }
    if let Some(email) = &f.customer_email {
        q.push(" and o.customer_email = lower(")
            .push_bind(email.trim().to_owned())
            .push(")");
    }
    if let Some(from) = f.created_from {
        q.push(" and o.created_at >= ").push_bind(from);
    }
    if let Some(to) = f.created_to {
        q.push(" and o.created_at < ").push_bind(to);
    }
    if let Some(before) = before {
        q.push(" and o.order_id < ").push_bind(before);
    }
    q.push(" order by o.order_id desc limit ").push_bind(limit);
    let rows: Vec<OrderRow> = q.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    from_status: Option<String>,
    to_status: String,
    actor: String,
    reason: String,
    created_at: DateTime<Utc>,
    kind: String,
    actor_name: Option<String>,
}

pub(super) async fn history(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let rows: Vec<HistoryRow> = sqlx::query_as!(
        HistoryRow,
        r#"select h.from_status, h.to_status, h.actor, h.reason, h.created_at, h.kind, u.name as "actor_name?"
         from order_history h
         left join users u on u.user_id = case when h.actor like 'admin:%' or h.actor like 'customer:%'
                                               then split_part(h.actor, ':', 2)::uuid end
         where h.order_id = $1 order by h.history_id"#,
        order_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(HistoryEntry {
                from: r.from_status.as_deref().and_then(OrderStatus::parse),
                to: OrderStatus::parse(&r.to_status)?,
                actor: r.actor,
                reason: r.reason,
                at: r.created_at,
                note: r.kind == "note",
                actor_name: r.actor_name,
            })
        })
        .collect())
}

/// A note in the history that leaves the status as it is (`from` = `to` = `status`).
pub(super) async fn insert_note(
    tx: &mut PgConnection,
    order_id: Uuid,
    status: OrderStatus,
    actor: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into order_history (history_id, order_id, from_status, to_status, actor, reason, kind)
         values ($1, $2, $3, $3, $4, $5, 'note')",
        Uuid::now_v7(),
        order_id,
        status.as_str(),
        actor,
        reason,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

pub(super) async fn insert_history(
    tx: &mut PgConnection,
    order_id: Uuid,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into order_history (history_id, order_id, from_status, to_status, actor, reason)
         values ($1, $2, $3, $4, $5, $6)",
        Uuid::now_v7(),
        order_id,
        from.map(OrderStatus::as_str),
        to.as_str(),
        actor,
        reason,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// The order's lines as (variant, quantity), for stock bookkeeping; cancelled units were
/// restocked when they were cancelled and are left out.
pub(super) async fn line_quantities(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<(VariantId, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select variant_id, quantity - cancelled_quantity as "quantity!" from order_lines
           where order_id = $1 and quantity > cancelled_quantity order by variant_id"#,
        order_id,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.variant_id.into(), r.quantity))
        .collect())
}

pub(super) async fn has_ordered(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from orders where user_id = $1 and status not in ('cancelled', 'expired')) as "exists!""#,
        user_id,
    )
    .fetch_one(conn)
    .await
}

/// When the order last moved into `delivered`.
pub(super) async fn delivered_at(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "select max(created_at) from order_history
         where order_id = $1 and to_status = 'delivered' and kind = 'transition'",
        order_id,
    )
    .fetch_one(conn)
    .await
}

/// Adds units received back to the order's lines; the table's check keeps each line's
/// returned units within what was bought.
pub(super) async fn add_returned_units(
    tx: &mut PgConnection,
    order_id: Uuid,
    units: &[(Uuid, i32)],
) -> Result<(), sqlx::Error> {
    let (lines, quantities): (Vec<Uuid>, Vec<i32>) = units.iter().copied().unzip();
    sqlx::query!(
        "update order_lines l set returned_quantity = l.returned_quantity + u.quantity
         from unnest($2::uuid[], $3::int4[]) as u(order_line_id, quantity)
         where l.order_id = $1 and l.order_line_id = u.order_line_id",
        order_id,
        &lines,
        &quantities,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Counts units of the order's lines as shipped and cancelled (line, shipped, cancelled); the
/// table's check keeps each line's shipped and cancelled units within what was bought.
pub(super) async fn add_fulfilled_units(
    tx: &mut PgConnection,
    order_id: Uuid,
    units: &[(Uuid, i32, i32)],
) -> Result<(), sqlx::Error> {
    let lines: Vec<Uuid> = units.iter().map(|u| u.0).collect();
    let shipped: Vec<i32> = units.iter().map(|u| u.1).collect();
    let cancelled: Vec<i32> = units.iter().map(|u| u.2).collect();
    sqlx::query!(
        "update order_lines l set shipped_quantity = l.shipped_quantity + u.shipped,
                                  cancelled_quantity = l.cancelled_quantity + u.cancelled
         from unnest($2::uuid[], $3::int4[], $4::int4[]) as u(order_line_id, shipped, cancelled)
         where l.order_id = $1 and l.order_line_id = u.order_line_id",
        order_id,
        &lines,
        &shipped,
        &cancelled,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// The numbers of a customer's orders still on their way: awaiting payment, paid, or being
/// prepared or shipped.
pub(super) async fn open_numbers(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select order_number from orders
         where user_id = $1
           and status in ('pending_payment', 'paid', 'processing', 'partially_shipped', 'shipped')
         order by order_id",
        user_id,
    )
    .fetch_all(tx)
    .await
}

/// Removes the customer's personal data from their orders, keeping what accounting needs
/// (amounts, lines, the region shipped to). Returns how many orders changed.
pub(super) async fn anonymise_customer(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"update orders
           set customer_email = '', customer_name = '', note = null,
               shipping_address = shipping_address
                   || '{"recipient_name": "", "phone": "", "line1": "", "line2": null}'::jsonb,
               updated_at = now()
           where user_id = $1"#,
        user_id,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}
