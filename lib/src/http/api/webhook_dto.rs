//! The JSON shapes of `/api/v1/admin/webhooks`.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::{
    events::EventKind,
    webhooks::{Attempt, Delivery, Endpoint, EndpointPatch, NewEndpoint},
};

/// An endpoint to register.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct WebhookEndpointIn {
    /// Where to POST events: `https://` (`http://` only where `WEBHOOK_REQUIRE_HTTPS=false`),
    /// a public address, up to 2000 characters.
    pub url: String,
    /// For people: what the endpoint is (up to 500 characters).
    pub description: Option<String>,
    /// Routing keys to receive (see `GET /api/v1/admin/webhooks/event-types`); absent or
    /// empty: every event.
    pub event_types: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl From<WebhookEndpointIn> for NewEndpoint {
    fn from(body: WebhookEndpointIn) -> Self {
        Self {
            url: body.url,
            description: body.description.unwrap_or_default(),
            event_types: body.event_types.unwrap_or_default(),
            enabled: body.enabled.unwrap_or(true),
        }
    }
}

/// Changes to an endpoint; absent fields stay. `enabled: true` also clears its failure
/// record.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct WebhookEndpointPatchIn {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl From<WebhookEndpointPatchIn> for EndpointPatch {
    fn from(body: WebhookEndpointPatchIn) -> Self {
        Self {
            url: body.url,
            description: body.description,
            event_types: body.event_types,
            enabled: body.enabled,
        }
    }
}

/// A registered endpoint.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookEndpointOut {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// Empty: every event.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// After a rotation: until when the previous secret also signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why toko disabled it.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpointOut {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            previous_secret_expires_at: e.previous_secret_expires_at,
            failing_since: e.failing_since,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown only in this answer.
#[derive(Debug, Object)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpointOut,
    /// `whsec_...`: verify each delivery's `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

impl From<(Endpoint, String)> for WebhookEndpointWithSecret {
    fn from((endpoint, secret): (Endpoint, String)) -> Self {
        Self {
            endpoint: endpoint.into(),
            secret,
        }
    }
}

/// A secret rotation.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct RotateSecretIn {
    /// How long the previous secret keeps signing too (default 86400, at most 604800).
    pub overlap_seconds: Option<u64>,
}

/// One event for one endpoint.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDeliveryOut {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The `webhook-id` header: the event's id, the same on every attempt.
    pub message_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// While pending: when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer.
    pub last_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryOut {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            message_id: d.message_id,
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDeliveryOut>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<Uuid>,
}

/// One try at sending a delivery.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookAttemptOut {
    pub attempted_at: DateTime<Utc>,
    /// Absent when no answer came (refused address, timeout, connection failure).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i32,
    /// The first 2 KiB of the answer.
    pub response_excerpt: String,
}

impl From<Attempt> for WebhookAttemptOut {
    fn from(a: Attempt) -> Self {
        Self {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            latency_ms: a.latency_ms,
            response_excerpt: a.response_excerpt,
        }
    }
}

/// A delivery and its attempts, oldest first.
#[derive(Debug, Object)]
pub struct WebhookDeliveryDetail {
    pub delivery: WebhookDeliveryOut,
    pub attempts: Vec<WebhookAttemptOut>,
}

/// Failed deliveries to send again, by creation time.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct RedeliverIn {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct RedeliveredOut {
    /// How many deliveries were queued again.
    pub count: u64,
}

/// An event type endpoints can subscribe to.
#[derive(Debug, Object)]
pub struct WebhookEventTypeOut {
    /// The routing key, e.g. `order.paid` (the `type` of a delivery's body).
    #[oai(rename = "type")]
    pub event_type: String,
    pub schema_version: i32,
    pub aggregate_type: String,
    pub description: String,
    /// The JSON Schema of the body's `data`.
    pub schema: serde_json::Value,
}

impl From<EventKind> for WebhookEventTypeOut {
    fn from(kind: EventKind) -> Self {
        Self {
            event_type: kind.routing_key().to_owned(),
            schema_version: kind.schema_version(),
            aggregate_type: kind.aggregate_type().to_owned(),
            description: kind.description().to_owned(),
            schema: kind.payload_schema(),
        }
    }
}
