//! What the workloads need before the clock starts: product, category and variant ids read
//! from the bench database, and customers registered through the API with their tokens.

use anyhow::Context;
use futures::{stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::api::Api;

pub struct Fixtures {
    /// W2: products fetched by id.
    pub product_ids: Vec<Uuid>,
    /// W1: category filters (top-level categories, so the filter spans descendants).
    pub category_slugs: Vec<String>,
    /// W4, W5a: variants of active products with stock to spare.
    pub variant_ids: Vec<Uuid>,
    /// One access token per connection: distinct customers.
    pub tokens: Vec<String>,
}

impl Fixtures {
    pub async fn load(
        db: &PgPool,
        api: &Api,
        connections: usize,
        run_tag: &str,
    ) -> anyhow::Result<Self> {
        let product_ids: Vec<Uuid> = sqlx::query_scalar!(
            "select product_id from products where status = 'active' order by product_id limit 10000",
        )
        .fetch_all(db)
        .await?;
        anyhow::ensure!(
            !product_ids.is_empty(),
            "the bench database has no products: seed it first"
        );
        let category_slugs =
            sqlx::query_scalar!("select slug from categories where parent_id is null",)
                .fetch_all(db)
                .await?;
        let variant_ids = sqlx::query_scalar!(
            "select v.variant_id from variants v join products p using (product_id)
              where p.status = 'active' and v.stock_on_hand - v.stock_reserved >= 20
              order by v.variant_id limit 20000",
        )
        .fetch_all(db)
        .await?;
        let tokens = register_customers(api, connections, run_tag).await?;
        Ok(Self {
            product_ids,
            category_slugs,
            variant_ids,
            tokens,
        })
    }
}

/// Registers `count` customers (a few at a time: each is an argon2 hash on the server).
async fn register_customers(api: &Api, count: usize, run_tag: &str) -> anyhow::Result<Vec<String>> {
    stream::iter(0..count)
        .map(|i| async move {
            let body = json!({
                "email": format!("bench-{run_tag}-{i}@example.com"),
                "password": "bench password 123",
                "name": format!("Bench Customer {i}"),
            });
            let session = api
                .json(
                    api.request(Method::POST, "/api/v1/auth/register", None)
                        .json(&body),
                )
                .await
                .context("registering a bench customer")?;
            session["tokens"]["access_token"]
                .as_str()
                .map(str::to_owned)
                .context("register response without tokens.access_token")
        })
        .buffered(4)
        .try_collect()
        .await
}
