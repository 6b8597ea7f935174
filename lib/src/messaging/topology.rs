//! The RabbitMQ topology: what exists, described as plain data that tests can inspect, and
//! declared idempotently before traffic.
//!
//! [`SUBSCRIPTIONS`] is the one place that says which worker receives which events; the
//! whole topology ([`Topology::deployment`]) follows from it. `tokoctl messaging setup`
//! declares it (the Helm hook Job, docker-compose and the quick start run it before any
//! worker), the relay declares it again when it connects, and each consumer declares its own
//! part. So an event published before its worker ever started waits in the worker's queue,
//! and a worker scaled to zero (KEDA `minReplicas: 0`) still has a queue to show a backlog.
//!
//! ```text
//!  relay ──▶ toko.events (durable topic) ──[routing keys]──▶ toko.<worker>   (quorum)
//!                                                                 │ consumer
//!             ┌──────── retryable failure, attempt n < MAX_ATTEMPTS ┤
//!             ▼                                                     │ permanent, or attempts used up
//!  toko.<worker>.retry.<n> (TTL = n-th delay) ─dead-letter─▶ toko.<worker>
//!                                                                   ▼
//!                                                        toko.<worker>.dlq
//! ```
//!
//! - The work queue is a quorum queue: replicated, durable, and it tracks redeliveries: a
//!   message delivered [`DELIVERY_LIMIT`] times without an ack (it crashes its consumer) is
//!   dead-lettered by the broker to the DLQ, where `tokoctl dlq show` names the reason.
//! - Retry queues are classic durable queues with a per-queue TTL (`x-message-ttl`) that
//!   dead-letter expired messages back to the work queue through the default exchange. One
//!   queue per delay, not a per-message TTL: RabbitMQ only expires messages at the head of a
//!   queue, so mixed delays in one queue would hold short ones behind long ones. Nothing
//!   consumes a retry queue.
//! - The dead-letter queue is a classic durable queue, read by people (`tokoctl dlq`), not
//!   by code. Classic rather than quorum so that `tokoctl dlq show`, which reads messages
//!   and lets them return, never counts against a quorum queue's delivery limit.
//! - The consumer publishes retry and dead-letter copies itself (with the error headers)
//!   and only then acks the original; RabbitMQ's own nack dead-lettering cannot add headers.
//! - [`ARCHIVE_QUEUE`] (`toko.archive`) is bound to every routing key (`#`), so every event
//!   reaches at least one queue: an event no worker subscribes to (the webhook dispatcher
//!   takes every kind of the catalog, but not a type published by hand or by a newer toko)
//!   is confirmed and marked published instead of being returned
//!   by the broker and retried forever. It keeps the newest [`ARCHIVE_MAX_LENGTH`] events
//!   (`x-max-length`; the broker drops the oldest beyond that), for people reading what
//!   happened and for a subscriber added later to look back. Nothing consumes it.

use std::time::Duration;

use crate::events::EventKind;

use lapin::{
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
    Channel, ExchangeKind,
};

/// The exchange every event is published to; routing key = event type.
pub const EXCHANGE: &str = "toko.events";

/// Deliveries of one message without an ack (the consumer crashed or lost its connection
/// each time) before the broker moves it to the DLQ itself: a message that kills its
/// consumer must not loop forever (RabbitMQ 3.x has no limit by default) nor be dropped
/// (4.x drops at 20 unless the queue dead-letters). Handler failures never count: the
/// runtime acks them after publishing the retry copy.
pub const DELIVERY_LIMIT: u32 = 20;

/// Whether a worker takes events of a kind (each handler module's `subscribes`).
pub type Subscribes = fn(EventKind) -> bool;

/// Which worker consumes which events: the workers of docs/CONVENTIONS.md, each with its
/// handler's `subscribes`, an exhaustive `match` over [`EventKind`] (a new kind does not
/// compile until each worker has decided). Their queues are bound to the routing keys of the
/// kinds they take ([`subscriptions_of`]), and [`Topology::deployment`] declares them.
pub const SUBSCRIPTIONS: [(&str, Subscribes); 5] = [
    ("search-indexer", crate::search::indexer::subscribes),
    ("inventory-reconciler", crate::catalog::audit::subscribes),
    ("payment-poller", crate::payments::poller::subscribes),
    ("notifier", crate::notifications::subscribes),
    ("webhook-dispatcher", crate::webhooks::dispatch::subscribes),
];

/// The workers of [`SUBSCRIPTIONS`], for operations that list queues without the
/// management API.
pub const KNOWN_WORKERS: [&str; 5] = [
    SUBSCRIPTIONS[0].0,
    SUBSCRIPTIONS[1].0,
    SUBSCRIPTIONS[2].0,
    SUBSCRIPTIONS[3].0,
    SUBSCRIPTIONS[4].0,
];

/// The routing keys worker `worker` subscribes to (none for a worker not in
/// [`SUBSCRIPTIONS`]).
pub fn subscriptions_of(worker: &str) -> Vec<&'static str> {
    SUBSCRIPTIONS
        .iter()
        .find(|(name, _)| *name == worker)
        .map_or_else(Vec::new, |(_, subscribes)| routing_keys(*subscribes))
}

fn routing_keys(subscribes: Subscribes) -> Vec<&'static str> {
    EventKind::ALL
        .iter()
        .filter(|kind| subscribes(**kind))
        .map(|kind| kind.routing_key())
        .collect()
}

/// The queue bound to every event (see the module docs).
pub const ARCHIVE_QUEUE: &str = "toko.archive";

/// Events kept in [`ARCHIVE_QUEUE`]: at ~1 KiB an event, about 100 MiB of broker disk.
pub const ARCHIVE_MAX_LENGTH: u32 = 100_000;

/// The kind of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    Quorum,
    Classic,
}

/// A queue and its arguments, as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub kind: QueueKind,
    /// `x-message-ttl`: retry queues only.
    pub message_ttl: Option<Duration>,
    /// `x-dead-letter-routing-key` through the default exchange: where the broker moves
    /// expired messages (retry queues) or messages past the delivery limit (work queue).
    pub dead_letter_to: Option<String>,
    /// `x-delivery-limit` (quorum queues): deliveries without an ack before the broker
    /// dead-letters the message.
    pub delivery_limit: Option<u32>,
    /// `x-max-length`: beyond it the broker drops the oldest messages (`x-overflow`
    /// `drop-head`).
    pub max_length: Option<u32>,
}

impl QueueSpec {
    /// The `queue.declare` arguments.
    pub fn arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        if self.kind == QueueKind::Quorum {
            args.insert("x-queue-type".into(), long_string("quorum"));
        }
        if let Some(ttl) = self.message_ttl {
            let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(millis));
        }
        if let Some(limit) = self.delivery_limit {
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(limit.into()),
            );
        }
        if let Some(max) = self.max_length {
            args.insert("x-max-length".into(), AMQPValue::LongLongInt(max.into()));
            args.insert("x-overflow".into(), long_string("drop-head"));
        }
        if let Some(target) = &self.dead_letter_to {
            // The default exchange ("") routes by queue name.
            args.insert("x-dead-letter-exchange".into(), long_string(""));
            args.insert("x-dead-letter-routing-key".into(), long_string(target));
        }
        args
    }
}

/// A binding of a worker's queue to [`EXCHANGE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub queue: String,
    pub routing_key: String,
}

/// The queues of one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerTopology {
    pub worker: String,
    pub queue: QueueSpec,
    /// `retry[n - 1]` holds messages waiting for their n-th retry.
    pub retry: Vec<QueueSpec>,
    pub dlq: QueueSpec,
    pub bindings: Vec<Binding>,
}

impl WorkerTopology {
    /// The topology of worker `worker` consuming `routing_keys` (topic patterns such as
    /// `order.*` work too), with one retry queue per delay.
    pub fn new(worker: &str, routing_keys: &[&str], retry_delays: &[Duration]) -> Self {
        let queue = queue_name(worker);
        Self {
            worker: worker.to_owned(),
            queue: QueueSpec {
                name: queue.clone(),
                kind: QueueKind::Quorum,
                message_ttl: None,
                dead_letter_to: Some(dlq_name(worker)),
                delivery_limit: Some(DELIVERY_LIMIT),
                max_length: None,
            },
            retry: retry_delays
                .iter()
                .enumerate()
                .map(|(i, delay)| QueueSpec {
                    name: retry_queue_name(worker, i + 1),
                    kind: QueueKind::Classic,
                    message_ttl: Some(*delay),
                    dead_letter_to: Some(queue.clone()),
                    delivery_limit: None,
                    max_length: None,
                })
                .collect(),
            dlq: QueueSpec {
                name: dlq_name(worker),
                kind: QueueKind::Classic,
                message_ttl: None,
                dead_letter_to: None,
                delivery_limit: None,
                max_length: None,
            },
            bindings: routing_keys
                .iter()
                .map(|key| Binding {
                    queue: queue.clone(),
                    routing_key: (*key).to_owned(),
                })
                .collect(),
        }
    }

    /// Every queue, work queue first.
    pub fn queues(&self) -> impl Iterator<Item = &QueueSpec> {
        std::iter::once(&self.queue)
            .chain(&self.retry)
            .chain(std::iter::once(&self.dlq))
    }

    /// The retry queue for a message whose `failed_attempts`-th attempt just failed: the
    /// n-th failure waits in `retry.<n>`, and failures beyond the last delay reuse it.
    pub fn retry_queue_for(&self, failed_attempts: u32) -> Option<&QueueSpec> {
        let index = (failed_attempts.max(1) as usize - 1).min(self.retry.len().checked_sub(1)?);
        self.retry.get(index)
    }
}

/// Everything toko declares on the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub workers: Vec<WorkerTopology>,
    /// [`ARCHIVE_QUEUE`], bound to `#`.
    pub archive: QueueSpec,
}

impl Topology {
    /// The queues of every worker in [`SUBSCRIPTIONS`] with `retry_delays` (`RETRY_DELAYS`,
    /// which must be the workers' own setting: a queue declared with other arguments fails),
    /// and the archive.
    pub fn deployment(retry_delays: &[Duration]) -> Self {
        Self {
            workers: SUBSCRIPTIONS
                .iter()
                .map(|(worker, subscribes)| {
                    WorkerTopology::new(worker, &routing_keys(*subscribes), retry_delays)
                })
                .collect(),
            archive: QueueSpec {
                name: ARCHIVE_QUEUE.to_owned(),
                kind: QueueKind::Classic,
                message_ttl: None,
                dead_letter_to: None,
                delivery_limit: None,
                max_length: Some(ARCHIVE_MAX_LENGTH),
            },
        }
    }

    /// The queues that receive an event published with `routing_key` (topic matching).
    pub fn queues_for(&self, routing_key: &str) -> Vec<&str> {
        let workers = self.workers.iter().flat_map(|w| &w.bindings);
        workers
            .filter(|b| topic_matches(&b.routing_key, routing_key))
            .map(|b| b.queue.as_str())
            .chain(std::iter::once(self.archive.name.as_str()))
            .collect()
    }
}

/// Whether topic pattern `pattern` (`*` one word, `#` zero or more) matches `key`.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(pattern: &[&str], key: &[&str]) -> bool {
        match (pattern.split_first(), key.split_first()) {
            (None, None) => true,
            (Some((&"#", rest)), _) => go(rest, key) || (!key.is_empty() && go(pattern, &key[1..])),
            (Some((&p, rest)), Some((&k, key_rest))) => (p == "*" || p == k) && go(rest, key_rest),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    go(&pattern, &key)
}

/// `toko.<worker>`
pub fn queue_name(worker: &str) -> String {
    format!("toko.{worker}")
}

/// `toko.<worker>.retry.<n>`
pub fn retry_queue_name(worker: &str, n: usize) -> String {
    format!("toko.{worker}.retry.{n}")
}

/// `toko.<worker>.dlq`
pub fn dlq_name(worker: &str) -> String {
    format!("toko.{worker}.dlq")
}

/// The worker named by `notifier`, `toko.notifier` or `toko.notifier.dlq`.
pub fn worker_of(queue: &str) -> &str {
    let name = queue.strip_prefix("toko.").unwrap_or(queue);
    name.strip_suffix(".dlq").unwrap_or(name)
}

/// Declares the exchange (durable topic). Safe to repeat.
pub async fn declare_exchange(channel: &Channel) -> lapin::Result<()> {
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            // durable: survives broker restarts; not auto-delete: it outlives its bindings.
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares the exchange and every queue and binding of `topology`. Safe to repeat with the
/// same arguments; a queue re-declared with different arguments (say a changed retry delay)
/// fails with PRECONDITION_FAILED, and the old queue must be deleted first.
pub async fn declare(channel: &Channel, topology: &WorkerTopology) -> lapin::Result<()> {
    declare_exchange(channel).await?;
    for queue in topology.queues() {
        declare_queue(channel, queue).await?;
    }
    for binding in &topology.bindings {
        bind(channel, &binding.queue, &binding.routing_key).await?;
    }
    Ok(())
}

/// Declares the whole [`Topology`] (`tokoctl messaging setup`, the relay at start). Safe to
/// repeat, with the same caveat as [`declare`].
pub async fn declare_all(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    for worker in &topology.workers {
        declare(channel, worker).await?;
    }
    declare_exchange(channel).await?;
    declare_queue(channel, &topology.archive).await?;
    bind(channel, &topology.archive.name, "#").await
}

async fn declare_queue(channel: &Channel, queue: &QueueSpec) -> lapin::Result<()> {
    channel
        .queue_declare(
            queue.name.as_str().into(),
            // durable: the queue survives broker restarts (quorum queues require it);
            // not exclusive or auto-delete: replicas share it and it outlives consumers.
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            queue.arguments(),
        )
        .await
        .map(|_| ())
}

async fn bind(channel: &Channel, queue: &str, routing_key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            EXCHANGE.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// Ready messages in a queue, read with a passive declare (which fails when the queue does
/// not exist and then closes `channel`).
pub async fn message_count(channel: &Channel, queue: &str) -> lapin::Result<u32> {
    let queue = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(queue.message_count())
}

pub(crate) fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

pub(crate) fn short(value: &str) -> ShortString {
    ShortString::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier() -> WorkerTopology {
        WorkerTopology::new(
            "notifier",
            &["order.paid", "order.cancelled"],
            &[
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
        )
    }

    #[test]
    fn names_follow_the_conventions() {
        let t = notifier();
        let names: Vec<_> = t.queues().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "toko.notifier",
                "toko.notifier.retry.1",
                "toko.notifier.retry.2",
                "toko.notifier.retry.3",
                "toko.notifier.dlq"
            ]
        );
        assert_eq!(
            t.bindings,
            vec![
                Binding {
                    queue: "toko.notifier".into(),
                    routing_key: "order.paid".into()
                },
                Binding {
                    queue: "toko.notifier".into(),
                    routing_key: "order.cancelled".into()
                },
            ]
        );
    }

    #[test]
    fn work_queue_is_quorum_and_retry_queues_expire_back_into_it() {
        let t = notifier();
        let args = t.queue.arguments();
        assert_eq!(
            args.inner().get("x-queue-type"),
            Some(&long_string("quorum"))
        );
        assert!(!args.contains_key("x-message-ttl"));

        let retry2 = t.retry[1].arguments();
        assert_eq!(
            retry2.inner().get("x-message-ttl"),
            Some(&AMQPValue::LongLongInt(10_000))
        );
        assert_eq!(
            retry2.inner().get("x-dead-letter-exchange"),
            Some(&long_string(""))
        );
        assert_eq!(
            retry2.inner().get("x-dead-letter-routing-key"),
            Some(&long_string("toko.notifier"))
        );
        assert!(
            !retry2.contains_key("x-queue-type"),
            "retry queues are classic"
        );

        let dlq = t.dlq.arguments();
        assert!(
            dlq.inner().is_empty(),
            "the DLQ keeps messages until someone acts: {dlq:?}"
        );
    }

    #[test]
    fn delays_grow_and_the_last_one_repeats() {
        let t = notifier();
        let delays: Vec<_> = (1..=5)
            .map(|failed| {
                t.retry_queue_for(failed)
                    .unwrap()
                    .message_ttl
                    .unwrap()
                    .as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 10, 60, 60, 60]);
        assert!(WorkerTopology::new("x", &[], &[])
            .retry_queue_for(1)
            .is_none());
    }

    #[test]
    fn the_archive_is_bounded_and_every_key_reaches_it() {
        let t = Topology::deployment(&[Duration::from_secs(1)]);
        let args = t.archive.arguments();
        assert_eq!(
            args.inner().get("x-max-length"),
            Some(&AMQPValue::LongLongInt(ARCHIVE_MAX_LENGTH.into()))
        );
        assert_eq!(
            args.inner().get("x-overflow"),
            Some(&long_string("drop-head"))
        );
        // A type no worker knows (published by hand, or by a newer toko) is still routed.
        assert_eq!(t.queues_for("order.teleported"), ["toko.archive"]);
        assert_eq!(
            t.queues_for("order.processing"),
            ["toko.webhook-dispatcher", "toko.archive"]
        );
        assert_eq!(
            t.queues_for("order.created"),
            [
                "toko.payment-poller",
                "toko.notifier",
                "toko.webhook-dispatcher",
                "toko.archive"
            ]
        );
        assert_eq!(
            t.queues_for("variant.updated"),
            [
                "toko.search-indexer",
                "toko.webhook-dispatcher",
                "toko.archive"
            ]
        );
    }

    #[test]
    fn topic_patterns_match_like_the_broker() {
        assert!(topic_matches("order.*", "order.paid"));
        assert!(!topic_matches("order.*", "order.paid.late"));
        assert!(!topic_matches("order.*", "order"));
        assert!(topic_matches("#", "anything.at.all"));
        assert!(topic_matches("order.#", "order"));
        assert!(topic_matches("order.#", "order.paid.late"));
        assert!(topic_matches("*.paid", "order.paid"));
        assert!(!topic_matches("order.paid", "order.created"));
    }

    #[test]
    fn workers_take_their_bindings_from_the_subscriptions() {
        let t = Topology::deployment(&[Duration::from_secs(1)]);
        let names: Vec<_> = t.workers.iter().map(|w| w.worker.as_str()).collect();
        assert_eq!(names, KNOWN_WORKERS);
        assert_eq!(subscriptions_of("payment-poller"), ["order.created"]);
        assert!(subscriptions_of("no-such-worker").is_empty());
    }

    #[test]
    fn queue_arguments_accept_worker_or_queue_names() {
        assert_eq!(worker_of("notifier"), "notifier");
        assert_eq!(worker_of("toko.notifier"), "notifier");
        assert_eq!(worker_of("toko.notifier.dlq"), "notifier");
        assert_eq!(
            dlq_name(worker_of("toko.payment-poller")),
            "toko.payment-poller.dlq"
        );
    }
}
