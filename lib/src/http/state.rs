//! The shared state of the API process, handed to every handler.

use std::{sync::Arc, time::Duration};

use prometheus::Registry;
use sqlx::PgPool;

use crate::{
    accounts::Accounts,
    addresses::AddressBook,
    auth::AuthService,
    cart::Carts,
    catalog::{
        changes::{CacheLimits, CatalogChanges},
        Catalog,
    },
    config::ApiConfig,
    db,
    fulfilment::Fulfilment,
    metrics::HttpMetrics,
    orders::Orders,
    payments::Payments,
    promotions::Promotions,
    ratelimit::RateLimiter,
    returns::Returns,
    search::Search,
    shipping::Shipping,
    tax::Taxes,
    webhooks::Webhooks,
};

/// Services and settings every handler can reach (cheap to clone: all `Arc`s and pools).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ApiConfig>,
    pub db: PgPool,
    pub auth: AuthService,
    pub accounts: Accounts,
    pub addresses: AddressBook,
    pub catalog: Catalog,
    pub carts: Carts,
    pub orders: Orders,
    pub payments: Payments,
    pub promotions: Promotions,
    pub returns: Returns,
    pub fulfilment: Fulfilment,
    pub shipping: Shipping,
    pub taxes: Taxes,
    pub rate_limiter: super::rate_limit::SharedLimiter,
    pub search: Search,
    pub webhooks: Webhooks,
    /// The catalog's change counter behind the read caches; `None` when caching is off.
    pub catalog_changes: Option<Arc<CatalogChanges>>,
    pub registry: Registry,
    pub http_metrics: HttpMetrics,
}

/// One dependency's readiness.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: Option<String>,
}

impl AppState {
    pub async fn new(config: ApiConfig, db: PgPool) -> Result<Self, StartupError> {
        let registry = Registry::new_custom(Some("toko".into()), None)?;
        let http_metrics = HttpMetrics::register(&registry)?;
        let auth = AuthService::new(db.clone(), config.auth.clone()).await?;
        // One listener keeps every public read cache honest (see catalog::changes).
        let cache_limits = CacheLimits {
            entries: config.store.read_cache_entries,
            bytes: config.store.read_cache_bytes,
        };
        let changes = (cache_limits.entries > 0 && cache_limits.bytes > 0)
            .then(|| CatalogChanges::follow(db.clone()));
        let catalog = Catalog::new(db.clone(), config.store.currency.clone())
            .with_read_caches(changes.clone(), cache_limits);
        let carts = Carts::new(db.clone(), config.cart.clone());
        let shipping = Shipping::new(db.clone(), config.shipping.clone());
        let orders = Orders::new(
            db.clone(),
            config.orders.clone(),
            config.store.currency.clone(),
        )
        .with_shipping(shipping.clone());
        let payments = Payments::new(db.clone(), config.midtrans.clone(), orders.clone());
        let orders = orders.with_payments(Arc::new(payments.clone()));
        let limits = &config.rate_limit;
        let rate_limiter = Arc::new(match &limits.redis_url {
            Some(url) => RateLimiter::redis(url.expose(), limits.key_prefix.clone())
                .await
                .map_err(StartupError::Redis)?,
            None => RateLimiter::in_memory(limits.key_prefix.clone()),
        });
        let search = Search::from_config(&config.search, db.clone())?.with_result_cache(
            &config.search,
            changes.clone(),
            cache_limits,
        );
        let webhooks = Webhooks::new(db.clone(), config.webhooks.clone());
        let promotions = Promotions::new(
            db.clone(),
            shipping.methods().iter().map(|m| m.code.clone()).collect(),
        );
        let taxes = Taxes::new(db.clone(), config.orders.tax);
        let returns = Returns::new(
            db.clone(),
            orders.clone(),
            payments.clone(),
            config.returns.clone(),
        );
        let fulfilment = Fulfilment::new(db.clone());
        Ok(Self {
            config: Arc::new(config),
            addresses: AddressBook::new(db.clone()),
            accounts: Accounts::new(db.clone(), auth.clone()),
            db,
            auth,
            catalog,
            carts,
            orders,
            payments,
            promotions,
            returns,
            fulfilment,
            shipping,
            taxes,
            rate_limiter,
            search,
            webhooks,
            catalog_changes: changes,
            registry,
            http_metrics,
        })
    }

    /// Checks each dependency with a short timeout, concurrently.
    pub async fn readiness(&self) -> Vec<Check> {
        let (database, search) = tokio::join!(
            tokio::time::timeout(READINESS_TIMEOUT, db::ping(&self.db)),
            tokio::time::timeout(READINESS_TIMEOUT, self.search.backend().health()),
        );
        // A database error's text may carry connection details; search errors name their
        // cause (cluster status, missing alias) and nothing secret.
        let database = database.map(|r| r.map_err(|_| "query failed".to_owned()));
        let search = search.map(|r| r.map_err(|e| e.to_string()));
        vec![check("database", database), check("search", search)]
    }
}

const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

fn check(
    name: &'static str,
    outcome: Result<Result<(), String>, tokio::time::error::Elapsed>,
) -> Check {
    let detail = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(reason)) => Some(reason),
        Err(_) => Some("timed out".into()),
    };
    Check {
        name,
        ok: detail.is_none(),
        detail,
    }
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("auth service: {0}")]
    Auth(#[from] crate::auth::AuthError),
    #[error("cannot reach Redis at REDIS_URL (rate limits): {0}")]
    Redis(redis::RedisError),
    #[error("search: {0}")]
    Search(#[from] crate::search::SearchError),
}
