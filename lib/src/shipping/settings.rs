//! The shipping settings: the methods the shop offers (with the flat fee charged while no
//! zone is configured) and an optional external rate provider.

use std::time::Duration;

use crate::config::{ConfigError, Reader};

/// A way to ship an order and its flat fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    /// Minor units of the store currency; charged everywhere while no zone is configured.
    pub fee: i64,
}

/// What checkout does when the rate provider fails or is slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFallback {
    /// Quote from the zones' table rates instead.
    Table,
    /// Refuse to quote (checkout answers 503, nothing is written).
    Refuse,
}

/// An external courier rate service (see `docs/SHIPPING.md` for its contract).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub url: String,
    pub timeout: Duration,
    pub fallback: ProviderFallback,
}

#[derive(Debug, Clone)]
pub struct ShippingConfig {
    pub methods: Vec<ShippingMethod>,
    pub provider: Option<ProviderConfig>,
}

const DEFAULT_SHIPPING_METHODS: &str =
    "standard:Standard (3-5 days):15000;express:Express (1-2 days):35000";

impl ShippingConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let raw = r.string("SHIPPING_METHODS", DEFAULT_SHIPPING_METHODS);
        let methods = parse_methods(&raw).map_err(|reason| ConfigError::Invalid {
            name: "SHIPPING_METHODS",
            reason,
        })?;
        let provider = match r.optional("SHIPPING_RATE_PROVIDER_URL") {
            None => None,
            Some(url) => {
                let parsed = reqwest::Url::parse(url.trim()).map_err(|e| ConfigError::Invalid {
                    name: "SHIPPING_RATE_PROVIDER_URL",
                    reason: e.to_string(),
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError::Invalid {
                        name: "SHIPPING_RATE_PROVIDER_URL",
                        reason: "must be an http or https URL".into(),
                    });
                }
                let fallback = match r.string("SHIPPING_RATE_PROVIDER_FALLBACK", "table").trim() {
                    "table" => ProviderFallback::Table,
                    "refuse" => ProviderFallback::Refuse,
                    other => {
                        return Err(ConfigError::Invalid {
                            name: "SHIPPING_RATE_PROVIDER_FALLBACK",
                            reason: format!("expected table or refuse, got {other:?}"),
                        })
                    }
                };
                Some(ProviderConfig {
                    url: parsed.to_string(),
                    timeout: r.positive_duration(
                        "SHIPPING_RATE_PROVIDER_TIMEOUT",
                        Duration::from_secs(2),
                    )?,
                    fallback,
                })
            }
        };
        Ok(Self { methods, provider })
    }
}

impl Default for ShippingConfig {
    fn default() -> Self {
        Self {
            methods: parse_methods(DEFAULT_SHIPPING_METHODS).expect("default methods parse"),
            provider: None,
        }
    }
}

/// `code:Name:fee;code:Name:fee`
fn parse_methods(raw: &str) -> Result<Vec<ShippingMethod>, String> {
    let methods: Vec<ShippingMethod> = raw
        .split(';')
        .filter(|m| !m.trim().is_empty())
        .map(|m| {
            let parts: Vec<&str> = m.split(':').map(str::trim).collect();
            match parts.as_slice() {
                [code, name, fee] if super::method_code_ok(code) && !name.is_empty() => {
                    Ok(ShippingMethod {
                        code: code.to_string(),
                        name: name.to_string(),
                        fee: fee.parse::<i64>().ok().filter(|f| *f >= 0).ok_or_else(|| {
                            format!("fee of {code:?} must be a non-negative integer")
                        })?,
                    })
                }
                _ => Err(format!(
                    "expected code:Name:fee (code: lowercase letters, digits, '-', '_'), got {m:?}"
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    if methods.is_empty() {
        return Err("at least one shipping method is required".into());
    }
    let mut codes: Vec<&str> = methods.iter().map(|m| m.code.as_str()).collect();
    codes.sort_unstable();
    if codes.windows(2).any(|w| w[0] == w[1]) {
        return Err("method codes must be unique".into());
    }
    Ok(methods)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn methods_parse_and_reject_nonsense() {
        let methods = parse_methods(DEFAULT_SHIPPING_METHODS).unwrap();
        assert_eq!(methods[1].code, "express");
        assert_eq!(methods[1].fee, 35_000);
        assert!(parse_methods("standard:Std:-1").is_err());
        assert!(parse_methods("standard").is_err());
        assert!(parse_methods("").is_err());
        assert!(parse_methods("a:A:1;a:B:2").is_err(), "duplicate codes");
        assert!(parse_methods("Same Day:Same day:1").is_err(), "code format");
    }

    #[test]
    fn the_provider_needs_a_web_url_and_a_known_fallback() {
        let config = |pairs: &[(&str, &str)]| {
            let source: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ShippingConfig::from_reader(&Reader(&source))
        };
        assert!(config(&[]).unwrap().provider.is_none());
        let provider = config(&[("SHIPPING_RATE_PROVIDER_URL", "http://rates.local/quote")])
            .unwrap()
            .provider
            .unwrap();
        assert_eq!(provider.fallback, ProviderFallback::Table);
        assert_eq!(provider.timeout, Duration::from_secs(2));
        assert!(config(&[("SHIPPING_RATE_PROVIDER_URL", "ftp://x")]).is_err());
        assert!(config(&[
            ("SHIPPING_RATE_PROVIDER_URL", "http://x"),
            ("SHIPPING_RATE_PROVIDER_FALLBACK", "maybe")
        ])
        .is_err());
    }
}
