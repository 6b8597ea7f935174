//! Fixed-window request counters, in Redis (shared by every API replica) or in process.
//!
//! Redis keeps one key per bucket and window (`<prefix>:<bucket>:<window>`), incremented and
//! given an expiry in one round trip. When Redis cannot be reached the limiter fails open:
//! refusing every request because a counter is unavailable would turn a Redis outage into an
//! API outage; the failure is logged and counted instead.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redis::aio::ConnectionManager;

use crate::config::{ConfigError, Reader, Secret};

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the current window ends.
    pub reset: Duration,
}

enum Store {
    Redis(ConnectionManager),
    Memory(Mutex<HashMap<String, (u64, u32)>>),
}

pub struct RateLimiter {
    store: Store,
    prefix: String,
}

impl RateLimiter {
    /// A limiter backed by Redis (connection managed, reconnecting on its own).
    pub async fn redis(url: &str, prefix: impl Into<String>) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManager::new(client).await?;
        Ok(Self {
            store: Store::Redis(manager),
            prefix: prefix.into(),
        })
    }

    /// A limiter counting in this process only.
    pub fn in_memory(prefix: impl Into<String>) -> Self {
        Self {
            store: Store::Memory(Mutex::new(HashMap::new())),
            prefix: prefix.into(),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.store, Store::Redis(_))
    }

    /// Counts one request against `bucket` (at most `limit` per `window`).
    pub async fn hit(&self, bucket: &str, limit: u32, window: Duration) -> Decision {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let window_secs = window.as_secs().max(1);
        let index = now.as_secs() / window_secs;
        let reset = Duration::from_secs((index + 1) * window_secs).saturating_sub(now);
        let count = match &self.store {
            Store::Redis(manager) => {
                let key = format!("{}:{bucket}:{index}", self.prefix);
                let mut conn = manager.clone();
                let result: Result<(u32,), _> = redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .expire(&key, window_secs as i64 + 1)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                match result {
                    Ok((count,)) => count,
                    Err(error) => {
                        tracing::warn!(error = %error, "rate limit store unavailable; allowing the request");
                        0
                    }
                }
            }
            Store::Memory(map) => {
                let mut map = map.lock().expect("rate limit map lock");
                if map.len() > 100_000 {
                    map.retain(|_, (i, _)| *i == index);
                }
                let entry = map.entry(bucket.to_owned()).or_insert((index, 0));
                if entry.0 != index {
                    *entry = (index, 0);
                }
                entry.1 += 1;
                entry.1
            }
        };
        Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset,
        }
    }
}

/// Request rate limits. Shared across API replicas through Redis when `REDIS_URL` is set;
/// without it each process counts on its own (fine for one replica).
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Requests per minute per client IP without a token.
    pub anonymous_per_minute: u32,
    /// Requests per minute per signed-in user.
    pub authenticated_per_minute: u32,
    /// Requests per minute per client IP to `/api/v1/auth/*` (login, register, refresh).
    pub auth_per_minute: u32,
    /// Requests per minute per client IP to the payment webhook.
    pub webhook_per_minute: u32,
    /// The counting window (the limits are per this window; `60s` makes them per minute).
    pub window: Duration,
    pub redis_url: Option<Secret>,
    /// Prefix of the Redis keys (several deployments may share one Redis).
    pub key_prefix: String,
}

impl RateLimitConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let redis_url = r.optional("REDIS_URL");
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::Invalid {
                    name: "REDIS_URL",
                    reason: "expected a redis:// URL".into(),
                });
            }
        }
        Ok(Self {
            enabled: r.bool("RATE_LIMIT_ENABLED", true)?,
            anonymous_per_minute: r.parse("RATE_LIMIT_ANONYMOUS_PER_MINUTE", 300)?,
            authenticated_per_minute: r.parse("RATE_LIMIT_AUTHENTICATED_PER_MINUTE", 600)?,
            auth_per_minute: r.parse("RATE_LIMIT_AUTH_PER_MINUTE", 30)?,
            webhook_per_minute: r.parse("RATE_LIMIT_WEBHOOK_PER_MINUTE", 600)?,
            window: r.duration("RATE_LIMIT_WINDOW", Duration::from_secs(60))?,
            redis_url: redis_url.map(Secret::new),
            key_prefix: r.string("RATE_LIMIT_KEY_PREFIX", "toko:rl"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_per_bucket_within_a_window() {
        let limiter = RateLimiter::in_memory("t");
        let window = Duration::from_secs(3600);
        for i in 1..=3 {
            let d = limiter.hit("a", 3, window).await;
            assert!(d.allowed);
            assert_eq!(d.remaining, 3 - i);
        }
        assert!(!limiter.hit("a", 3, window).await.allowed);
        assert!(
            limiter.hit("b", 3, window).await.allowed,
            "buckets are independent"
        );
    }
}
