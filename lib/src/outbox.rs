//! The transactional outbox: events are rows written in the same transaction as the change
//! they announce, so an event exists if and only if its change committed. The relay
//! (`messaging::relay`) publishes them to RabbitMQ. What events exist is [`crate::events`].

use sqlx::PgConnection;
use uuid::Uuid;

use crate::events::Event;

/// Writes the event inside the caller's transaction; returns its id (the message id it will
/// be published with).
pub async fn enqueue(tx: &mut PgConnection, event: Event) -> Result<Uuid, sqlx::Error> {
    let event_id = Uuid::now_v7();
    let kind = event.kind();
    sqlx::query(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event_id)
    .bind(kind.routing_key())
    .bind(kind.aggregate_type())
    .bind(event.aggregate_id())
    .bind(event.payload_json())
    .bind(kind.schema_version())
    .execute(tx)
    .await?;
    Ok(event_id)
}

/// Writes several events in one statement (checkout announces every variant it reserved).
pub async fn enqueue_many(tx: &mut PgConnection, events: Vec<Event>) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<_> = events.iter().map(Event::kind).collect();
    let types: Vec<&str> = kinds.iter().map(|k| k.routing_key()).collect();
    let aggregate_types: Vec<&str> = kinds.iter().map(|k| k.aggregate_type()).collect();
    let versions: Vec<i32> = kinds.iter().map(|k| k.schema_version()).collect();
    let aggregate_ids: Vec<Uuid> = events.iter().map(Event::aggregate_id).collect();
    let payloads: Vec<serde_json::Value> = events.iter().map(Event::payload_json).collect();
    sqlx::query(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         select id, t, a, aid, p, v
         from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::int[])
              as e(id, t, a, aid, p, v)",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&aggregate_types)
    .bind(&aggregate_ids)
    .bind(&payloads)
    .bind(&versions)
    .execute(tx)
    .await
    .map(|_| ())
}
