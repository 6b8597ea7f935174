//! The shared state of the API process, handed to every handler.

use std::{sync::Arc, time::Duration};

use prometheus::Registry;
use sqlx::PgPool;

use crate::{
    auth::AuthService, cart::Carts, catalog::Catalog, config::ApiConfig, db, metrics::HttpMetrics, orders::Orders,
    payments::Payments,
    ratelimit::RateLimiter,
};

/// Services and settings every handler can reach (cheap to clone: all `Arc`s and pools).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ApiConfig>,
    pub db: PgPool,
    pub auth: AuthService,
    pub catalog: Catalog,
    pub carts: Carts,
    pub orders: Orders,
    pub payments: Payments,
    pub rate_limiter: super::rate_limit::SharedLimiter,
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
        let catalog = Catalog::new(db.clone(), config.store.currency.clone());
        let carts = Carts::new(db.clone(), config.cart.clone());
        let orders = Orders::new(db.clone(), config.orders.clone(), config.store.currency.clone());
        let payments = Payments::new(db.clone(), config.midtrans.clone(), orders.clone());
        let orders = orders.with_payments(Arc::new(payments.clone()));
        let limits = &config.rate_limit;
        let rate_limiter = Arc::new(match &limits.redis_url {
            Some(url) => RateLimiter::redis(url.expose(), limits.key_prefix.clone())
                .await
                .map_err(StartupError::Redis)?,
            None => RateLimiter::in_memory(limits.key_prefix.clone()),
        });
        Ok(Self {
            config: Arc::new(config),
            db,
            auth,
            catalog,
            carts,
            orders,
            payments,
            rate_limiter,
            registry,
            http_metrics,
        })
    }

    /// Checks each dependency with a short timeout, concurrently.
    pub async fn readiness(&self) -> Vec<Check> {
        let database = tokio::time::timeout(Duration::from_secs(2), db::ping(&self.db)).await;
        vec![Check {
            name: "database",
            ok: matches!(database, Ok(Ok(()))),
            detail: match database {
                Ok(Ok(())) => None,
                Ok(Err(_)) => Some("query failed".into()),
                Err(_) => Some("timed out".into()),
            },
        }]
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
}
