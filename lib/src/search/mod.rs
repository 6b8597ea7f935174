//! Product search: full-text queries with web-search syntax, typo tolerance and prefix
//! matching, the product list's filters, facets and highlights.
//!
//! One interface, two engines chosen by `SEARCH_BACKEND`:
//! - `postgres` (default, [`postgres`]): a weighted `tsvector` per product kept current by
//!   triggers in the same transaction as every product change, so results are never stale;
//! - `elasticsearch` ([`elasticsearch`]): for catalogs and traffic PostgreSQL should not carry.
//!   Documents are written by the search-indexer worker ([`SearchBackend::index_products`] on
//!   product events) and rebuilt with zero downtime by `tokoctl search reindex`.
//!
//! The query text is parsed once ([`syntax`]); both engines implement the same contract,
//! pinned by one test suite (lib/tests/api/search/).

pub mod documents;
pub mod elasticsearch;
pub mod indexer;
pub mod model;
pub mod postgres;
mod settings;
pub mod syntax;

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

pub use self::{
    model::*,
    settings::{ElasticsearchConfig, SearchBackendConfig, SearchConfig},
};
use crate::catalog::changes::{CacheLimits, CatalogChanges, ReadCache};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("could not reach Elasticsearch")]
    Transport(#[from] ::elasticsearch::Error),
    #[error("Elasticsearch answered {status} to {operation}: {reason}")]
    Status {
        operation: &'static str,
        status: u16,
        reason: String,
    },
    #[error("Elasticsearch rejected {failed} of {total} bulk operations; first: {first}")]
    Bulk {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("unexpected Elasticsearch response to {operation}: {reason}")]
    UnexpectedResponse {
        operation: &'static str,
        reason: String,
    },
}

impl SearchError {
    /// Whether retrying later may succeed (the engine is down or overloaded), as opposed to a
    /// request it will never accept.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// A search engine. Implementations are cheap to share (`Arc`) and safe to call concurrently.
#[async_trait]
pub trait SearchBackend: Send + Sync {
    /// `postgres` or `elasticsearch`, for logs and the readiness check.
    fn name(&self) -> &'static str;

    /// Runs a query: one page of hits, the total and the facets.
    async fn search(&self, query: &SearchQuery) -> Result<SearchResult, SearchError>;

    /// Brings the search documents of these products up to date with the database, whatever
    /// happened to them: active products are (re)indexed; drafts, archived and deleted
    /// products are removed. Idempotent, so the search-indexer worker can call it for any
    /// product event (`product.*`, `variant.*`, `stock.changed`), replayed or out of order;
    /// for `category.changed` see [`Search::index_category`].
    async fn index_products(&self, ids: &[Uuid]) -> Result<(), SearchError>;

    /// Removes these products from the index (unknown ids are fine). [`index_products`]
    /// already removes products that are gone; this is for callers that know they are.
    ///
    /// [`index_products`]: SearchBackend::index_products
    async fn delete_products(&self, ids: &[Uuid]) -> Result<(), SearchError>;

    /// Rebuilds every search document from the database, reporting progress after each batch.
    async fn reindex(
        &self,
        progress: &(dyn Fn(ReindexProgress) + Send + Sync),
    ) -> Result<ReindexSummary, SearchError>;

    /// Whether the engine can answer queries now.
    async fn health(&self) -> Result<(), SearchError>;

    /// Makes every write so far visible to queries (Elasticsearch refreshes near-real-time;
    /// PostgreSQL is always current). For tests and tools, not for request paths.
    async fn refresh(&self) -> Result<(), SearchError>;
}

/// The search service the API and tools hold.
#[derive(Clone)]
pub struct Search {
    backend: Arc<dyn SearchBackend>,
    db: PgPool,
    /// Results of the PostgreSQL backend; off unless [`Search::with_result_cache`].
    results: Arc<ReadCache<SearchResult>>,
}

impl Search {
    /// Builds the configured backend. Nothing is contacted yet (see [`SearchBackend::health`]).
    pub fn from_config(config: &SearchConfig, db: PgPool) -> Result<Self, SearchError> {
        let backend: Arc<dyn SearchBackend> = match &config.backend {
            SearchBackendConfig::Postgres => Arc::new(postgres::PostgresSearch::new(
                db.clone(),
                config.price_ranges.clone(),
            )),
            SearchBackendConfig::Elasticsearch(es) => {
                Arc::new(elasticsearch::ElasticsearchSearch::new(
                    es,
                    db.clone(),
                    config.price_ranges.clone(),
                )?)
            }
        };
        Ok(Self {
            backend,
            db,
            results: Arc::new(ReadCache::disabled()),
        })
    }

    /// Caches results in this process until the catalog changes (for the API; see
    /// [`crate::catalog::changes`]). Only for PostgreSQL: Elasticsearch's index lags the
    /// commit that notifies, so a refill could pin an old answer.
    pub fn with_result_cache(
        mut self,
        config: &SearchConfig,
        changes: Option<Arc<CatalogChanges>>,
        limits: CacheLimits,
    ) -> Self {
        if matches!(config.backend, SearchBackendConfig::Postgres) {
            self.results = Arc::new(ReadCache::new(changes, limits));
        }
        self
    }

    pub fn backend(&self) -> &dyn SearchBackend {
        self.backend.as_ref()
    }

    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResult, SearchError> {
        let started = Instant::now();
        let mut result = self
            .results
            .get_or_try(query.cache_key(), || self.backend.search(query))
            .await?;
        result.took_ms = started.elapsed().as_millis() as u64;
        Ok(result)
    }

    /// Re-indexes every product of a category, for `category.changed` events: a renamed
    /// category changes its products' documents. (PostgreSQL's trigger has already done this
    /// in the rename's transaction; re-deriving is harmless.)
    pub async fn index_category(&self, category_id: Uuid) -> Result<(), SearchError> {
        let ids = documents::product_ids_in_category(&self.db, category_id).await?;
        for chunk in ids.chunks(documents::BATCH_SIZE) {
            self.backend.index_products(chunk).await?;
        }
        Ok(())
    }
}
