//! The PostgreSQL backend (the default): full-text search over `products.search_vector`.
//!
//! Documents: the migration `20261126000300_search.sql` keeps a weighted `tsvector` per
//! product (name A, brand and category B, description C) current in the same transaction as
//! every product change and category rename, so there is nothing to index asynchronously and
//! results are never stale. The `toko_search` text search configuration is `simple` plus
//! `unaccent`: names mix Indonesian and English, and no single stemmer suits both.
//!
//! Queries: [`tsquery`] builds one `tsquery` from the parsed `q` (phrases, exclusions, `or`,
//! typo corrections from the trigram-indexed vocabulary, a prefix for the word being typed);
//! [`query`] runs hits, total and facets in one statement over one scan.

pub mod query;
pub mod tsquery;

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    ReindexProgress, ReindexSummary, SearchBackend, SearchError, SearchQuery, SearchResult,
};

/// Products whose documents one reindex statement recomputes.
const REINDEX_BATCH: i64 = 1000;

pub struct PostgresSearch {
    db: PgPool,
    /// Bounds of the price-range facet (`SEARCH_PRICE_RANGES`).
    price_bounds: Vec<i64>,
}

impl PostgresSearch {
    pub fn new(db: PgPool, price_bounds: Vec<i64>) -> Self {
        Self { db, price_bounds }
    }

    /// Recomputes the documents of the products after `after` (id order), one batch; returns
    /// the last id done, `None` at the end.
    async fn recompute_batch(
        &self,
        after: Option<Uuid>,
    ) -> Result<(Option<Uuid>, u64), sqlx::Error> {
        let ids: Vec<Uuid> = sqlx::query_scalar!(
            "with batch as (
                 select product_id from products where ($1::uuid is null or product_id > $1)
                 order by product_id limit $2
             )
             update products p
             set search_vector = search_product_vector(p.name, p.brand, c.name, p.description)
             from batch b, categories c
             where p.product_id = b.product_id and c.category_id = p.category_id
             returning p.product_id",
            after,
            REINDEX_BATCH,
        )
        .fetch_all(&self.db)
        .await?;
        Ok((ids.iter().max().copied(), ids.len() as u64))
    }

    /// Rebuilds the typo-correction vocabulary from active products, in one transaction
    /// (readers keep the old one until it commits). Returns its size.
    async fn rebuild_vocabulary(&self) -> Result<i64, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query!("delete from search_terms")
            .execute(&mut *tx)
            .await?;
        let words = sqlx::query!(
            "insert into search_terms (term)
             select word from ts_stat('select ts_filter(search_vector, ''{a,b}'') from products where status = ''active''')
             where length(word) >= 3 and word !~ '[0-9]'
             order by word",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(words as i64)
    }
}

#[async_trait]
impl SearchBackend for PostgresSearch {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResult, SearchError> {
        let text = if query.parsed.is_empty() {
            None
        } else {
            let analyses = tsquery::analyze(&self.db, &query.parsed).await?;
            tsquery::compose(&query.parsed, &analyses)
        };
        let row = query::run(&self.db, query, text.as_ref(), &self.price_bounds).await?;
        Ok(SearchResult {
            hits: row.hits.0.into_iter().map(Into::into).collect(),
            total: row.total,
            facets: query::facets(row.facets.0, &self.price_bounds),
            took_ms: 0,
        })
    }

    /// The triggers have already brought these documents up to date in the products' own
    /// transactions; recomputing them repairs rows written with triggers disabled (a bulk
    /// load) and costs little.
    async fn index_products(&self, ids: &[Uuid]) -> Result<(), SearchError> {
        sqlx::query!(
            "update products p
             set search_vector = search_product_vector(p.name, p.brand, c.name, p.description)
             from categories c
             where p.product_id = any($1) and c.category_id = p.category_id",
            ids,
        )
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Nothing to remove: a deleted product's document goes with its row, and drafts and
    /// archived products are filtered out by status in every query.
    async fn delete_products(&self, _ids: &[Uuid]) -> Result<(), SearchError> {
        Ok(())
    }

    /// Recomputes every product's document in batches (each its own short transaction, so
    /// writers are never blocked for long), then rebuilds the vocabulary.
    async fn reindex(
        &self,
        progress: &(dyn Fn(ReindexProgress) + Send + Sync),
    ) -> Result<ReindexSummary, SearchError> {
        let total = sqlx::query_scalar!(r#"select count(*) as "count!" from products"#)
            .fetch_one(&self.db)
            .await?;
        let mut done = 0;
        let mut after = None;
        loop {
            let (last, count) = self.recompute_batch(after).await?;
            done += count;
            progress(ReindexProgress {
                done,
                total: (total as u64).max(done),
            });
            match last {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        let words = self.rebuild_vocabulary().await?;
        Ok(ReindexSummary {
            documents: done,
            target: "products.search_vector".into(),
            notes: vec![format!("typo-correction vocabulary: {words} words")],
        })
    }

    async fn health(&self) -> Result<(), SearchError> {
        // Also proves the search migration is applied.
        sqlx::query!("select 1 as one from search_terms limit 1")
            .fetch_optional(&self.db)
            .await?;
        Ok(())
    }

    async fn refresh(&self) -> Result<(), SearchError> {
        Ok(())
    }
}
