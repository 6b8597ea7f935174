//! Settings read from environment variables.
//!
//! Every binary builds its settings here, so names, defaults and validation live in one place
//! (the table in README.md mirrors this file). A missing or malformed variable fails fast with
//! a message naming it; secrets are wrapped in [`Secret`] so they never reach a log line.

use std::{collections::HashMap, fmt, net::IpAddr, str::FromStr, time::Duration};

pub mod production;
mod search;
pub use self::search::{ElasticsearchConfig, SearchBackendConfig, SearchConfig};

/// Why the settings could not be built. Always names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid value for environment variable {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A value that must never be printed: `Debug` and `Display` show a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Where the process runs; production refuses unsafe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A source of raw settings: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// Typed access to a [`Source`], producing errors that name the variable.
pub struct Reader<'a>(pub &'a dyn Source);

impl Reader<'_> {
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.0.get(name)
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.0.get(name).ok_or(ConfigError::Missing(name))
    }

    pub fn string(&self, name: &'static str, default: &str) -> String {
        self.0.get(name).unwrap_or_else(|| default.to_owned())
    }

    pub fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                }),
        }
    }

    pub fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => {
                parse_duration(&raw).map_err(|reason| ConfigError::Invalid { name, reason })
            }
        }
    }

    /// A comma-separated list of durations, each longer than 0 (retry schedules).
    pub fn durations(
        &self,
        name: &'static str,
        default: &[Duration],
    ) -> Result<Vec<Duration>, ConfigError> {
        let Some(raw) = self.0.get(name) else {
            return Ok(default.to_vec());
        };
        raw.split(',')
            .map(|d| match parse_duration(d) {
                Ok(d) if !d.is_zero() => Ok(d),
                Ok(_) => Err("every delay must be longer than 0".to_owned()),
                Err(e) => Err(e),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| ConfigError::Invalid { name, reason })
    }

    /// A duration that must be longer than 0.
    pub fn positive_duration(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match self.duration(name, default)? {
            d if d.is_zero() => Err(ConfigError::Invalid {
                name,
                reason: "must be longer than 0".into(),
            }),
            d => Ok(d),
        }
    }

    /// A count that must be at least 1.
    pub fn positive(&self, name: &'static str, default: usize) -> Result<usize, ConfigError> {
        match self.parse(name, default)? {
            0 => Err(ConfigError::Invalid {
                name,
                reason: "must be at least 1".into(),
            }),
            value => Ok(value),
        }
    }

    pub fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.0.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected true or false, got {v:?}"),
            }),
        }
    }

    pub fn environment(&self) -> Result<Environment, ConfigError> {
        match self.string("APP_ENV", "development").as_str() {
            "development" | "dev" | "test" => Ok(Environment::Development),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(ConfigError::Invalid {
                name: "APP_ENV",
                reason: format!("expected development or production, got {other:?}"),
            }),
        }
    }
}

/// Parses durations such as `900`, `900s`, `15m`, `1h`, `30d` (a bare number is seconds),
/// the forms the original design's `JWT_EXPIRES_IN=1d` uses.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 15m or 1d, got {raw:?}"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => return Ok(Duration::from_millis(n)),
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown duration unit {unit:?} in {raw:?}")),
    };
    Ok(Duration::from_secs(seconds))
}

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

/// Settings of the Postgres connection pool.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    pub run_migrations: bool,
}

impl DatabaseConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let url = r.required("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected a postgres:// URL".into(),
            });
        }
        Ok(Self {
            url: Secret::new(url),
            max_connections: r.parse("DATABASE_MAX_CONNECTIONS", 20)?,
            run_migrations: r.bool("RUN_MIGRATIONS", false)?,
        })
    }
}

/// Settings of token issuing.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub issuer: String,
    pub audience: String,
    /// Failed password attempts on one account from one client IP within `login_window`
    /// before 429.
    pub max_failed_logins: u32,
    /// Failed attempts per client IP across accounts (higher: many people may share one NAT
    /// address).
    pub max_failed_logins_per_ip: u32,
    /// Failed attempts on one account across all IPs: a ceiling well above the per-IP limits,
    /// so that one address cannot lock the owner out, while a distributed guesser is stopped.
    pub max_failed_logins_per_account: u32,
    pub login_window: Duration,
}

impl AuthConfig {
    pub fn from_reader(r: &Reader, env: Environment) -> Result<Self, ConfigError> {
        let secret = r.required("JWT_SECRET")?;
        if env == Environment::Production {
            production::check_jwt_secret(&secret)?;
        }
        Ok(Self {
            jwt_secret: Secret::new(secret),
            access_token_ttl: r.duration("JWT_EXPIRES_IN", Duration::from_secs(15 * 60))?,
            refresh_token_ttl: r.duration("REFRESH_TOKEN_TTL", Duration::from_secs(30 * 86_400))?,
            issuer: r.string("JWT_ISSUER", "toko"),
            audience: r.string("JWT_AUDIENCE", "toko-api"),
            max_failed_logins: r.parse("LOGIN_MAX_FAILURES", 5)?,
            max_failed_logins_per_ip: r.parse("LOGIN_MAX_FAILURES_PER_IP", 20)?,
            max_failed_logins_per_account: r.parse("LOGIN_MAX_FAILURES_PER_ACCOUNT", 100)?,
            login_window: r.duration("LOGIN_FAILURE_WINDOW", Duration::from_secs(15 * 60))?,
        })
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        match r.string("LOG_FORMAT", "text").as_str() {
            "text" | "pretty" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(ConfigError::Invalid {
                name: "LOG_FORMAT",
                reason: format!("expected text or json, got {other:?}"),
            }),
        }
    }
}

/// Settings of the shop itself.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// ISO 4217 code of every price; amounts are integers in its minor units.
    pub currency: String,
    /// Public catalog reads and search results each API process keeps in memory, emptied on
    /// every catalog change; 0 turns the caches off.
    pub read_cache_entries: usize,
    /// Estimated bytes each of those caches holds at most.
    pub read_cache_bytes: usize,
}

impl StoreConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let currency = r.string("STORE_CURRENCY", "IDR").to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid {
                name: "STORE_CURRENCY",
                reason: "expected a three-letter ISO 4217 code such as IDR".into(),
            });
        }
        let read_cache_entries = r.parse("CATALOG_CACHE_ENTRIES", 10_000usize)?;
        Ok(Self {
            currency,
            read_cache_entries,
            read_cache_bytes: r.parse("CATALOG_CACHE_MAX_BYTES", 16 * 1024 * 1024)?,
        })
    }
}

/// Limits of a cart.
#[derive(Debug, Clone)]
pub struct CartConfig {
    pub max_line_quantity: i32,
    pub max_lines: i64,
}

impl CartConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            max_line_quantity: r.parse("CART_MAX_LINE_QUANTITY", 20)?,
            max_lines: r.parse("CART_MAX_LINES", 50)?,
        })
    }
}

/// Which Midtrans hosts to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidtransEnv {
    Sandbox,
    Production,
}

/// Settings of the Midtrans client. Absent when `MIDTRANS_SERVER_KEY` is unset: checkout then
/// reports payments as unavailable.
#[derive(Debug, Clone)]
pub struct MidtransConfig {
    pub server_key: Secret,
    pub client_key: Option<String>,
    pub env: MidtransEnv,
    /// Snap base, e.g. `https://app.sandbox.midtrans.com/snap/v1` (or the simulator).
    pub snap_url: String,
    /// Core API base, e.g. `https://api.sandbox.midtrans.com` (or the simulator).
    pub api_url: String,
    /// Where Snap sends the customer after paying.
    pub finish_url: Option<String>,
    pub timeout: Duration,
}

impl MidtransConfig {
    pub fn from_reader(r: &Reader) -> Result<Option<Self>, ConfigError> {
        let Some(server_key) = r.optional("MIDTRANS_SERVER_KEY") else {
            return Ok(None);
        };
        if server_key.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                name: "MIDTRANS_SERVER_KEY",
                reason: "must not contain whitespace".into(),
            });
        }
        let env = match r.string("MIDTRANS_ENV", "sandbox").as_str() {
            "sandbox" => MidtransEnv::Sandbox,
            "production" => MidtransEnv::Production,
            other => {
                return Err(ConfigError::Invalid {
                    name: "MIDTRANS_ENV",
                    reason: format!("expected sandbox or production, got {other:?}"),
                })
            }
        };
        // Midtrans answers 401 to a sandbox key in production; say so at start instead.
        if env == MidtransEnv::Production && server_key.starts_with("SB-") {
            return Err(ConfigError::Invalid {
                name: "MIDTRANS_SERVER_KEY",
                reason: "a sandbox key (SB-...) cannot be used with MIDTRANS_ENV=production".into(),
            });
        }
        let (snap, api) = match env {
            MidtransEnv::Sandbox => (
                "https://app.sandbox.midtrans.com/snap/v1",
                "https://api.sandbox.midtrans.com",
            ),
            MidtransEnv::Production => (
                "https://app.midtrans.com/snap/v1",
                "https://api.midtrans.com",
            ),
        };
        let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = r.string(name, default);
            url::Url::parse(&value).map_err(|e| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })?;
            Ok(value.trim_end_matches('/').to_owned())
        };
        let config = Self {
            server_key: Secret::new(server_key),
            client_key: r.optional("MIDTRANS_CLIENT_KEY"),
            env,
            snap_url: url("MIDTRANS_SNAP_URL", snap)?,
            api_url: url("MIDTRANS_API_URL", api)?,
            finish_url: r.optional("MIDTRANS_FINISH_URL"),
            timeout: r.duration("MIDTRANS_TIMEOUT", Duration::from_secs(10))?,
        };
        if r.environment()? == Environment::Production {
            production::check_midtrans(&config, r)?;
        }
        Ok(Some(config))
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

/// Where RabbitMQ is: the AMQP URL every worker, the relay and `tokoctl` use, and the
/// management HTTP API (`tokoctl dlq list` reads unacked counts from it when reachable).
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub url: Secret,
    pub management_url: Secret,
}

impl MessagingConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let url = r.string("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(ConfigError::Invalid {
                name: "RABBITMQ_URL",
                reason: "expected an amqp:// or amqps:// URL".into(),
            });
        }
        let management_url = r.string(
            "RABBITMQ_MANAGEMENT_URL",
            "http://guest:guest@127.0.0.1:15672",
        );
        if url::Url::parse(&management_url).is_err() {
            return Err(ConfigError::Invalid {
                name: "RABBITMQ_MANAGEMENT_URL",
                reason: "expected an http:// URL".into(),
            });
        }
        Ok(Self {
            url: Secret::new(url),
            management_url: Secret::new(management_url),
        })
    }
}

/// How a worker consumes its queue (see `messaging::consumer` for the reasoning behind the
/// defaults).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Unacknowledged messages the broker may push to one consumer ahead of processing.
    pub prefetch: u16,
    /// Messages handled at the same time.
    pub concurrency: usize,
    /// Deliveries of one message before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// Delay before the 1st, 2nd, ... retry; the last one repeats. One retry queue each.
    pub retry_delays: Vec<Duration>,
    /// How often the queue depths behind `/metrics` are refreshed.
    pub queue_metrics_interval: Duration,
    /// How long SIGTERM waits for in-flight messages before closing anyway.
    pub drain_timeout: Duration,
}

impl ConsumerConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let prefetch: u16 = r.parse("PREFETCH", 16)?;
        let concurrency: usize = r.parse("CONCURRENCY", 4)?;
        let max_attempts: u32 = r.parse("MAX_ATTEMPTS", 5)?;
        for (name, value) in [
            ("PREFETCH", prefetch as usize),
            ("CONCURRENCY", concurrency),
            ("MAX_ATTEMPTS", max_attempts as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
        }
        let retry_delays = r.durations(
            "RETRY_DELAYS",
            &[
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
        )?;
        Ok(Self {
            prefetch,
            concurrency,
            max_attempts,
            retry_delays,
            queue_metrics_interval: r.duration("QUEUE_METRICS_INTERVAL", Duration::from_secs(5))?,
            drain_timeout: r.duration("DRAIN_TIMEOUT", Duration::from_secs(25))?,
        })
    }
}

/// How the outbox relay polls, batches and prunes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Sleep between polls when the outbox is empty (a NOTIFY wakes the relay earlier).
    pub poll_interval: Duration,
    /// Rows claimed and published per transaction.
    pub batch_size: i64,
    /// Published rows older than this are deleted.
    pub retention: Duration,
    /// Consumers' idempotency records older than this are deleted.
    pub processed_retention: Duration,
}

impl RelayConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let batch_size: i64 = r.parse("OUTBOX_BATCH_SIZE", 500)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(ConfigError::Invalid {
                name: "OUTBOX_BATCH_SIZE",
                reason: "expected 1 to 10000".into(),
            });
        }
        Ok(Self {
            poll_interval: r.duration("OUTBOX_POLL_INTERVAL", Duration::from_millis(200))?,
            batch_size,
            retention: r.duration("OUTBOX_RETENTION", Duration::from_secs(7 * 86_400))?,
            processed_retention: r.duration(
                "PROCESSED_MESSAGES_RETENTION",
                Duration::from_secs(30 * 86_400),
            )?,
        })
    }
}

/// Everything a worker process (a consumer or the relay) needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub database: DatabaseConfig,
    pub messaging: MessagingConfig,
    pub consumer: ConsumerConfig,
    pub relay: RelayConfig,
    /// Port of `/health/live`, `/health/ready` and `/metrics`.
    pub metrics_port: u16,
    pub log_format: LogFormat,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        // Workers read APP_ENV only through the settings it guards (Midtrans); a typo still
        // refuses to start here.
        r.environment()?;
        Ok(Self {
            database: DatabaseConfig::from_reader(&r)?,
            messaging: MessagingConfig::from_reader(&r)?,
            consumer: ConsumerConfig::from_reader(&r)?,
            relay: RelayConfig::from_reader(&r)?,
            metrics_port: r.parse("METRICS_PORT", 9100)?,
            log_format: LogFormat::from_reader(&r)?,
        })
    }
}

/// Settings of the periodic sweeps of the inventory-reconciler and the payment-poller.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// How often unpaid orders past their deadline are expired.
    pub expiry_interval: Duration,
    /// How often every variant's stock is audited against orders and the ledger.
    pub stock_audit_interval: Duration,
    /// When the first payment check of an order runs (after its creation); later checks
    /// double the interval.
    pub payment_poll_after: Duration,
    /// How often due payment checks are looked for.
    pub payment_poll_interval: Duration,
    /// How long verified payment notifications are kept (the payments' audit trail).
    pub notification_retention: Duration,
    /// How long notifications with a wrong signature are kept (anyone can send those).
    pub unverified_notification_retention: Duration,
}

impl SweepConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            expiry_interval: r.duration("EXPIRY_SWEEP_INTERVAL", Duration::from_secs(30))?,
            stock_audit_interval: r.duration("STOCK_AUDIT_INTERVAL", Duration::from_secs(300))?,
            payment_poll_after: r.duration("PAYMENT_POLL_AFTER", Duration::from_secs(120))?,
            payment_poll_interval: r.duration("PAYMENT_POLL_INTERVAL", Duration::from_secs(15))?,
            notification_retention: r.duration(
                "PAYMENT_NOTIFICATION_RETENTION",
                Duration::from_secs(400 * 86_400),
            )?,
            unverified_notification_retention: r.duration(
                "UNVERIFIED_NOTIFICATION_RETENTION",
                Duration::from_secs(7 * 86_400),
            )?,
        })
    }
}

/// Everything the API server needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub store: StoreConfig,
    pub cart: CartConfig,
    pub orders: crate::orders::OrderConfig,
    pub midtrans: Option<MidtransConfig>,
    pub rate_limit: RateLimitConfig,
    pub search: SearchConfig,
    pub webhooks: crate::webhooks::WebhookConfig,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        let environment = r.environment()?;
        Ok(Self {
            http: HttpConfig::from_reader(&r)?,
            database: DatabaseConfig::from_reader(&r)?,
            auth: AuthConfig::from_reader(&r, environment)?,
            store: StoreConfig::from_reader(&r)?,
            cart: CartConfig::from_reader(&r)?,
            orders: crate::orders::OrderConfig::from_reader(&r)?,
            midtrans: MidtransConfig::from_reader(&r)?,
            rate_limit: RateLimitConfig::from_reader(&r)?,
            search: SearchConfig::from_reader(&r)?,
            webhooks: crate::webhooks::WebhookConfig::from_reader(&r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn durations_accept_the_original_designs_forms() {
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("900").unwrap(), Duration::from_secs(900));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let err = ApiConfig::from_source(&source(&[("JWT_SECRET", "x")])).unwrap_err();
        assert_eq!(err.to_string(), "missing environment variable DATABASE_URL");
    }

    #[test]
    fn invalid_port_names_the_variable() {
        let err = ApiConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "x"),
            ("PORT", "eighty"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("PORT"), "{err}");
    }

    #[test]
    fn production_refuses_a_weak_jwt_secret_without_printing_it() {
        let err = ApiConfig::from_source(&source(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "hunter2hunter2"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("JWT_SECRET") && !text.contains("hunter2"),
            "{text}"
        );
    }

    fn production(extra: &[(&str, &str)]) -> Result<ApiConfig, ConfigError> {
        let mut pairs = vec![
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://localhost/toko"),
            (
                "JWT_SECRET",
                "q3J8x0Vt9mZ2LkP7wR4sY6uB1nC5eH8jD0fG3aK6iM9oQ2rT5vX8zA1b",
            ),
        ];
        pairs.extend_from_slice(extra);
        ApiConfig::from_source(&source(&pairs))
    }

    const REAL_LOOKING_KEY: &str = "Mid-server-Tq9vB2xK7mL4pR8sW1zY6nC3";

    #[test]
    fn production_refuses_low_entropy_jwt_secrets_however_long() {
        let err = production(&[("JWT_SECRET", "passwordpasswordpasswordpassword1")]).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
        assert!(production(&[]).is_ok());
    }

    #[test]
    fn production_refuses_unsafe_midtrans_settings_by_name() {
        let live = [("MIDTRANS_ENV", "production")];
        for (name, extra) in [
            // The quick-start placeholder and the sandbox, unless explicitly allowed.
            (
                "MIDTRANS_ENV",
                vec![(
                    "MIDTRANS_SERVER_KEY",
                    "SB-Mid-server-Tq9vB2xK7mL4pR8sW1zY6nC3",
                )],
            ),
            (
                "MIDTRANS_SERVER_KEY",
                vec![
                    ("MIDTRANS_SERVER_KEY", "SB-Mid-server-toko-dev-placeholder"),
                    ("MIDTRANS_ALLOW_SANDBOX", "true"),
                ],
            ),
            // A key that is not a production key.
            (
                "MIDTRANS_SERVER_KEY",
                vec![
                    live[0],
                    ("MIDTRANS_SERVER_KEY", "my-server-key-0123456789abcdef"),
                ],
            ),
            (
                "MIDTRANS_CLIENT_KEY",
                vec![
                    live[0],
                    ("MIDTRANS_SERVER_KEY", REAL_LOOKING_KEY),
                    ("MIDTRANS_CLIENT_KEY", "SB-Mid-client-Tq9vB2xK7mL4pR8s"),
                ],
            ),
            (
                "MIDTRANS_API_URL",
                vec![
                    live[0],
                    ("MIDTRANS_SERVER_KEY", REAL_LOOKING_KEY),
                    ("MIDTRANS_API_URL", "http://api.midtrans.com"),
                ],
            ),
            (
                "MIDTRANS_SNAP_URL",
                vec![
                    live[0],
                    ("MIDTRANS_SERVER_KEY", REAL_LOOKING_KEY),
                    ("MIDTRANS_SNAP_URL", "http://app.midtrans.com/snap/v1"),
                ],
            ),
        ] {
            let err = production(&extra).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(name), "{extra:?}: {text}");
            assert!(!text.contains("Tq9vB2xK7mL4pR8s"), "no key in {text}");
        }
        assert!(production(&[live[0], ("MIDTRANS_SERVER_KEY", REAL_LOOKING_KEY)]).is_ok());
        assert!(production(&[
            ("MIDTRANS_ALLOW_SANDBOX", "true"),
            (
                "MIDTRANS_SERVER_KEY",
                "SB-Mid-server-Tq9vB2xK7mL4pR8sW1zY6nC3"
            ),
        ])
        .is_ok());
        // Development takes the quick-start values.
        assert!(ApiConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "x"),
            ("MIDTRANS_SERVER_KEY", "SB-Mid-server-toko-dev-placeholder"),
            ("MIDTRANS_API_URL", "http://127.0.0.1:8089"),
        ]))
        .is_ok());
    }

    #[test]
    fn cors_and_proxy_settings_are_read_as_documented() {
        let config = ApiConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "x"),
        ]))
        .unwrap();
        assert!(config.http.cors_allowed_origins.is_empty());
        assert_eq!(config.http.trusted_proxy_hops, 1);
        assert_eq!(config.http.max_connections, 4096);
        let err = ApiConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "x"),
            ("TRUSTED_PROXY_HOPS", "0"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("TRUSTED_PROXY_HOPS"), "{err}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("very-secret-value");
        assert_eq!(format!("{s:?}"), "Secret(****)");
    }

    #[test]
    fn worker_settings_have_the_documented_defaults() {
        let config =
            WorkerConfig::from_source(&source(&[("DATABASE_URL", "postgres://localhost/toko")]))
                .unwrap();
        assert_eq!(
            config.messaging.url.expose(),
            "amqp://guest:guest@127.0.0.1:5672/%2f"
        );
        assert_eq!(config.metrics_port, 9100);
        assert_eq!(
            (
                config.consumer.prefetch,
                config.consumer.concurrency,
                config.consumer.max_attempts
            ),
            (16, 4, 5)
        );
        assert_eq!(
            config.consumer.retry_delays,
            [1, 10, 60].map(Duration::from_secs).to_vec()
        );
        assert_eq!(config.relay.poll_interval, Duration::from_millis(200));
        assert_eq!(config.relay.batch_size, 500);
        assert_eq!(config.relay.retention, Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn worker_settings_reject_bad_values_by_name() {
        for (name, value) in [
            ("RETRY_DELAYS", "1s,soon"),
            ("RETRY_DELAYS", "0s"),
            ("CONCURRENCY", "0"),
            ("PREFETCH", "70000"),
            ("OUTBOX_BATCH_SIZE", "0"),
            ("RABBITMQ_URL", "http://localhost"),
        ] {
            let err = WorkerConfig::from_source(&source(&[
                ("DATABASE_URL", "postgres://localhost/toko"),
                (name, value),
            ]))
            .unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
        let config = WorkerConfig::from_source(&source(&[
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("RETRY_DELAYS", "100ms, 2s"),
        ]))
        .unwrap();
        assert_eq!(
            config.consumer.retry_delays,
            vec![Duration::from_millis(100), Duration::from_secs(2)]
        );
    }
}
