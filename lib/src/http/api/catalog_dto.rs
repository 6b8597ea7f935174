//! Request and response bodies of the catalog APIs (public and admin share field names).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{types::MaybeUndefined, Enum, Object};
use uuid::Uuid;

use super::dto::nullable;

use crate::catalog::{
    self, categories::CategoryDetail, categories::CategoryTree, inventory::Movement, Category,
    CategoryId, Image, Product, ProductId, ProductStatus, ProductSummary, Variant, VariantId,
};

/// Lifecycle of a product: only `active` products are visible to shoppers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ProductStatusDto {
    Draft,
    Active,
    Archived,
}

impl From<ProductStatusDto> for ProductStatus {
    fn from(s: ProductStatusDto) -> Self {
        match s {
            ProductStatusDto::Draft => Self::Draft,
            ProductStatusDto::Active => Self::Active,
            ProductStatusDto::Archived => Self::Archived,
        }
    }
}

impl From<ProductStatus> for ProductStatusDto {
    fn from(s: ProductStatus) -> Self {
        match s {
            ProductStatus::Draft => Self::Draft,
            ProductStatus::Active => Self::Active,
            ProductStatus::Archived => Self::Archived,
        }
    }
}

/// Order of the product list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[oai(rename_all = "snake_case")]
pub enum ProductSortDto {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

impl From<ProductSortDto> for catalog::listing::ProductSort {
    fn from(s: ProductSortDto) -> Self {
        match s {
            ProductSortDto::Newest => Self::Newest,
            ProductSortDto::PriceAsc => Self::PriceAsc,
            ProductSortDto::PriceDesc => Self::PriceDesc,
            ProductSortDto::Name => Self::Name,
        }
    }
}

/// A category.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CategoryOut {
    pub id: CategoryId,
    pub parent_id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Category> for CategoryOut {
    fn from(c: Category) -> Self {
        Self {
            id: c.id,
            parent_id: c.parent_id.map(Into::into),
            slug: c.slug,
            name: c.name,
            description: c.description,
            position: c.position,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A category with its subtree.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CategoryNodeOut {
    pub id: CategoryId,
    pub parent_id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub children: Vec<CategoryNodeOut>,
}

impl From<CategoryTree> for CategoryNodeOut {
    fn from(t: CategoryTree) -> Self {
        Self {
            id: t.category.id,
            parent_id: t.category.parent_id.map(Into::into),
            slug: t.category.slug,
            name: t.category.name,
            description: t.category.description,
            position: t.category.position,
            children: t.children.into_iter().map(Into::into).collect(),
        }
    }
}

/// The category tree.
#[derive(Debug, Clone, Object)]
pub struct CategoryTreeOut {
    pub items: Vec<CategoryNodeOut>,
}

/// A category with its path from the root and its direct children.
#[derive(Debug, Clone, Object)]
pub struct CategoryDetailOut {
    pub category: CategoryOut,
    /// From the root down to the parent.
    pub ancestors: Vec<CategoryOut>,
    pub children: Vec<CategoryOut>,
}

impl From<CategoryDetail> for CategoryDetailOut {
    fn from(d: CategoryDetail) -> Self {
        Self {
            category: d.category.into(),
            ancestors: d.ancestors.into_iter().map(Into::into).collect(),
            children: d.children.into_iter().map(Into::into).collect(),
        }
    }
}

/// A new category.
#[derive(Debug, Object, serde::Deserialize)]
pub struct CategoryIn {
    pub name: String,
    /// Generated from the name when absent.
    pub slug: Option<String>,
    /// The parent category's slug or id (or give `parent_id`); a root without either.
    pub parent: Option<String>,
    pub parent_id: Option<Uuid>,
    pub description: Option<String>,
    pub position: Option<i32>,
}

/// Changes to a category; absent fields stay as they are.
#[derive(Debug, Object, serde::Deserialize)]
pub struct CategoryPatchIn {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Moves the category under the category with this slug or id.
    pub parent: Option<String>,
    /// `null` makes the category a root.
    #[serde(default)]
    pub parent_id: MaybeUndefined<Uuid>,
    pub description: Option<String>,
    pub position: Option<i32>,
}

/// A product image.
#[derive(Debug, Clone, Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ImageDto {
    pub url: String,
    #[serde(default)]
    pub alt_text: Option<String>,
    #[serde(default)]
    pub position: Option<i32>,
}

impl From<ImageDto> for Image {
    fn from(i: ImageDto) -> Self {
        Self {
            url: i.url,
            alt_text: i.alt_text.unwrap_or_default(),
            position: i.position.unwrap_or(0),
        }
    }
}

impl From<Image> for ImageDto {
    fn from(i: Image) -> Self {
        Self {
            url: i.url,
            alt_text: Some(i.alt_text),
            position: Some(i.position),
        }
    }
}

/// The category a product belongs to.
#[derive(Debug, Clone, Object)]
pub struct CategoryRefOut {
    pub id: CategoryId,
    pub slug: String,
    pub name: String,
}

/// A sellable variant. Prices are integers in minor units of `currency`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VariantOut {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    /// Option values, e.g. `{"size": "M", "color": "red"}`.
    pub options: BTreeMap<String, String>,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub currency: String,
    pub weight_grams: i32,
    /// Units that can be bought now (on hand minus reserved).
    pub available: i32,
    pub in_stock: bool,
    /// Admin views only.
    pub stock_on_hand: Option<i32>,
    /// Admin views only: units held by unpaid orders.
    pub stock_reserved: Option<i32>,
    pub position: i32,
}

impl VariantOut {
    pub fn public(v: Variant, currency: &str) -> Self {
        Self::build(v, currency, false)
    }
    pub fn admin(v: Variant, currency: &str) -> Self {
        Self::build(v, currency, true)
    }
    fn build(v: Variant, currency: &str, admin: bool) -> Self {
        let available = v.available().max(0);
        Self {
            id: v.id,
            product_id: v.product_id,
            sku: v.sku.into(),
            options: v.options,
            price: v.price,
            compare_at_price: v.compare_at_price,
            currency: currency.to_owned(),
            weight_grams: v.weight_grams,
            available,
            in_stock: available > 0,
            stock_on_hand: admin.then_some(v.stock_on_hand),
            stock_reserved: admin.then_some(v.stock_reserved),
            position: v.position,
        }
    }
}

/// A product with its variants.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProductOut {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub brand: Option<String>,
    pub category: CategoryRefOut,
    pub status: ProductStatusDto,
    /// Free-form attributes, e.g. `{"material": "cotton"}`.
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<ImageDto>,
    /// The option names every variant gives a value for, e.g. `["size", "color"]`.
    pub options: Vec<String>,
    pub variants: Vec<VariantOut>,
    /// Lowest variant price (minor units).
    pub price_min: i64,
    /// Highest variant price (minor units).
    pub price_max: i64,
    pub currency: String,
    pub in_stock: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductOut {
    pub fn new(p: Product, currency: &str, admin: bool) -> Self {
        Self {
            id: p.id,
            slug: p.slug,
            name: p.name,
            description: p.description,
            brand: p.brand,
            category: CategoryRefOut {
                id: p.category.id,
                slug: p.category.slug,
                name: p.category.name,
            },
            status: p.status.into(),
            attributes: p.attributes,
            images: p.images.into_iter().map(Into::into).collect(),
            options: p.option_names,
            variants: p
                .variants
                .into_iter()
                .map(|v| {
                    if admin {
                        VariantOut::admin(v, currency)
                    } else {
                        VariantOut::public(v, currency)
                    }
                })
                .collect(),
            price_min: p.min_price,
            price_max: p.max_price,
            currency: currency.to_owned(),
            in_stock: p.in_stock,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A product in a list.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProductSummaryOut {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub brand: Option<String>,
    pub category_id: CategoryId,
    pub status: ProductStatusDto,
    pub price_min: i64,
    pub price_max: i64,
    pub currency: String,
    pub in_stock: bool,
    /// The first image, if any.
    pub image: Option<ImageDto>,
    pub created_at: DateTime<Utc>,
}

impl ProductSummaryOut {
    pub fn new(p: ProductSummary, currency: &str) -> Self {
        Self {
            id: p.id,
            slug: p.slug,
            name: p.name,
            brand: p.brand,
            category_id: p.category_id,
            status: p.status.into(),
            price_min: p.min_price,
            price_max: p.max_price,
            currency: currency.to_owned(),
            in_stock: p.in_stock,
            image: p.image.map(Into::into),
            created_at: p.created_at,
        }
    }
}

/// A page of products.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProductPageOut {
    pub items: Vec<ProductSummaryOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A variant of a new product.
#[derive(Debug, Object, serde::Deserialize)]
pub struct VariantIn {
    pub sku: String,
    /// Minor units of the store currency.
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub weight_grams: Option<i32>,
    pub stock_on_hand: i32,
    /// A value for each of the product's option names.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

impl From<VariantIn> for catalog::variants::NewVariant {
    fn from(v: VariantIn) -> Self {
        Self {
            sku: v.sku,
            price: v.price,
            compare_at_price: v.compare_at_price,
            weight_grams: v.weight_grams,
            stock_on_hand: v.stock_on_hand,
            options: v.options.unwrap_or_default(),
        }
    }
}

/// A new product with its variants; `status` defaults to `draft`.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ProductIn {
    pub name: String,
    /// Generated from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub brand: Option<String>,
    /// The category's slug or id (this or `category_id` is required).
    pub category: Option<String>,
    /// The category's id; `category` takes a slug or an id.
    pub category_id: Option<Uuid>,
    pub status: Option<ProductStatusDto>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub images: Option<Vec<ImageDto>>,
    /// Option names, e.g. `["size", "color"]`.
    pub options: Option<Vec<String>>,
    pub variants: Vec<VariantIn>,
}

/// Changes to a product; absent fields stay as they are.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ProductPatchIn {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    /// `null` removes the brand.
    #[serde(default)]
    pub brand: MaybeUndefined<String>,
    /// Moves the product to the category with this slug or id.
    pub category: Option<String>,
    /// Moves the product to the category with this id.
    pub category_id: Option<Uuid>,
    pub status: Option<ProductStatusDto>,
    /// Replaces all attributes.
    pub attributes: Option<BTreeMap<String, String>>,
    /// Replaces all images.
    pub images: Option<Vec<ImageDto>>,
    /// Replaces the option names (every variant must already match them).
    pub options: Option<Vec<String>>,
}

/// Changes to a variant. Stock is changed through inventory adjustments only.
#[derive(Debug, Object, serde::Deserialize)]
pub struct VariantPatchIn {
    pub sku: Option<String>,
    pub price: Option<i64>,
    /// `null` removes the compare-at price.
    #[serde(default)]
    pub compare_at_price: MaybeUndefined<i64>,
    pub weight_grams: Option<i32>,
    pub options: Option<BTreeMap<String, String>>,
    pub position: Option<i32>,
}

/// A manual stock change.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct AdjustmentIn {
    pub sku: String,
    /// Units to add (positive) or remove (negative); on hand may not drop below reserved.
    pub delta: i32,
    pub reason: String,
}

/// One entry of the stock ledger.
#[derive(Debug, Clone, Object)]
#[oai(remote = "Movement", skip_serializing_if_is_none)]
pub struct MovementOut {
    #[oai(rename = "id")]
    pub movement_id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    /// `initial`, `adjustment`, `import`, `reservation`, `release`, `commit` or `repair`.
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

/// The result of an adjustment: the variant's new levels and the ledger entry.
#[derive(Debug, Clone, Object)]
pub struct AdjustmentOut {
    pub variant: VariantOut,
    pub movement: MovementOut,
}

/// A page of ledger entries, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MovementPageOut {
    pub items: Vec<MovementOut>,
    pub next_cursor: Option<String>,
}

impl From<CategoryPatchIn> for catalog::categories::CategoryPatch {
    fn from(p: CategoryPatchIn) -> Self {
        Self {
            name: p.name,
            slug: p.slug,
            parent: match (p.parent.as_deref(), p.parent_id) {
                (None, MaybeUndefined::Undefined) => None,
                (None, MaybeUndefined::Null) => Some(None),
                (parent, parent_id) => Some(catalog::CategoryKey::from_fields(
                    ("parent", parent),
                    ("parent_id", parent_id.take().map(Into::into)),
                )),
            },
            description: p.description,
            position: p.position,
        }
    }
}

impl From<ProductPatchIn> for catalog::products::ProductPatch {
    fn from(p: ProductPatchIn) -> Self {
        Self {
            name: p.name,
            slug: p.slug,
            description: p.description,
            brand: nullable(p.brand),
            category: catalog::CategoryKey::from_fields(
                ("category", p.category.as_deref()),
                ("category_id", p.category_id.map(Into::into)),
            ),
            status: p.status.map(Into::into),
            attributes: p.attributes,
            images: p
                .images
                .map(|images| images.into_iter().map(Into::into).collect()),
            option_names: p.options,
        }
    }
}

impl From<VariantPatchIn> for catalog::variants::VariantPatch {
    fn from(p: VariantPatchIn) -> Self {
        Self {
            sku: p.sku,
            price: p.price,
            compare_at_price: nullable(p.compare_at_price),
            weight_grams: p.weight_grams,
            options: p.options,
            position: p.position,
        }
    }
}
