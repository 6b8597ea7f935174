//! Fulfilment consistency rules for `tokoctl audit` (read only): a line's shipped units are
//! the units of its shipments, and an order shipped or beyond has nothing left to ship.

use sqlx::PgConnection;

use crate::consistency::{Check, Progress};

#[derive(sqlx::FromRow)]
struct LineUnits {
    order_number: String,
    status: String,
    sku: String,
    quantity: i32,
    shipped_quantity: i32,
    cancelled_quantity: i32,
    in_shipments: i64,
}

pub async fn check_fulfilment(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let lines: Vec<LineUnits> = sqlx::query_as!(
        LineUnits,
        r#"select o.order_number, o.status, l.sku, l.quantity, l.shipped_quantity, l.cancelled_quantity,
                  coalesce((select sum(sl.quantity) from shipment_lines sl
                            where sl.order_line_id = l.order_line_id), 0)::int8 as "in_shipments!"
           from order_lines l join orders o using (order_id)
           where l.shipped_quantity > 0 or l.cancelled_quantity > 0
              or o.status in ('partially_shipped', 'shipped', 'delivered')
              or exists (select 1 from shipment_lines sl where sl.order_line_id = l.order_line_id)
           order by o.order_number, l.sku"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut shipped = Check::new(
        "fulfilment.shipped_matches_shipments",
        "a line's shipped units are the units of its shipments, shipped and cancelled units stay within what was bought, and a shipped or delivered order has nothing left to ship",
    );
    for l in &lines {
        let left = l.quantity - l.shipped_quantity - l.cancelled_quantity;
        let done = matches!(l.status.as_str(), "shipped" | "delivered");
        shipped.expect(
            i64::from(l.shipped_quantity) == l.in_shipments && left >= 0 && (!done || left == 0),
            || {
                format!(
                    "order {} ({}) line {}: bought {}, shipped {} (in shipments {}), cancelled {}",
                    l.order_number,
                    l.status,
                    l.sku,
                    l.quantity,
                    l.shipped_quantity,
                    l.in_shipments,
                    l.cancelled_quantity
                )
            },
        );
    }
    progress("fulfilment", lines.len() as u64, lines.len() as u64);
    Ok(vec![shipped])
}
