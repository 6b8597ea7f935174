//! The settings of checkout and orders: how long an order waits for payment, how it is taxed,
//! and who may check out.

use std::time::Duration;

use crate::config::{ConfigError, Reader};

/// Settings of checkout and orders.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    /// How long an order waits for payment before it expires and releases its stock.
    pub payment_ttl: Duration,
    /// How checkout taxes the order.
    pub tax: crate::tax::TaxConfig,
    /// Only customers who verified their email address may check out.
    pub require_verified_email: bool,
}

/// The payment expiry Midtrans Snap accepts (midtrans.md §3).
pub const PAYMENT_TTL_MIN: Duration = Duration::from_secs(5 * 60);
pub const PAYMENT_TTL_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

impl OrderConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let payment_ttl = r.duration("ORDER_PAYMENT_TTL", Duration::from_secs(30 * 60))?;
        // It is also the Snap `expiry`, which Midtrans accepts from 5 minutes to 7 days.
        if !(PAYMENT_TTL_MIN..=PAYMENT_TTL_MAX).contains(&payment_ttl) {
            return Err(ConfigError::Invalid {
                name: "ORDER_PAYMENT_TTL",
                reason: "must be between 5m and 7d (the payment expiry Midtrans Snap accepts)"
                    .into(),
            });
        }
        Ok(Self {
            payment_ttl,
            tax: crate::tax::TaxConfig::from_reader(r)?,
            require_verified_email: r.parse("CHECKOUT_REQUIRES_VERIFIED_EMAIL", false)?,
        })
    }
}
