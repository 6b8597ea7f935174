//! The `search-indexer` worker's handler: product, variant, stock and category events bring
//! the search documents of the products they touch up to date (a bulk request on
//! Elasticsearch; on PostgreSQL, a check and repair of the `tsvector` the triggers maintain).
//! Indexing re-derives documents from the database, so replays and out-of-order events are
//! harmless.

use async_trait::async_trait;
use serde::Deserialize;
use uuid::Uuid;

use super::{Search, SearchError};
use crate::messaging::{Delivered, Handler, HandlerError};

pub struct SearchIndexer {
    search: Search,
}

impl SearchIndexer {
    pub fn new(search: Search) -> Self {
        Self { search }
    }
}

/// The events whose products need re-indexing.
pub const ROUTING_KEYS: &[&str] = &[
    "product.*",
    "variant.*",
    "stock.changed",
    "category.changed",
];

#[derive(Deserialize)]
struct Touched {
    product_id: Option<Uuid>,
    category_id: Option<Uuid>,
}

fn failure(error: SearchError) -> HandlerError {
    match error {
        SearchError::InvalidParameter { .. } => HandlerError::permanent(error),
        other => HandlerError::retryable(other),
    }
}

#[async_trait]
impl Handler for SearchIndexer {
    fn name(&self) -> &str {
        "search-indexer"
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let touched: Touched = msg.payload_as()?;
        if msg.event_type == "category.changed" {
            let category = touched
                .category_id
                .ok_or_else(|| HandlerError::permanent("category.changed without category_id"))?;
            return self.search.index_category(category).await.map_err(failure);
        }
        let product = touched.product_id.ok_or_else(|| {
            HandlerError::permanent(format!("{} without product_id", msg.event_type))
        })?;
        self.search
            .backend()
            .index_products(&[product])
            .await
            .map_err(failure)
    }
}
