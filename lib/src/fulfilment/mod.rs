//! Fulfilment: staff ship a paid order in one or more shipments (which units, the carrier,
//! the tracking number), mark shipments delivered, and cancel units not shipped yet (through
//! `payments`, which refunds them).
//!
//! The order follows its units: `partially_shipped` while some units are still to ship,
//! `shipped` once every unit is shipped or cancelled, `delivered` once every shipment is.
//! Each step runs with the order row locked, so concurrent shipments and cancellations of one
//! order see each other; the order lines' check constraint keeps shipped plus cancelled units
//! within what was bought. Every shipment writes `shipment.created` (the customer's email
//! with its tracking number) and every delivery `shipment.delivered`.

pub mod audit;
mod store;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    catalog::{
        inventory::{self, StockOp},
        VariantId,
    },
    events::{Event, Payload},
    orders::{
        events::OrderEvent,
        lifecycle::{self, Transition},
        Actor, Order, OrderError, OrderId, OrderStatus,
    },
    outbox,
    validation::ValidationErrors,
};

/// Where a shipment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Shipped,
    Delivered,
}

/// Units of one order line in a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentLine {
    pub order_line_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub quantity: i32,
}

/// A parcel handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shipment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub status: ShipmentStatus,
    /// Who created it (`admin:<id>`).
    pub created_by: String,
    pub shipped_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLine>,
}

/// The payload of `shipment.created` and `shipment.delivered`: the shipment and its order as
/// it stands after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentEvent {
    pub shipment: Shipment,
    pub order: OrderEvent,
}

impl Payload for ShipmentEvent {
    fn aggregate_id(&self) -> Uuid {
        self.shipment.order_id
    }
}

/// A shipment to create.
#[derive(Debug, Clone)]
pub struct NewShipment {
    /// (order line, quantity); empty ships every unit not shipped or cancelled yet.
    pub lines: Vec<(Uuid, i32)>,
    /// The order's shipping method when absent.
    pub carrier: Option<String>,
    pub tracking_number: String,
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("shipment not found")]
    ShipmentNotFound,
    /// Units can be shipped or cancelled only while the order is paid and not fully shipped.
    #[error("a {0} order has no units to ship or cancel")]
    NotFulfillable(OrderStatus),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Whether an order in `status` may still ship or cancel units.
fn fulfillable(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Paid | OrderStatus::Processing | OrderStatus::PartiallyShipped
    )
}

/// Checks requested (order line, quantity) pairs against the order's units not shipped or
/// cancelled yet, naming each bad field under `lines[i]`.
fn take_units(
    order: &Order,
    wanted: &[(Uuid, i32)],
    errors: &mut ValidationErrors,
) -> Vec<(Uuid, i32)> {
    let mut taken = Vec::with_capacity(wanted.len());
    for (i, &(line_id, quantity)) in wanted.iter().enumerate() {
        let Some(line) = order.lines.iter().find(|l| l.id == line_id) else {
            errors.add(format!("lines[{i}].line_id"), "not a line of this order");
            continue;
        };
        if wanted[..i].iter().any(|w| w.0 == line_id) {
            errors.add(format!("lines[{i}].line_id"), "appears twice");
            continue;
        }
        let left = line.unshipped();
        if !(1..=left).contains(&quantity) {
            errors.add(
                format!("lines[{i}].quantity"),
                format!("must be between 1 and {left} (the units not shipped or cancelled yet)"),
            );
            continue;
        }
        taken.push((line_id, quantity));
    }
    taken
}

/// Moves the order to where its units are (partially shipped, shipped, delivered), noting
/// `reason` in its history when it stays.
async fn advance(
    tx: &mut PgConnection,
    order_id: Uuid,
    actor: Actor,
    reason: &str,
) -> Result<Order, FulfilmentError> {
    let mut order = lifecycle::lock_order(tx, order_id.into()).await?;
    let mut moved = false;
    loop {
        let (all_delivered, latest_tracking) = store::progress(tx, order_id).await?;
        let left: i32 = order.lines.iter().map(|l| l.unshipped()).sum();
        let shipped: i32 = order.lines.iter().map(|l| l.shipped_quantity).sum();
        let to = match order.status {
            s if fulfillable(s) && shipped > 0 && left == 0 => OrderStatus::Shipped,
            s if fulfillable(s) && shipped > 0 => OrderStatus::PartiallyShipped,
            OrderStatus::Shipped if all_delivered => OrderStatus::Delivered,
            s => s,
        };
        if to == order.status {
            break;
        }
        let transition = Transition {
            tracking_number: latest_tracking,
            ..Transition::new(to, actor, reason)
        };
        order = lifecycle::apply(tx, order_id.into(), &transition).await?;
        moved = true;
    }
    if !moved {
        lifecycle::add_note(tx, &order, actor, reason).await?;
    }
    Ok(order)
}

/// Cancels units not shipped yet of a paid order, in the caller's (the refund's) transaction
/// with the order locked: puts them back in stock, notes them in the order's history and
/// moves the order on when nothing is left to ship. Problems are added to `errors`, and
/// nothing is cancelled then; cancelling every unit of an order nothing of which shipped is
/// refused (cancel the order instead).
pub(crate) async fn cancel_units(
    tx: &mut PgConnection,
    order: &Order,
    units: &[(Uuid, i32)],
    actor: Actor,
    errors: &mut ValidationErrors,
) -> Result<(), FulfilmentError> {
    if !fulfillable(order.status) {
        return Err(FulfilmentError::NotFulfillable(order.status));
    }
    let taken = take_units(order, units, errors);
    if taken.len() != units.len() {
        return Ok(());
    }
    let cancelled: i32 = taken.iter().map(|u| u.1).sum();
    let left: i32 = order.lines.iter().map(|l| l.unshipped()).sum::<i32>() - cancelled;
    let shipped: i32 = order.lines.iter().map(|l| l.shipped_quantity).sum();
    if left == 0 && shipped == 0 {
        errors.add(
            "lines",
            "cancels every unit of the order: cancel the order instead \
             (POST /api/v1/admin/orders/{id}/transitions with to = cancelled)",
        );
        return Ok(());
    }
    let counted: Vec<(Uuid, i32, i32)> = taken.iter().map(|&(line, q)| (line, 0, q)).collect();
    lifecycle::record_fulfilled_units(tx, order.id, &counted).await?;
    let mut restock: Vec<(VariantId, i32)> = taken
        .iter()
        .filter_map(|&(line_id, q)| {
            let line = order.lines.iter().find(|l| l.id == line_id)?;
            Some((line.variant_id, q))
        })
        .collect();
    restock.sort();
    let refused =
        inventory::apply_to_order(tx, order.id.as_uuid(), StockOp::Restock, &restock).await?;
    if !refused.is_empty() {
        tracing::error!(order.id = %order.id, ?refused, "stock levels disagree with the order's cancelled units");
        return Err(FulfilmentError::Database(sqlx::Error::Protocol(
            "stock restock refused".into(),
        )));
    }
    let reason = format!("{cancelled} unit(s) not shipped cancelled and restocked");
    advance(tx, order.id.into(), actor, &reason).await?;
    Ok(())
}

/// Shipments and deliveries.
#[derive(Clone)]
pub struct Fulfilment {
    db: PgPool,
}

impl Fulfilment {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }

    /// Ships units of a paid order: records the shipment, moves the order to
    /// `partially_shipped` or `shipped` and writes `shipment.created`, in one transaction.
    pub async fn ship(
        &self,
        order_id: OrderId,
        new: NewShipment,
        actor: Actor,
    ) -> Result<(Shipment, Order), FulfilmentError> {
        let order_id = order_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let order = lifecycle::lock_order(&mut tx, order_id.into()).await?;
        // Legality first: an order that cannot ship is refused as such, whatever the fields.
        if !fulfillable(order.status) {
            return Err(OrderError::IllegalTransition {
                from: order.status,
                to: OrderStatus::Shipped,
            }
            .into());
        }
        let mut errors = ValidationErrors::new();
        let carrier = new
            .carrier
            .as_deref()
            .map(str::trim)
            .unwrap_or(&order.shipping_method)
            .to_owned();
        let tracking = new.tracking_number.trim();
        errors.length("carrier", &carrier, 1, 50);
        errors.length("tracking_number", tracking, 1, 100);
        let note = new.note.as_deref().map(str::trim).unwrap_or_default();
        errors.length("note", note, 0, 500);
        let units = if new.lines.is_empty() {
            let all: Vec<(Uuid, i32)> = order
                .lines
                .iter()
                .filter(|l| l.unshipped() > 0)
                .map(|l| (l.id, l.unshipped()))
                .collect();
            errors.check(!all.is_empty(), "lines", "nothing is left to ship");
            all
        } else {
            take_units(&order, &new.lines, &mut errors)
        };
        errors.finish()?;

        let shipment_id = Uuid::now_v7();
        store::insert(
            &mut tx,
            shipment_id,
            order_id,
            &carrier,
            tracking,
            &actor.to_string(),
            &units,
        )
        .await?;
        let counted: Vec<(Uuid, i32, i32)> = units.iter().map(|&(line, q)| (line, q, 0)).collect();
        lifecycle::record_fulfilled_units(&mut tx, order_id.into(), &counted).await?;
        let count: i32 = units.iter().map(|u| u.1).sum();
        let mut reason =
            format!("shipment of {count} unit(s) by {carrier}, tracking number {tracking}");
        if !note.is_empty() {
            reason = format!("{reason}: {note}");
        }
        let order = advance(&mut tx, order_id, actor, &reason).await?;
        let shipment = self.one(&mut tx, order_id, shipment_id).await?;
        outbox::enqueue(
            &mut tx,
            Event::ShipmentCreated(ShipmentEvent {
                shipment: shipment.clone(),
                order: OrderEvent::announce(&order, None),
            }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(order.id = %order_id, shipment.id = %shipment_id, units = count, "shipment created");
        Ok((shipment, order))
    }

    /// Marks a shipment delivered (again: no change) and the order `delivered` once every
    /// unit shipped and every shipment arrived.
    pub async fn deliver(
        &self,
        order_id: OrderId,
        shipment_id: Uuid,
        actor: Actor,
    ) -> Result<(Shipment, Order), FulfilmentError> {
        let order_id = order_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let delivered = self
            .deliver_in(&mut tx, order_id, shipment_id, actor)
            .await?;
        tx.commit().await?;
        Ok(delivered)
    }

    async fn deliver_in(
        &self,
        tx: &mut PgConnection,
        order_id: Uuid,
        shipment_id: Uuid,
        actor: Actor,
    ) -> Result<(Shipment, Order), FulfilmentError> {
        let order = lifecycle::lock_order(tx, order_id.into()).await?;
        let shipment = self.one(tx, order_id, shipment_id).await?;
        if !store::mark_delivered(tx, shipment_id).await? {
            return Ok((shipment, order));
        }
        let reason = format!(
            "shipment {} ({}) delivered",
            shipment.tracking_number, shipment.carrier
        );
        let order = advance(tx, order_id, actor, &reason).await?;
        let shipment = self.one(tx, order_id, shipment_id).await?;
        outbox::enqueue(
            tx,
            Event::ShipmentDelivered(ShipmentEvent {
                shipment: shipment.clone(),
                order: OrderEvent::announce(&order, None),
            }),
        )
        .await?;
        Ok((shipment, order))
    }

    /// Ships everything left in one shipment by the order's shipping method (how
    /// `to = shipped` on the order's transitions works).
    pub async fn ship_rest(
        &self,
        order_id: OrderId,
        tracking_number: Option<String>,
        reason: Option<String>,
        actor: Actor,
    ) -> Result<Order, FulfilmentError> {
        let order_id = order_id.as_uuid();
        let new = NewShipment {
            lines: Vec::new(),
            carrier: None,
            tracking_number: tracking_number.unwrap_or_default(),
            note: reason,
        };
        Ok(self.ship(order_id.into(), new, actor).await?.1)
    }

    /// Marks every shipment of a shipped order delivered (how `to = delivered` on the order's
    /// transitions works).
    pub async fn deliver_all(
        &self,
        order_id: OrderId,
        actor: Actor,
    ) -> Result<Order, FulfilmentError> {
        let order_id = order_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let mut order = lifecycle::lock_order(&mut tx, order_id.into()).await?;
        if order.status != OrderStatus::Shipped {
            return Err(OrderError::IllegalTransition {
                from: order.status,
                to: OrderStatus::Delivered,
            }
            .into());
        }
        for shipment in store::list(&mut *tx, order_id, None).await? {
            if shipment.status == ShipmentStatus::Shipped {
                order = self
                    .deliver_in(&mut tx, order_id, shipment.id, actor)
                    .await?
                    .1;
            }
        }
        tx.commit().await?;
        Ok(order)
    }

    /// An order's shipments, oldest first.
    pub async fn order_shipments(
        &self,
        order_id: OrderId,
    ) -> Result<Vec<Shipment>, FulfilmentError> {
        let order_id = order_id.as_uuid();
        if !store::order_exists(&self.db, order_id).await? {
            return Err(OrderError::NotFound.into());
        }
        Ok(store::list(&self.db, order_id, None).await?)
    }

    async fn one(
        &self,
        tx: &mut PgConnection,
        order_id: Uuid,
        shipment_id: Uuid,
    ) -> Result<Shipment, FulfilmentError> {
        store::list(&mut *tx, order_id, Some(shipment_id))
            .await?
            .pop()
            .ok_or(FulfilmentError::ShipmentNotFound)
    }
}
