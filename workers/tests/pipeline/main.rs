//! The asynchronous half end to end: the API writes outbox events, the relay publishes them,
//! the workers (in process, or as their real binaries where a crash matters) consume them,
//! against the real Postgres, RabbitMQ (a vhost per test) and a real SMTP server.

mod crash;
mod dead_letters;
mod elasticsearch;
mod emails;
mod fixture;
mod indexer;
mod reconciler;
mod restart;
mod webhooks;
