//! The shop's tax settings.

use crate::config::{ConfigError, Reader};

/// How prices are taxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxConfig {
    /// The standard class's rate (PPN) in basis points: 1100 is 11%.
    pub standard_rate_bp: i32,
    /// Prices (and shipping fees) include the tax, as usual in Indonesian retail; otherwise
    /// tax is added on top at checkout.
    pub prices_include_tax: bool,
    /// Shipping is taxed at the standard rate.
    pub shipping_taxable: bool,
}

impl TaxConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let rate = r.string("TAX_STANDARD_RATE", "11");
        let standard_rate_bp = parse_percent(&rate).ok_or(ConfigError::Invalid {
            name: "TAX_STANDARD_RATE",
            reason:
                "expected a percentage from 0 to 100 with at most two decimals, e.g. 11 or 12.5"
                    .into(),
        })?;
        Ok(Self {
            standard_rate_bp,
            prices_include_tax: r.parse("TAX_PRICES_INCLUDE_TAX", true)?,
            shipping_taxable: r.parse("TAX_SHIPPING", true)?,
        })
    }
}

impl Default for TaxConfig {
    fn default() -> Self {
        Self {
            standard_rate_bp: 1100,
            prices_include_tax: true,
            shipping_taxable: true,
        }
    }
}

/// `"11"`, `"12.5"`, `"7.25"` → basis points; `None` outside 0–100 or with more than two
/// decimals.
pub fn parse_percent(text: &str) -> Option<i32> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 3
    {
        return None;
    }
    let whole: i32 = whole.parse().ok()?;
    let fraction: i32 = format!("{fraction:0<2}").parse().ok()?;
    let bp = whole * 100 + fraction;
    (0..=10_000).contains(&bp).then_some(bp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!(parse_percent("11"), Some(1100));
        assert_eq!(parse_percent("12.5"), Some(1250));
        assert_eq!(parse_percent("7.25"), Some(725));
        assert_eq!(parse_percent("0"), Some(0));
        assert_eq!(parse_percent("100"), Some(10_000));
        for bad in ["", "-1", "100.01", "11.125", "abc", "1e2", ".5", "1000"] {
            assert_eq!(parse_percent(bad), None, "{bad}");
        }
    }
}
