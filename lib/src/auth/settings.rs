//! Settings of sign-in and tokens.

use std::time::Duration;

use crate::config::{ConfigError, Environment, Reader, Secret};

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
    /// How long a password reset link works.
    pub password_reset_ttl: Duration,
    /// Reset links sent per account per hour (more requests are answered the same, silently).
    pub password_resets_per_hour: i64,
    /// How long a staff invite works.
    pub staff_invite_ttl: Duration,
    /// The most an order manager gives back in one refund (minor units).
    pub order_manager_refund_limit: i64,
}

impl AuthConfig {
    pub fn from_reader(r: &Reader, env: Environment) -> Result<Self, ConfigError> {
        let secret = r.required("JWT_SECRET")?;
        if env == Environment::Production {
            crate::config::production::check_jwt_secret(&secret)?;
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
            password_reset_ttl: r.duration("PASSWORD_RESET_TTL", Duration::from_secs(60 * 60))?,
            password_resets_per_hour: r.parse("PASSWORD_RESETS_PER_HOUR", 3)?,
            staff_invite_ttl: r.duration("STAFF_INVITE_TTL", Duration::from_secs(7 * 24 * 3600))?,
            order_manager_refund_limit: r.parse("ORDER_MANAGER_REFUND_LIMIT", 1_000_000)?,
        })
    }
}
