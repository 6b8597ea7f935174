//! Settings of the HTTP servers (the API, and the workers' health and metrics server).

use std::{net::IpAddr, time::Duration};

use crate::config::{ConfigError, Reader};

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub body_limit_bytes: usize,
    /// The body limit of the payment webhook: Midtrans' notifications are a few KB.
    pub webhook_body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// Exact origins allowed by CORS; empty means no cross-origin access.
    pub cors_allowed_origins: Vec<String>,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Proxies in front of the API that append to `X-Forwarded-For`: the client is the entry
    /// this many places from the right.
    pub trusted_proxy_hops: usize,
    /// Time allowed for each request head to arrive (slow clients are cut off).
    pub header_read_timeout: Duration,
    /// Connections one process keeps open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Port of `/metrics` (kept off the public port).
    pub metrics_port: u16,
}

impl HttpConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            host: r.parse("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: r.parse("PORT", 3000)?,
            body_limit_bytes: r.parse("REQUEST_BODY_LIMIT", 1024 * 1024)?,
            webhook_body_limit_bytes: r.parse("WEBHOOK_BODY_LIMIT", 16 * 1024)?,
            request_timeout: r.duration("REQUEST_TIMEOUT", Duration::from_secs(30))?,
            cors_allowed_origins: r
                .optional("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            trust_forwarded_for: r.bool("TRUST_FORWARDED_FOR", false)?,
            trusted_proxy_hops: r.positive("TRUSTED_PROXY_HOPS", 1)?,
            header_read_timeout: r.duration("HEADER_READ_TIMEOUT", Duration::from_secs(10))?,
            max_connections: r.positive("MAX_CONNECTIONS", 4096)?,
            metrics_port: r.parse("METRICS_PORT", 9100)?,
        })
    }
}
