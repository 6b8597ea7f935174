//! The outbox relay: publishes `outbox_events` rows to the `toko.events` exchange.
//!
//! It runs as its own binary, `outbox-relay` (the `workers` crate), deployed and scaled on
//! its own: see the decisions in [`crate::messaging`].
//!
//! One batch is one transaction:
//! 1. claim up to `OUTBOX_BATCH_SIZE` unpublished rows, oldest first, with
//!    `FOR UPDATE SKIP LOCKED` (another replica claims the next rows instead of waiting);
//! 2. publish each as a persistent message on a channel in confirm mode, all pipelined;
//! 3. wait for the broker's confirms, then mark the confirmed rows published in the same
//!    transaction and commit.
//!
//! A row the broker returned (mandatory publish, no queue bound to its routing key) or
//! nacked stays unpublished with `last_error` and is retried after a growing delay
//! (`next_attempt_at`), so it never blocks the rows behind it. A connection failure leaves
//! unconfirmed rows unpublished; the relay reconnects with backoff and publishes them again
//! (at-least-once: consumers deduplicate by message id).
//!
//! While a backlog lasts, [`LANES`] batches run at once on the same channel, each over rows
//! the others skipped; events are therefore not published in strict `created_at` order
//! (nor are they with several replicas): consumers never rely on it.
//!
//! When idle the relay sleeps `OUTBOX_POLL_INTERVAL`, woken early by the `outbox` NOTIFY a
//! trigger sends on every insert. Published rows older than `OUTBOX_RETENTION` and consumer
//! idempotency records older than `PROCESSED_MESSAGES_RETENTION` are pruned every minute.

use std::{sync::Arc, time::Duration};

use lapin::{
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable, ShortString},
    BasicProperties, Channel, Confirmation, Connection,
};
use sqlx::{postgres::PgListener, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    housekeeping::prune,
    metrics::RelayMetrics,
    topology::{self, long_string, short, Topology},
    worker_http::BrokerStatus,
    Backoff,
};
use crate::{
    config::RelayConfig,
    outbox::{self, StoredEvent},
};

/// How long the relay waits for the broker to confirm a batch before reconnecting.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// How often published rows and old idempotency records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Batches in flight at once while a backlog lasts. Each claims other rows (`SKIP LOCKED`), so
/// one batch's publishing overlaps another's claim, confirms and commit: the broker and
/// Postgres work at the same time instead of in turn.
const LANES: usize = 3;

/// The AMQP properties of an event's message: persistent, message id = event id, correlation
/// id = the row's or the event id, type = event type, JSON, creation time, and the aggregate
/// and schema version as headers.
pub fn properties(event: &StoredEvent) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("aggregate_type".into(), long_string(&event.aggregate_type));
    headers.insert(
        "aggregate_id".into(),
        long_string(&event.aggregate_id.to_string()),
    );
    headers.insert(
        "schema_version".into(),
        AMQPValue::LongInt(event.schema_version),
    );
    BasicProperties::default()
        .with_message_id(short(&event.event_id.to_string()))
        .with_correlation_id(short(
            &event.correlation_id.unwrap_or(event.event_id).to_string(),
        ))
        .with_type(short(&event.event_type))
        .with_content_type(short("application/json"))
        .with_timestamp(u64::try_from(event.created_at.timestamp()).unwrap_or(0))
        // 2 = persistent: written to disk by the broker, survives its restart.
        .with_delivery_mode(2)
        .with_app_id(short("toko"))
        .with_headers(headers)
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows confirmed and marked published.
    pub published: usize,
    /// Rows returned or nacked by the broker, left for a later attempt.
    pub rejected: usize,
}

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker did not confirm within {0:?}")]
    ConfirmTimeout(Duration),
}

/// The relay: one per process, any number per deployment.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    config: RelayConfig,
    url: String,
    connection_name: String,
    metrics: RelayMetrics,
    broker: BrokerStatus,
    topology: Option<Arc<Topology>>,
}

impl Relay {
    pub fn new(
        pool: PgPool,
        config: RelayConfig,
        url: &str,
        metrics: RelayMetrics,
        broker: BrokerStatus,
    ) -> Self {
        Self {
            pool,
            config,
            url: url.to_owned(),
            connection_name: super::connection_name("outbox-relay"),
            metrics,
            broker,
            topology: None,
        }
    }

    /// Declares `topology` on every (re)connection, before publishing: events then wait in
    /// their queues even when no worker has started yet.
    pub fn declaring(mut self, topology: Topology) -> Self {
        self.topology = Some(Arc::new(topology));
        self
    }

    /// The AMQP connection name (tests use it to find and close the connection).
    pub fn with_connection_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.connection_name);
        self
    }

    /// Publishes until `shutdown` is cancelled, surviving broker and database outages. The
    /// batch in progress when the signal arrives is finished first.
    pub async fn run(&self, shutdown: CancellationToken) {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen_for_inserts(
            self.pool.clone(),
            wake.clone(),
            shutdown.clone(),
        ));
        let mut backoff = Backoff::new();
        let mut last_prune: Option<tokio::time::Instant> = None;

        while !shutdown.is_cancelled() {
            let session = tokio::select! {
                s = self.open() => s,
                () = shutdown.cancelled() => break,
            };
            let (connection, channel) = match session {
                Ok(s) => s,
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay cannot reach RabbitMQ");
                    sleep_or_cancel(delay, &shutdown).await;
                    continue;
                }
            };
            tracing::info!("relay connected to RabbitMQ");
            self.broker.set(Some(&connection));

            let mut busy = false;
            while !shutdown.is_cancelled() {
                if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                    last_prune = Some(tokio::time::Instant::now());
                    if let Err(e) = prune(&self.pool, &self.config, &self.metrics).await {
                        tracing::warn!(error = %e, "pruning the outbox failed");
                    }
                }
                let lanes = if busy { LANES } else { 1 };
                let batches =
                    futures::future::join_all((0..lanes).map(|_| self.publish_batch(&channel)))
                        .await;
                let mut failure = None;
                busy = false;
                for batch in batches {
                    match batch {
                        // A full batch: more rows are probably waiting.
                        Ok(outcome) => busy |= outcome.claimed as i64 >= self.config.batch_size,
                        Err(e) => failure = failure.or(Some(e)),
                    }
                }
                match failure {
                    None => {
                        backoff.reset();
                        if busy {
                            continue;
                        }
                        tokio::select! {
                            () = wake.notified() => {}
                            () = tokio::time::sleep(self.config.poll_interval) => {}
                            () = shutdown.cancelled() => {}
                        }
                    }
                    Some(RelayError::Database(e)) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay cannot read the outbox");
                        sleep_or_cancel(delay, &shutdown).await;
                    }
                    Some(e) => {
                        tracing::warn!(error = %e, "relay lost RabbitMQ; reconnecting");
                        break;
                    }
                }
            }
            self.broker.set(None);
            let _ = connection.close(200, "relay stopping".into()).await;
        }
        listener.abort();
    }

    /// Connects and opens a channel in confirm mode, with the exchange (and the topology, see
    /// [`Relay::declaring`]) declared.
    async fn open(&self) -> lapin::Result<(Connection, Channel)> {
        let connection = super::connect(&self.url, &self.connection_name).await?;
        if let Some(topology) = &self.topology {
            // Its own channel: a refused declare closes the channel it was sent on.
            let declaring = connection.create_channel().await?;
            match topology::declare_all(&declaring, topology).await {
                Ok(()) => {
                    let _ = declaring.close(200, "topology declared".into()).await;
                }
                // An existing queue with other arguments (a changed RETRY_DELAYS) must not stop
                // publishing: events still reach the queues that exist.
                Err(e) => {
                    tracing::error!(error = %e, "declaring the topology failed; see `tokoctl messaging setup`")
                }
            }
        }
        let channel = connection.create_channel().await?;
        // Publisher confirms: the broker acks each message once it has taken responsibility
        // for it (persisted to every queue it was routed to).
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        topology::declare_exchange(&channel).await?;
        Ok((connection, channel))
    }

    /// Claims, publishes and marks one batch (see the module docs).
    pub async fn publish_batch(&self, channel: &Channel) -> Result<BatchOutcome, RelayError> {
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        let rows = outbox::claim(&mut tx, self.config.batch_size).await?;
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }

        let mut broker_error: Option<RelayError> = None;
        let mut pending = Vec::with_capacity(rows.len());
        let mut rejected: Vec<(Uuid, String)> = Vec::new();
        for row in &rows {
            let Ok(routing_key) = ShortString::try_new(row.event_type.as_str()) else {
                rejected.push((row.event_id, "event type longer than 255 bytes".into()));
                continue;
            };
            let body = serde_json::to_vec(&row.payload).unwrap_or_default();
            // mandatory: an event no queue is bound to comes back instead of vanishing.
            let options = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            match channel
                .basic_publish(
                    topology::EXCHANGE.into(),
                    routing_key,
                    options,
                    &body,
                    properties(row),
                )
                .await
            {
                Ok(confirm) => pending.push((row.event_id, confirm)),
                Err(e) => {
                    broker_error = Some(e.into());
                    break;
                }
            }
        }

        let mut published = Vec::with_capacity(pending.len());
        for (event_id, confirm) in pending {
            if broker_error.is_some() {
                break; // unconfirmed rows stay unpublished
            }
            match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => published.push(event_id),
                Ok(Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)))) => {
                    rejected.push((
                        event_id,
                        format!(
                            "returned by the broker: {} {}",
                            returned.reply_code, returned.reply_text
                        ),
                    ));
                }
                Ok(Ok(Confirmation::Nack(None))) => {
                    rejected.push((event_id, "nacked by the broker".into()))
                }
                Ok(Ok(Confirmation::NotRequested)) => {
                    rejected.push((event_id, "channel is not in confirm mode".into()));
                }
                Ok(Err(e)) => broker_error = Some(e.into()),
                Err(_) => broker_error = Some(RelayError::ConfirmTimeout(CONFIRM_TIMEOUT)),
            }
        }

        outbox::mark_published(&mut tx, &published).await?;
        for (event_id, error) in &rejected {
            tracing::warn!(event.id = %event_id, error = %error, "broker refused an event; will retry");
            outbox::mark_refused(&mut tx, *event_id, error).await?;
        }
        tx.commit().await?;

        self.metrics.published.inc_by(published.len() as u64);
        self.metrics.rejected.inc_by(rejected.len() as u64);
        self.metrics
            .batch_duration
            .observe(started.elapsed().as_secs_f64());
        if let Some(e) = broker_error {
            return Err(e);
        }
        Ok(BatchOutcome {
            claimed: rows.len(),
            published: published.len(),
            rejected: rejected.len(),
        })
    }
}

/// Forwards `NOTIFY outbox` to `wake`. A lost listener connection only delays publishing to
/// the next poll, so errors are logged and retried.
async fn listen_for_inserts(pool: PgPool, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "outbox listener cannot connect");
                sleep_or_cancel(backoff.next_delay(), &shutdown).await;
                continue;
            }
        };
        if let Err(e) = listener.listen("outbox").await {
            tracing::debug!(error = %e, "outbox listener cannot LISTEN");
            sleep_or_cancel(backoff.next_delay(), &shutdown).await;
            continue;
        }
        backoff.reset();
        loop {
            match listener.recv().await {
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, "outbox listener lost its connection");
                    break;
                }
            }
        }
    }
}

async fn sleep_or_cancel(delay: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_event_identity_and_headers() {
        let event_id = Uuid::now_v7();
        let aggregate_id = Uuid::new_v4();
        let row = StoredEvent {
            event_id,
            event_type: "order.paid".into(),
            aggregate_type: "order".into(),
            aggregate_id,
            payload: serde_json::json!({ "order_id": aggregate_id }),
            schema_version: 1,
            correlation_id: None,
            created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let p = properties(&row);
        assert_eq!(
            p.message_id().as_ref().map(|s| s.as_str()),
            Some(event_id.to_string().as_str())
        );
        assert_eq!(
            p.correlation_id().as_ref().map(|s| s.as_str()),
            Some(event_id.to_string().as_str())
        );
        assert_eq!(p.kind().as_ref().map(|s| s.as_str()), Some("order.paid"));
        assert_eq!(
            p.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(*p.delivery_mode(), Some(2));
        assert_eq!(*p.timestamp(), Some(1_800_000_000));
        let headers = p.headers().clone().unwrap();
        assert_eq!(
            headers.inner().get("aggregate_type"),
            Some(&long_string("order"))
        );
        assert_eq!(
            headers.inner().get("aggregate_id"),
            Some(&long_string(&aggregate_id.to_string()))
        );
        assert_eq!(
            headers.inner().get("schema_version"),
            Some(&AMQPValue::LongInt(1))
        );

        let correlation = Uuid::new_v4();
        let p = properties(&StoredEvent {
            correlation_id: Some(correlation),
            ..row
        });
        assert_eq!(
            p.correlation_id().as_ref().map(|s| s.as_str()),
            Some(correlation.to_string().as_str())
        );
    }
}
