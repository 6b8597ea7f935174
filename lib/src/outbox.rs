//! The transactional outbox: events are rows written in the same transaction as the change
//! they announce, so an event exists if and only if its change committed. The relay
//! (`messaging::relay`) claims them here, publishes them to RabbitMQ and marks them here;
//! published rows are pruned after a retention. What events exist is [`crate::events`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::events::Event;

/// An outbox row as the relay publishes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub payload: serde_json::Value,
    pub schema_version: i32,
    pub correlation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Writes the event inside the caller's transaction; returns its id (the message id it will
/// be published with).
pub async fn enqueue(tx: &mut PgConnection, event: Event) -> Result<Uuid, sqlx::Error> {
    let event_id = Uuid::now_v7();
    let kind = event.kind();
    sqlx::query!(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         values ($1, $2, $3, $4, $5, $6)",
        event_id,
        kind.routing_key(),
        kind.aggregate_type(),
        event.aggregate_id(),
        event.payload_json(),
        kind.schema_version(),
    )
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
    sqlx::query!(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         select id, t, a, aid, p, v
         from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::int[])
              as e(id, t, a, aid, p, v)",
        &ids,
        &types as _,
        &aggregate_types as _,
        &aggregate_ids,
        &payloads,
        &versions,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Locks up to `limit` unpublished rows that are due, oldest first, for the rest of the
/// caller's transaction (other relays skip them).
pub async fn claim(tx: &mut PgConnection, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as!(
        StoredEvent,
        "select event_id, event_type, aggregate_type, aggregate_id, payload, schema_version,
                correlation_id, created_at
         from outbox_events
         where published_at is null and (next_attempt_at is null or next_attempt_at <= now())
         order by created_at, event_id
         limit $1
         for update skip locked",
        limit,
    )
    .fetch_all(tx)
    .await
}

/// Marks rows the broker confirmed.
pub async fn mark_published(tx: &mut PgConnection, event_ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update outbox_events set published_at = now(), last_error = null where event_id = any($1)",
        event_ids,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Records a refusal by the broker; the row is tried again after a doubling pause (at most
/// five minutes).
pub async fn mark_refused(
    tx: &mut PgConnection,
    event_id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update outbox_events
         set publish_attempts = publish_attempts + 1,
             last_error = $2,
             next_attempt_at = now() + least(interval '1 second' * power(2, publish_attempts), interval '5 minutes')
         where event_id = $1",
        event_id,
        error,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// The distinct aggregates of `aggregate_type` that events written since `since` are about
/// (the outbox as a change log: the search index catches up with it after a rebuild).
pub async fn aggregates_since(
    db: &PgPool,
    aggregate_type: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select distinct aggregate_id from outbox_events
         where aggregate_type = $1 and created_at >= $2",
        aggregate_type,
        since,
    )
    .fetch_all(db)
    .await
}

/// Deletes rows published before `cutoff`, in short chunks; returns how many.
pub async fn prune_published(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    crate::db::delete_in_chunks(|chunk| {
        sqlx::query!(
            "delete from outbox_events where event_id in (
                 select event_id from outbox_events where published_at < $1 limit $2)",
            cutoff,
            chunk,
        )
        .execute(pool)
    })
    .await
}

/// The relay's backlog, as `tokoctl outbox status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxStatus {
    /// Rows not yet published.
    pub pending: i64,
    /// Age of the oldest unpublished row.
    pub oldest_pending_age: Option<Duration>,
    /// Unpublished rows the broker refused at least once (no queue bound, nack).
    pub refused: i64,
    /// The most recent refusal reason, if any row is refused.
    pub last_error: Option<String>,
    pub published_last_minute: i64,
    pub published_last_hour: i64,
}

impl OutboxStatus {
    /// Reads the status with index-backed queries (the partial indexes on published_at).
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let backlog = sqlx::query!(
            r#"select count(*) as "pending!", min(created_at) as oldest,
                      count(*) filter (where publish_attempts > 0) as "refused!"
               from outbox_events where published_at is null"#
        )
        .fetch_one(pool)
        .await?;
        let (pending, oldest, refused) = (backlog.pending, backlog.oldest, backlog.refused);
        let last_error: Option<String> = sqlx::query_scalar!(
            "select last_error from outbox_events
             where published_at is null and last_error is not null
             order by next_attempt_at desc nulls last limit 1",
        )
        .fetch_optional(pool)
        .await?
        .flatten();
        let recent = sqlx::query!(
            r#"select count(*) filter (where published_at > now() - interval '1 minute') as "minute!",
                      count(*) as "hour!"
               from outbox_events where published_at > now() - interval '1 hour'"#
        )
        .fetch_one(pool)
        .await?;
        let (minute, hour) = (recent.minute, recent.hour);
        Ok(Self {
            pending,
            oldest_pending_age: oldest.map(|t| (Utc::now() - t).to_std().unwrap_or_default()),
            refused,
            last_error,
            published_last_minute: minute,
            published_last_hour: hour,
        })
    }
}
