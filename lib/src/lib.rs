//! toko: an e-commerce backend.
//!
//! The library holds everything but the `main` functions: the domain modules (each owning its
//! types, SQL and service functions), the HTTP edge (`http`), the messaging runtime
//! (`messaging`: outbox relay, consumers, periodic jobs) and the shared plumbing (`config`,
//! `db`, `telemetry`, `metrics`). Binaries in `bin/` and `workers/` only wire these together.

pub mod accounts;
pub mod addresses;
pub mod audit_log;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod consistency;
pub mod db;
pub mod events;
pub mod fulfilment;
pub mod http;
pub mod idempotency;
pub mod messaging;
pub mod metrics;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod promotions;
pub mod ratelimit;
pub mod returns;
pub mod search;
pub mod serving;
pub mod shipping;
pub mod tax;
pub mod telemetry;
pub mod typed;
pub mod validation;
pub mod webhooks;
