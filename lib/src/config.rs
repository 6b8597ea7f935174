//! Settings read from environment variables.
//!
//! Each module's settings type lives beside the module (`<module>/settings.rs`, `db.rs`,
//! `ratelimit.rs`); this module has what they share (the [`Reader`], [`Secret`], errors,
//! production checks) and composes them into the settings of each binary ([`ApiConfig`],
//! [`WorkerConfig`]). The table in README.md lists every variable. A missing or malformed
//! variable fails fast with a message naming it; secrets are wrapped in [`Secret`] so they
//! never reach a log line.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

pub mod production;
// Each module's settings live with the module; the configs of the binaries compose them.
pub use crate::{
    auth::AuthConfig,
    cart::CartConfig,
    catalog::StoreConfig,
    db::DatabaseConfig,
    messaging::{ConsumerConfig, MessagingConfig, RelayConfig, SweepConfig},
    payments::{MidtransConfig, MidtransEnv},
    ratelimit::RateLimitConfig,
    search::{ElasticsearchConfig, SearchBackendConfig, SearchConfig},
    serving::HttpConfig,
};

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

/// Everything the API server needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub store: StoreConfig,
    pub cart: CartConfig,
    pub orders: crate::orders::OrderConfig,
    pub shipping: crate::shipping::ShippingConfig,
    pub midtrans: Option<MidtransConfig>,
    pub rate_limit: RateLimitConfig,
    pub search: SearchConfig,
    pub webhooks: crate::webhooks::WebhookConfig,
    pub returns: crate::returns::ReturnConfig,
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
            shipping: crate::shipping::ShippingConfig::from_reader(&r)?,
            midtrans: MidtransConfig::from_reader(&r)?,
            rate_limit: RateLimitConfig::from_reader(&r)?,
            search: SearchConfig::from_reader(&r)?,
            webhooks: crate::webhooks::WebhookConfig::from_reader(&r)?,
            returns: crate::returns::ReturnConfig::from_reader(&r)?,
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
