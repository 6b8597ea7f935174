//! Whole-database consistency checks (`tokoctl audit`, and the contract tests after the fuzz).
//!
//! Each check lives next to the module that owns its tables (`catalog::audit::check_stock`,
//! `orders::audit::check_orders`, `payments::audit::check_payments`,
//! `promotions::audit::check_promotions`, `returns::audit::check_returns`,
//! `fulfilment::audit::check_fulfilment`); this module runs them all on one snapshot and gives
//! them a common shape. Checks only read: repairs are the inventory reconciler's job.

use sqlx::PgPool;

/// One rule and the rows that break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable dotted name, e.g. `stock.ledger_matches_on_hand`.
    pub name: &'static str,
    /// The rule, in words.
    pub rule: &'static str,
    /// Rows looked at.
    pub checked: u64,
    /// One line per offending row (which row, what was found, what was expected).
    pub violations: Vec<String>,
}

impl Check {
    pub fn new(name: &'static str, rule: &'static str) -> Self {
        Self {
            name,
            rule,
            checked: 0,
            violations: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Counts a row and records a violation when `holds` is false.
    pub fn expect(&mut self, holds: bool, violation: impl FnOnce() -> String) {
        self.checked += 1;
        if !holds {
            self.violations.push(violation());
        }
    }
}

/// Called with (rows done, rows in total) of the phase named by the first argument.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// Runs every check on one read-only, repeatable-read snapshot, so rows changed while the
/// audit runs cannot make consistent data look inconsistent.
pub async fn run(db: &PgPool, progress: Progress<'_>) -> Result<Vec<Check>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let mut checks = crate::catalog::audit::check_stock(&mut tx, progress).await?;
    checks.extend(crate::orders::audit::check_orders(&mut tx, progress).await?);
    checks.extend(crate::payments::audit::check_payments(&mut tx, progress).await?);
    checks.extend(crate::promotions::audit::check_promotions(&mut tx, progress).await?);
    checks.extend(crate::returns::audit::check_returns(&mut tx, progress).await?);
    checks.extend(crate::fulfilment::audit::check_fulfilment(&mut tx, progress).await?);
    tx.commit().await?;
    Ok(checks)
}
