//! Products as search documents, read from PostgreSQL: what the Elasticsearch backend indexes
//! and what a reindex walks through in batches.

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgExecutor, PgPool};
use uuid::Uuid;

use crate::catalog::{Image, ProductStatus, ProductSummary};

/// Products per batch when reindexing or re-indexing a category.
pub const BATCH_SIZE: usize = 500;

/// Everything a search engine needs about one product.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SearchDocument {
    pub product_id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub brand: Option<String>,
    pub category_id: Uuid,
    pub category_name: String,
    pub status: String,
    pub min_price: i64,
    pub max_price: i64,
    pub in_stock: bool,
    pub image: Option<Json<Image>>,
    pub created_at: DateTime<Utc>,
}

impl SearchDocument {
    /// Only active products are searchable.
    pub fn is_searchable(&self) -> bool {
        ProductStatus::from_db(&self.status) == ProductStatus::Active
    }

    pub fn summary(&self) -> ProductSummary {
        ProductSummary {
            id: self.product_id.into(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            brand: self.brand.clone(),
            category_id: self.category_id.into(),
            status: ProductStatus::from_db(&self.status),
            min_price: self.min_price,
            max_price: self.max_price,
            in_stock: self.in_stock,
            image: self.image.as_ref().map(|j| j.0.clone()),
            created_at: self.created_at,
        }
    }
}

/// The documents of these products, whatever their status (missing ids are simply absent).
pub async fn load(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<SearchDocument>, sqlx::Error> {
    sqlx::query_as!(
        SearchDocument,
        r#"select p.product_id, p.slug, p.name, p.description, p.brand, p.category_id,
                  c.name as category_name, p.status, p.min_price, p.max_price, p.in_stock,
                  p.images -> 0 as "image: Json<Image>", p.created_at
           from products p join categories c on c.category_id = p.category_id
           where p.product_id = any($1)"#,
        ids,
    )
    .fetch_all(db)
    .await
}

/// The next batch of active products after `after` in id order (keyset: stable while
/// products change during a reindex).
pub async fn active_batch(
    db: &PgPool,
    after: Option<Uuid>,
    limit: usize,
) -> Result<Vec<SearchDocument>, sqlx::Error> {
    sqlx::query_as!(
        SearchDocument,
        r#"select p.product_id, p.slug, p.name, p.description, p.brand, p.category_id,
                  c.name as category_name, p.status, p.min_price, p.max_price, p.in_stock,
                  p.images -> 0 as "image: Json<Image>", p.created_at
           from products p join categories c on c.category_id = p.category_id
           where p.status = 'active' and ($1::uuid is null or p.product_id > $1)
           order by p.product_id limit $2"#,
        after,
        limit as i64,
    )
    .fetch_all(db)
    .await
}

pub async fn count_active(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from products where status = 'active'"#)
        .fetch_one(db)
        .await
}

pub async fn product_ids_in_category(
    db: &PgPool,
    category_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select product_id from products where category_id = $1 order by product_id",
        category_id,
    )
    .fetch_all(db)
    .await
}

/// The database clock, so "changed since" comparisons never mix two clocks.
pub async fn database_now(db: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(r#"select now() as "now!""#)
        .fetch_one(db)
        .await
}

/// Products whose search documents may have changed since `since`, according to the outbox
/// every catalog change writes in its own transaction (product, variant and stock events carry
/// the product id; category events stand for all of the category's products).
pub async fn changed_since(db: &PgPool, since: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut products = crate::outbox::aggregates_since(db, "product", since).await?;
    let categories = crate::outbox::aggregates_since(db, "category", since).await?;
    products.extend(
        sqlx::query_scalar!(
            "select product_id from products where category_id = any($1)",
            &categories,
        )
        .fetch_all(db)
        .await?,
    );
    products.sort_unstable();
    products.dedup();
    Ok(products)
}
