//! Stock bookkeeping of orders: reserve at checkout, commit at payment, release on
//! cancellation or expiry, restock when a paid order is cancelled. Each is one guarded,
//! set-based `UPDATE` over the order's lines (rows locked in variant-id order, so concurrent
//! orders never deadlock), plus ledger rows and `stock.changed` events in the same transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{catalog::events::StockChanged, events::Event, outbox};

/// A stock operation and its effect per unit on (on hand, reserved).
#[derive(Debug, Clone, Copy)]
pub(super) enum StockOp {
    Reserve,
    Commit,
    Release,
    Restock,
}

impl StockOp {
    fn deltas(self) -> (i32, i32) {
        match self {
            StockOp::Reserve => (0, 1),
            StockOp::Commit => (-1, -1),
            StockOp::Release => (0, -1),
            StockOp::Restock => (1, 0),
        }
    }
    fn kind(self) -> &'static str {
        match self {
            StockOp::Reserve => "reservation",
            StockOp::Commit => "commit",
            StockOp::Release => "release",
            StockOp::Restock => "restock",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Changed {
    variant_id: Uuid,
    product_id: Uuid,
    sku: String,
    stock_on_hand: i32,
    stock_reserved: i32,
    qty: i32,
}

/// Applies `op` to every `(variant, quantity)` line. Returns the variants the guard refused
/// (for a reservation: not enough available); the caller must roll back when any are.
pub(super) async fn apply(
    tx: &mut PgConnection,
    order_id: Uuid,
    op: StockOp,
    lines: &[(Uuid, i32)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let (ids, qtys): (Vec<Uuid>, Vec<i32>) = lines.iter().copied().unzip();
    sqlx::query("select 1 from variants where variant_id = any($1) order by variant_id for update")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let (on_hand_sign, reserved_sign) = op.deltas();
    let changed: Vec<Changed> = sqlx::query_as(
        "update variants v set
             stock_on_hand = v.stock_on_hand + $3 * l.qty,
             stock_reserved = v.stock_reserved + $4 * l.qty
         from unnest($1::uuid[], $2::int4[]) as l(variant_id, qty)
         where v.variant_id = l.variant_id
           and v.stock_reserved + $4 * l.qty >= 0
           and v.stock_on_hand + $3 * l.qty >= v.stock_reserved + $4 * l.qty
         returning v.variant_id, v.product_id, v.sku, v.stock_on_hand, v.stock_reserved, l.qty",
    )
    .bind(&ids)
    .bind(&qtys)
    .bind(on_hand_sign)
    .bind(reserved_sign)
    .fetch_all(&mut *tx)
    .await?;
    let refused: Vec<Uuid> = ids
        .iter()
        .filter(|id| !changed.iter().any(|c| c.variant_id == **id))
        .copied()
        .collect();
    if !refused.is_empty() {
        return Ok(refused);
    }
    record(tx, order_id, op, &changed).await?;
    Ok(Vec::new())
}

async fn record(
    tx: &mut PgConnection,
    order_id: Uuid,
    op: StockOp,
    changed: &[Changed],
) -> Result<(), sqlx::Error> {
    let (on_hand_sign, reserved_sign) = op.deltas();
    let movement_ids: Vec<Uuid> = changed.iter().map(|_| Uuid::now_v7()).collect();
    let variant_ids: Vec<Uuid> = changed.iter().map(|c| c.variant_id).collect();
    let skus: Vec<&str> = changed.iter().map(|c| c.sku.as_str()).collect();
    let on_hand_deltas: Vec<i32> = changed.iter().map(|c| on_hand_sign * c.qty).collect();
    let reserved_deltas: Vec<i32> = changed.iter().map(|c| reserved_sign * c.qty).collect();
    let on_hand_after: Vec<i32> = changed.iter().map(|c| c.stock_on_hand).collect();
    let reserved_after: Vec<i32> = changed.iter().map(|c| c.stock_reserved).collect();
    sqlx::query(
        "insert into stock_movements (movement_id, variant_id, sku, kind, on_hand_delta, reserved_delta,
                                      on_hand_after, reserved_after, order_id)
         select m, v, s, $8, od, rd, oa, ra, $9
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::int4[], $6::int4[], $7::int4[])
              as t(m, v, s, od, rd, oa, ra)",
    )
    .bind(&movement_ids)
    .bind(&variant_ids)
    .bind(&skus)
    .bind(&on_hand_deltas)
    .bind(&reserved_deltas)
    .bind(&on_hand_after)
    .bind(&reserved_after)
    .bind(op.kind())
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    let events = changed
        .iter()
        .map(|c| {
            Event::StockChanged(StockChanged {
                variant_id: c.variant_id,
                product_id: c.product_id,
                sku: c.sku.clone(),
                stock_on_hand: c.stock_on_hand,
                stock_reserved: c.stock_reserved,
                available: c.stock_on_hand - c.stock_reserved,
                kind: op.kind().to_owned(),
            })
        })
        .collect();
    outbox::enqueue_many(tx, events).await
}
