//! Settings of the Midtrans client.

use std::time::Duration;

use crate::config::{ConfigError, Environment, Reader, Secret};

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
            crate::config::production::check_midtrans(&config, r)?;
        }
        Ok(Some(config))
    }
}
