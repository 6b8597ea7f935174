//! The HTTP edge: the poem app, its OpenAPI document, middleware and error mapping.
//!
//! Only this module knows about HTTP. `api/` declares the operations; `problem` and `errors`
//! turn domain errors into problem+json; `middleware` wraps every request.

pub mod api;
pub mod caching;
pub mod errors;
mod health;
pub mod json_body;
pub mod middleware;
pub mod problem;
mod rate_limit;
mod security;
mod state;

use std::{future::Future, net::IpAddr, sync::Arc, time::Duration};

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    middleware::Cors,
    EndpointExt, IntoEndpoint, Request, Response, Route, Server,
};
use poem_openapi::OpenApiService;

pub use self::{
    json_body::{JsonBody, RawJson},
    security::{BearerAuth, CartAuth},
    state::{AppState, Check, StartupError},
};

/// How long in-flight requests may run after SIGTERM before the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

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

/// The whole app: API, docs, health and metrics, wrapped in the standard middleware.
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
        .at("/health/ready", poem::get(health::ready))
        .at("/metrics", poem::get(health::metrics));

    let cors = cors(&state.config.http.cors_allowed_origins);
    let app = routes.with(cors).data(state.clone()).map_to_response();
    let limited = rate_limit::RateLimited::new(app, state);
    middleware::Observed::new(limited, metrics, http_config)
}

/// Cross-origin access only for the configured origins (none by default).
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::new(), |cors, origin| {
            cors.allow_origin(origin.as_str())
        })
        .allow_methods(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])
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
        .max_age(600)
}

/// The client's address: the socket peer, or — behind a trusted proxy
/// (`TRUST_FORWARDED_FOR=true`) — the right-most `X-Forwarded-For` entry, the one that proxy
/// appended. Entries to its left come from the client and could be forged to dodge per-IP
/// limits.
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = req
            .header("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

/// A bound server, ready to run (binding first lets tests learn the random port).
pub struct BoundServer {
    acceptor: poem::listener::TcpAcceptor,
    pub local_addr: std::net::SocketAddr,
}

impl BoundServer {
    pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<Self> {
        let acceptor = TcpListener::bind((host, port)).into_acceptor().await?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("listener has no socket address"))?;
        Ok(Self {
            acceptor,
            local_addr,
        })
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(
        self,
        state: AppState,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .idle_timeout(Duration::from_secs(60))
            .run_with_graceful_shutdown(app(state), shutdown, Some(SHUTDOWN_GRACE))
            .await
    }

    /// Serves another endpoint the same way (the workers' health and metrics server).
    pub async fn serve<E>(
        self,
        endpoint: E,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()>
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Server::new_with_acceptor(self.acceptor)
            .idle_timeout(Duration::from_secs(60))
            .run_with_graceful_shutdown(endpoint, shutdown, Some(SHUTDOWN_GRACE))
            .await
    }
}
