//! Stock levels and the append-only movement ledger: the one place that changes them.
//!
//! Every change of `stock_on_hand` or `stock_reserved` is a single atomic `UPDATE` guarded in
//! SQL (never read-modify-write in Rust), followed by a ledger row with the resulting levels
//! and a `stock.changed` event, in the same transaction. The table's check constraint is the
//! last line of defence. Staff adjust stock ([`Catalog::adjust_stock`]); orders reserve it at
//! checkout, commit it at payment, release it on cancellation or expiry and restock it when a
//! paid order is cancelled ([`apply_to_order`]: one set-based update over the order's lines,
//! rows locked in variant-id order so that concurrent orders never deadlock).

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use sqlx::{types::Json, PgConnection};
use uuid::Uuid;

use super::{
    events, events::StockChanged, variants, Catalog, CatalogError, Sku, Variant, VariantId,
};
use crate::{
    events::Event,
    idempotency::{Existing, IdempotencyKey},
    outbox,
    validation::ValidationErrors,
};

/// One ledger row.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct Movement {
    pub movement_id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    pub kind: String,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    pub on_hand_after: i32,
    pub reserved_after: i32,
    pub reason: String,
    pub order_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub struct Adjustment {
    pub sku: String,
    pub delta: i32,
    pub reason: String,
}

/// What an adjustment did (and what a repeated idempotency key replays).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AdjustmentReceipt {
    pub variant: Variant,
    pub movement: Movement,
}

/// Appends a movement with the variant's levels after the change.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    tx: &mut PgConnection,
    v: &Variant,
    kind: &str,
    on_hand_delta: i32,
    reserved_delta: i32,
    reason: &str,
    order_id: Option<Uuid>,
    actor_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into stock_movements (movement_id, variant_id, sku, kind, on_hand_delta, reserved_delta,
                                      on_hand_after, reserved_after, reason, order_id, actor_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        Uuid::now_v7(),
        v.id.as_uuid(),
        v.sku.as_str(),
        kind,
        on_hand_delta,
        reserved_delta,
        v.stock_on_hand,
        v.stock_reserved,
        reason,
        order_id,
        actor_id,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Moves `stock_on_hand` by `delta` unless it would fall below what is reserved; `None` when
/// the guard refused (the caller reads the levels to explain why).
pub(crate) async fn shift_on_hand(
    tx: &mut PgConnection,
    sku: &str,
    delta: i32,
) -> Result<Option<Variant>, sqlx::Error> {
    let row = sqlx::query_as!(
        variants::VariantRow,
        r#"update variants set stock_on_hand = stock_on_hand + $2
         where sku = $1 and stock_on_hand + $2 >= stock_reserved and stock_on_hand + $2 <= $3
         returning variant_id, product_id, sku as "sku: Sku",
                   options as "options: Json<BTreeMap<String, String>>", price, compare_at_price,
                   weight_grams, stock_on_hand, stock_reserved, position, created_at, updated_at"#,
        sku,
        delta,
        variants::MAX_STOCK,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(Into::into))
}

impl Catalog {
    /// Applies a manual stock adjustment atomically and records it in the ledger. With an
    /// idempotency key, the adjustment and its replayable receipt commit together.
    pub async fn adjust_stock(
        &self,
        input: Adjustment,
        actor: Option<Uuid>,
        key: Option<&IdempotencyKey>,
    ) -> Result<AdjustmentReceipt, CatalogError> {
        let reason = input.reason.trim().to_owned();
        let mut errors = ValidationErrors::new();
        errors.check(input.delta != 0, "delta", "must not be 0");
        errors.check(
            input.delta.unsigned_abs() <= variants::MAX_STOCK as u32,
            "delta",
            "is too large",
        );
        errors.length("reason", &reason, 1, 500);
        errors.finish()?;

        let mut tx = self.db.begin().await?;
        if let Some(key) = key {
            if !key.try_claim(&mut tx).await? {
                tx.rollback().await?;
                return match key.await_existing(&self.db).await? {
                    Existing::Completed(receipt) => Ok(receipt),
                    // The first attempt rolled back: this one is a fresh request.
                    Existing::Vanished | Existing::Stale { .. } => {
                        Box::pin(self.adjust_stock(input, actor, Some(key))).await
                    }
                };
            }
        }
        let Some(variant) = shift_on_hand(&mut tx, &input.sku, input.delta).await? else {
            let levels = sqlx::query!(
                "select stock_on_hand, stock_reserved from variants where sku = $1",
                &input.sku,
            )
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| (r.stock_on_hand, r.stock_reserved));
            return Err(match levels {
                None => CatalogError::NotFound("variant"),
                Some((on_hand, reserved)) if on_hand + input.delta < reserved => {
                    CatalogError::BelowReserved { on_hand, reserved }
                }
                Some(_) => {
                    ValidationErrors::single("delta", "stock on hand would exceed the maximum")
                        .into()
                }
            });
        };
        record(
            &mut tx,
            &variant,
            "adjustment",
            input.delta,
            0,
            &reason,
            None,
            actor,
        )
        .await?;
        events::stock(&mut tx, &variant, "adjustment").await?;
        let movement = latest_movement(&mut tx, variant.id.as_uuid()).await?;
        let receipt = AdjustmentReceipt { variant, movement };
        if let Some(key) = key {
            key.complete_in(&mut tx, &receipt).await?;
        }
        tx.commit().await?;
        Ok(receipt)
    }

    /// The ledger of one SKU, newest first; `before` is the last movement id of the previous page.
    pub async fn movements(
        &self,
        sku: &str,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Movement>, CatalogError> {
        let exists = sqlx::query_scalar!(
            r#"select exists(select 1 from variants where sku = $1) as "exists!""#,
            sku,
        )
        .fetch_one(&self.db)
        .await?;
        if !exists {
            return Err(CatalogError::NotFound("variant"));
        }
        Ok(sqlx::query_as!(
            Movement,
            "select m.movement_id, m.variant_id, m.sku, m.kind, m.on_hand_delta, m.reserved_delta,
                    m.on_hand_after, m.reserved_after, m.reason, m.order_id, m.actor_id,
                    m.created_at
             from stock_movements m join variants v using (variant_id)
             where v.sku = $1 and ($2::uuid is null or m.movement_id < $2)
             order by m.movement_id desc limit $3",
            sku,
            before,
            limit,
        )
        .fetch_all(&self.db)
        .await?)
    }
}

async fn latest_movement(tx: &mut PgConnection, variant_id: Uuid) -> Result<Movement, sqlx::Error> {
    sqlx::query_as!(
        Movement,
        "select movement_id, variant_id, sku, kind, on_hand_delta, reserved_delta, on_hand_after,
                reserved_after, reason, order_id, actor_id, created_at
         from stock_movements where variant_id = $1 order by movement_id desc limit 1",
        variant_id,
    )
    .fetch_one(tx)
    .await
}

/// A stock operation and its effect per unit on (on hand, reserved).
#[derive(Debug, Clone, Copy)]
pub enum StockOp {
    Reserve,
    Commit,
    Release,
    Restock,
    /// Units a customer sent back, received in sellable condition (returns).
    Return,
}

impl StockOp {
    fn deltas(self) -> (i32, i32) {
        match self {
            StockOp::Reserve => (0, 1),
            StockOp::Commit => (-1, -1),
            StockOp::Release => (0, -1),
            StockOp::Restock | StockOp::Return => (1, 0),
        }
    }
    fn kind(self) -> &'static str {
        match self {
            StockOp::Reserve => "reservation",
            StockOp::Commit => "commit",
            StockOp::Release => "release",
            StockOp::Restock => "restock",
            StockOp::Return => "return",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Changed {
    variant_id: Uuid,
    product_id: Uuid,
    sku: Sku,
    stock_on_hand: i32,
    stock_reserved: i32,
    qty: i32,
}

/// Applies `op` to every `(variant, quantity)` line of order `order_id`. Returns the variants the guard refused
/// (for a reservation: not enough available); the caller must roll back when any are.
pub(crate) async fn apply_to_order(
    tx: &mut PgConnection,
    order_id: Uuid,
    op: StockOp,
    lines: &[(VariantId, i32)],
) -> Result<Vec<VariantId>, sqlx::Error> {
    let (ids, qtys): (Vec<Uuid>, Vec<i32>) = lines.iter().map(|&(id, q)| (id.as_uuid(), q)).unzip();
    sqlx::query!(
        "select 1 as one from variants where variant_id = any($1) order by variant_id for update",
        &ids,
    )
    .fetch_all(&mut *tx)
    .await?;
    let (on_hand_sign, reserved_sign) = op.deltas();
    let changed = sqlx::query_as!(
        Changed,
        r#"update variants v set
             stock_on_hand = v.stock_on_hand + $3 * l.qty,
             stock_reserved = v.stock_reserved + $4 * l.qty
         from unnest($1::uuid[], $2::int4[]) as l(variant_id, qty)
         where v.variant_id = l.variant_id
           and v.stock_reserved + $4 * l.qty >= 0
           and v.stock_on_hand + $3 * l.qty >= v.stock_reserved + $4 * l.qty
         returning v.variant_id, v.product_id, v.sku as "sku: Sku", v.stock_on_hand, v.stock_reserved,
                   l.qty as "qty!""#,
        &ids,
        &qtys,
        on_hand_sign,
        reserved_sign,
    )
    .fetch_all(&mut *tx)
    .await?;
    let refused: Vec<VariantId> = ids
        .iter()
        .filter(|id| !changed.iter().any(|c| c.variant_id == **id))
        .map(|&id| VariantId::from(id))
        .collect();
    if !refused.is_empty() {
        return Ok(refused);
    }
    record_order_changes(tx, order_id, op, &changed).await?;
    Ok(Vec::new())
}

async fn record_order_changes(
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
    sqlx::query!(
        "insert into stock_movements (movement_id, variant_id, sku, kind, on_hand_delta, reserved_delta,
                                      on_hand_after, reserved_after, order_id)
         select m, v, s, $8, od, rd, oa, ra, $9
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::int4[], $6::int4[], $7::int4[])
              as t(m, v, s, od, rd, oa, ra)",
        &movement_ids,
        &variant_ids,
        &skus as _,
        &on_hand_deltas,
        &reserved_deltas,
        &on_hand_after,
        &reserved_after,
        op.kind(),
        order_id,
    )
    .execute(&mut *tx)
    .await?;
    let events = changed
        .iter()
        .map(|c| {
            Event::StockChanged(StockChanged {
                variant_id: c.variant_id.into(),
                product_id: c.product_id.into(),
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
