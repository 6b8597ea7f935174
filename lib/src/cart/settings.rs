//! Limits of a cart.

use crate::config::{ConfigError, Reader};

/// Limits of a cart.
#[derive(Debug, Clone)]
pub struct CartConfig {
    pub max_line_quantity: i32,
    pub max_lines: i64,
    /// How the cart shows tax (as checkout will charge it).
    pub tax: crate::tax::TaxConfig,
}

impl CartConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        Ok(Self {
            max_line_quantity: r.parse("CART_MAX_LINE_QUANTITY", 20)?,
            max_lines: r.parse("CART_MAX_LINES", 50)?,
            tax: crate::tax::TaxConfig::from_reader(r)?,
        })
    }
}
