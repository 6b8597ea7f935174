//! Prometheus metrics of the relay and the consumers, served at `/metrics` on
//! `METRICS_PORT`. Registered in a registry whose prefix is `toko_`.

use prometheus::{
    core::Collector, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry,
};

/// The registry every worker process renders (metric names get the `toko_` prefix).
pub fn registry() -> Registry {
    Registry::new_custom(Some("toko".into()), None)
        .expect("the prefix `toko` is a valid metric name")
}

/// Registers `metric` and hands it back.
fn registered<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The relay's counters.
#[derive(Clone)]
pub struct RelayMetrics {
    /// `toko_outbox_published_total`: rows confirmed by the broker and marked published.
    pub published: IntCounter,
    /// `toko_outbox_rejected_total`: publishes the broker returned or nacked.
    pub rejected: IntCounter,
    /// `toko_outbox_pruned_total`: published rows deleted after the retention.
    pub pruned: IntCounter,
    /// `toko_outbox_batch_duration_seconds`: claim + publish + confirm + mark, per batch.
    pub batch_duration: Histogram,
}

impl RelayMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| registered(registry, IntCounter::new(name, help)?);
        let published = counter(
            "outbox_published_total",
            "Outbox events published and confirmed",
        )?;
        let rejected = counter(
            "outbox_rejected_total",
            "Outbox events the broker returned or nacked",
        )?;
        let pruned = counter(
            "outbox_pruned_total",
            "Published outbox events deleted after the retention",
        )?;
        let opts = HistogramOpts::new(
            "outbox_batch_duration_seconds",
            "Time to claim, publish, confirm and mark one batch",
        );
        let batch_duration = registered(
            registry,
            Histogram::with_opts(opts.buckets(LATENCY_BUCKETS.to_vec()))?,
        )?;
        Ok(Self {
            published,
            rejected,
            pruned,
            batch_duration,
        })
    }
}

/// A consumer's counters, labelled by `queue` (`toko.<worker>`).
#[derive(Clone)]
pub struct ConsumerMetrics {
    /// `toko_messages_processed_total`: handled successfully and acked.
    pub processed: IntCounterVec,
    /// `toko_messages_duplicate_total`: skipped because already processed.
    pub duplicates: IntCounterVec,
    /// `toko_messages_failed_total{kind="retryable"|"permanent"}`: handler failures.
    pub failed: IntCounterVec,
    /// `toko_messages_retried_total`: failures sent to a retry queue.
    pub retried: IntCounterVec,
    /// `toko_messages_dead_lettered_total`: messages sent to the dead-letter queue.
    pub dead_lettered: IntCounterVec,
    /// `toko_message_handler_duration_seconds`: time in the handler.
    pub handler_duration: HistogramVec,
    /// `toko_queue_messages{queue}`: ready messages in the worker's queue and its DLQ, from
    /// a passive declare every `QUEUE_METRICS_INTERVAL` (what the autoscaler looks at).
    pub queue_messages: IntGaugeVec,
}

impl ConsumerMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        let processed = counter(
            "messages_processed_total",
            "Messages handled successfully",
            &["queue"],
        )?;
        let duplicates = counter(
            "messages_duplicate_total",
            "Messages skipped as already processed",
            &["queue"],
        )?;
        let failed = counter(
            "messages_failed_total",
            "Handler failures",
            &["queue", "kind"],
        )?;
        let retried = counter(
            "messages_retried_total",
            "Messages sent to a retry queue",
            &["queue"],
        )?;
        let dead_lettered = counter(
            "messages_dead_lettered_total",
            "Messages sent to the dead-letter queue",
            &["queue"],
        )?;
        let opts = HistogramOpts::new(
            "message_handler_duration_seconds",
            "Time spent in the message handler",
        );
        let handler_duration = registered(
            registry,
            HistogramVec::new(opts.buckets(LATENCY_BUCKETS.to_vec()), &["queue"])?,
        )?;
        let opts = Opts::new(
            "queue_messages",
            "Ready messages in a queue (passive declare)",
        );
        let queue_messages = registered(registry, IntGaugeVec::new(opts, &["queue"])?)?;
        Ok(Self {
            processed,
            duplicates,
            failed,
            retried,
            dead_lettered,
            handler_duration,
            queue_messages,
        })
    }

    /// Creates every series of `queue` at zero, so dashboards and alerts see them before the
    /// first message.
    pub fn init_queue(&self, queue: &str, dlq: &str) {
        self.processed.with_label_values(&[queue]);
        self.duplicates.with_label_values(&[queue]);
        self.failed.with_label_values(&[queue, "retryable"]);
        self.failed.with_label_values(&[queue, "permanent"]);
        self.retried.with_label_values(&[queue]);
        self.dead_lettered.with_label_values(&[queue]);
        self.handler_duration.with_label_values(&[queue]);
        self.queue_messages.with_label_values(&[queue]);
        self.queue_messages.with_label_values(&[dlq]);
    }
}
