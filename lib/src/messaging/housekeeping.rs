//! Housekeeping of the outbox tables: pruning published events and old idempotency records
//! (run by the relay every minute), and the backlog `tokoctl outbox status` reports.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::metrics::RelayMetrics;
use crate::config::RelayConfig;

/// Rows deleted per statement while pruning (keeps each delete short).
const PRUNE_CHUNK: i64 = 5_000;

/// Rows deleted by one [`prune`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub outbox_events: u64,
    pub processed_messages: u64,
}

/// Deletes published rows older than the retention, and idempotency records older than
/// theirs, in short chunks.
pub async fn prune(
    pool: &PgPool,
    config: &RelayConfig,
    metrics: &RelayMetrics,
) -> Result<Pruned, sqlx::Error> {
    let outbox_cutoff = cutoff(config.retention);
    let processed_cutoff = cutoff(config.processed_retention);
    let pruned = Pruned {
        outbox_events: delete_in_chunks(
            pool,
            "delete from outbox_events where event_id in (
                 select event_id from outbox_events where published_at < $1 limit $2)",
            outbox_cutoff,
        )
        .await?,
        processed_messages: delete_in_chunks(
            pool,
            "delete from processed_messages where (consumer, message_id) in (
                 select consumer, message_id from processed_messages where processed_at < $1 limit $2)",
            processed_cutoff,
        )
        .await?,
    };
    metrics.pruned.inc_by(pruned.outbox_events);
    if pruned != Pruned::default() {
        tracing::info!(
            outbox_events = pruned.outbox_events,
            processed_messages = pruned.processed_messages,
            "pruned"
        );
    }
    Ok(pruned)
}

/// Runs a `delete ... where ... < $1 limit $2` statement until it deletes less than a chunk.
async fn delete_in_chunks(
    pool: &PgPool,
    statement: &'static str,
    cutoff: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(statement)
            .bind(cutoff)
            .bind(PRUNE_CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
        total += deleted;
        if deleted < PRUNE_CHUNK as u64 {
            return Ok(total);
        }
    }
}

fn cutoff(retention: Duration) -> DateTime<Utc> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
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
        let (pending, oldest, refused): (i64, Option<DateTime<Utc>>, i64) = sqlx::query_as(
            "select count(*), min(created_at), count(*) filter (where publish_attempts > 0)
             from outbox_events where published_at is null",
        )
        .fetch_one(pool)
        .await?;
        let last_error: Option<String> = sqlx::query_scalar(
            "select last_error from outbox_events
             where published_at is null and last_error is not null
             order by next_attempt_at desc nulls last limit 1",
        )
        .fetch_optional(pool)
        .await?;
        let (minute, hour): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where published_at > now() - interval '1 minute'), count(*)
             from outbox_events where published_at > now() - interval '1 hour'",
        )
        .fetch_one(pool)
        .await?;
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
