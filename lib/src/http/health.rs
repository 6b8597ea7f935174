//! Liveness, readiness and metrics endpoints (outside the versioned API and its spec).

use poem::{handler, web::Data, web::Json, IntoResponse, Response};
use serde_json::json;

use super::{problem::Problem, AppState};

/// The process is up and serving.
#[handler]
pub fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Every dependency answers: 200 listing the checks when all are up, else a 503 problem
/// naming the ones that are not.
#[handler]
pub async fn ready(Data(state): Data<&AppState>) -> Response {
    let checks = state.readiness().await;
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail.as_deref().unwrap_or("failing")))
        .collect();
    if !failing.is_empty() {
        return Problem::unavailable("not_ready", failing.join("; ")).into_response();
    }
    let body = json!({
        "status": "ok",
        "checks": checks
            .iter()
            .map(|c| (c.name.to_owned(), json!({ "ok": true })))
            .collect::<serde_json::Map<_, _>>(),
    });
    Json(body).into_response()
}

/// Prometheus text exposition.
#[handler]
pub fn metrics(Data(state): Data<&AppState>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render(&state.registry))
}
