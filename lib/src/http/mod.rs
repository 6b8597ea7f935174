//! The HTTP edge: the poem app, its OpenAPI document, middleware and error mapping.
//!
//! Domain modules never see HTTP: `api/` declares the operations and calls the services;
//! `problem` and `errors` turn domain errors into problem+json; `middleware` wraps every
//! request; `server` runs the API on the shared [`crate::serving`] server.

pub mod api;
pub mod caching;
pub mod errors;
mod health;
pub mod json_body;
pub mod middleware;
pub mod problem;
mod rate_limit;
mod security;
mod server;
mod staff_actions;
mod state;
mod typed_ids;

use std::{net::IpAddr, sync::Arc};

use poem::{middleware::Cors, EndpointExt, IntoEndpoint, Request, Response, Route};
use poem_openapi::OpenApiService;

use crate::config::HttpConfig;

pub use self::{
    json_body::{JsonBody, RawJson},
    security::{BearerAuth, CartAuth},
    state::{AppState, Check, StartupError},
};

/// The OpenAPI service: the operations and their document. `tokoctl openapi` writes
/// `service().spec()` to `openapi.json`; a test keeps the two equal.
pub fn service() -> OpenApiService<api::Api, ()> {
    OpenApiService::new(api::all(), "toko", env!("CARGO_PKG_VERSION"))
        .description(
            "Products, search, carts, checkout, orders and Midtrans payments. Errors are \
             `application/problem+json` (RFC 9457) with a stable `code`; see docs/ERRORS.md.",
        )
        .license(poem_openapi::LicenseObject::new("MIT"))
}

/// The OpenAPI document as served at `/api/openapi.json`.
pub fn spec_json() -> String {
    service().spec()
}

/// The public app: API, docs and health, wrapped in the standard middleware. Metrics are
/// served apart, on the metrics port ([`metrics_app`]).
pub fn app(state: AppState) -> impl poem::Endpoint<Output = Response> {
    let service = service();
    let spec = service.spec();
    let docs = service.swagger_ui();
    let http_config = Arc::new(state.config.http.clone());
    let metrics = state.http_metrics.clone();

    let routes = Route::new()
        .nest("/", service.into_endpoint())
        .at(
            "/api/openapi.json",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .nest("/api/docs", docs)
        .at("/health/live", poem::get(health::live))
        .at("/health/ready", poem::get(health::ready));

    let app = match cors(&state.config.http.cors_allowed_origins) {
        Some(cors) => routes
            .with(cors)
            .data(state.clone())
            .map_to_response()
            .boxed(),
        None => routes.data(state.clone()).map_to_response().boxed(),
    };
    let app = staff_actions::StaffActionsRecorded::new(app, state.clone()).boxed();
    let app = middleware::OwnWritesSeen::new(app, state.catalog_changes.clone()).boxed();
    let limited = rate_limit::RateLimited::new(app, state);
    middleware::Observed::new(limited, metrics, http_config)
}

/// `/metrics` for Prometheus, on the metrics port: kept off the public port because the
/// counters describe traffic and internals to whoever asks.
pub fn metrics_app(state: AppState) -> impl poem::Endpoint<Output = Response> {
    Route::new()
        .at("/metrics", poem::get(health::metrics))
        .data(state)
        .map_to_response()
}

/// Cross-origin access for the configured origins: none when the list is empty (no CORS
/// headers at all, so browsers refuse), any origin only for an explicit `*`.
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let any = origins.iter().any(|o| o == "*");
    let cors = origins
        .iter()
        .filter(|_| !any)
        .fold(Cors::new(), |cors, origin| {
            cors.allow_origin(origin.as_str())
        });
    Some(
        cors.allow_methods(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])
            .allow_headers([
                "authorization",
                "content-type",
                "idempotency-key",
                "x-cart-token",
                "x-request-id",
                "if-none-match",
            ])
            .expose_headers([
                "x-request-id",
                "etag",
                "retry-after",
                "ratelimit-limit",
                "ratelimit-remaining",
                "ratelimit-reset",
                "x-cart-token",
            ])
            .max_age(600),
    )
}

/// The client's address: the socket peer, or — behind trusted proxies
/// (`TRUST_FORWARDED_FOR=true`) — the `X-Forwarded-For` entry `TRUSTED_PROXY_HOPS` from the right
/// (1: the right-most, the one the nearest proxy appended). Every header line counts, joined
/// in order, as proxies may append a line of their own. Entries further left come from the
/// client and could be forged to dodge per-IP limits.
pub fn client_ip(req: &Request, config: &HttpConfig) -> Option<IpAddr> {
    if config.trust_forwarded_for {
        let entries: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let entry = entries
            .len()
            .checked_sub(config.trusted_proxy_hops)
            .and_then(|i| entries.get(i));
        if let Some(ip) = entry.and_then(|e| e.parse().ok()) {
            return Some(ip);
        }
    }
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}
