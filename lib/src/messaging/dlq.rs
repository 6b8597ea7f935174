//! Dead-letter operations behind `tokoctl dlq`: list the queues, show dead messages without
//! losing them, replay them to `toko.events`, purge them.
//!
//! Reading without losing: messages are fetched with `basic.get` and never acked; closing
//! the channel hands every unacked message back to the queue, in its original position.
//! Replaying acks a dead letter only after the broker confirmed its republished copy.

use lapin::{
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueuePurgeOptions,
    },
    Channel, Confirmation, Connection,
};

use super::{
    envelope::{self, header_str, replay_properties},
    management::Management,
    topology::{self, dlq_name, queue_name, worker_of, KNOWN_WORKERS},
};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("queue {0} does not exist")]
    NoSuchQueue(String),
    #[error("the broker did not accept the replayed copy of {0}; the dead letter was kept")]
    NotConfirmed(String),
}

/// One worker's queues, as `tokoctl dlq list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub worker: String,
    pub ready: u64,
    /// `None` without the management API.
    pub unacked: Option<u64>,
    /// Messages waiting in the retry queues (`None` without the management API).
    pub retrying: Option<u64>,
    pub dead: u64,
}

/// The worker queues with their counts; `unacked_unavailable` says why unacked counts are
/// missing, when they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub rows: Vec<QueueRow>,
    pub unacked_unavailable: Option<String>,
}

/// Every worker queue with its counts. With the management API the queues are discovered
/// (`toko.<worker>` that has a `.dlq`); without it, the known workers' queues that exist are
/// read with passive declares, and unacked counts are unknown.
pub async fn list(
    connection: &Connection,
    management: Option<(&Management, &str)>,
) -> Result<Listing, DlqError> {
    let reason = match management {
        None => "no management API configured".to_owned(),
        Some((api, vhost)) => match api.queues(vhost).await {
            Ok(queues) => {
                return Ok(Listing {
                    rows: rows_from_management(&queues),
                    unacked_unavailable: None,
                })
            }
            Err(e) => e.to_string(),
        },
    };
    let mut rows = Vec::new();
    for worker in KNOWN_WORKERS {
        // A failed passive declare closes its channel: one channel per probe.
        let channel = connection.create_channel().await?;
        let Ok(ready) = topology::message_count(&channel, &queue_name(worker)).await else {
            continue;
        };
        let channel = connection.create_channel().await?;
        let dead = topology::message_count(&channel, &dlq_name(worker))
            .await
            .unwrap_or(0);
        rows.push(QueueRow {
            worker: worker.to_owned(),
            ready: ready.into(),
            unacked: None,
            retrying: None,
            dead: dead.into(),
        });
    }
    Ok(Listing {
        rows,
        unacked_unavailable: Some(reason),
    })
}

fn rows_from_management(queues: &[super::management::QueueInfo]) -> Vec<QueueRow> {
    let mut rows: Vec<QueueRow> = queues
        .iter()
        .filter_map(|q| {
            let worker = q.name.strip_prefix("toko.")?;
            let has_dlq = queues.iter().any(|d| d.name == dlq_name(worker));
            (has_dlq && !worker.contains('.')).then(|| QueueRow {
                worker: worker.to_owned(),
                ready: q.messages_ready,
                unacked: Some(q.messages_unacknowledged),
                retrying: Some(
                    queues
                        .iter()
                        .filter(|r| r.name.starts_with(&format!("toko.{worker}.retry.")))
                        .map(|r| r.messages_ready + r.messages_unacknowledged)
                        .sum(),
                ),
                dead: queues
                    .iter()
                    .find(|d| d.name == dlq_name(worker))
                    .map_or(0, |d| d.messages_ready + d.messages_unacknowledged),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.worker.cmp(&b.worker));
    rows
}

/// A dead message, as `tokoctl dlq show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: Option<String>,
    pub event_type: Option<String>,
    pub routing_key: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub failure: Option<String>,
    pub first_seen: Option<String>,
    pub failed_at: Option<String>,
}

impl DeadLetter {
    fn of(delivery: &lapin::message::Delivery) -> Self {
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let mut letter = Self {
            message_id: delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.to_string()),
            event_type: delivery.properties.kind().as_ref().map(|k| k.to_string()),
            routing_key: original_routing_key(delivery),
            attempts: envelope::failed_attempts(&headers),
            last_error: header_str(&headers, envelope::LAST_ERROR),
            failure: header_str(&headers, envelope::FAILURE),
            first_seen: header_str(&headers, envelope::FIRST_SEEN),
            failed_at: header_str(&headers, envelope::FAILED_AT),
        };
        // Moved here by the broker, not by a consumer: it never got an ack.
        if letter.last_error.is_none()
            && header_str(&headers, "x-first-death-reason").as_deref() == Some("delivery_limit")
        {
            letter.attempts = topology::DELIVERY_LIMIT;
            letter.failure = Some("crashed".into());
            letter.last_error = Some(format!(
                "delivered {} times without an ack: the consumer crashed or lost its \
                 connection while handling it each time",
                topology::DELIVERY_LIMIT
            ));
        }
        letter
    }
}

/// The routing key a dead letter was first published with.
fn original_routing_key(delivery: &lapin::message::Delivery) -> String {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    header_str(&headers, envelope::ORIGINAL_ROUTING_KEY)
        .or_else(|| delivery.properties.kind().as_ref().map(|k| k.to_string()))
        .unwrap_or_else(|| delivery.routing_key.to_string())
}

/// The dead-letter queue named by `notifier`, `toko.notifier` or `toko.notifier.dlq`.
pub fn resolve(queue: &str) -> String {
    dlq_name(worker_of(queue))
}

/// Opens a channel on `queue` after checking it exists; returns its message count.
async fn open(connection: &Connection, queue: &str) -> Result<(Channel, u32), DlqError> {
    let probe = connection.create_channel().await?;
    let count = topology::message_count(&probe, queue)
        .await
        .map_err(|_| DlqError::NoSuchQueue(queue.to_owned()))?;
    Ok((connection.create_channel().await?, count))
}

/// Up to `limit` dead messages of `queue`, oldest first, left in the queue.
pub async fn show(
    connection: &Connection,
    queue: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, DlqError> {
    let (channel, _) = open(connection, queue).await?;
    let mut letters = Vec::new();
    while letters.len() < limit {
        // no_ack = false: the message stays the broker's until acked, which never happens.
        let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        letters.push(DeadLetter::of(&message.delivery));
    }
    // Closing returns every fetched message to the queue.
    channel.close(200, "dlq show done".into()).await?;
    Ok(letters)
}

/// Which dead letters to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ids(Vec<String>),
}

/// What a replay did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Republished and removed from the DLQ (in a dry run: would be).
    pub replayed: Vec<String>,
    /// Looked at and left in the DLQ (not selected).
    pub skipped: usize,
    /// Selected ids not found in the DLQ.
    pub missing: Vec<String>,
}

/// Republishes the selected dead letters of `queue` to `toko.events` with their original
/// routing key and message id and with the failure headers removed (attempts start again),
/// acking each only after the broker confirmed its copy. Every consumer bound to that
/// routing key receives it; those that processed it before skip it by message id.
/// `progress` is called with (looked at, total) after each message.
pub async fn replay(
    connection: &Connection,
    queue: &str,
    selection: &Selection,
    dry_run: bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReplaySummary, DlqError> {
    let (channel, total) = open(connection, queue).await?;
    let publish = connection.create_channel().await?;
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut summary = ReplaySummary::default();
    let mut seen = 0u64;
    // Bounded by the count at the start: unselected messages stay unacked on this channel
    // (so basic.get does not return them again), and new dead letters arriving meanwhile
    // are left for the next replay.
    while seen < u64::from(total) {
        let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        seen += 1;
        let delivery = message.delivery;
        let id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let selected = match selection {
            Selection::All => true,
            Selection::Ids(ids) => ids.contains(&id),
        };
        if !selected {
            summary.skipped += 1;
        } else if dry_run {
            summary.replayed.push(id);
        } else {
            let routing_key = original_routing_key(&delivery);
            let confirm = publish
                .basic_publish(
                    topology::EXCHANGE.into(),
                    routing_key.as_str().into(),
                    // mandatory: if nothing is bound any more, keep the dead letter.
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &delivery.data,
                    replay_properties(&delivery.properties),
                )
                .await?
                .await?;
            if !matches!(confirm, Confirmation::Ack(None)) {
                channel.close(200, "dlq replay stopped".into()).await?;
                return Err(DlqError::NotConfirmed(id));
            }
            delivery.acker.ack(BasicAckOptions::default()).await?;
            summary.replayed.push(id);
        }
        progress(seen, u64::from(total));
    }
    if let Selection::Ids(ids) = selection {
        summary.missing = ids
            .iter()
            .filter(|id| !summary.replayed.contains(id))
            .cloned()
            .collect();
    }
    channel.close(200, "dlq replay done".into()).await?;
    Ok(summary)
}

/// Drops every message of `queue`; returns how many.
pub async fn purge(connection: &Connection, queue: &str) -> Result<u32, DlqError> {
    let (channel, _) = open(connection, queue).await?;
    Ok(channel
        .queue_purge(queue.into(), QueuePurgeOptions::default())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::{super::management::QueueInfo, *};

    fn q(name: &str, ready: u64, unacked: u64) -> QueueInfo {
        QueueInfo {
            name: name.into(),
            messages_ready: ready,
            messages_unacknowledged: unacked,
            consumers: 0,
        }
    }

    #[test]
    fn management_rows_group_each_workers_queues() {
        let rows = rows_from_management(&[
            q("toko.notifier", 3, 2),
            q("toko.notifier.retry.1", 1, 0),
            q("toko.notifier.retry.2", 4, 0),
            q("toko.notifier.dlq", 7, 0),
            q("toko.audit", 1, 0), // no DLQ: not a worker queue
            q("other", 1, 0),
        ]);
        assert_eq!(
            rows,
            vec![QueueRow {
                worker: "notifier".into(),
                ready: 3,
                unacked: Some(2),
                retrying: Some(5),
                dead: 7
            }]
        );
    }

    #[test]
    fn messages_the_broker_dead_lettered_say_why() {
        let mut headers = lapin::types::FieldTable::default();
        headers.insert(
            "x-first-death-reason".into(),
            topology::long_string("delivery_limit"),
        );
        let mut delivery =
            lapin::message::Delivery::mock(1, "".into(), "toko.notifier".into(), false, vec![]);
        delivery.properties = lapin::BasicProperties::default()
            .with_message_id("m".into())
            .with_type("order.paid".into())
            .with_headers(headers);
        let letter = DeadLetter::of(&delivery);
        assert_eq!(
            (letter.attempts, letter.failure.as_deref()),
            (20, Some("crashed"))
        );
        assert!(letter.last_error.unwrap().contains("without an ack"));
        assert_eq!(letter.routing_key, "order.paid");
    }

    #[test]
    fn queue_names_resolve_to_the_dlq() {
        assert_eq!(resolve("notifier"), "toko.notifier.dlq");
        assert_eq!(resolve("toko.notifier"), "toko.notifier.dlq");
        assert_eq!(resolve("toko.notifier.dlq"), "toko.notifier.dlq");
    }
}
