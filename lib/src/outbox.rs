//! The transactional outbox: events are rows written in the same transaction as the change
//! they announce, so an event exists if and only if its change committed. The relay
//! (`messaging::relay`) publishes them to RabbitMQ.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// The major version of the payload layout, sent as the `schema_version` header. Compatible
/// changes (a new field) keep it; a breaking one raises it. Consumers check it before reading
/// a payload: one newer than they know goes to their DLQ with the reason
/// (`messaging::envelope`), to be replayed once they are upgraded.
pub const SCHEMA_VERSION: i32 = 1;

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Routing key, e.g. `product.updated`, `order.paid`.
    pub event_type: &'static str,
    pub aggregate_type: &'static str,
    pub aggregate_id: Uuid,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn new(
        event_type: &'static str,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        payload: impl Serialize,
    ) -> Self {
        Self {
            event_type,
            aggregate_type,
            aggregate_id,
            // Payloads are plain structs of ours: failing to serialize one is a bug, not a state.
            payload: serde_json::to_value(payload).expect("event payloads serialize to JSON"),
        }
    }
}

/// Writes the event inside the caller's transaction; returns its id (the message id it will
/// be published with).
pub async fn enqueue(tx: &mut PgConnection, event: NewEvent) -> Result<Uuid, sqlx::Error> {
    let event_id = Uuid::now_v7();
    sqlx::query(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event_id)
    .bind(event.event_type)
    .bind(event.aggregate_type)
    .bind(event.aggregate_id)
    .bind(&event.payload)
    .bind(SCHEMA_VERSION)
    .execute(tx)
    .await?;
    Ok(event_id)
}

/// Writes several events in one statement (checkout announces every variant it reserved).
pub async fn enqueue_many(tx: &mut PgConnection, events: Vec<NewEvent>) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let aggregate_types: Vec<&str> = events.iter().map(|e| e.aggregate_type).collect();
    let aggregate_ids: Vec<Uuid> = events.iter().map(|e| e.aggregate_id).collect();
    let payloads: Vec<serde_json::Value> = events.into_iter().map(|e| e.payload).collect();
    sqlx::query(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         select id, t, a, aid, p, $6 from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[])
              as e(id, t, a, aid, p)",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&aggregate_types)
    .bind(&aggregate_ids)
    .bind(&payloads)
    .bind(SCHEMA_VERSION)
    .execute(tx)
    .await
    .map(|_| ())
}
