//! The consumer runtime: a [`Handler`] per worker, run against its queue `toko.<worker>`.
//!
//! For each delivery the runtime
//! 1. skips it (ack) when `processed_messages` already has (worker, message id);
//! 2. calls the handler (a panic counts as a retryable failure);
//! 3. on success records the message as processed (a no-op when the handler did it in its
//!    own transaction, see [`super::Idempotency`]) and acks: manual ack after the effect;
//! 4. on failure publishes a copy with the `x-toko-*` headers to the next retry queue, or to
//!    the dead-letter queue when the error is permanent or `MAX_ATTEMPTS` is reached, waits
//!    for the broker's confirm, and only then acks the original. If that publish fails the
//!    original is requeued, so a message is never lost between the two.
//!
//! Flow control: `CONCURRENCY` (default 4) messages are handled at once; `PREFETCH` (default
//! 16) is the `basic.qos` window. Prefetch above concurrency keeps the next messages already
//! on the wire when a handler finishes (no idle round-trip per ack); keeping it at a few
//! times concurrency bounds what one replica holds unacked, so a new replica started by the
//! autoscaler finds work in the queue, and a crash redelivers at most 16 messages.
//!
//! Connection loss: the session ends, handlers still running finish on their own (their acks
//! fail and the broker redelivers those messages, which idempotency turns into no-ops), and
//! the runtime reconnects with backoff and declares its topology again.
//!
//! Shutdown (SIGTERM, via the cancellation token): cancel the AMQP consumer so nothing new
//! arrives, wait up to `DRAIN_TIMEOUT` for in-flight handlers, then close the channel; any
//! message not acked by then (prefetched or still running) is requeued by the broker.

use std::{error::Error as StdError, panic::AssertUnwindSafe, sync::Arc, time::Instant};

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
        BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    },
    types::FieldTable,
    Channel, Confirmation, Connection,
};
use sqlx::PgPool;
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use super::envelope::Delivered;
use super::{
    envelope::{failure_properties, Failure},
    metrics::ConsumerMetrics,
    topology::{self, WorkerTopology},
    worker_http::BrokerStatus,
    Backoff, Idempotency,
};
use crate::config::ConsumerConfig;

/// Why a handler failed, and so what happens next.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might succeed later (a dependency is down, a lock timed out): retried with delays.
    #[error("{0}")]
    Retryable(Box<dyn StdError + Send + Sync>),
    /// Will never succeed (malformed payload, unknown entity): straight to the DLQ.
    #[error("{0}")]
    Permanent(Box<dyn StdError + Send + Sync>),
}

impl HandlerError {
    pub fn retryable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Retryable(error.into())
    }

    pub fn permanent(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Permanent(error.into())
    }

    /// An event the worker's queue is not bound to (published by hand, or a binding left
    /// from an older subscription): it will never be handled here.
    pub fn not_subscribed(kind: crate::events::EventKind) -> Self {
        Self::permanent(format!("this worker does not handle {kind}"))
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }

    /// The error with its causes, `outer: inner: root`, as written to `x-toko-last-error`.
    pub fn chain(&self) -> String {
        let (Self::Retryable(e) | Self::Permanent(e)) = self;
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Database errors are usually transient (failover, lock timeout, pool exhausted).
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::retryable(error)
    }
}

/// The code of one worker.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The worker's name: its queue is `toko.<name>`, and its idempotency records use it.
    fn name(&self) -> &str;
    /// Routing keys its queue is bound to: those of the worker's entry in
    /// [`topology::SUBSCRIPTIONS`], where the deployment's whole topology is decided. Only
    /// handlers outside the deployment (tests) give their own.
    fn routing_keys(&self) -> Vec<&str> {
        topology::subscriptions_of(self.name())
    }
    /// Handles one message. Must be idempotent per `msg.message_id` (see
    /// [`super::Idempotency`]).
    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError>;
}

/// What happens to a failed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Wait in this retry queue.
    Retry(String),
    /// Park in the dead-letter queue.
    DeadLetter,
}

/// The next step for a message whose `attempt`-th delivery failed.
pub fn disposition(
    topology: &WorkerTopology,
    attempt: u32,
    permanent: bool,
    max_attempts: u32,
) -> Disposition {
    if permanent || attempt >= max_attempts {
        return Disposition::DeadLetter;
    }
    match topology.retry_queue_for(attempt) {
        Some(queue) => Disposition::Retry(queue.name.clone()),
        None => Disposition::DeadLetter,
    }
}

/// Runs one handler against its queue until shutdown.
pub struct Consumer {
    handler: Arc<dyn Handler>,
    pool: PgPool,
    config: ConsumerConfig,
    topology: WorkerTopology,
    metrics: ConsumerMetrics,
    url: String,
    connection_name: String,
    broker: BrokerStatus,
}

/// How a session ended.
enum SessionEnd {
    Shutdown,
    Lost(String),
}

impl Consumer {
    pub fn new(
        handler: Arc<dyn Handler>,
        pool: PgPool,
        config: ConsumerConfig,
        url: &str,
        metrics: ConsumerMetrics,
        broker: BrokerStatus,
    ) -> Self {
        let topology = WorkerTopology::new(
            handler.name(),
            &handler.routing_keys(),
            &config.retry_delays,
        );
        metrics.init_queue(&topology.queue.name, &topology.dlq.name);
        Self {
            connection_name: super::connection_name(handler.name()),
            handler,
            pool,
            config,
            topology,
            metrics,
            url: url.to_owned(),
            broker,
        }
    }

    /// The AMQP connection name (tests use it to find and close the connection).
    pub fn with_connection_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.connection_name);
        self
    }

    pub fn topology(&self) -> &WorkerTopology {
        &self.topology
    }

    /// Consumes until `shutdown` is cancelled, reconnecting whenever the connection drops.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        // Shared across sessions: handlers left running by a lost connection still count.
        let permits = Arc::new(Semaphore::new(this.config.concurrency));
        let mut in_flight = JoinSet::new();
        let mut backoff = Backoff::new();
        while !shutdown.is_cancelled() {
            let opened = tokio::select! {
                s = this.open() => s,
                () = shutdown.cancelled() => break,
            };
            let (connection, consume, publish) = match opened {
                Ok(s) => s,
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(queue = %this.topology.queue.name, error = %e, retry_in_ms = delay.as_millis() as u64, "consumer cannot reach RabbitMQ");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => {}
                    }
                    continue;
                }
            };
            backoff.reset();
            this.broker.set(Some(&connection));
            tracing::info!(queue = %this.topology.queue.name, "consuming");
            let depths = tokio::spawn(poll_queue_depths(
                connection.create_channel().await.ok(),
                this.topology.clone(),
                this.metrics.clone(),
                this.config.queue_metrics_interval,
            ));
            let end = this
                .clone()
                .session(&consume, &publish, &permits, &mut in_flight, &shutdown)
                .await;
            depths.abort();
            this.broker.set(None);
            match end {
                SessionEnd::Lost(reason) => {
                    tracing::warn!(queue = %this.topology.queue.name, reason = %reason, "lost RabbitMQ; reconnecting");
                    drop(connection);
                }
                SessionEnd::Shutdown => {
                    this.drain(&mut in_flight).await;
                    let _ = consume.close(200, "worker stopping".into()).await;
                    let _ = connection.close(200, "worker stopping".into()).await;
                    return;
                }
            }
        }
        this.drain(&mut in_flight).await;
    }

    /// Waits up to the drain timeout for running handlers.
    async fn drain(&self, in_flight: &mut JoinSet<()>) {
        let running = in_flight.len();
        if running > 0 {
            tracing::info!(queue = %self.topology.queue.name, running, "draining in-flight messages");
        }
        let drained = tokio::time::timeout(self.config.drain_timeout, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(queue = %self.topology.queue.name, left = in_flight.len(), "drain timed out; unacked messages return to the queue");
            in_flight.abort_all();
        }
    }

    /// Connects, declares the topology, and opens the consuming channel (with QoS) and the
    /// publishing channel (confirm mode) for retry and dead-letter copies.
    async fn open(&self) -> lapin::Result<(Connection, Channel, Channel)> {
        let connection = super::connect(&self.url, &self.connection_name).await?;
        let consume = connection.create_channel().await?;
        topology::declare(&consume, &self.topology).await?;
        // Per-consumer prefetch window (global = false): see the module docs.
        consume
            .basic_qos(self.config.prefetch, BasicQosOptions { global: false })
            .await?;
        let publish = connection.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok((connection, consume, publish))
    }

    async fn session(
        self: Arc<Self>,
        consume: &Channel,
        publish: &Channel,
        permits: &Arc<Semaphore>,
        in_flight: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> SessionEnd {
        let tag = format!("{}-{}", self.connection_name, uuid::Uuid::new_v4().simple());
        let consumer = consume
            .basic_consume(
                self.topology.queue.name.as_str().into(),
                tag.as_str().into(),
                // Manual acks (no_ack = false); not exclusive: replicas share the queue.
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await;
        let mut consumer = match consumer {
            Ok(c) => c,
            Err(e) => return SessionEnd::Lost(e.to_string()),
        };
        loop {
            while in_flight.try_join_next().is_some() {}
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                () = shutdown.cancelled() => break,
            };
            let delivery = tokio::select! {
                d = consumer.next() => d,
                () = shutdown.cancelled() => break,
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let this = self.clone();
                    let publish = publish.clone();
                    in_flight.spawn(async move {
                        this.process(delivery, &publish).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => return SessionEnd::Lost(e.to_string()),
                None => return SessionEnd::Lost("the broker cancelled the consumer".into()),
            }
        }
        // Stop deliveries first; unacked prefetched messages are requeued when the channel closes.
        let _ = consume
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await;
        SessionEnd::Shutdown
    }

    /// Handles one delivery end to end: dedupe, handler, ack or retry/dead-letter copy.
    async fn process(&self, delivery: Delivery, publish: &Channel) {
        let queue = self.topology.queue.name.as_str();
        let worker = self.handler.name();
        let msg = match Delivered::parse(
            &delivery.properties,
            delivery.routing_key.as_str(),
            delivery.redelivered,
            &delivery.data,
        ) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(queue, error = %e, "undeliverable message");
                self.metrics
                    .failed
                    .with_label_values(&[queue, "permanent"])
                    .inc();
                let failure = Failure {
                    attempts: 1,
                    error: &e.to_string(),
                    permanent: true,
                    routing_key: delivery.routing_key.as_str(),
                };
                self.forward(&delivery, publish, &self.topology.dlq.name, &failure)
                    .await;
                return;
            }
        };
        let span = tracing::info_span!("message", queue, message.id = %msg.message_id, event_type = %msg.event_type, attempt = msg.attempt, correlation_id = msg.correlation_id.as_deref().unwrap_or(""));
        async {
            let result = match Idempotency::is_processed(&self.pool, worker, &msg.message_id).await {
                Ok(true) => {
                    tracing::debug!("already processed; skipping");
                    self.metrics.duplicates.with_label_values(&[queue]).inc();
                    ack(&delivery).await;
                    return;
                }
                Ok(false) => {
                    let started = Instant::now();
                    let result = AssertUnwindSafe(self.handler.handle(&msg))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| Err(HandlerError::retryable("handler panicked")));
                    self.metrics.handler_duration.with_label_values(&[queue]).observe(started.elapsed().as_secs_f64());
                    result
                }
                Err(e) => Err(HandlerError::retryable(e)),
            };
            match result {
                Ok(()) => {
                    if let Err(e) = Idempotency::record(&self.pool, worker, &msg.message_id).await {
                        tracing::warn!(error = %e, "could not record the message as processed");
                    }
                    self.metrics.processed.with_label_values(&[queue]).inc();
                    ack(&delivery).await;
                }
                Err(error) => {
                    let kind = if error.is_permanent() { "permanent" } else { "retryable" };
                    self.metrics.failed.with_label_values(&[queue, kind]).inc();
                    let chain = error.chain();
                    let target = match disposition(&self.topology, msg.attempt, error.is_permanent(), self.config.max_attempts) {
                        Disposition::Retry(retry_queue) => {
                            tracing::warn!(error = %chain, kind, retry_queue, "handler failed; will retry");
                            retry_queue
                        }
                        Disposition::DeadLetter => {
                            tracing::error!(error = %chain, kind, "handler failed; dead-lettering");
                            self.topology.dlq.name.clone()
                        }
                    };
                    let failure = Failure { attempts: msg.attempt, error: &chain, permanent: error.is_permanent(), routing_key: &msg.routing_key };
                    self.forward(&delivery, publish, &target, &failure).await;
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Publishes a failure copy to `queue`, waits for the confirm, then acks the original;
    /// requeues the original when the copy could not be published.
    async fn forward(
        &self,
        delivery: &Delivery,
        publish: &Channel,
        queue: &str,
        failure: &Failure<'_>,
    ) {
        let properties = failure_properties(&delivery.properties, failure);
        let confirmed = async {
            publish
                .basic_publish(
                    "".into(), // the default exchange routes to the queue of that name
                    queue.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &delivery.data,
                    properties,
                )
                .await?
                .await
        }
        .await;
        match confirmed {
            Ok(Confirmation::Ack(None)) => {
                let work_queue = self.topology.queue.name.as_str();
                if queue == self.topology.dlq.name {
                    self.metrics
                        .dead_lettered
                        .with_label_values(&[work_queue])
                        .inc();
                } else {
                    self.metrics.retried.with_label_values(&[work_queue]).inc();
                }
                ack(delivery).await;
            }
            other => {
                tracing::error!(queue, outcome = ?other.map(|c| c.is_ack()), "could not publish the failure copy; requeueing the original");
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
        // The channel is gone: the broker redelivers the message, and idempotency skips it.
        tracing::warn!(error = %e, "ack failed; the message will be redelivered");
    }
}

/// Refreshes `toko_queue_messages` for the work queue and its DLQ every `interval` (passive
/// declares on a channel of their own: a failed passive declare closes its channel).
async fn poll_queue_depths(
    channel: Option<Channel>,
    topology: WorkerTopology,
    metrics: ConsumerMetrics,
    interval: std::time::Duration,
) {
    let Some(channel) = channel else { return };
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        for queue in [topology.queue.name.as_str(), topology.dlq.name.as_str()] {
            match topology::message_count(&channel, queue).await {
                Ok(count) => metrics
                    .queue_messages
                    .with_label_values(&[queue])
                    .set(count.into()),
                Err(e) => {
                    tracing::debug!(queue, error = %e, "queue depth unavailable");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn failures_retry_with_growing_delays_then_dead_letter() {
        let t = WorkerTopology::new(
            "notifier",
            &["order.paid"],
            &[Duration::from_secs(1), Duration::from_secs(10)],
        );
        let steps: Vec<_> = (1..=4)
            .map(|attempt| disposition(&t, attempt, false, 4))
            .collect();
        assert_eq!(
            steps,
            [
                Disposition::Retry("toko.notifier.retry.1".into()),
                Disposition::Retry("toko.notifier.retry.2".into()),
                Disposition::Retry("toko.notifier.retry.2".into()),
                Disposition::DeadLetter,
            ]
        );
        assert_eq!(
            disposition(&t, 1, true, 4),
            Disposition::DeadLetter,
            "permanent errors skip retries"
        );
    }

    #[test]
    fn error_chains_name_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("sending the receipt")]
        struct Outer(#[source] std::io::Error);
        let e = HandlerError::retryable(Outer(std::io::Error::other("connection refused")));
        assert_eq!(e.chain(), "sending the receipt: connection refused");
        assert!(!e.is_permanent());
    }
}
