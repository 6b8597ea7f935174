//! Simulator configuration: built in code by tests ([`SimConfig::new`]) or read from the
//! environment by the binary ([`SimConfig::from_env`]).
//!
//! The server key is a secret even here (the quick-start may reuse a real sandbox key), so the
//! `Debug` output redacts it and nothing in the crate logs it.

use std::fmt;
use std::time::Duration;

/// Retry delays used unless configured: short enough for tests to watch every retry.
/// Real Midtrans waits about 2, 10, 30, 90 and 210 minutes (midtrans.md §5).
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 5] = [200, 500, 1_000, 2_000, 4_000];
/// Midtrans waits 15 s for a notification response (midtrans.md §5).
pub const DEFAULT_NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(15);
/// Port of the binary when `PORT` is unset (docs/CONVENTIONS.md).
pub const DEFAULT_PORT: u16 = 3900;
/// Merchant id shown in status bodies when none is configured.
pub const DEFAULT_MERCHANT_ID: &str = "G000000000";
/// How often pending transactions are checked against their `expiry_time`.
pub const DEFAULT_EXPIRY_SWEEP: Duration = Duration::from_secs(1);

/// Everything the simulator needs to start.
#[derive(Clone)]
pub struct SimConfig {
    /// The key clients must send as `Basic base64(server_key + ":")`, also used to sign bodies.
    pub server_key: String,
    /// `merchant_id` in status bodies.
    pub merchant_id: String,
    /// Interface to bind, e.g. `127.0.0.1` or `0.0.0.0` in a container.
    pub host: String,
    /// Port to bind; `0` picks a free one (what tests want).
    pub port: u16,
    /// Base URL browsers use to reach the simulator, for Snap `redirect_url`.
    /// `None` means `http://127.0.0.1:{bound port}`.
    pub public_url: Option<String>,
    /// Where notifications go (the dashboard's "Payment Notification URL"). `None` sends
    /// nothing unless a transaction was created with `X-Override-Notification`/`X-Append-Notification`.
    pub notification_url: Option<String>,
    /// Delay before retry 1, 2, ...; the last one repeats if the list is shorter than the number
    /// of retries, and an empty list retries immediately.
    pub retry_delays: Vec<Duration>,
    /// How long one notification request may take before it counts as a timeout.
    pub notification_timeout: Duration,
    /// How often to expire pending transactions whose `expiry_time` has passed. `None` disables
    /// it, so transactions only expire through `/expire` calls.
    pub expiry_sweep: Option<Duration>,
}

impl SimConfig {
    /// A configuration for embedding in tests: random port on 127.0.0.1, short retry delays.
    pub fn new(server_key: impl Into<String>) -> Self {
        Self {
            server_key: server_key.into(),
            merchant_id: DEFAULT_MERCHANT_ID.to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 0,
            public_url: None,
            notification_url: None,
            retry_delays: DEFAULT_RETRY_DELAYS_MS
                .iter()
                .copied()
                .map(Duration::from_millis)
                .collect(),
            notification_timeout: DEFAULT_NOTIFICATION_TIMEOUT,
            expiry_sweep: Some(DEFAULT_EXPIRY_SWEEP),
        }
    }

    /// Reads the environment (see the crate docs for the variables).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`SimConfig::from_env`] over any variable source, so parsing is testable without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let server_key =
            var("MIDTRANS_SERVER_KEY").ok_or(ConfigError::Missing("MIDTRANS_SERVER_KEY"))?;
        let mut config = Self::new(server_key);
        config.port = DEFAULT_PORT;
        if let Some(host) = var("HOST") {
            config.host = host;
        }
        if let Some(port) = var("PORT") {
            config.port = port.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "PORT",
                reason: "expected a port number".to_owned(),
            })?;
        }
        if let Some(merchant_id) = var("SIM_MERCHANT_ID") {
            config.merchant_id = merchant_id;
        }
        config.public_url = var("SIM_PUBLIC_URL").map(|url| url.trim_end_matches('/').to_owned());
        config.notification_url = var("SIM_NOTIFICATION_URL");
        if let Some(delays) = var("SIM_RETRY_DELAYS_MS") {
            config.retry_delays = parse_millis_list("SIM_RETRY_DELAYS_MS", &delays)?;
        }
        if let Some(timeout) = var("SIM_NOTIFICATION_TIMEOUT_MS") {
            config.notification_timeout = parse_millis("SIM_NOTIFICATION_TIMEOUT_MS", &timeout)?;
        }
        if let Some(sweep) = var("SIM_EXPIRY_SWEEP_MS") {
            let every = parse_millis("SIM_EXPIRY_SWEEP_MS", &sweep)?;
            config.expiry_sweep = (!every.is_zero()).then_some(every);
        }
        config.validate()?;
        Ok(config)
    }

    /// Rejects a key the official client libraries would also refuse to send: empty or with
    /// whitespace.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server_key.is_empty() || self.server_key.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                var: "MIDTRANS_SERVER_KEY",
                reason: "must be non-empty and contain no whitespace".to_owned(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("server_key", &"<redacted>")
            .field("merchant_id", &self.merchant_id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("public_url", &self.public_url)
            .field("notification_url", &self.notification_url)
            .field("retry_delays", &self.retry_delays)
            .field("notification_timeout", &self.notification_timeout)
            .field("expiry_sweep", &self.expiry_sweep)
            .finish()
    }
}

/// A configuration value is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

fn parse_millis(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ConfigError::Invalid {
            var,
            reason: format!("`{}` is not a number of milliseconds", value.trim()),
        })
}

fn parse_millis_list(var: &'static str, value: &str) -> Result<Vec<Duration>, ConfigError> {
    value
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| parse_millis(var, part))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<SimConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SimConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn server_key_is_required() {
        assert!(matches!(
            from(&[]),
            Err(ConfigError::Missing("MIDTRANS_SERVER_KEY"))
        ));
        assert!(from(&[("MIDTRANS_SERVER_KEY", "SB-Mid-server-a b")]).is_err());
    }

    #[test]
    fn env_defaults() {
        let config = from(&[("MIDTRANS_SERVER_KEY", "SB-Mid-server-x")]).unwrap();
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.public_url, None);
        assert_eq!(config.retry_delays.len(), 5);
        assert_eq!(config.retry_delays[0], Duration::from_millis(200));
        assert_eq!(config.expiry_sweep, Some(DEFAULT_EXPIRY_SWEEP));
    }

    #[test]
    fn env_overrides() {
        let config = from(&[
            ("MIDTRANS_SERVER_KEY", "SB-Mid-server-x"),
            ("HOST", "0.0.0.0"),
            ("PORT", "4000"),
            ("SIM_PUBLIC_URL", "http://localhost:3900/"),
            (
                "SIM_NOTIFICATION_URL",
                "http://api:3000/payments/midtrans/notifications",
            ),
            ("SIM_RETRY_DELAYS_MS", "10, 20,30"),
            ("SIM_EXPIRY_SWEEP_MS", "0"),
            ("SIM_MERCHANT_ID", "G123"),
        ])
        .unwrap();
        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.port, 4000);
        assert_eq!(config.public_url.as_deref(), Some("http://localhost:3900"));
        assert_eq!(
            config.retry_delays,
            [10, 20, 30].map(Duration::from_millis).to_vec()
        );
        assert_eq!(config.expiry_sweep, None);
        assert_eq!(config.merchant_id, "G123");
    }

    #[test]
    fn bad_numbers_are_reported_with_the_variable() {
        let err =
            from(&[("MIDTRANS_SERVER_KEY", "k"), ("SIM_RETRY_DELAYS_MS", "1,x")]).unwrap_err();
        assert!(err.to_string().contains("SIM_RETRY_DELAYS_MS"));
        assert!(from(&[("MIDTRANS_SERVER_KEY", "k"), ("PORT", "http")]).is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let shown = format!("{:?}", SimConfig::new("SB-Mid-server-secret"));
        assert!(!shown.contains("secret"));
    }
}
