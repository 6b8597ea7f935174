//! The catalog: categories (a tree), products with variants, stock levels and the stock
//! movement ledger, bulk import and the demo seed.
//!
//! [`Catalog`] is the service; each file owns one table family and its SQL:
//! `categories`, `products`, `variants`, `inventory` (ledger and adjustments), `listing` (the
//! public, keyset-paginated product list), `import` and `seed` (bulk data), `events` (the
//! outbox payloads every change writes); `changes` keeps the public reads' caches honest.

pub mod audit;
pub mod categories;
pub mod changes;
pub mod events;
pub mod import;
pub mod inventory;
pub mod listing;
pub mod products;
pub mod seed;
mod settings;
mod sku;
pub mod variants;

pub use self::{settings::StoreConfig, sku::Sku};

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use self::changes::{CacheLimits, CatalogChanges, ReadCache};
use crate::validation::ValidationErrors;

crate::typed_id! {
    /// A product.
    pub struct ProductId;
}

crate::typed_id! {
    /// A variant of a product (the unit that is stocked, priced and sold).
    pub struct VariantId;
}

crate::typed_id! {
    /// A category.
    pub struct CategoryId;
}

/// The catalog service.
#[derive(Clone)]
pub struct Catalog {
    pub(crate) db: PgPool,
    /// ISO 4217 code of every price (`STORE_CURRENCY`).
    pub currency: String,
    reads: Arc<PublicReads>,
}

/// Caches of what shoppers read (off unless [`Catalog::with_read_caches`]).
struct PublicReads {
    products: ReadCache<Product>,
    listings: ReadCache<listing::ProductPage>,
    category_filters: ReadCache<Option<Vec<Uuid>>>,
    category_trees: ReadCache<Vec<categories::CategoryTree>>,
}

impl PublicReads {
    fn new(changes: Option<Arc<CatalogChanges>>, limits: CacheLimits) -> Self {
        Self {
            products: ReadCache::new(changes.clone(), limits),
            listings: ReadCache::new(changes.clone(), limits),
            category_filters: ReadCache::new(changes.clone(), limits),
            category_trees: ReadCache::new(
                changes,
                CacheLimits {
                    entries: 1,
                    ..limits
                },
            ),
        }
    }
}

impl Catalog {
    pub fn new(db: PgPool, currency: impl Into<String>) -> Self {
        Self {
            db,
            currency: currency.into(),
            reads: Arc::new(PublicReads::new(None, CacheLimits::NONE)),
        }
    }

    /// Serves public reads from memory until the catalog changes (see [`changes`]).
    pub fn with_read_caches(
        mut self,
        changes: Option<Arc<CatalogChanges>>,
        limits: CacheLimits,
    ) -> Self {
        self.reads = Arc::new(PublicReads::new(changes, limits));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the slug {0:?} is already used")]
    SlugTaken(String),
    #[error("the SKU {0:?} is already used")]
    SkuTaken(String),
    #[error("the category still has {0}")]
    CategoryInUse(&'static str),
    #[error("the cursor does not belong to this listing")]
    InvalidCursor,
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
    #[error("the product has been ordered; archive it instead")]
    OrderedProduct,
    #[error("a product must keep at least one variant")]
    LastVariant,
    #[error("stock on hand would drop below the {reserved} units reserved (on hand {on_hand})")]
    BelowReserved { on_hand: i32, reserved: i32 },
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl CatalogError {
    /// Maps a violated unique constraint to its domain error, given the values involved.
    pub(crate) fn from_constraint(error: sqlx::Error, slug: &str, sku: Option<&str>) -> Self {
        match crate::db::violated_constraint(&error) {
            Some("products_slug_key") | Some("categories_slug_key") => {
                Self::SlugTaken(slug.to_owned())
            }
            Some("variants_sku_key") => Self::SkuTaken(sku.unwrap_or_default().to_owned()),
            _ => Self::Database(error),
        }
    }
}

/// Lifecycle of a product; only `active` products are visible to shoppers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    Active,
    Archived,
}

impl ProductStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
    pub fn from_db(value: &str) -> Self {
        match value {
            "active" => Self::Active,
            "archived" => Self::Archived,
            _ => Self::Draft,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub url: String,
    #[serde(default)]
    pub alt_text: String,
    #[serde(default)]
    pub position: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: Sku,
    pub options: BTreeMap<String, String>,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub weight_grams: i32,
    pub stock_on_hand: i32,
    pub stock_reserved: i32,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Variant {
    /// Units that can still be sold.
    pub fn available(&self) -> i32 {
        self.stock_on_hand - self.stock_reserved
    }
}

/// The category a product belongs to, as shown with it.
#[derive(Debug, Clone)]
pub struct CategoryRef {
    pub id: CategoryId,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub brand: Option<String>,
    pub category: CategoryRef,
    pub status: ProductStatus,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<Image>,
    pub option_names: Vec<String>,
    pub min_price: i64,
    pub max_price: i64,
    pub in_stock: bool,
    pub variants: Vec<Variant>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product in a list: enough for a product card.
#[derive(Debug, Clone)]
pub struct ProductSummary {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub brand: Option<String>,
    pub category_id: CategoryId,
    pub status: ProductStatus,
    pub min_price: i64,
    pub max_price: i64,
    pub in_stock: bool,
    pub image: Option<Image>,
    pub created_at: DateTime<Utc>,
}

/// An id or a slug, as accepted by the `{id-or-slug}` routes (of products, or of categories
/// as `Locator<CategoryId>`).
#[derive(Debug)]
pub enum Locator<'a, Id = ProductId> {
    Id(Id),
    Slug(&'a str),
}

impl<'a, Id: From<Uuid>> Locator<'a, Id> {
    pub fn parse(value: &'a str) -> Self {
        match Uuid::parse_str(value) {
            Ok(id) => Self::Id(Id::from(id)),
            Err(_) => Self::Slug(value),
        }
    }
}

/// A category as a client names it, by id or by slug; with both, the category must have both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryKey {
    pub id: Option<CategoryId>,
    pub slug: Option<String>,
    /// The input field that named it (`category`, `category_id`), for error messages.
    pub field: &'static str,
}

impl CategoryKey {
    /// An id or a slug given in `field`, as in `"t-shirts"` or `"0192f6c2-…"`.
    pub fn parse(field: &'static str, value: &str) -> Self {
        let (id, slug) = match Uuid::parse_str(value) {
            Ok(id) => (Some(CategoryId::from_uuid(id)), None),
            Err(_) => (None, Some(value.to_owned())),
        };
        Self { id, slug, field }
    }

    /// An id given in `field`.
    pub fn id(field: &'static str, id: CategoryId) -> Self {
        Self {
            id: Some(id),
            slug: None,
            field,
        }
    }

    /// From a slug-or-id field and an id field of one request (`category` and
    /// `category_id`), either or both given: `(field name, value)` each.
    pub fn from_fields(
        (slug_or_id_field, slug_or_id): (&'static str, Option<&str>),
        (id_field, id): (&'static str, Option<CategoryId>),
    ) -> Option<Self> {
        let Some(value) = slug_or_id else {
            return id.map(|id| Self::id(id_field, id));
        };
        let mut key = Self::parse(slug_or_id_field, value);
        if let Some(id) = id {
            if key.id.is_some_and(|named| named != id) {
                // Two different ids name no category: no slug is an id, so nothing matches.
                key.slug = Some(value.to_owned());
            }
            key.id = Some(id);
        }
        Some(key)
    }
}
