//! toko: an e-commerce backend.
//!
//! The library holds everything but the `main` functions: the domain modules (each owning its
//! types, SQL and service functions), the HTTP edge (`http`), and the shared plumbing
//! (`config`, `db`, `telemetry`, `metrics`). Binaries in `bin/` and `workers/` only wire
//! these together.

pub mod auth;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod db;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod ratelimit;
pub mod search;
pub mod telemetry;
pub mod validation;
