//! The payloads of the catalog's events and the functions that write them. Payloads carry ids
//! and the facts consumers filter on; consumers that need the full document (the search
//! indexer) read it from the database, so a late or replayed event never applies stale data.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{CategoryId, Product, ProductId, Sku, Variant, VariantId};
use crate::{
    events::{Event, Payload},
    outbox,
};

/// A product was created, updated, archived or deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProductEvent {
    pub product_id: ProductId,
    pub slug: String,
    /// `draft`, `active` or `archived`.
    pub status: String,
    pub category_id: CategoryId,
}

impl Payload for ProductEvent {
    fn aggregate_id(&self) -> Uuid {
        self.product_id.as_uuid()
    }
}

/// A variant was created, updated or deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VariantEvent {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub sku: Sku,
    /// Unit price in minor units of the shop's currency.
    pub price: i64,
}

impl Payload for VariantEvent {
    fn aggregate_id(&self) -> Uuid {
        self.product_id.as_uuid()
    }
}

/// A variant's stock after a change.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StockChanged {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub sku: Sku,
    pub stock_on_hand: i32,
    pub stock_reserved: i32,
    /// On hand minus reserved: what customers can still buy.
    pub available: i32,
    /// The ledger kind that caused the change (`adjustment`, `reservation`, ...).
    pub kind: String,
}

impl StockChanged {
    pub fn of(v: &Variant, kind: &str) -> Self {
        Self {
            variant_id: v.id,
            product_id: v.product_id,
            sku: v.sku.clone(),
            stock_on_hand: v.stock_on_hand,
            stock_reserved: v.stock_reserved,
            available: v.available(),
            kind: kind.to_owned(),
        }
    }
}

impl Payload for StockChanged {
    fn aggregate_id(&self) -> Uuid {
        self.product_id.as_uuid()
    }
}

/// A category was created, updated or deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CategoryChanged {
    pub category_id: CategoryId,
    pub change: CategoryChange,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CategoryChange {
    Created,
    Updated,
    Deleted,
}

impl Payload for CategoryChanged {
    fn aggregate_id(&self) -> Uuid {
        self.category_id.as_uuid()
    }
}

/// Writes a product event: `kind` is one of `Event::Product*`.
pub async fn product(
    tx: &mut PgConnection,
    kind: fn(ProductEvent) -> Event,
    p: &Product,
) -> Result<(), sqlx::Error> {
    let payload = ProductEvent {
        product_id: p.id,
        slug: p.slug.clone(),
        status: p.status.as_db().to_owned(),
        category_id: p.category.id,
    };
    outbox::enqueue(tx, kind(payload)).await.map(|_| ())
}

/// Writes a variant event: `kind` is one of `Event::Variant*`.
pub async fn variant(
    tx: &mut PgConnection,
    kind: fn(VariantEvent) -> Event,
    v: &Variant,
) -> Result<(), sqlx::Error> {
    let payload = VariantEvent {
        variant_id: v.id,
        product_id: v.product_id,
        sku: v.sku.clone(),
        price: v.price,
    };
    outbox::enqueue(tx, kind(payload)).await.map(|_| ())
}

pub async fn stock(tx: &mut PgConnection, v: &Variant, kind: &str) -> Result<(), sqlx::Error> {
    outbox::enqueue(tx, Event::StockChanged(StockChanged::of(v, kind)))
        .await
        .map(|_| ())
}

pub async fn category(
    tx: &mut PgConnection,
    category_id: Uuid,
    change: CategoryChange,
) -> Result<(), sqlx::Error> {
    let payload = CategoryChanged {
        category_id: category_id.into(),
        change,
    };
    outbox::enqueue(tx, Event::CategoryChanged(payload))
        .await
        .map(|_| ())
}
