//! Messaging: the outbox relay, the RabbitMQ topology, the consumer runtime every worker is
//! built on, periodic jobs, and the operations behind `tokoctl dlq` and `tokoctl outbox`.
//!
//! # Decisions
//!
//! - **The relay is its own binary** (`outbox-relay` in the `workers` crate), not a task in
//!   the API: it scales on the outbox backlog rather than on HTTP traffic (its own Helm
//!   Deployment and KEDA trigger), a broker outage never touches API latency or readiness,
//!   and several replicas are safe because rows are claimed with `FOR UPDATE SKIP LOCKED`.
//! - **Delivery is at-least-once; effects are exactly-once through idempotency.** The relay
//!   marks a row published only after the broker confirmed it, so a crash in between
//!   publishes it again; a consumer acks only after its effect, so a crash in between
//!   redelivers it. Every message carries the event id as `message_id`, and every consumer
//!   records `(consumer, message_id)` in `processed_messages` in the same transaction as its
//!   effect ([`Idempotency`]); the runtime also skips already-recorded messages before
//!   calling a handler.
//! - **Retries are delayed and bounded, and failures keep their reason.** A retryable
//!   failure goes to `toko.<worker>.retry.<n>` (growing per-queue TTLs that dead-letter back
//!   to the work queue), up to `MAX_ATTEMPTS`; a permanent failure or the last attempt goes
//!   to `toko.<worker>.dlq` with `x-toko-attempts`, `x-toko-last-error` and the original
//!   routing key, ready for `tokoctl dlq replay`. See [`topology`] and [`consumer`].
//! - **Consumers use lapin directly; periodic jobs use apalis-cron.** apalis-amqp 1.0 (read
//!   in its `ack.rs`) acks with a plain `basic_nack` on failure and `basic_reject` once its
//!   retries are exhausted: no delayed retry, no dead-letter copy carrying the error, no
//!   publish-then-ack. apalis-cron's scheduler, driven by an apalis `Worker` with its
//!   graceful `run_until`, fits periodic sweeps; see [`schedule`] for the details checked.
//! - **Connections are supervised by us, not by lapin's auto-recovery**: on any connection
//!   error a process drops its connection and channels, backs off, reconnects and declares
//!   its topology again. State that matters lives in Postgres (unpublished rows) or in the
//!   broker (unacked messages), so starting over is always correct.

pub mod consumer;
pub mod dlq;
pub mod envelope;
pub mod housekeeping;
pub mod idempotency;
pub mod management;
pub mod metrics;
pub mod relay;
pub mod schedule;
mod settings;
pub mod topology;
pub mod worker;
pub mod worker_http;

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

pub use self::{
    consumer::{Delivered, Handler, HandlerError},
    idempotency::Idempotency,
    relay::Relay,
    settings::{ConsumerConfig, MessagingConfig, RelayConfig, SweepConfig},
    worker::Worker,
};

/// Opens an AMQP connection named `name` (shown in the management UI, and used by tests to
/// find and close it).
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, properties).await
}

/// The connection name of a process: `<role>@<host>`.
pub fn connection_name(role: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    format!("toko-{role}@{host}")
}

/// Exponential backoff between reconnection attempts: 100 ms doubling up to 10 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The delay to wait now; the following one is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    /// Back to the shortest delay, after a success.
    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<_> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
