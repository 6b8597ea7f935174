//! The outbox events the catalog writes. Payloads carry ids and the facts consumers filter on;
//! consumers that need the full document (the search indexer) read it from the database, so
//! a late or replayed event never applies stale data.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Product, Variant};
use crate::outbox::{self, NewEvent};

pub const PRODUCT_CREATED: &str = "product.created";
pub const PRODUCT_UPDATED: &str = "product.updated";
pub const PRODUCT_ARCHIVED: &str = "product.archived";
pub const PRODUCT_DELETED: &str = "product.deleted";
pub const VARIANT_CREATED: &str = "variant.created";
pub const VARIANT_UPDATED: &str = "variant.updated";
pub const VARIANT_DELETED: &str = "variant.deleted";
pub const STOCK_CHANGED: &str = "stock.changed";
pub const CATEGORY_CHANGED: &str = "category.changed";

#[derive(Serialize)]
pub struct ProductPayload<'a> {
    pub product_id: Uuid,
    pub slug: &'a str,
    pub status: &'a str,
    pub category_id: Uuid,
}

#[derive(Serialize)]
pub struct VariantPayload<'a> {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub sku: &'a str,
    pub price: i64,
}

#[derive(Serialize)]
pub struct StockPayload<'a> {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub sku: &'a str,
    pub stock_on_hand: i32,
    pub stock_reserved: i32,
    pub available: i32,
    /// The ledger kind that caused the change (`adjustment`, `reservation`, ...).
    pub kind: &'a str,
}

pub async fn product(
    tx: &mut PgConnection,
    event_type: &'static str,
    p: &Product,
) -> Result<(), sqlx::Error> {
    let payload = ProductPayload {
        product_id: p.id,
        slug: &p.slug,
        status: p.status.as_db(),
        category_id: p.category.id,
    };
    outbox::enqueue(tx, NewEvent::new(event_type, "product", p.id, payload))
        .await
        .map(|_| ())
}

pub async fn variant(
    tx: &mut PgConnection,
    event_type: &'static str,
    v: &Variant,
) -> Result<(), sqlx::Error> {
    let payload = VariantPayload {
        variant_id: v.id,
        product_id: v.product_id,
        sku: &v.sku,
        price: v.price,
    };
    outbox::enqueue(
        tx,
        NewEvent::new(event_type, "product", v.product_id, payload),
    )
    .await
    .map(|_| ())
}

pub async fn stock(tx: &mut PgConnection, v: &Variant, kind: &str) -> Result<(), sqlx::Error> {
    let payload = StockPayload {
        variant_id: v.id,
        product_id: v.product_id,
        sku: &v.sku,
        stock_on_hand: v.stock_on_hand,
        stock_reserved: v.stock_reserved,
        available: v.available(),
        kind,
    };
    outbox::enqueue(
        tx,
        NewEvent::new(STOCK_CHANGED, "product", v.product_id, payload),
    )
    .await
    .map(|_| ())
}

pub async fn category(
    tx: &mut PgConnection,
    category_id: Uuid,
    change: &str,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::json!({ "category_id": category_id, "change": change });
    outbox::enqueue(
        tx,
        NewEvent::new(CATEGORY_CHANGED, "category", category_id, payload),
    )
    .await
    .map(|_| ())
}
