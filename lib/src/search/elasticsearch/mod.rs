//! The Elasticsearch backend, for catalogs and traffic PostgreSQL should not carry.
//!
//! Queries go to an alias (`ELASTICSEARCH_INDEX`, default `toko-products`) that points at one
//! versioned index, `<alias>-<UTC timestamp>`. The search-indexer worker keeps documents
//! current through [`SearchBackend::index_products`] (writes require the alias to exist, so a
//! missing alias fails loudly instead of auto-creating an unmapped index). `reindex` builds a
//! fresh index from PostgreSQL, swaps the alias atomically and drops the old index: zero
//! downtime. Request bodies live in [`requests`], response parsing in [`response`].

pub mod requests;
pub mod response;

use std::time::Duration;

use async_trait::async_trait;
use elasticsearch::{
    auth::Credentials,
    cluster::ClusterHealthParts,
    http::{
        request::JsonBody,
        response::Response,
        transport::{SingleNodeConnectionPool, TransportBuilder},
    },
    indices::{
        IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesPutIndexTemplateParts,
        IndicesPutSettingsParts, IndicesRefreshParts,
    },
    BulkParts, Elasticsearch, SearchParts,
};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    documents, CategoryValue, FacetCount, Facets, ReindexProgress, ReindexSummary, SearchBackend,
    SearchError, SearchQuery, SearchResult,
};
use crate::config::ElasticsearchConfig;

/// Per-request timeout; bulk loads of one batch stay well below it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A write committed while a reindex loaded may carry a transaction start time before the
/// load began; catching up from a little earlier costs only a few re-indexed products.
const CATCH_UP_MARGIN: chrono::Duration = chrono::Duration::minutes(1);

pub struct ElasticsearchSearch {
    client: Elasticsearch,
    alias: String,
    db: PgPool,
    price_bounds: Vec<i64>,
}

/// The JSON body of a 2xx answer; any other answer as an error carrying Elasticsearch's reason.
async fn ok(operation: &'static str, response: Response) -> Result<Value, SearchError> {
    let status = response.status_code();
    let text = response.text().await?;
    if status.is_success() {
        // Acknowledgements and refreshes may come without a body.
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(&text).map_err(|e| SearchError::UnexpectedResponse {
            operation,
            reason: format!("not JSON: {e}"),
        });
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    let reason = body["error"]["reason"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    Err(SearchError::Status {
        operation,
        status: status.as_u16(),
        reason,
    })
}

impl ElasticsearchSearch {
    pub fn new(
        config: &ElasticsearchConfig,
        db: PgPool,
        price_bounds: Vec<i64>,
    ) -> Result<Self, SearchError> {
        let mut transport =
            TransportBuilder::new(SingleNodeConnectionPool::new(config.url.clone()))
                .timeout(REQUEST_TIMEOUT);
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            transport = transport.auth(Credentials::Basic(
                username.clone(),
                password.expose().to_owned(),
            ));
        }
        let transport = transport.build().map_err(elasticsearch::Error::from)?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            alias: config.index.clone(),
            db,
            price_bounds,
        })
    }

    /// The indices the alias points at now (none before the first reindex).
    async fn alias_targets(&self) -> Result<Vec<String>, SearchError> {
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[&self.alias]))
            .send()
            .await?;
        if response.status_code().as_u16() == 404 {
            return Ok(Vec::new());
        }
        Ok(response::alias_targets(&ok("get alias", response).await?))
    }

    /// Sends bulk lines to `target`, failing when any operation failed.
    async fn bulk(
        &self,
        target: &str,
        lines: Vec<Value>,
        require_alias: bool,
    ) -> Result<(), SearchError> {
        if lines.is_empty() {
            return Ok(());
        }
        let body: Vec<JsonBody<Value>> = lines.into_iter().map(JsonBody::new).collect();
        let response = self
            .client
            .bulk(BulkParts::Index(target))
            .require_alias(require_alias)
            .body(body)
            .send()
            .await?;
        let result = ok("bulk", response).await?;
        match response::bulk_failures(&result) {
            (0, _, _) => Ok(()),
            (failed, total, first) => Err(SearchError::Bulk {
                failed,
                total,
                first: first.unwrap_or_default(),
            }),
        }
    }

    /// Indexes the current state of `ids` into `target`: active products are written, the
    /// others (drafts, archived, deleted) removed.
    async fn sync(
        &self,
        target: &str,
        ids: &[Uuid],
        require_alias: bool,
    ) -> Result<(), SearchError> {
        let mut searchable = documents::load(&self.db, ids).await?;
        searchable.retain(|d| d.is_searchable());
        let gone: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| !searchable.iter().any(|d| d.product_id == *id))
            .collect();
        let mut lines = requests::bulk_index_lines(&searchable);
        lines.extend(requests::bulk_delete_lines(&gone));
        self.bulk(target, lines, require_alias).await
    }

    async fn put_settings(&self, index: &str, settings: Value) -> Result<(), SearchError> {
        let response = self
            .client
            .indices()
            .put_settings(IndicesPutSettingsParts::Index(&[index]))
            .body(settings)
            .send()
            .await?;
        ok("put settings", response).await.map(|_| ())
    }

    /// Category names for the category facet (the index stores ids).
    async fn category_values(
        &self,
        counts: Vec<FacetCount<Uuid>>,
    ) -> Result<Vec<FacetCount<CategoryValue>>, SearchError> {
        let ids: Vec<Uuid> = counts.iter().map(|c| c.value).collect();
        let rows: Vec<(Uuid, String, String)> = sqlx::query!(
            "select category_id, slug, name from categories where category_id = any($1)",
            &ids,
        )
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|r| (r.category_id, r.slug, r.name))
        .collect();
        Ok(counts
            .into_iter()
            .filter_map(|c| {
                // A category deleted since the document was indexed has nothing to show.
                let (id, slug, name) = rows.iter().find(|r| r.0 == c.value)?.clone();
                Some(FacetCount {
                    value: CategoryValue { id, slug, name },
                    count: c.count,
                })
            })
            .collect())
    }

    /// Deletes an unfinished index; failing that, says which one to delete by hand (the
    /// reindex error itself is what the caller reports).
    async fn discard(&self, index: &str) {
        let deleted = match self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[index]))
            .send()
            .await
        {
            Ok(response) => ok("delete unfinished index", response).await.map(|_| ()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = deleted {
            tracing::warn!(index, error = %e, "could not delete the unfinished index; delete it by hand");
        }
    }

    /// Creates a new versioned index from the template and bulk-loads every active product.
    async fn build_index(
        &self,
        index: &str,
        progress: &(dyn Fn(ReindexProgress) + Send + Sync),
    ) -> Result<u64, SearchError> {
        let template = self
            .client
            .indices()
            .put_index_template(IndicesPutIndexTemplateParts::Name(&self.alias))
            .body(requests::index_template(&self.alias))
            .send()
            .await?;
        ok("put index template", template).await?;
        let created = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(index))
            .send()
            .await?;
        ok("create index", created).await?;
        self.put_settings(index, requests::loading_settings())
            .await?;

        let total = documents::count_active(&self.db).await? as u64;
        let mut done = 0;
        let mut after = None;
        loop {
            let batch = documents::active_batch(&self.db, after, documents::BATCH_SIZE).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.product_id);
            done += batch.len() as u64;
            self.bulk(index, requests::bulk_index_lines(&batch), false)
                .await?;
            progress(ReindexProgress {
                done,
                total: total.max(done),
            });
        }
        self.put_settings(index, requests::serving_settings())
            .await?;
        let refreshed = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[index]))
            .send()
            .await?;
        ok("refresh", refreshed).await?;
        Ok(done)
    }
}

#[async_trait]
impl SearchBackend for ElasticsearchSearch {
    fn name(&self) -> &'static str {
        "elasticsearch"
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResult, SearchError> {
        let response = self
            .client
            .search(SearchParts::Index(&[&self.alias]))
            .body(requests::search_body(query, &self.price_bounds))
            .send()
            .await?;
        let parsed = response::search(&ok("search", response).await?, &self.price_bounds)?;
        Ok(SearchResult {
            hits: parsed.hits,
            total: parsed.total,
            facets: Facets {
                categories: self.category_values(parsed.categories).await?,
                brands: parsed.brands,
                price_ranges: parsed.price_ranges,
            },
            took_ms: 0,
        })
    }

    async fn index_products(&self, ids: &[Uuid]) -> Result<(), SearchError> {
        for chunk in ids.chunks(documents::BATCH_SIZE) {
            self.sync(&self.alias, chunk, true).await?;
        }
        Ok(())
    }

    async fn delete_products(&self, ids: &[Uuid]) -> Result<(), SearchError> {
        for chunk in ids.chunks(documents::BATCH_SIZE) {
            self.bulk(&self.alias, requests::bulk_delete_lines(chunk), true)
                .await?;
        }
        Ok(())
    }

    /// Builds `<alias>-<timestamp>`, swaps the alias to it in one `_aliases` call, re-indexes
    /// what changed during the load (from the outbox), then deletes the old indices. Queries
    /// and the indexer's writes are served by the old index until the swap.
    async fn reindex(
        &self,
        progress: &(dyn Fn(ReindexProgress) + Send + Sync),
    ) -> Result<ReindexSummary, SearchError> {
        let started = documents::database_now(&self.db).await?;
        let index = format!("{}-{}", self.alias, started.format("%Y%m%d%H%M%S%3f"));
        let old = self.alias_targets().await?;
        let built = async {
            let loaded = self.build_index(&index, progress).await?;
            let swap = requests::alias_swap(&self.alias, &index, &old);
            let swapped = self
                .client
                .indices()
                .update_aliases()
                .body(swap)
                .send()
                .await?;
            ok("swap alias", swapped).await?;
            Ok::<_, SearchError>(loaded)
        };
        let loaded = match built.await {
            Ok(loaded) => loaded,
            Err(e) => {
                // The alias still points at the old index: leave nothing half-built behind.
                self.discard(&index).await;
                return Err(e);
            }
        };

        let changed = documents::changed_since(&self.db, started - CATCH_UP_MARGIN).await?;
        self.index_products(&changed).await?;

        let mut notes = vec![format!("alias {} now points at {index}", self.alias)];
        notes.push(format!(
            "caught up {} products changed during the load",
            changed.len()
        ));
        if !old.is_empty() {
            let names: Vec<&str> = old.iter().map(String::as_str).collect();
            let deleted = self
                .client
                .indices()
                .delete(IndicesDeleteParts::Index(&names))
                .send()
                .await?;
            ok("delete old indices", deleted).await?;
            notes.push(format!("deleted {}", old.join(", ")));
        }
        Ok(ReindexSummary {
            documents: loaded,
            target: index,
            notes,
        })
    }

    /// The cluster answers and is not red, and the alias exists (before the first
    /// `tokoctl search reindex` there is nothing to search).
    async fn health(&self) -> Result<(), SearchError> {
        let unhealthy = |reason: String| SearchError::Status {
            operation: "health",
            status: 503,
            reason,
        };
        let response = self
            .client
            .cluster()
            .health(ClusterHealthParts::None)
            .send()
            .await?;
        let body = ok("cluster health", response).await?;
        if !matches!(body["status"].as_str(), Some("green" | "yellow")) {
            return Err(unhealthy(format!("cluster status is {}", body["status"])));
        }
        if self.alias_targets().await?.is_empty() {
            return Err(unhealthy(format!(
                "alias {} is missing; run `tokoctl search reindex`",
                self.alias
            )));
        }
        Ok(())
    }

    async fn refresh(&self) -> Result<(), SearchError> {
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&self.alias]))
            .send()
            .await?;
        ok("refresh", response).await.map(|_| ())
    }
}
