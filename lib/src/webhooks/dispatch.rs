//! The `webhook-dispatcher` worker: its queue handler turns each event into one delivery per
//! endpoint that wants it, and its sweep sends the due deliveries.
//!
//! Deliveries are rows, not queue messages: a retry schedule of days (and redelivery by
//! staff) does not fit broker queues, and the rows are the delivery log staff read. Sending
//! is at least once: a delivery is leased (its next attempt moved past the timeout) before it
//! is sent, so a dispatcher killed mid-request sends it again once the lease ends. Receivers
//! deduplicate on `webhook-id`, which is the event's id on every attempt.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use super::{address, signing, EndpointDisabled, WebhookConfig};
use crate::{
    events::{Event, EventKind},
    messaging::{
        schedule::Cadence,
        worker::{Worker, WorkerError},
        Delivered, Handler, HandlerError,
    },
    outbox,
};

/// Runs the dispatcher in `worker`: the queue consumer (fan-out) and the delivery sweep.
pub fn run_in(worker: &mut Worker, config: WebhookConfig) -> Result<(), WorkerError> {
    worker.consume(Fanout::new(worker.pool.clone()))?;
    let dispatcher = Dispatcher::new(worker.pool.clone(), config.clone());
    worker.every(
        "deliver-webhooks",
        Cadence::Every(config.sweep_interval),
        move || {
            let dispatcher = dispatcher.clone();
            async move {
                dispatcher.deliver_due(100).await?;
                Ok(())
            }
        },
    )
}

/// Every event may be wanted by some endpoint: endpoints choose, not the deployment.
pub fn subscribes(_kind: EventKind) -> bool {
    true
}

/// What endpoints receive: the event as in the catalog, with its type and version.
pub fn body(event_type: &str, schema_version: i32, data: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "type": event_type,
        "schema_version": schema_version,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

/// The queue handler: one delivery per enabled endpoint subscribed to the event's type.
/// Idempotent by the (endpoint, event id) key, so a redelivered message adds nothing.
pub struct Fanout {
    db: PgPool,
}

impl Fanout {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Handler for Fanout {
    fn name(&self) -> &str {
        "webhook-dispatcher"
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let kind = msg.event()?.kind();
        let message_id: Uuid = msg.message_id.parse().map_err(|_| {
            HandlerError::permanent(format!(
                "message id {:?} is not an event id",
                msg.message_id
            ))
        })?;
        let body = body(kind.routing_key(), kind.schema_version(), &msg.payload);
        sqlx::query!(
            "insert into webhook_deliveries (delivery_id, endpoint_id, message_id, event_type, body)
             select gen_random_uuid(), endpoint_id, $1, $2, $3 from webhook_endpoints
             where enabled and (cardinality(event_types) = 0 or $2 = any(event_types))
             on conflict (endpoint_id, message_id) do nothing",
            message_id,
            kind.routing_key(),
            body,
        )
        .execute(&self.db)
        .await?;
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub attempted: u64,
    pub succeeded: u64,
    pub failed: u64,
}

/// Bytes of an answer kept for the attempt log; the rest is not read.
const EXCERPT_BYTES: usize = 2048;
/// Deliveries sent at once by one dispatcher.
const PARALLEL: usize = 16;

/// Sends due deliveries.
#[derive(Clone)]
pub struct Dispatcher {
    db: PgPool,
    config: WebhookConfig,
}

#[derive(sqlx::FromRow)]
struct Due {
    delivery_id: Uuid,
    endpoint_id: Uuid,
    message_id: Uuid,
    body: serde_json::Value,
    attempts: i32,
    url: String,
    enabled: bool,
    secret: String,
    previous_secret: Option<String>,
}

/// How an attempt ended.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    excerpt: String,
    latency: Duration,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(error: impl std::fmt::Display, started: Instant) -> Self {
        Self {
            status: None,
            error: Some(error.to_string()),
            excerpt: String::new(),
            latency: started.elapsed(),
        }
    }
}

impl Dispatcher {
    pub fn new(db: PgPool, config: WebhookConfig) -> Self {
        Self { db, config }
    }

    /// Claims up to `limit` due deliveries and sends them.
    pub async fn deliver_due(&self, limit: i64) -> Result<SweepReport, sqlx::Error> {
        // The lease: the attempt (lookup and request, each bounded by the timeout) ends
        // before anyone else may take the delivery.
        let lease = self.config.timeout * 2 + Duration::from_secs(5);
        let due: Vec<Due> = sqlx::query_as!(
            Due,
            "with due as (
                 select delivery_id from webhook_deliveries
                 where status = 'pending' and next_attempt_at <= now()
                 order by next_attempt_at limit $1 for update skip locked)
             update webhook_deliveries d
             set next_attempt_at = now() + $2::interval, attempts = d.attempts + 1
             from due, webhook_endpoints e
             where d.delivery_id = due.delivery_id and e.endpoint_id = d.endpoint_id
             returning d.delivery_id, d.endpoint_id, d.message_id, d.body, d.attempts, e.url,
                       e.enabled, e.secret,
                       case when e.previous_secret_expires_at > now() then e.previous_secret end
                           as previous_secret",
            limit,
            lease as _,
        )
        .fetch_all(&self.db)
        .await?;
        let outcomes: Vec<Result<bool, sqlx::Error>> = futures::stream::iter(due)
            .map(|d| async move {
                let outcome = self.attempt(&d).await;
                let succeeded = outcome.succeeded();
                self.record(&d, outcome).await.map(|()| succeeded)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut report = SweepReport::default();
        for outcome in outcomes {
            report.attempted += 1;
            if outcome? {
                report.succeeded += 1;
            } else {
                report.failed += 1;
            }
        }
        Ok(report)
    }

    async fn attempt(&self, d: &Due) -> Outcome {
        let started = Instant::now();
        if !d.enabled {
            return Outcome::failed("the endpoint is disabled", started);
        }
        let url = match url::Url::parse(&d.url) {
            Ok(url) => url,
            Err(e) => return Outcome::failed(format!("invalid URL: {e}"), started),
        };
        let lookup = address::resolve(&url, &self.config.allowed_networks);
        let target = match tokio::time::timeout(self.config.timeout, lookup).await {
            Ok(Ok(target)) => target,
            Ok(Err(refusal)) => return Outcome::failed(format!("refused: {refusal}"), started),
            Err(_) => return Outcome::failed("the address lookup timed out", started),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.config.timeout)
            .resolve(url.host_str().unwrap_or_default(), target)
            .user_agent(concat!("toko-webhooks/", env!("CARGO_PKG_VERSION")))
            .build();
        let client = match client {
            Ok(client) => client,
            Err(e) => return Outcome::failed(e, started),
        };
        let body = serde_json::to_vec(&d.body).expect("JSON values serialize");
        let id = d.message_id.to_string();
        let timestamp = Utc::now().timestamp();
        let mut secrets = vec![d.secret.as_str()];
        secrets.extend(d.previous_secret.as_deref());
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signing::signature(&secrets, &id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return Outcome::failed(describe(e), started),
        };
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Outcome {
            status: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("answered {status}")),
            excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
            latency: started.elapsed(),
        }
    }

    /// Logs the attempt and moves the delivery (and its endpoint's failure record) on, in one
    /// transaction; disabling an endpoint leaves `webhook.endpoint_disabled` in the outbox.
    async fn record(&self, d: &Due, outcome: Outcome) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query!(
            "insert into webhook_attempts
                 (attempt_id, delivery_id, status_code, error, latency_ms, response_excerpt)
             values ($1, $2, $3, $4, $5, $6)",
            Uuid::now_v7(),
            d.delivery_id,
            outcome.status.map(i32::from),
            outcome.error.as_deref(),
            i32::try_from(outcome.latency.as_millis()).unwrap_or(i32::MAX),
            &outcome.excerpt,
        )
        .execute(&mut *tx)
        .await?;
        let retry_in = usize::try_from(d.attempts - 1)
            .ok()
            .and_then(|i| self.config.retry_delays.get(i));
        let status = match (outcome.succeeded(), retry_in) {
            (true, _) => "succeeded",
            (false, Some(_)) if d.enabled => "pending",
            (false, _) => "failed",
        };
        sqlx::query!(
            "update webhook_deliveries
             set status = $2, last_status = $3, next_attempt_at = now() + $4::interval
             where delivery_id = $1",
            d.delivery_id,
            status,
            outcome.status.map(i32::from),
            retry_in.copied().unwrap_or_default() as _,
        )
        .execute(&mut *tx)
        .await?;
        if outcome.succeeded() {
            sqlx::query!(
                "update webhook_endpoints set failing_since = null where endpoint_id = $1 and failing_since is not null",
                d.endpoint_id,
            )
                .execute(&mut *tx)
                .await?;
        } else if d.enabled {
            self.count_failure(&mut tx, d.endpoint_id).await?;
        }
        tx.commit().await
    }

    /// Starts or continues the endpoint's failure record; past `disable_after` it is disabled.
    async fn count_failure(
        &self,
        tx: &mut sqlx::PgConnection,
        endpoint_id: Uuid,
    ) -> Result<(), sqlx::Error> {
        let row = sqlx::query!(
            r#"update webhook_endpoints set failing_since = coalesce(failing_since, now())
             where endpoint_id = $1 returning url, failing_since as "failing_since!""#,
            endpoint_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        let (full_url, failing_since): (String, DateTime<Utc>) = (row.url, row.failing_since);
        let url = super::shown_url(&full_url);
        let failing_for = (Utc::now() - failing_since).to_std().unwrap_or_default();
        if failing_for < self.config.disable_after {
            return Ok(());
        }
        let reason = format!(
            "every delivery has failed since {}",
            failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let disabled = sqlx::query!(
            "update webhook_endpoints set enabled = false, disabled_reason = $2
             where endpoint_id = $1 and enabled",
            endpoint_id,
            &reason,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if disabled {
            tracing::warn!(webhook.endpoint_id = %endpoint_id, %url, %reason, "webhook endpoint disabled");
            let event = EndpointDisabled {
                endpoint_id,
                url,
                failing_since,
                reason,
            };
            outbox::enqueue(tx, Event::WebhookEndpointDisabled(event)).await?;
        }
        Ok(())
    }
}

/// A failed request in a few words (reqwest's own display hides timeouts in the chain), without
/// the URL (its query may hold the merchant's token).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        format!("could not connect: {error}")
    } else {
        error.to_string()
    }
}
