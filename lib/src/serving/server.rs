//! Serving connections: HTTP/1.1 through hyper, with the limits that keep slow or numerous
//! clients from taking the process down.
//!
//! poem's own server sets no deadline for a request head (a client sending
//! `GET / HTTP/1.1\r\n` and then one byte a minute holds its connection forever) and accepts
//! without bound until the process runs out of file descriptors. Here every connection must
//! deliver each request head within `header_read_timeout` (the clock also runs while a
//! keep-alive connection sits idle between requests), and at most `max_connections` are open
//! at once: at the cap the server stops accepting, so further clients wait in the kernel's
//! backlog until the head deadline frees a slot, instead of costing descriptors and memory.
//!
//! HTTP/2 is left to the TLS-terminating proxy in front of the API (cleartext HTTP/2 is not
//! spoken here: it would bypass the head deadline).

use std::{
    convert::Infallible,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::{
    web::{LocalAddr, RemoteAddr},
    Addr, Endpoint, EndpointExt, IntoEndpoint, Response,
};
use prometheus::IntGauge;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::HttpConfig;

/// How long in-flight requests may run after SIGTERM before the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// What a server tolerates from its clients.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time allowed for each request head to arrive, counted from when the connection is
    /// ready for it (accepted, or done with the previous response).
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn of(config: &HttpConfig) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
        }
    }

    /// The limits of the small internal servers (worker health and metrics).
    pub fn internal() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// A bound server, ready to run (binding first lets tests learn the random port).
pub struct BoundServer {
    listener: TcpListener,
    pub local_addr: SocketAddr,
}

impl BoundServer {
    pub async fn bind(host: IpAddr, port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind((host, port)).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
        })
    }

    /// Serves a small internal endpoint (the workers' health and metrics, the API's metrics
    /// port) with [`ConnectionLimits::internal`].
    pub async fn serve<E>(
        self,
        endpoint: E,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()>
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.serve_with(endpoint, ConnectionLimits::internal(), None, shutdown)
            .await
    }

    /// Serves `endpoint` with the given limits, counting open connections in the gauge.
    pub async fn serve_with<E>(
        self,
        endpoint: E,
        limits: ConnectionLimits,
        open_connections: Option<IntGauge>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()>
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        let endpoint = Arc::new(endpoint.into_endpoint().map_to_response());
        let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max));
        let stopping = CancellationToken::new();
        tokio::pin!(shutdown);
        loop {
            // Waiting for a slot before accepting is what caps the connections.
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            let (stream, remote) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let connection = Connection {
                stream,
                local: self.local_addr,
                remote,
                header_read_timeout: limits.header_read_timeout,
            };
            let endpoint = endpoint.clone();
            let stopping = stopping.clone();
            let open = open_connections.clone();
            tokio::spawn(async move {
                let _slot = slot;
                if let Some(gauge) = &open {
                    gauge.inc();
                }
                connection.serve(endpoint, stopping).await;
                if let Some(gauge) = &open {
                    gauge.dec();
                }
            });
        }
        drop(self.listener);
        stopping.cancel();
        // Every connection holds a slot until it ends: all slots back means all drained.
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(max as u32)).await;
        if drained.is_err() {
            tracing::warn!("connections still open after the shutdown grace period");
        }
        Ok(())
    }
}

struct Connection {
    stream: tokio::net::TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    header_read_timeout: Duration,
}

impl Connection {
    async fn serve<E>(self, endpoint: Arc<E>, stopping: CancellationToken)
    where
        E: Endpoint<Output = Response> + 'static,
    {
        let (local, remote) = (self.local, self.remote);
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let endpoint = endpoint.clone();
            async move {
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(remote)),
                    poem::http::uri::Scheme::HTTP,
                ));
                let resp = endpoint.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::<
                    http_body_util::combinators::BoxBody<hyper::body::Bytes, std::io::Error>,
                >::from(resp))
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .serve_connection(TokioIo::new(self.stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = stopping.cancelled() => {}
        }
        // Finish the request in flight, then close.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}
