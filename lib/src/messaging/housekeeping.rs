//! Housekeeping run by the relay every minute: pruning published events
//! ([`crate::outbox::prune_published`]) and old idempotency records past their retentions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::metrics::RelayMetrics;
use crate::config::RelayConfig;

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
        outbox_events: crate::outbox::prune_published(pool, outbox_cutoff).await?,
        processed_messages: crate::db::delete_in_chunks(|chunk| {
            sqlx::query!(
                "delete from processed_messages where (consumer, message_id) in (
                     select consumer, message_id from processed_messages where processed_at < $1 limit $2)",
                processed_cutoff,
                chunk,
            )
            .execute(pool)
        })
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

fn cutoff(retention: Duration) -> DateTime<Utc> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
