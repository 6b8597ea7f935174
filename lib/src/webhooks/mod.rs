//! Outbound webhooks: merchants' systems (an ERP, a warehouse, a marketing tool) receive
//! toko's events over HTTPS instead of polling.
//!
//! Staff register endpoints (URL, event types, enabled) with a signing secret shown once.
//! The `webhook-dispatcher` worker ([`dispatch`]) turns every event of the catalog
//! (docs/EVENTS.md) into one delivery per subscribed endpoint, then sends due deliveries
//! signed per Standard Webhooks ([`signing`]), to public addresses only ([`address`]),
//! retrying failures over about three days. Every attempt is recorded; staff list deliveries,
//! read their attempts, redeliver one or a time range, and send a test event. An endpoint
//! whose deliveries have all failed for `WEBHOOK_DISABLE_AFTER` is disabled and the admins
//! are emailed (`webhook.endpoint_disabled`).

pub mod address;
pub mod dispatch;
pub mod signing;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, PgPool};
use url::Url;
use uuid::Uuid;

use crate::{
    config::{ConfigError, Reader},
    events::{EventKind, Payload},
    validation::ValidationErrors,
};

/// Settings of webhook delivery (API and dispatcher).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long one attempt may take, connection to last byte read.
    pub timeout: Duration,
    /// Non-public networks endpoints may still reach (e.g. `10.0.0.0/8` for an ERP inside
    /// the cluster; the tests allow loopback). Empty: public addresses only.
    pub allowed_networks: Vec<IpNet>,
    /// Refuse `http://` endpoints.
    pub require_https: bool,
    /// The wait before each retry; a delivery fails after the last.
    pub retry_delays: Vec<Duration>,
    /// An endpoint whose every delivery has failed this long is disabled.
    pub disable_after: Duration,
    /// How often the dispatcher looks for due deliveries.
    pub sweep_interval: Duration,
}

impl WebhookConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let allowed_networks = r
            .string("WEBHOOK_ALLOWED_NETWORKS", "")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<IpNet>().map_err(|e| ConfigError::Invalid {
                    name: "WEBHOOK_ALLOWED_NETWORKS",
                    reason: format!("{n:?}: {e} (expected CIDRs like 10.0.0.0/8)"),
                })
            })
            .collect::<Result<_, _>>()?;
        let hours = |h: u64| Duration::from_secs(h * 3600);
        Ok(Self {
            timeout: r.positive_duration("WEBHOOK_TIMEOUT", Duration::from_secs(10))?,
            allowed_networks,
            require_https: r.bool("WEBHOOK_REQUIRE_HTTPS", true)?,
            // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h: about three days in all.
            retry_delays: r.durations(
                "WEBHOOK_RETRY_DELAYS",
                &[
                    Duration::from_secs(5),
                    Duration::from_secs(300),
                    Duration::from_secs(1800),
                    hours(2),
                    hours(5),
                    hours(10),
                    hours(14),
                    hours(20),
                    hours(20),
                ],
            )?,
            disable_after: r.positive_duration("WEBHOOK_DISABLE_AFTER", hours(5 * 24))?,
            // The sweep runs on whole seconds (`Cadence::Every`): less is 1 s.
            sweep_interval: r
                .positive_duration("WEBHOOK_SWEEP_INTERVAL", Duration::from_secs(1))?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// A registered endpoint (its secrets are never read back).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    #[sqlx(rename = "endpoint_id")]
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// Routing keys; empty means every event.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Until when the previous secret also signs (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What staff give to register an endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// A change to an endpoint; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// One event for one endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    #[sqlx(rename = "delivery_id")]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub message_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i32,
    pub response_excerpt: String,
}

/// The payload of `webhook.endpoint_disabled`: the admins are told.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EndpointDisabled {
    pub endpoint_id: Uuid,
    /// Scheme, host and path only: merchants put tokens in query strings, and this event
    /// reaches other endpoints too.
    pub url: String,
    pub failing_since: DateTime<Utc>,
    pub reason: String,
}

impl Payload for EndpointDisabled {
    fn aggregate_id(&self) -> Uuid {
        self.endpoint_id
    }
}

/// A URL as it may be shown in logs and events: without query, fragment or credentials.
pub fn shown_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// The event type of a test delivery (not an event of the catalog).
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Endpoint management for staff.
#[derive(Clone)]
pub struct Webhooks {
    db: PgPool,
    config: WebhookConfig,
}

impl Webhooks {
    pub fn new(db: PgPool, config: WebhookConfig) -> Self {
        Self { db, config }
    }

    /// Registers an endpoint; returns it with its secret, which is never shown again.
    pub async fn create(&self, input: NewEndpoint) -> Result<(Endpoint, String), WebhookError> {
        let mut errors = ValidationErrors::new();
        let url = self.check_url(&mut errors, &input.url);
        errors.length("description", &input.description, 0, 500);
        let event_types = check_event_types(&mut errors, &input.event_types);
        errors.finish()?;
        let secret = signing::new_secret();
        let endpoint = sqlx::query_as!(
            Endpoint,
            "insert into webhook_endpoints (endpoint_id, url, description, event_types, enabled, secret)
             values ($1, $2, $3, $4, $5, $6) returning endpoint_id as id, url, description, event_types, enabled,
                 previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at",
            Uuid::now_v7(),
            url.map(String::from).unwrap_or_default(),
            input.description.trim(),
            &event_types,
            input.enabled,
            &secret,
        )
        .fetch_one(&self.db)
        .await?;
        Ok((endpoint, secret))
    }

    pub async fn list(&self) -> Result<Vec<Endpoint>, WebhookError> {
        Ok(sqlx::query_as!(
            Endpoint,
            "select endpoint_id as id, url, description, event_types, enabled,
                 previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at
             from webhook_endpoints order by created_at, endpoint_id",
        )
        .fetch_all(&self.db)
        .await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<Endpoint, WebhookError> {
        find_endpoint(&self.db, id)
            .await?
            .ok_or(WebhookError::NotFound("webhook endpoint"))
    }

    /// Changes an endpoint. Enabling it again clears its failure record.
    pub async fn update(&self, id: Uuid, patch: EndpointPatch) -> Result<Endpoint, WebhookError> {
        let mut errors = ValidationErrors::new();
        let url = patch
            .url
            .as_deref()
            .and_then(|u| self.check_url(&mut errors, u));
        if let Some(description) = &patch.description {
            errors.length("description", description, 0, 500);
        }
        let event_types = patch
            .event_types
            .as_ref()
            .map(|types| check_event_types(&mut errors, types));
        errors.finish()?;
        sqlx::query_as!(
            Endpoint,
            "update webhook_endpoints set
                 url = coalesce($2, url),
                 description = coalesce($3, description),
                 event_types = coalesce($4, event_types),
                 enabled = coalesce($5, enabled),
                 failing_since = case when $5 then null else failing_since end,
                 disabled_reason = case when $5 then null else disabled_reason end
             where endpoint_id = $1 returning endpoint_id as id, url, description, event_types, enabled,
                 previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at",
            id,
            url.map(String::from),
            patch.description.as_deref().map(str::trim),
            event_types.as_deref(),
            patch.enabled,
        )
        .fetch_optional(&self.db)
        .await?
        .ok_or(WebhookError::NotFound("webhook endpoint"))
    }

    pub async fn delete(&self, id: Uuid) -> Result<(), WebhookError> {
        let deleted = sqlx::query!("delete from webhook_endpoints where endpoint_id = $1", id)
            .execute(&self.db)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(WebhookError::NotFound("webhook endpoint"));
        }
        Ok(())
    }

    /// Replaces the secret; the old one keeps signing (both signatures are sent) for
    /// `overlap`, so the receiver can switch without losing a delivery.
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        overlap: Duration,
    ) -> Result<(Endpoint, String), WebhookError> {
        let mut errors = ValidationErrors::new();
        if overlap > Duration::from_secs(7 * 86_400) {
            errors.add("overlap_seconds", "at most 604800 (7 days)");
        }
        errors.finish()?;
        let secret = signing::new_secret();
        let endpoint = sqlx::query_as!(
            Endpoint,
            "update webhook_endpoints set
                 previous_secret = secret,
                 previous_secret_expires_at = now() + $3::interval,
                 secret = $2
             where endpoint_id = $1 returning endpoint_id as id, url, description, event_types, enabled,
                 previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at",
            id,
            &secret,
            overlap as _,
        )
        .fetch_optional(&self.db)
        .await?
        .ok_or(WebhookError::NotFound("webhook endpoint"))?;
        Ok((endpoint, secret))
    }

    /// Queues a `webhook.test` delivery to the endpoint (sent like any other).
    pub async fn send_test(&self, id: Uuid) -> Result<Delivery, WebhookError> {
        let endpoint = self.get(id).await?;
        let message_id = Uuid::now_v7();
        let body = dispatch::body(
            TEST_EVENT_TYPE,
            1,
            &serde_json::json!({
                "endpoint_id": endpoint.id,
                "message": "a test event sent by staff from toko",
            }),
        );
        Ok(sqlx::query_as!(
            Delivery,
            "insert into webhook_deliveries (delivery_id, endpoint_id, message_id, event_type, body)
             values ($1, $2, $3, $4, $5) returning delivery_id as id, endpoint_id, message_id, event_type, status, attempts,
                 next_attempt_at, last_status, created_at, updated_at",
            Uuid::now_v7(),
            endpoint.id,
            message_id,
            TEST_EVENT_TYPE,
            body,
        )
        .fetch_one(&self.db)
        .await?)
    }

    /// The endpoint's deliveries, newest first, optionally of one status; `before` is the
    /// last delivery id of the previous page. Ordered by creation time: fanned-out deliveries
    /// get random ids from the database, so their ids do not sort by time.
    pub async fn deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<&str>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Delivery>, WebhookError> {
        self.get(endpoint_id).await?;
        Ok(sqlx::query_as!(
            Delivery,
            "select delivery_id as id, endpoint_id, message_id, event_type, status, attempts,
                 next_attempt_at, last_status, created_at, updated_at
             from webhook_deliveries
             where endpoint_id = $1 and ($2::text is null or status = $2)
               and ($3::uuid is null or (created_at, delivery_id) <
                   (select created_at, delivery_id from webhook_deliveries where delivery_id = $3))
             order by created_at desc, delivery_id desc limit $4",
            endpoint_id,
            status,
            before,
            limit,
        )
        .fetch_all(&self.db)
        .await?)
    }

    /// A delivery with its attempts, oldest first.
    pub async fn delivery(&self, id: Uuid) -> Result<(Delivery, Vec<Attempt>), WebhookError> {
        let delivery = find_delivery(&self.db, id)
            .await?
            .ok_or(WebhookError::NotFound("webhook delivery"))?;
        let attempts = sqlx::query_as!(
            Attempt,
            "select attempted_at, status_code, error, latency_ms, response_excerpt
             from webhook_attempts where delivery_id = $1 order by attempted_at, attempt_id",
            id,
        )
        .fetch_all(&self.db)
        .await?;
        Ok((delivery, attempts))
    }

    /// Sends a delivery again from the start of the retry schedule, whatever its status.
    pub async fn redeliver(&self, id: Uuid) -> Result<Delivery, WebhookError> {
        sqlx::query_as!(
            Delivery,
            "update webhook_deliveries
             set status = 'pending', attempts = 0, next_attempt_at = now()
             where delivery_id = $1 returning delivery_id as id, endpoint_id, message_id, event_type, status, attempts,
                 next_attempt_at, last_status, created_at, updated_at",
            id,
        )
        .fetch_optional(&self.db)
        .await?
        .ok_or(WebhookError::NotFound("webhook delivery"))
    }

    /// Sends again every failed delivery of the endpoint created in `[from, to)` (after an
    /// outage on the merchant's side); returns how many.
    pub async fn redeliver_failed(
        &self,
        endpoint_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, WebhookError> {
        let mut errors = ValidationErrors::new();
        if from >= to {
            errors.add("to", "must be after from");
        }
        errors.finish()?;
        self.get(endpoint_id).await?;
        Ok(sqlx::query!(
            "update webhook_deliveries
             set status = 'pending', attempts = 0, next_attempt_at = now()
             where endpoint_id = $1 and status = 'failed' and created_at >= $2 and created_at < $3",
            endpoint_id,
            from,
            to,
        )
        .execute(&self.db)
        .await?
        .rows_affected())
    }

    /// A URL endpoints may use: absolute http(s) with a host, no credentials, `https` unless
    /// allowed otherwise, and not a literal non-public address (names are checked again at
    /// every delivery, after DNS).
    fn check_url<'a>(&self, errors: &mut ValidationErrors, raw: &'a str) -> Option<&'a str> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 2000 {
            errors.add("url", "must be 1 to 2000 characters");
            return None;
        }
        let Ok(url) = Url::parse(raw) else {
            errors.add("url", "not an absolute URL");
            return None;
        };
        let problem = match (url.scheme(), url.host()) {
            (_, None) => Some("needs a host"),
            ("https", _) => None,
            ("http", _) if !self.config.require_https => None,
            ("http", _) => Some("must use https"),
            _ => Some("must be an https URL"),
        }
        .or_else(|| {
            (!url.username().is_empty() || url.password().is_some())
                .then_some("must not contain credentials")
        })
        .or_else(|| {
            let ip = match url.host()? {
                url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
                url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
                url::Host::Domain(_) => return None,
            };
            let allowed = self.config.allowed_networks.iter().any(|n| n.contains(&ip));
            (!address::is_public(ip) && !allowed).then_some("points to a non-public address")
        });
        match problem {
            Some(message) => {
                errors.add("url", message);
                None
            }
            None => Some(raw),
        }
    }
}

/// Known routing keys only, without repeats; reports each unknown one by position.
fn check_event_types(errors: &mut ValidationErrors, types: &[String]) -> Vec<String> {
    let mut known = Vec::new();
    for (i, t) in types.iter().enumerate() {
        match EventKind::from_routing_key(t.trim()) {
            Some(kind) if !known.contains(&kind.routing_key().to_owned()) => {
                known.push(kind.routing_key().to_owned());
            }
            Some(_) => {}
            None => errors.add(
                format!("event_types[{i}]"),
                "not an event type (see GET /api/v1/admin/webhooks/event-types)",
            ),
        }
    }
    known
}

async fn find_endpoint(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        "select endpoint_id as id, url, description, event_types, enabled,
                 previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at
         from webhook_endpoints where endpoint_id = $1",
        id,
    )
    .fetch_optional(db)
    .await
}

async fn find_delivery(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as!(
        Delivery,
        "select delivery_id as id, endpoint_id, message_id, event_type, status, attempts,
                 next_attempt_at, last_status, created_at, updated_at
         from webhook_deliveries where delivery_id = $1",
        id,
    )
    .fetch_optional(db)
    .await
}
