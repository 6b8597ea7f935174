//! Stock audits (run by the inventory-reconciler): every variant's `stock_reserved` must equal
//! what its unpaid orders hold, and its `stock_on_hand` must equal the sum of its ledger.
//! `check_stock` reports the same rules (plus the bounds) without repairing, for `tokoctl audit`.
//!
//! Repairs: reserved follows the orders (they are the truth of what is held); a ledger that
//! disagrees with on hand gets a `repair` movement explaining the difference (the column is
//! what was sold and restocked; the ledger must explain it). Each repair is logged, counted
//! and announced with `stock.changed`.

use std::collections::BTreeMap;

use sqlx::{types::Json, PgConnection};
use uuid::Uuid;

use super::{events, inventory, variants, Catalog, CatalogError, Sku, Variant};
use crate::{
    consistency::{Check, Progress},
    events::{Event, EventKind},
};

/// One variant whose numbers disagreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub sku: String,
    /// `reserved` or `ledger`.
    pub kind: &'static str,
    pub recorded: i64,
    pub expected: i64,
    pub repaired: bool,
}

#[derive(Debug, Default, Clone)]
pub struct AuditReport {
    pub variants_checked: u64,
    pub drifts: Vec<Drift>,
}

#[derive(sqlx::FromRow)]
struct Levels {
    variant_id: Uuid,
    sku: String,
    stock_on_hand: i32,
    stock_reserved: i32,
    expected_reserved: i64,
    ledger_on_hand: i64,
}

impl Levels {
    /// Reserved stock is what unpaid orders hold.
    fn reserved_matches(&self) -> bool {
        i64::from(self.stock_reserved) == self.expected_reserved
    }

    /// On hand is the sum of the ledger.
    fn ledger_matches(&self) -> bool {
        i64::from(self.stock_on_hand) == self.ledger_on_hand
    }
}

// The levels of variants and what they should be: the same select in `audit_stock` (all or
// some variants), `repair` (one, locked) and `check_stock` (all, by SKU).

impl Catalog {
    /// Audits (and repairs) every variant, or only `only` when given.
    pub async fn audit_stock(&self, only: Option<&[Uuid]>) -> Result<AuditReport, CatalogError> {
        let rows = match only {
            Some(ids) => {
                sqlx::query_as!(
                    Levels,
                    r#"select v.variant_id, v.sku, v.stock_on_hand, v.stock_reserved,
                  coalesce((select sum(l.quantity) from order_lines l join orders o on o.order_id = l.order_id
                            where l.variant_id = v.variant_id and o.status = 'pending_payment'), 0)
                    as "expected_reserved!",
                  coalesce((select sum(m.on_hand_delta) from stock_movements m
                            where m.variant_id = v.variant_id), 0) as "ledger_on_hand!"
           from variants v where v.variant_id = any($1)"#,
                    ids,
                )
                .fetch_all(&self.db)
                .await?
            }
            None => {
                sqlx::query_as!(Levels, r#"select v.variant_id, v.sku, v.stock_on_hand, v.stock_reserved,
                  coalesce((select sum(l.quantity) from order_lines l join orders o on o.order_id = l.order_id
                            where l.variant_id = v.variant_id and o.status = 'pending_payment'), 0)
                    as "expected_reserved!",
                  coalesce((select sum(m.on_hand_delta) from stock_movements m
                            where m.variant_id = v.variant_id), 0) as "ledger_on_hand!"
           from variants v"#)
                    .fetch_all(&self.db)
                    .await?
            }
        };
        let mut report = AuditReport {
            variants_checked: rows.len() as u64,
            ..Default::default()
        };
        for row in rows {
            if !row.reserved_matches() || !row.ledger_matches() {
                // Re-read under lock: the first read raced with live checkouts.
                let mut tx = self.db.begin().await?;
                report.drifts.extend(repair(&mut tx, row.variant_id).await?);
                tx.commit().await?;
            }
        }
        for d in &report.drifts {
            tracing::warn!(sku = %d.sku, kind = d.kind, recorded = d.recorded, expected = d.expected, repaired = d.repaired, "stock drift");
        }
        Ok(report)
    }
}

async fn repair(tx: &mut PgConnection, variant_id: Uuid) -> Result<Vec<Drift>, CatalogError> {
    sqlx::query!(
        "select 1 as one from variants where variant_id = $1 for update",
        variant_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = sqlx::query_as!(
        Levels,
        r#"select v.variant_id, v.sku, v.stock_on_hand, v.stock_reserved,
                  coalesce((select sum(l.quantity) from order_lines l join orders o on o.order_id = l.order_id
                            where l.variant_id = v.variant_id and o.status = 'pending_payment'), 0)
                    as "expected_reserved!",
                  coalesce((select sum(m.on_hand_delta) from stock_movements m
                            where m.variant_id = v.variant_id), 0) as "ledger_on_hand!"
           from variants v where v.variant_id = any($1)"#,
        &[variant_id][..],
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Vec::new());
    };
    let mut drifts = Vec::new();
    if !row.reserved_matches() {
        let fits = row.expected_reserved <= i64::from(row.stock_on_hand);
        if fits {
            let delta = row.expected_reserved as i32 - row.stock_reserved;
            let variant = set_reserved(tx, variant_id, row.expected_reserved as i32).await?;
            inventory::record(
                tx,
                &variant,
                "repair",
                0,
                delta,
                "reconciler: reserved follows unpaid orders",
                None,
                None,
            )
            .await?;
            events::stock(tx, &variant, "repair").await?;
        }
        drifts.push(Drift {
            sku: row.sku.clone(),
            kind: "reserved",
            recorded: row.stock_reserved.into(),
            expected: row.expected_reserved,
            repaired: fits,
        });
    }
    if !row.ledger_matches() {
        let variant = current(tx, variant_id).await?;
        let delta = (i64::from(row.stock_on_hand) - row.ledger_on_hand) as i32;
        inventory::record(
            tx,
            &variant,
            "repair",
            delta,
            0,
            "reconciler: ledger completed to match stock on hand",
            None,
            None,
        )
        .await?;
        drifts.push(Drift {
            sku: row.sku,
            kind: "ledger",
            recorded: row.ledger_on_hand,
            expected: row.stock_on_hand.into(),
            repaired: true,
        });
    }
    Ok(drifts)
}

/// The stock rules over every variant, read only (`tokoctl audit`).
pub async fn check_stock(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let rows = sqlx::query_as!(Levels, r#"select v.variant_id, v.sku, v.stock_on_hand, v.stock_reserved,
                  coalesce((select sum(l.quantity) from order_lines l join orders o on o.order_id = l.order_id
                            where l.variant_id = v.variant_id and o.status = 'pending_payment'), 0)
                    as "expected_reserved!",
                  coalesce((select sum(m.on_hand_delta) from stock_movements m
                            where m.variant_id = v.variant_id), 0) as "ledger_on_hand!"
           from variants v order by v.sku"#)
        .fetch_all(&mut *tx)
        .await?;
    let mut non_negative = Check::new(
        "stock.non_negative",
        "no variant has negative stock on hand or reserved",
    );
    let mut within = Check::new(
        "stock.reserved_within_on_hand",
        "reserved stock never exceeds stock on hand",
    );
    let mut ledger = Check::new(
        "stock.ledger_matches_on_hand",
        "the stock movement ledger sums to stock on hand, per variant",
    );
    let mut reserved = Check::new(
        "stock.reserved_matches_unpaid_orders",
        "reserved stock equals what unpaid (pending_payment) orders hold",
    );
    let total = rows.len() as u64;
    for (done, row) in rows.iter().enumerate() {
        let sku = &row.sku;
        non_negative.expect(row.stock_on_hand >= 0 && row.stock_reserved >= 0, || {
            format!(
                "{sku}: on hand {}, reserved {}",
                row.stock_on_hand, row.stock_reserved
            )
        });
        within.expect(row.stock_reserved <= row.stock_on_hand, || {
            format!(
                "{sku}: reserved {} > on hand {}",
                row.stock_reserved, row.stock_on_hand
            )
        });
        ledger.expect(row.ledger_matches(), || {
            format!(
                "{sku}: on hand {}, ledger sums to {}",
                row.stock_on_hand, row.ledger_on_hand
            )
        });
        reserved.expect(row.reserved_matches(), || {
            format!(
                "{sku}: reserved {}, unpaid orders hold {}",
                row.stock_reserved, row.expected_reserved
            )
        });
        progress("variants", done as u64 + 1, total);
    }
    Ok(vec![non_negative, within, ledger, reserved])
}

async fn set_reserved(
    tx: &mut PgConnection,
    variant_id: Uuid,
    reserved: i32,
) -> Result<Variant, sqlx::Error> {
    let row = sqlx::query_as!(
        variants::VariantRow,
        r#"update variants set stock_reserved = $2 where variant_id = $1
           returning variant_id, product_id, sku as "sku: Sku",
                     options as "options: Json<BTreeMap<String, String>>", price,
                     compare_at_price, weight_grams, stock_on_hand, stock_reserved, position,
                     created_at, updated_at"#,
        variant_id,
        reserved,
    )
    .fetch_one(tx)
    .await?;
    Ok(row.into())
}

async fn current(tx: &mut PgConnection, variant_id: Uuid) -> Result<Variant, sqlx::Error> {
    let row = sqlx::query_as!(
        variants::VariantRow,
        r#"select variant_id, product_id, sku as "sku: Sku",
                  options as "options: Json<BTreeMap<String, String>>", price, compare_at_price,
                  weight_grams, stock_on_hand, stock_reserved, position, created_at, updated_at
           from variants where variant_id = $1"#,
        variant_id,
    )
    .fetch_one(tx)
    .await?;
    Ok(row.into())
}

/// What the inventory-reconciler reports on `/metrics`.
#[derive(Clone)]
pub struct AuditMetrics {
    pub expired: prometheus::IntCounter,
    pub drift: prometheus::IntCounterVec,
}

impl AuditMetrics {
    pub fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let expired = prometheus::IntCounter::new(
            "orders_expired_total",
            "Unpaid orders expired by the reconciler",
        )?;
        let drift = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "stock_drift_total",
                "Variants whose stock disagreed with orders or the ledger",
            ),
            &["kind", "repaired"],
        )?;
        // Every series exists from the start, so dashboards and alerts see zeros, not gaps.
        for kind in ["reserved", "ledger"] {
            for repaired in ["true", "false"] {
                drift.with_label_values(&[kind, repaired]);
            }
        }
        registry.register(Box::new(expired.clone()))?;
        registry.register(Box::new(drift.clone()))?;
        Ok(Self { expired, drift })
    }

    pub fn record(&self, report: &AuditReport) {
        for d in &report.drifts {
            self.drift
                .with_label_values(&[d.kind, if d.repaired { "true" } else { "false" }])
                .inc();
        }
    }
}

/// The inventory-reconciler's queue handler: every `stock.changed` audits that variant at once,
/// so drift is caught where it happens (the periodic full audit catches the rest).
pub struct StockAuditor {
    catalog: Catalog,
    metrics: Option<AuditMetrics>,
}

impl StockAuditor {
    pub fn new(catalog: Catalog, metrics: Option<AuditMetrics>) -> Self {
        Self { catalog, metrics }
    }
}

/// The inventory-reconciler audits the variant of every stock change.
pub fn subscribes(kind: EventKind) -> bool {
    use EventKind::*;
    match kind {
        StockChanged => true,
        ProductCreated
        | ProductUpdated
        | ProductArchived
        | ProductDeleted
        | VariantCreated
        | VariantUpdated
        | VariantDeleted
        | CategoryChanged
        | UserRegistered
        | UserDeleted
        | StaffInvited
        | OrderCreated
        | OrderPaid
        | OrderProcessing
        | OrderPartiallyShipped
        | OrderShipped
        | ShipmentCreated
        | ShipmentDelivered
        | OrderDelivered
        | OrderCompleted
        | OrderCancelled
        | OrderExpired
        | OrderRefunded
        | OrderPartiallyRefunded
        | OrderPaymentReversed
        | PaymentExceptionOpened
        | WebhookEndpointDisabled
        | PromotionRedeemed
        | PromotionReleased
        | ReturnRequested
        | ReturnApproved
        | ReturnRejected
        | ReturnReceived
        | ReturnRefunded
        | UserPasswordResetRequested
        | UserEmailVerificationRequested => false,
    }
}

#[async_trait::async_trait]
impl crate::messaging::Handler for StockAuditor {
    fn name(&self) -> &str {
        "inventory-reconciler"
    }

    async fn handle(
        &self,
        msg: &crate::messaging::Delivered,
    ) -> Result<(), crate::messaging::HandlerError> {
        let variant_id = match msg.event()? {
            Event::StockChanged(stock) => stock.variant_id.as_uuid(),
            other => return Err(crate::messaging::HandlerError::not_subscribed(other.kind())),
        };
        let report = self
            .catalog
            .audit_stock(Some(&[variant_id]))
            .await
            .map_err(crate::messaging::HandlerError::retryable)?;
        if let Some(metrics) = &self.metrics {
            metrics.record(&report);
        }
        Ok(())
    }
}
