//! Messaging specifications against the real RabbitMQ and Postgres: every test gets its own
//! database and its own RabbitMQ vhost (created through the management API), so they run
//! in parallel with each other and with every other test on the shared broker.
//! One test binary (modules below) keeps link time down.

mod consumer;
mod helpers;
mod operations;
mod relay;
mod schedule;
mod topology;
