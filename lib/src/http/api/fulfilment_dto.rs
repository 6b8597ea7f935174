//! Shipments and cancelled units on the wire.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::{order_dto::OrderOut, return_dto::RefundMadeOutsideIn};
use crate::fulfilment::{NewShipment, Shipment, ShipmentLine, ShipmentStatus};

/// Units of an order line.
#[derive(Debug, Clone, Copy, Object, serde::Deserialize)]
pub struct UnitsIn {
    pub line_id: Uuid,
    /// At most the line's units not shipped or cancelled yet.
    pub quantity: i32,
}

fn units(lines: Option<Vec<UnitsIn>>) -> Vec<(Uuid, i32)> {
    lines
        .unwrap_or_default()
        .into_iter()
        .map(|l| (l.line_id, l.quantity))
        .collect()
}

/// A parcel handed to a carrier.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ShipmentIn {
    /// The units in the parcel; absent: every unit not shipped or cancelled yet.
    pub lines: Option<Vec<UnitsIn>>,
    /// The carrier (1-50 characters); the order's shipping method when absent.
    pub carrier: Option<String>,
    /// The carrier's tracking number (1-100 characters), emailed to the customer.
    pub tracking_number: String,
    /// Recorded in the order history; up to 500 characters.
    pub note: Option<String>,
}

impl From<ShipmentIn> for NewShipment {
    fn from(s: ShipmentIn) -> Self {
        Self {
            lines: units(s.lines),
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            note: s.note,
        }
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ShipmentStatusDto {
    Shipped,
    Delivered,
}

impl From<ShipmentStatus> for ShipmentStatusDto {
    fn from(s: ShipmentStatus) -> Self {
        match s {
            ShipmentStatus::Shipped => Self::Shipped,
            ShipmentStatus::Delivered => Self::Delivered,
        }
    }
}

#[derive(Debug, Object)]
pub struct ShipmentLineOut {
    pub line_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub quantity: i32,
}

impl From<ShipmentLine> for ShipmentLineOut {
    fn from(l: ShipmentLine) -> Self {
        Self {
            line_id: l.order_line_id,
            sku: l.sku,
            product_name: l.product_name,
            quantity: l.quantity,
        }
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ShipmentOut {
    pub id: Uuid,
    pub order_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub status: ShipmentStatusDto,
    pub created_by: String,
    pub shipped_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLineOut>,
}

impl From<Shipment> for ShipmentOut {
    fn from(s: Shipment) -> Self {
        Self {
            id: s.id,
            order_id: s.order_id,
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            status: s.status.into(),
            created_by: s.created_by,
            shipped_at: s.shipped_at,
            delivered_at: s.delivered_at,
            lines: s.lines.into_iter().map(Into::into).collect(),
        }
    }
}

/// A shipment and its order after it.
#[derive(Debug, Object)]
pub struct ShipmentWithOrderOut {
    pub shipment: ShipmentOut,
    pub order: OrderOut,
}

#[derive(Debug, Object)]
pub struct ShipmentListOut {
    pub items: Vec<ShipmentOut>,
}

/// Units not shipped yet to cancel: they go back into stock and what was paid for them is
/// refunded.
#[derive(Debug, Object, serde::Deserialize)]
pub struct CancelUnitsIn {
    pub lines: Vec<UnitsIn>,
    /// Why (1-255 characters), recorded with the refund.
    pub reason: String,
    /// The refund was made outside Midtrans (required when Midtrans cannot refund the
    /// payment's method).
    pub manual: Option<RefundMadeOutsideIn>,
}

impl CancelUnitsIn {
    pub fn units(&self) -> Vec<(Uuid, i32)> {
        units(Some(self.lines.clone()))
    }
}
