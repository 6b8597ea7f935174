//! The small HTTP server of every worker process and of the relay, on `METRICS_PORT`:
//! `GET /health/live`, `GET /health/ready` (Postgres answers and, when the process uses
//! RabbitMQ, its connection is open) and `GET /metrics` (Prometheus text).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use lapin::{Connection, ConnectionStatus};
use poem::{get, handler, web::Data, web::Json, EndpointExt, IntoResponse, Response, Route};
use prometheus::Registry;
use serde_json::json;
use sqlx::PgPool;

use crate::serving::Problem;

/// Whether the process's RabbitMQ connection is up, for readiness. Processes that do not use
/// RabbitMQ (only periodic jobs) never call [`BrokerStatus::set`] and are ready without it.
#[derive(Clone, Default)]
pub struct BrokerStatus(Arc<Mutex<BrokerState>>);

#[derive(Default)]
struct BrokerState {
    used: bool,
    connection: Option<ConnectionStatus>,
}

impl BrokerStatus {
    /// Records the current connection (`None` while disconnected).
    pub fn set(&self, connection: Option<&Connection>) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.used = true;
        state.connection = connection.map(|c| c.status().clone());
    }

    /// Marks RabbitMQ as required before the first connection exists.
    pub fn require(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).used = true;
    }

    /// `Ok` when not needed or connected; otherwise why not.
    pub fn check(&self) -> Result<(), &'static str> {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match (&state.used, &state.connection) {
            (false, _) => Ok(()),
            (true, Some(status)) if status.connected() => Ok(()),
            (true, Some(_)) => Err("connection lost"),
            (true, None) => Err("not connected"),
        }
    }
}

/// What the endpoints read.
#[derive(Clone)]
pub struct HealthState {
    pub pool: PgPool,
    pub broker: BrokerStatus,
    pub registry: Registry,
}

/// The routes.
pub fn app(state: HealthState) -> impl poem::Endpoint<Output = Response> {
    Route::new()
        .at("/health/live", get(live))
        .at("/health/ready", get(ready))
        .at("/metrics", get(metrics))
        .data(state)
        .map_to_response()
}

#[handler]
fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

#[handler]
async fn ready(Data(state): Data<&HealthState>) -> Response {
    let database =
        match tokio::time::timeout(Duration::from_secs(2), crate::db::ping(&state.pool)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err("query failed"),
            Err(_) => Err("timed out"),
        };
    let rabbitmq = state.broker.check();
    let failing: Vec<String> = [("database", database), ("rabbitmq", rabbitmq)]
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|why| format!("{name}: {why}")))
        .collect();
    if !failing.is_empty() {
        return Problem::unavailable("not_ready", failing.join("; ")).into_response();
    }
    Json(json!({ "status": "ok", "checks": { "database": { "ok": true }, "rabbitmq": { "ok": true } } })).into_response()
}

#[handler]
fn metrics(Data(state): Data<&HealthState>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render(&state.registry))
}
