//! # midtrans-sim
//!
//! A local stand-in for Midtrans that toko's tests, quick-start and docker-compose use instead
//! of the real service (which these machines cannot reach). It speaks the API described in
//! `shared/reference/midtrans.md`:
//!
//! - **Snap** `POST /snap/v1/transactions` → `201 {token, redirect_url}` (an `expiry` outside
//!   5 minutes..7 days is a 400), and `POST /snap/v1/transactions/{token}/cancel` → `200
//!   {canceled_at}` (the page can no longer be paid); errors are `{"error_messages": [...]}`
//!   with the HTTP status carrying the code.
//! - **Core API** under `/v2/{id}/...` (`id` = order_id or transaction_id): `GET status`,
//!   `GET status/b2b`, `POST cancel | expire | refund | approve | deny`.
//! - **HTTP notifications** on every status change, signed with the server key and retried
//!   per Midtrans' table.
//! - A **payment page** at `/snap/v3/redirection/{token}` for humans.
//! - A **control API** under `/_sim` for tests; `GET /health` for probes.
//!
//! Snap and Core API calls need `Authorization: Basic base64(SERVER_KEY + ":")`.
//!
//! ## HTTP status versus body `status_code`
//! Core API errors come back with the HTTP status equal to the body's `status_code`
//! (`400`, `401`, `404`, `406`, `412`, `414`). The `/expire` answer, whose body says `407`, is
//! HTTP `200`, because it is the documented normal reply. Clients must decide on the body
//! (midtrans.md §4); the simulator punishes ones that do not.
//!
//! ## Behaviour worth knowing
//! - Before a payment method is chosen (control `pay`), GET status answers 404, as on Midtrans.
//! - `pay` sends two notifications (`pending`, then the outcome) unless the outcome is `pending`.
//! - Each refund sends two notifications; `refunds[]` lists a refund only from the second
//!   (the bank's confirmation, with `bank_confirmed_at`); the refund answer itself has none.
//! - Refunds only for `credit_card, gopay, shopeepay, dana, ovo, qris, kredivo, akulaku` (else
//!   412), ShopeePay and OVO only in full (else 414), as Midtrans documents; the HTTP codes
//!   are our choice. A `refund_key` reused within 7 days for the same amount is a retry: the
//!   same refund is answered again and nothing new happens; with another amount it is a 406.
//! - A cancelled Snap session can no longer be paid (`pay` is a 409, the page says so).
//! - A pending transaction expires by itself once its `expiry_time` passes (checked every
//!   `expiry_sweep`; default 1 s, `SIM_EXPIRY_SWEEP_MS=0` turns it off). Without a Snap
//!   `expiry`, the deadline is 24 h after the method is chosen; `pay` is refused (409) once
//!   a Snap `expiry.start_time + duration` has passed.
//! - After a `deny`, the same Snap order may be paid again (a new transaction_id); the old
//!   transaction stays queryable by its transaction_id.
//! - `Idempotency-Key` is not implemented (its semantics are unconfirmed).
//!
//! ## Control API (`/_sim`, JSON, no auth)
//! | route | body | does |
//! |---|---|---|
//! | `POST /_sim/transactions/{order_id}/pay` | `{"payment_type"?, "outcome"?}` | the customer picks a method: `pending` (notified), then `outcome` (notified): `settlement` (default), `capture_accept`, `capture_challenge`, `deny`, `pending`. `payment_type` defaults to `credit_card` for capture outcomes, else `bank_transfer` |
//! | `POST .../{order_id}/settle` | – | pending or accepted capture → settlement |
//! | `POST .../{order_id}/expire` | – | pending → expire |
//! | `POST .../{order_id}/cancel` | – | pending/capture → cancel |
//! | `POST .../{order_id}/deny` | – | pending, challenged capture or settlement (reversal) → deny |
//! | `POST .../{order_id}/refund` | `{"amount"?, "refund_key"?, "reason"?}` | dashboard refund (full without amount) |
//! | `POST .../{order_id}/notify` | `{"status"?}` | re-send the current notification, or the last earlier one with that `transaction_status` (stale, still validly signed) |
//! | `GET /_sim/transactions/{order_id}` | – | the order: Snap request, current and earlier transactions, notification bodies, delivery attempts |
//! | `GET /_sim/transactions` | – | every order (including superseded ones) |
//! | `GET /_sim/notifications` | – | the whole delivery log |
//! | `GET /_sim/requests` | – | every Snap and Core API request: method, path, `content_type`, `accept` |
//! | `POST /_sim/notifications/pause`, `/resume` | – | drop notifications while paused (lost webhooks) |
//! | `GET`, `PUT /_sim/notification-url` | `{"url": "..." \| null}` | the default notification URL |
//! | `DELETE /_sim/reset` | – | forget everything (204) |
//!
//! Action routes answer with the order (`GET /_sim/transactions/{order_id}`'s body). Errors are
//! `{"error": "..."}`: 400 bad input, 404 unknown order_id, 409 not allowed in this state (with
//! `midtrans_status_code` when the Core API would have said 412/406/414). They also accept HTML
//! form posts, answered with a 303 to the Snap `callbacks.finish` URL (plus `order_id`,
//! `status_code`, `transaction_status`) or back to the payment page.
//!
//! ## Environment (binary)
//! | variable | default | meaning |
//! |---|---|---|
//! | `MIDTRANS_SERVER_KEY` | required | key clients must send; signs bodies |
//! | `HOST`, `PORT` | `127.0.0.1`, `3900` | where to listen |
//! | `SIM_PUBLIC_URL` | `http://127.0.0.1:{port}` | base of Snap `redirect_url`s |
//! | `SIM_NOTIFICATION_URL` | unset | where notifications go |
//! | `SIM_RETRY_DELAYS_MS` | `200,500,1000,2000,4000` | delay before retry 1..5 |
//! | `SIM_NOTIFICATION_TIMEOUT_MS` | `15000` | per-request timeout |
//! | `SIM_EXPIRY_SWEEP_MS` | `1000` | auto-expiry check interval, `0` = off |
//! | `SIM_MERCHANT_ID` | `G000000000` | `merchant_id` in bodies |
//! | `RUST_LOG`, `LOG_FORMAT` | `info`, `text` | logging (`LOG_FORMAT=json`) |
//!
//! ## Embedding in tests
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use midtrans_sim::{spawn, SimConfig};
//! let sim = spawn(SimConfig::new("SB-Mid-server-test")).await?;
//! // Point the client at sim.snap_base_url() / sim.api_base_url(), start the app, then:
//! sim.set_notification_url("http://127.0.0.1:3000/payments/midtrans/notification".to_owned());
//! # Ok(()) }
//! ```

mod auth;
mod config;
mod control;
mod core_api;
mod notify;
mod page;
mod record;
mod requests;
mod signature;
mod sim;
mod snap;
mod state;
mod wib;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::TcpAcceptor;
use poem::web::Json;
use poem::{get, handler, post, EndpointExt, Route, Server};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, SimConfig};
pub use core_api::CoreError;
pub use notify::{AttemptResult, DeliveryAttempt, NotificationTargets, Notifier};
pub use record::{RefundRecord, StatusRecord, VaNumber};
pub use requests::ApiRequest;
pub use signature::{format_amount, signature_key};
pub use sim::{Action, OrderView, PayOutcome, Payment, SimError, Simulator};
pub use snap::{SnapCreated, SnapRequest};
pub use state::{FraudStatus, RefundRequest, Rejection, TransactionStatus};

/// How long a shutdown waits for open connections before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulator. Dropping it (or [`SimHandle::shutdown`]) stops the server and every
/// notification task.
pub struct SimHandle {
    addr: SocketAddr,
    base_url: String,
    sim: Arc<Simulator>,
    stop: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`: the base for the Core API and the control API.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// What a client uses as its Snap base URL: `{base_url}/snap/v1`.
    pub fn snap_base_url(&self) -> String {
        format!("{}/snap/v1", self.base_url)
    }

    /// What a client uses as its Core API base URL (the same as [`SimHandle::base_url`]).
    pub fn api_base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Points notifications at `url` (e.g. an app started after the simulator), or stops them
    /// with `None`. Applies to notifications queued from now on.
    pub fn set_notification_url(&self, url: impl Into<Option<String>>) {
        self.sim.notifier().set_default_url(url.into());
    }

    /// In-process access to everything the control API offers.
    pub fn simulator(&self) -> &Arc<Simulator> {
        &self.sim
    }

    /// Stops the server (open connections get a short grace period) and background tasks.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.stop.cancel();
        match self.server.take() {
            Some(server) => server.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the simulator on `config.host:config.port` (port 0 picks a free port) and returns
/// once it accepts connections.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    config
        .validate()
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", addr.port()));
    let stop = CancellationToken::new();
    let notifier = Arc::new(Notifier::new(
        config.notification_url.clone(),
        config.retry_delays.clone(),
        config.notification_timeout,
        stop.clone(),
    )?);
    let expiry_sweep = config.expiry_sweep;
    let sim = Arc::new(Simulator::new(config, public_url, notifier));
    if let Some(every) = expiry_sweep {
        tokio::spawn(sweep_expired(Arc::clone(&sim), every, stop.clone()));
    }
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let app = app(Arc::clone(&sim));
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(SHUTDOWN_GRACE))
            .await
    });
    tracing::info!(%addr, "midtrans-sim listening");
    Ok(SimHandle {
        addr,
        base_url,
        sim,
        stop,
        server: Some(server),
    })
}

/// All routes. Snap and Core API sit behind the server-key check; the page, the control API and
/// the health probe do not.
fn app(sim: Arc<Simulator>) -> impl poem::Endpoint {
    let key = sim.server_key().to_owned();
    let snap_routes = Route::new()
        .at("/transactions", post(snap::create))
        .at("/transactions/:token/cancel", post(snap::cancel));
    Route::new()
        .nest(
            "/snap/v1",
            requests::logged(
                auth::require_server_key(snap_routes, key.clone(), snap::unauthorized),
                Arc::clone(&sim),
            ),
        )
        .at("/snap/v3/redirection/:token", get(page::show))
        .nest(
            "/v2",
            requests::logged(
                auth::require_server_key(core_api::routes(), key, core_api::unauthorized),
                Arc::clone(&sim),
            ),
        )
        .nest("/_sim", control::routes())
        .at("/health", get(health))
        .data(sim)
}

#[handler]
fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Expires overdue pending transactions, as Midtrans does when a payment deadline passes.
async fn sweep_expired(sim: Arc<Simulator>, every: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {
                let expired = sim.expire_overdue(wib::now());
                if expired > 0 {
                    tracing::info!(count = expired, "expired overdue transactions");
                }
            }
        }
    }
}
