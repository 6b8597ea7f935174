//! A worker process: settings, Postgres pool, metrics, the health/metrics server on
//! `METRICS_PORT`, and the components it runs (a consumer, periodic jobs, the relay), all
//! stopped together on one signal.
//!
//! A worker binary is then a handler plus a few lines:
//!
//! ```ignore
//! let mut worker = Worker::start("notifier", config).await?;
//! worker.consume(Notifier::new(worker.pool.clone(), mailer, shop))?;
//! worker.run_until(toko::telemetry::shutdown_signal()).await;
//! ```

use std::{future::Future, net::SocketAddr, sync::Arc};

use prometheus::Registry;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{
    consumer::Consumer,
    metrics::{self, ConsumerMetrics, RelayMetrics},
    relay::Relay,
    schedule::{self, Cadence, PeriodicMetrics},
    topology::Topology,
    worker_http::{self, BrokerStatus, HealthState},
    Handler,
};
use crate::{config::WorkerConfig, serving::BoundServer};

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("connecting to Postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("binding the metrics port: {0}")]
    Bind(#[from] std::io::Error),
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A running worker process.
pub struct Worker {
    pub name: String,
    pub config: WorkerConfig,
    pub pool: PgPool,
    pub registry: Registry,
    pub broker: BrokerStatus,
    /// Cancelled by [`Worker::run_until`]; components stop on it.
    pub shutdown: CancellationToken,
    http_addr: SocketAddr,
    http_stop: CancellationToken,
    components: JoinSet<()>,
    periodic_metrics: Option<PeriodicMetrics>,
}

impl Worker {
    /// Connects to Postgres and serves health and metrics on `0.0.0.0:METRICS_PORT`.
    pub async fn start(name: &str, config: WorkerConfig) -> Result<Self, WorkerError> {
        let pool = crate::db::connect(&config.database).await?;
        let addr = SocketAddr::from(([0, 0, 0, 0], config.metrics_port));
        Self::with_pool(name, config, pool, addr).await
    }

    /// Like [`Worker::start`] with a given pool and listen address (tests use port 0).
    pub async fn with_pool(
        name: &str,
        config: WorkerConfig,
        pool: PgPool,
        addr: SocketAddr,
    ) -> Result<Self, WorkerError> {
        let registry = metrics::registry();
        let broker = BrokerStatus::default();
        let server = BoundServer::bind(addr.ip(), addr.port()).await?;
        let http_addr = server.local_addr;
        let http_stop = CancellationToken::new();
        let state = HealthState {
            pool: pool.clone(),
            broker: broker.clone(),
            registry: registry.clone(),
        };
        let stop = http_stop.clone();
        tokio::spawn(async move {
            if let Err(e) = server
                .serve(worker_http::app(state), stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "health server failed");
            }
        });
        tracing::info!(worker = name, %http_addr, "worker started");
        Ok(Self {
            name: name.to_owned(),
            config,
            pool,
            registry,
            broker,
            shutdown: CancellationToken::new(),
            http_addr,
            http_stop,
            components: JoinSet::new(),
            periodic_metrics: None,
        })
    }

    /// Where `/health/*` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Consumes the handler's queue `toko.<handler name>`.
    pub fn consume(&mut self, handler: impl Handler) -> Result<(), WorkerError> {
        self.consume_with(handler, |c| c)
    }

    /// [`Worker::consume`] with a chance to adjust the consumer (tests name its connection).
    pub fn consume_with(
        &mut self,
        handler: impl Handler,
        adjust: impl FnOnce(Consumer) -> Consumer,
    ) -> Result<(), WorkerError> {
        let metrics = ConsumerMetrics::register(&self.registry)?;
        self.broker.require();
        let consumer = adjust(Consumer::new(
            Arc::new(handler),
            self.pool.clone(),
            self.config.consumer.clone(),
            self.config.messaging.url.expose(),
            metrics,
            self.broker.clone(),
        ));
        self.components.spawn(consumer.run(self.shutdown.clone()));
        Ok(())
    }

    /// Publishes the outbox (the `outbox-relay` process).
    pub fn relay(&mut self) -> Result<Relay, WorkerError> {
        let metrics = RelayMetrics::register(&self.registry)?;
        self.broker.require();
        let relay = Relay::new(
            self.pool.clone(),
            self.config.relay.clone(),
            self.config.messaging.url.expose(),
            metrics,
            self.broker.clone(),
        )
        .declaring(Topology::deployment(&self.config.consumer.retry_delays));
        let (running, shutdown) = (relay.clone(), self.shutdown.clone());
        self.components
            .spawn(async move { running.run(shutdown).await });
        Ok(relay)
    }

    /// Runs `job` on `cadence` (see [`schedule::run_periodic`]).
    pub fn every<F, Fut>(&mut self, name: &str, cadence: Cadence, job: F) -> Result<(), WorkerError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), apalis::prelude::BoxDynError>> + Send + 'static,
    {
        if self.periodic_metrics.is_none() {
            self.periodic_metrics = Some(PeriodicMetrics::register(&self.registry)?);
        }
        let (name, metrics, shutdown) = (
            name.to_owned(),
            self.periodic_metrics.clone(),
            self.shutdown.clone(),
        );
        self.components.spawn(async move {
            schedule::run_periodic(&name, cadence, job, metrics, shutdown).await
        });
        Ok(())
    }

    /// Runs until `signal` resolves, then stops every component (each drains its in-flight
    /// work) and finally the health server.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!(worker = %self.name, "stopping");
        self.shutdown.cancel();
        while self.components.join_next().await.is_some() {}
        self.http_stop.cancel();
        tracing::info!(worker = %self.name, "stopped");
    }
}
