//! SQL for `shipments` and `shipment_lines`.

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Shipment, ShipmentLine, ShipmentStatus};

#[derive(sqlx::FromRow)]
struct ShipmentRow {
    shipment_id: Uuid,
    order_id: Uuid,
    carrier: String,
    tracking_number: String,
    status: String,
    created_by: String,
    shipped_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    lines: Json<Vec<ShipmentLine>>,
}

impl From<ShipmentRow> for Shipment {
    fn from(r: ShipmentRow) -> Self {
        Self {
            id: r.shipment_id,
            order_id: r.order_id,
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            // The column's check constraint admits only these two.
            status: if r.status == "delivered" {
                ShipmentStatus::Delivered
            } else {
                ShipmentStatus::Shipped
            },
            created_by: r.created_by,
            shipped_at: r.shipped_at,
            delivered_at: r.delivered_at,
            lines: r.lines.0,
        }
    }
}

/// An order's shipments, oldest first; only `shipment_id` when given.
pub(super) async fn list(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
    shipment_id: Option<Uuid>,
) -> Result<Vec<Shipment>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ShipmentRow,
        r#"select s.shipment_id, s.order_id, s.carrier, s.tracking_number, s.status, s.created_by,
                  s.shipped_at, s.delivered_at,
                  coalesce((select json_agg(json_build_object('order_line_id', sl.order_line_id,
                                                              'sku', l.sku,
                                                              'product_name', l.product_name,
                                                              'quantity', sl.quantity)
                                            order by l.position)
                            from shipment_lines sl join order_lines l using (order_line_id)
                            where sl.shipment_id = s.shipment_id), '[]') as "lines!: Json<Vec<ShipmentLine>>"
           from shipments s
           where s.order_id = $1 and ($2::uuid is null or s.shipment_id = $2)
           order by s.shipped_at, s.shipment_id"#,
        order_id,
        shipment_id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Records a shipment of `units` (order line, quantity).
pub(super) async fn insert(
    tx: &mut PgConnection,
    shipment_id: Uuid,
    order_id: Uuid,
    carrier: &str,
    tracking_number: &str,
    created_by: &str,
    units: &[(Uuid, i32)],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into shipments (shipment_id, order_id, carrier, tracking_number, created_by)
         values ($1, $2, $3, $4, $5)",
        shipment_id,
        order_id,
        carrier,
        tracking_number,
        created_by,
    )
    .execute(&mut *tx)
    .await?;
    let (lines, quantities): (Vec<Uuid>, Vec<i32>) = units.iter().copied().unzip();
    sqlx::query!(
        "insert into shipment_lines (shipment_id, order_line_id, quantity)
         select $1, u.order_line_id, u.quantity from unnest($2::uuid[], $3::int4[]) as u(order_line_id, quantity)",
        shipment_id,
        &lines,
        &quantities,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a shipment delivered; `false` when it already was.
pub(super) async fn mark_delivered(
    tx: &mut PgConnection,
    shipment_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update shipments set status = 'delivered', delivered_at = now()
         where shipment_id = $1 and status = 'shipped'",
        shipment_id,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the order has shipments and every one of them was delivered, and the latest
/// shipment's tracking number.
pub(super) async fn progress(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<(bool, Option<String>), sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) > 0 and bool_and(status = 'delivered') as "all_delivered!",
                  (array_agg(tracking_number order by shipped_at desc, shipment_id desc))[1] as latest_tracking
           from shipments where order_id = $1"#,
        order_id,
    )
    .fetch_one(tx)
    .await?;
    Ok((row.all_delivered, row.latest_tracking))
}

pub(super) async fn order_exists(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from orders where order_id = $1) as "exists!""#,
        order_id,
    )
    .fetch_one(db)
    .await
}
