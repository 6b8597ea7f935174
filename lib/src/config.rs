//! Settings read from environment variables.
//!
//! Every binary builds its settings here, so names, defaults and validation live in one place
//! (the table in README.md mirrors this file). A missing or malformed variable fails fast with
//! a message naming it; secrets are wrapped in [`Secret`] so they never reach a log line.

use std::{collections::HashMap, fmt, net::IpAddr, str::FromStr, time::Duration};

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
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
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
    pub request_timeout: Duration,
    /// Exact origins allowed by CORS; empty means no cross-origin access.
    pub cors_allowed_origins: Vec<String>,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

impl HttpConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            host: r.parse("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: r.parse("PORT", 3000)?,
            body_limit_bytes: r.parse("REQUEST_BODY_LIMIT", 1024 * 1024)?,
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
    /// Failed logins allowed per account within `login_window` before 429.
    pub max_failed_logins: u32,
    /// Failed logins allowed per client IP (higher: many people may share one NAT address).
    pub max_failed_logins_per_ip: u32,
    pub login_window: Duration,
}

/// Weak secrets are refused in production: HS256 with a guessable key is forgeable.
const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

impl AuthConfig {
    pub fn from_reader(r: &Reader, env: Environment) -> Result<Self, ConfigError> {
        let secret = r.required("JWT_SECRET")?;
        if env == Environment::Production {
            let weak = secret.len() < MIN_PRODUCTION_SECRET_BYTES
                || secret.chars().collect::<std::collections::HashSet<_>>().len() < 8
                || ["secret", "changeme", "your_jwt_secret", "dev-secret"]
                    .iter()
                    .any(|w| secret.to_ascii_lowercase().contains(w));
            if weak {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: format!(
                        "too weak for production: use at least {MIN_PRODUCTION_SECRET_BYTES} random bytes"
                    ),
                });
            }
        }
        Ok(Self {
            jwt_secret: Secret::new(secret),
            access_token_ttl: r.duration("JWT_EXPIRES_IN", Duration::from_secs(15 * 60))?,
            refresh_token_ttl: r.duration("REFRESH_TOKEN_TTL", Duration::from_secs(30 * 86_400))?,
            issuer: r.string("JWT_ISSUER", "toko"),
            audience: r.string("JWT_AUDIENCE", "toko-api"),
            max_failed_logins: r.parse("LOGIN_MAX_FAILURES", 5)?,
            max_failed_logins_per_ip: r.parse("LOGIN_MAX_FAILURES_PER_IP", 20)?,
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
        Ok(Self { currency })
    }
}

/// Everything the API server needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub environment: Environment,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub store: StoreConfig,
    pub search: SearchConfig,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        let environment = r.environment()?;
        Ok(Self {
            environment,
            http: HttpConfig::from_reader(&r)?,
            database: DatabaseConfig::from_reader(&r)?,
            auth: AuthConfig::from_reader(&r, environment)?,
            store: StoreConfig::from_reader(&r)?,
            search: SearchConfig::from_reader(&r)?,
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
        assert!(text.contains("JWT_SECRET") && !text.contains("hunter2"), "{text}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("very-secret-value");
        assert_eq!(format!("{s:?}"), "Secret(****)");
    }
}
