//! The shop's return policy.

use chrono::Duration;

use crate::config::{ConfigError, Reader};

/// Whether a return also gives back what the customer paid for shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingRefund {
    /// Shipping is never refunded.
    Never,
    /// Shipping is refunded (once) by the return that brings back the order's last unit.
    WholeOrder,
}

/// The return policy.
#[derive(Debug, Clone)]
pub struct ReturnConfig {
    /// How long after delivery a customer may ask for a return.
    pub window: Duration,
    pub shipping_refund: ShippingRefund,
}

impl ReturnConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let days: i64 = r.parse("RETURN_WINDOW_DAYS", 14)?;
        if !(0..=365).contains(&days) {
            return Err(ConfigError::Invalid {
                name: "RETURN_WINDOW_DAYS",
                reason: "expected 0 to 365 days".into(),
            });
        }
        let shipping_refund = match r.string("RETURN_SHIPPING_REFUND", "never").as_str() {
            "never" => ShippingRefund::Never,
            "whole_order" => ShippingRefund::WholeOrder,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "RETURN_SHIPPING_REFUND",
                    reason: "expected never or whole_order".into(),
                })
            }
        };
        Ok(Self {
            window: Duration::days(days),
            shipping_refund,
        })
    }
}

impl Default for ReturnConfig {
    fn default() -> Self {
        Self {
            window: Duration::days(14),
            shipping_refund: ShippingRefund::Never,
        }
    }
}
