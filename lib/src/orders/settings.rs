//! The settings of checkout and orders: how long an order waits for payment, and the
//! shipping methods offered.

use std::time::Duration;

use crate::config::{ConfigError, Reader};

/// A way to ship an order and its flat fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    /// Minor units of the store currency.
    pub fee: i64,
}

/// Settings of checkout and orders.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    /// How long an order waits for payment before it expires and releases its stock.
    pub payment_ttl: Duration,
    pub shipping_methods: Vec<ShippingMethod>,
    /// How checkout taxes the order.
    pub tax: crate::tax::TaxConfig,
    /// Only customers who verified their email address may check out.
    pub require_verified_email: bool,
}

/// The payment expiry Midtrans Snap accepts (midtrans.md §3).
pub const PAYMENT_TTL_MIN: Duration = Duration::from_secs(5 * 60);
pub const PAYMENT_TTL_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

const DEFAULT_SHIPPING_METHODS: &str =
    "standard:Standard (3-5 days):15000;express:Express (1-2 days):35000";

impl OrderConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let raw = r.string("SHIPPING_METHODS", DEFAULT_SHIPPING_METHODS);
        let shipping_methods =
            parse_shipping_methods(&raw).map_err(|reason| ConfigError::Invalid {
                name: "SHIPPING_METHODS",
                reason,
            })?;
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
            shipping_methods,
            tax: crate::tax::TaxConfig::from_reader(r)?,
            require_verified_email: r.parse("CHECKOUT_REQUIRES_VERIFIED_EMAIL", false)?,
        })
    }
}

/// `code:Name:fee;code:Name:fee`
fn parse_shipping_methods(raw: &str) -> Result<Vec<ShippingMethod>, String> {
    let methods: Vec<ShippingMethod> = raw
        .split(';')
        .filter(|m| !m.trim().is_empty())
        .map(|m| {
            let parts: Vec<&str> = m.split(':').map(str::trim).collect();
            match parts.as_slice() {
                [code, name, fee] if !code.is_empty() && !name.is_empty() => {
                    Ok(ShippingMethod {
                        code: code.to_string(),
                        name: name.to_string(),
                        fee: fee.parse::<i64>().ok().filter(|f| *f >= 0).ok_or_else(|| {
                            format!("fee of {code:?} must be a non-negative integer")
                        })?,
                    })
                }
                _ => Err(format!("expected code:Name:fee, got {m:?}")),
            }
        })
        .collect::<Result<_, _>>()?;
    if methods.is_empty() {
        return Err("at least one shipping method is required".into());
    }
    Ok(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipping_methods_parse_and_reject_nonsense() {
        let methods = parse_shipping_methods(DEFAULT_SHIPPING_METHODS).unwrap();
        assert_eq!(methods[1].code, "express");
        assert_eq!(methods[1].fee, 35_000);
        assert!(parse_shipping_methods("standard:Std:-1").is_err());
        assert!(parse_shipping_methods("standard").is_err());
        assert!(parse_shipping_methods("").is_err());
    }
}
