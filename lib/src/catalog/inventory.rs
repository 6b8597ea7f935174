//! Stock levels and the append-only movement ledger.
//!
//! Every change of `stock_on_hand` or `stock_reserved` is a single atomic `UPDATE` guarded in
//! SQL (never read-modify-write in Rust), followed by a ledger row with the resulting levels,
//! in the same transaction. The table's check constraint is the last line of defence.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{events, variants, Catalog, CatalogError, Variant};
use crate::{
    idempotency::{Existing, IdempotencyKey},
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
    sqlx::query(
        "insert into stock_movements (movement_id, variant_id, sku, kind, on_hand_delta, reserved_delta,
                                      on_hand_after, reserved_after, reason, order_id, actor_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(Uuid::now_v7())
    .bind(v.id)
    .bind(&v.sku)
    .bind(kind)
    .bind(on_hand_delta)
    .bind(reserved_delta)
    .bind(v.stock_on_hand)
    .bind(v.stock_reserved)
    .bind(reason)
    .bind(order_id)
    .bind(actor_id)
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
    let row: Option<variants::VariantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update variants set stock_on_hand = stock_on_hand + $2
         where sku = $1 and stock_on_hand + $2 >= stock_reserved and stock_on_hand + $2 <= {max}
         returning {cols}",
        max = variants::MAX_STOCK,
        cols = variants::COLUMNS
    )))
    .bind(sku)
    .bind(delta)
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
            let levels: Option<(i32, i32)> =
                sqlx::query_as("select stock_on_hand, stock_reserved from variants where sku = $1")
                    .bind(&input.sku)
                    .fetch_optional(&mut *tx)
                    .await?;
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
        let movement = latest_movement(&mut tx, variant.id).await?;
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
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from variants where sku = $1)")
                .bind(sku)
                .fetch_one(&self.db)
                .await?;
        if !exists {
            return Err(CatalogError::NotFound("variant"));
        }
        Ok(sqlx::query_as(
            "select m.* from stock_movements m join variants v using (variant_id)
             where v.sku = $1 and ($2::uuid is null or m.movement_id < $2)
             order by m.movement_id desc limit $3",
        )
        .bind(sku)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.db)
        .await?)
    }
}

async fn latest_movement(tx: &mut PgConnection, variant_id: Uuid) -> Result<Movement, sqlx::Error> {
    sqlx::query_as(
        "select * from stock_movements where variant_id = $1 order by movement_id desc limit 1",
    )
    .bind(variant_id)
    .fetch_one(tx)
    .await
}
