//! Tax: classes with their rates, which class each product is in, and the tax of an order.
//!
//! Every product is in the `standard` class (rate: the `TAX_STANDARD_RATE` setting, PPN)
//! unless staff put it in another: `exempt` (0%) or a class of their own. Prices either include
//! the tax (`TAX_PRICES_INCLUDE_TAX=true`, usual in Indonesian retail: the tax is shown, the
//! amounts do not change) or not (the tax is added to the grand total).
//!
//! Rounding: tax is computed per order line on what was paid for it (after its promotion
//! discount) and rounded half up to a whole minor unit; shipping (after its discount) is one
//! more line at the standard rate when `TAX_SHIPPING` is on. The order's tax is the sum of its
//! lines' taxes, so its tax lines always add up.

mod settings;
mod store;

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use self::settings::{parse_percent, TaxConfig};
use crate::validation::ValidationErrors;

/// The standard class's code.
pub const STANDARD: &str = "standard";

/// The tax of `base` at `rate_bp`: the part of it that is tax when prices include it, the tax
/// to add on top otherwise; rounded half up.
pub fn tax_of(base: i64, rate_bp: i32, inclusive: bool) -> i64 {
    if base <= 0 || rate_bp <= 0 {
        return 0;
    }
    let (base, rate) = (i128::from(base), i128::from(rate_bp));
    let denominator = if inclusive { 10_000 + rate } else { 10_000 };
    ((2 * base * rate + denominator) / (2 * denominator)) as i64
}

/// A tax class with its rate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaxClass {
    pub code: String,
    pub name: String,
    /// Basis points (1100 = 11%).
    pub rate_bp: i32,
    /// Products in the class.
    pub products: i64,
}

/// A class and rate to tax a line at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRate {
    pub class: String,
    pub rate_bp: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum TaxError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a tax class with this code exists")]
    DuplicateCode,
    #[error("products are in this tax class: move them to another class first")]
    InUse,
    #[error("the standard class's rate is the TAX_STANDARD_RATE setting")]
    StandardIsASetting,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The tax service: staff manage classes and products' classes; checkout asks for rates.
#[derive(Clone)]
pub struct Taxes {
    db: PgPool,
    config: TaxConfig,
}

impl Taxes {
    pub fn new(db: PgPool, config: TaxConfig) -> Self {
        Self { db, config }
    }

    pub fn config(&self) -> TaxConfig {
        self.config
    }

    pub async fn classes(&self) -> Result<Vec<TaxClass>, TaxError> {
        Ok(store::classes(&self.db, self.config.standard_rate_bp).await?)
    }

    /// Creates a class (`code`: lowercase letters, digits, `-`, `_`).
    pub async fn create_class(
        &self,
        code: &str,
        name: &str,
        rate_bp: i32,
    ) -> Result<TaxClass, TaxError> {
        let mut errors = ValidationErrors::new();
        let code_ok = (1..=40).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && code.as_bytes()[0].is_ascii_alphanumeric();
        errors.check(
            code_ok,
            "code",
            "1-40 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        );
        errors.length("name", name.trim(), 1, 100);
        errors.check(
            (0..=10_000).contains(&rate_bp),
            "rate_bp",
            "must be between 0 and 10000 (basis points: 1100 is 11%)",
        );
        errors.finish()?;
        match store::insert_class(&self.db, code, name.trim(), rate_bp).await {
            Ok(()) => {}
            Err(e) if crate::db::violated_constraint(&e) == Some("tax_classes_pkey") => {
                return Err(TaxError::DuplicateCode)
            }
            Err(e) => return Err(e.into()),
        }
        self.class(code).await
    }

    /// Renames a class or changes its rate (orders keep the rate they were taxed at).
    pub async fn update_class(
        &self,
        code: &str,
        name: Option<&str>,
        rate_bp: Option<i32>,
    ) -> Result<TaxClass, TaxError> {
        let mut errors = ValidationErrors::new();
        if let Some(name) = name {
            errors.length("name", name.trim(), 1, 100);
        }
        if let Some(rate) = rate_bp {
            errors.check(
                (0..=10_000).contains(&rate),
                "rate_bp",
                "must be between 0 and 10000 (basis points: 1100 is 11%)",
            );
        }
        if code == STANDARD && rate_bp.is_some() {
            return Err(TaxError::StandardIsASetting);
        }
        errors.finish()?;
        if !store::update_class(&self.db, code, name.map(str::trim), rate_bp).await? {
            return Err(TaxError::NotFound("tax class"));
        }
        self.class(code).await
    }

    /// Deletes a class no product is in (the built-in ones stay).
    pub async fn delete_class(&self, code: &str) -> Result<(), TaxError> {
        if code == STANDARD || code == "exempt" {
            return Err(TaxError::InUse);
        }
        match store::delete_class(&self.db, code).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TaxError::NotFound("tax class")),
            Err(e)
                if crate::db::violated_constraint(&e)
                    == Some("product_tax_classes_tax_class_fkey") =>
            {
                Err(TaxError::InUse)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn class(&self, code: &str) -> Result<TaxClass, TaxError> {
        self.classes()
            .await?
            .into_iter()
            .find(|c| c.code == code)
            .ok_or(TaxError::NotFound("tax class"))
    }

    /// Puts a product in a class (`standard` takes it out of any other).
    pub async fn set_product_class(&self, product_id: Uuid, code: &str) -> Result<(), TaxError> {
        let classes = self.classes().await?;
        if !classes.iter().any(|c| c.code == code) {
            return Err(ValidationErrors::single(
                "tax_class",
                format!(
                    "must be one of: {}",
                    classes
                        .iter()
                        .map(|c| c.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
        if !store::set_product_class(&self.db, product_id, code).await? {
            return Err(TaxError::NotFound("product"));
        }
        Ok(())
    }

    pub async fn product_class(&self, product_id: Uuid) -> Result<String, TaxError> {
        store::product_class(&self.db, product_id)
            .await?
            .ok_or(TaxError::NotFound("product"))
    }
}

/// Each product's class and current rate (standard unless staff chose another).
pub async fn rates_for_products(
    conn: &mut PgConnection,
    config: &TaxConfig,
    product_ids: &[Uuid],
) -> Result<HashMap<Uuid, LineRate>, sqlx::Error> {
    let chosen = store::classes_of_products(conn, product_ids).await?;
    Ok(product_ids
        .iter()
        .map(|id| {
            let rate = match chosen.get(id) {
                Some((class, rate)) => LineRate {
                    class: class.clone(),
                    rate_bp: *rate,
                },
                None => LineRate {
                    class: STANDARD.to_owned(),
                    rate_bp: config.standard_rate_bp,
                },
            };
            (*id, rate)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_tax_is_the_part_of_the_price_that_is_tax_rounded_half_up() {
        // 111,000 at 11% included: 11,000 of it is tax.
        assert_eq!(tax_of(111_000, 1100, true), 11_000);
        // 100,000 at 11% included: 9,909.9… → 9,910.
        assert_eq!(tax_of(100_000, 1100, true), 9_910);
        // 50 at 11% included: 4.95… → 5; 45 at 11%: 4.459… → 4.
        assert_eq!(tax_of(50, 1100, true), 5);
        assert_eq!(tax_of(45, 1100, true), 4);
    }

    #[test]
    fn exclusive_tax_is_added_rounded_half_up() {
        assert_eq!(tax_of(100_000, 1100, false), 11_000);
        // 33,333 at 11%: 3,666.63 → 3,667; 50 at 11%: 5.5 → 6 (half up).
        assert_eq!(tax_of(33_333, 1100, false), 3_667);
        assert_eq!(tax_of(50, 1100, false), 6);
        assert_eq!(tax_of(45, 1000, false), 5, "4.5 rounds up");
    }

    #[test]
    fn nothing_is_taxed_at_zero_and_no_amount_overflows() {
        assert_eq!(tax_of(100_000, 0, false), 0);
        assert_eq!(tax_of(0, 1100, true), 0);
        assert_eq!(tax_of(-5, 1100, true), 0);
        let big = 1_000_000_000_000_000;
        assert_eq!(tax_of(big, 10_000, false), big);
        assert_eq!(tax_of(big, 10_000, true), big / 2);
    }
}
