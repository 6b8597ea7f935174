//! Settings of RabbitMQ, the consumers, the outbox relay and the periodic sweeps.

use std::time::Duration;

use crate::config::{ConfigError, Reader, Secret};

/// Where RabbitMQ is: the AMQP URL every worker, the relay and `tokoctl` use, and the
/// management HTTP API (`tokoctl dlq list` reads unacked counts from it when reachable).
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub url: Secret,
    pub management_url: Secret,
}

impl MessagingConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let url = r.string("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(ConfigError::Invalid {
                name: "RABBITMQ_URL",
                reason: "expected an amqp:// or amqps:// URL".into(),
            });
        }
        let management_url = r.string(
            "RABBITMQ_MANAGEMENT_URL",
            "http://guest:guest@127.0.0.1:15672",
        );
        if url::Url::parse(&management_url).is_err() {
            return Err(ConfigError::Invalid {
                name: "RABBITMQ_MANAGEMENT_URL",
                reason: "expected an http:// URL".into(),
            });
        }
        Ok(Self {
            url: Secret::new(url),
            management_url: Secret::new(management_url),
        })
    }
}

/// How a worker consumes its queue (see `messaging::consumer` for the reasoning behind the
/// defaults).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Unacknowledged messages the broker may push to one consumer ahead of processing.
    pub prefetch: u16,
    /// Messages handled at the same time.
    pub concurrency: usize,
    /// Deliveries of one message before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// Delay before the 1st, 2nd, ... retry; the last one repeats. One retry queue each.
    pub retry_delays: Vec<Duration>,
    /// How often the queue depths behind `/metrics` are refreshed.
    pub queue_metrics_interval: Duration,
    /// How long SIGTERM waits for in-flight messages before closing anyway.
    pub drain_timeout: Duration,
}

impl ConsumerConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let prefetch: u16 = r.parse("PREFETCH", 16)?;
        let concurrency: usize = r.parse("CONCURRENCY", 4)?;
        let max_attempts: u32 = r.parse("MAX_ATTEMPTS", 5)?;
        for (name, value) in [
            ("PREFETCH", prefetch as usize),
            ("CONCURRENCY", concurrency),
            ("MAX_ATTEMPTS", max_attempts as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
        }
        let retry_delays = r.durations(
            "RETRY_DELAYS",
            &[
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
        )?;
        Ok(Self {
            prefetch,
            concurrency,
            max_attempts,
            retry_delays,
            queue_metrics_interval: r.duration("QUEUE_METRICS_INTERVAL", Duration::from_secs(5))?,
            drain_timeout: r.duration("DRAIN_TIMEOUT", Duration::from_secs(25))?,
        })
    }
}

/// How the outbox relay polls, batches and prunes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Sleep between polls when the outbox is empty (a NOTIFY wakes the relay earlier).
    pub poll_interval: Duration,
    /// Rows claimed and published per transaction.
    pub batch_size: i64,
    /// Published rows older than this are deleted.
    pub retention: Duration,
    /// Consumers' idempotency records older than this are deleted.
    pub processed_retention: Duration,
}

impl RelayConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let batch_size: i64 = r.parse("OUTBOX_BATCH_SIZE", 500)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(ConfigError::Invalid {
                name: "OUTBOX_BATCH_SIZE",
                reason: "expected 1 to 10000".into(),
            });
        }
        Ok(Self {
            poll_interval: r.duration("OUTBOX_POLL_INTERVAL", Duration::from_millis(200))?,
            batch_size,
            retention: r.duration("OUTBOX_RETENTION", Duration::from_secs(7 * 86_400))?,
            processed_retention: r.duration(
                "PROCESSED_MESSAGES_RETENTION",
                Duration::from_secs(30 * 86_400),
            )?,
        })
    }
}

/// Settings of the periodic sweeps of the inventory-reconciler and the payment-poller.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// How often unpaid orders past their deadline are expired.
    pub expiry_interval: Duration,
    /// How often every variant's stock is audited against orders and the ledger.
    pub stock_audit_interval: Duration,
    /// When the first payment check of an order runs (after its creation); later checks
    /// double the interval.
    pub payment_poll_after: Duration,
    /// How often due payment checks are looked for.
    pub payment_poll_interval: Duration,
    /// How long verified payment notifications are kept (the payments' audit trail).
    pub notification_retention: Duration,
    /// How long notifications with a wrong signature are kept (anyone can send those).
    pub unverified_notification_retention: Duration,
}

impl SweepConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            expiry_interval: r.duration("EXPIRY_SWEEP_INTERVAL", Duration::from_secs(30))?,
            stock_audit_interval: r.duration("STOCK_AUDIT_INTERVAL", Duration::from_secs(300))?,
            payment_poll_after: r.duration("PAYMENT_POLL_AFTER", Duration::from_secs(120))?,
            payment_poll_interval: r.duration("PAYMENT_POLL_INTERVAL", Duration::from_secs(15))?,
            notification_retention: r.duration(
                "PAYMENT_NOTIFICATION_RETENTION",
                Duration::from_secs(400 * 86_400),
            )?,
            unverified_notification_retention: r.duration(
                "UNVERIFIED_NOTIFICATION_RETENTION",
                Duration::from_secs(7 * 86_400),
            )?,
        })
    }
}
