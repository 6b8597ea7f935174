//! Integration tests: each test starts its own simulator (random port) and drives it over HTTP
//! with reqwest, the way toko's client and tests will. One test binary keeps linking cheap.

mod control;
mod core_api;
mod helpers;
mod notifications;
mod snap;
