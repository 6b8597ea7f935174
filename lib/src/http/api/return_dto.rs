//! Request and response bodies of returns.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::{
    payments::refunds::MadeOutside,
    returns::{self, RefundReturn, RequestedLine, Return, ReturnLine, ReturnRequest},
};

macro_rules! return_enum_dto {
    ($name:ident, $doc:literal { $($variant:ident => $text:literal,)+ }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Deserialize, serde::Serialize)]
        pub enum $name {
            $(#[oai(rename = $text)] #[serde(rename = $text)] $variant,)+
        }

        impl From<returns::$name> for $name {
            fn from(value: returns::$name) -> Self {
                match value {
                    $(returns::$name::$variant => Self::$variant,)+
                }
            }
        }

        impl From<$name> for returns::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant,)+
                }
            }
        }
    };
}

/// The API's return enums, generated from the domain's list.
pub mod wire {
    use super::*;

    crate::with_return_enums!(return_enum_dto);
}

use wire::{Disposition, ReturnReason, ReturnStatus};

/// Delivered units to send back.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct ReturnIn {
    /// At most 100 lines, each line once.
    pub lines: Vec<ReturnLineIn>,
    /// Anything the shop should know (up to 1000 characters).
    pub note: Option<String>,
}

/// Units of an order line to return.
#[derive(Debug, Object, serde::Deserialize, serde::Serialize)]
pub struct ReturnLineIn {
    pub line_id: Uuid,
    /// At most the delivered units not already returned, being returned or refunded.
    pub quantity: i32,
    pub reason: ReturnReason,
}

impl From<ReturnIn> for ReturnRequest {
    fn from(r: ReturnIn) -> Self {
        Self {
            lines: r
                .lines
                .into_iter()
                .map(|l| RequestedLine {
                    order_line_id: l.line_id,
                    quantity: l.quantity,
                    reason: l.reason.into(),
                })
                .collect(),
            note: r.note.unwrap_or_default(),
        }
    }
}

/// A line of a return.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReturnLineOut {
    pub line_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub quantity: i32,
    pub reason: ReturnReason,
    pub disposition: Option<Disposition>,
}

impl From<ReturnLine> for ReturnLineOut {
    fn from(l: ReturnLine) -> Self {
        Self {
            line_id: l.order_line_id,
            sku: l.sku,
            product_name: l.product_name,
            quantity: l.quantity,
            reason: l.reason.into(),
            disposition: l.disposition.map(Into::into),
        }
    }
}

/// A return. Amounts are integers in minor units of `currency`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReturnOut {
    pub id: Uuid,
    /// The order number with a running suffix: write it on the parcel.
    pub number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub status: ReturnStatus,
    pub note: String,
    /// Why staff approved or rejected it.
    pub decision_note: Option<String>,
    pub currency: String,
    /// What was refunded: the units (after their discounts), shipping and the adjustment.
    pub refund_amount: Option<i64>,
    /// The part of the refund that was shipping.
    pub shipping_refund: Option<i64>,
    /// Staff's adjustment of the refund (negative: less).
    pub adjustment: Option<i64>,
    pub adjustment_reason: Option<String>,
    pub lines: Vec<ReturnLineOut>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
}

impl From<Return> for ReturnOut {
    fn from(r: Return) -> Self {
        Self {
            id: r.id,
            number: r.number,
            order_id: r.order_id,
            order_number: r.order_number,
            status: r.status.into(),
            note: r.note,
            decision_note: r.decision_note,
            currency: r.currency,
            refund_amount: r.refund_amount,
            shipping_refund: r.shipping_refund,
            adjustment: r.adjustment,
            adjustment_reason: r.adjustment_reason,
            lines: r.lines.into_iter().map(Into::into).collect(),
            created_at: r.created_at,
            decided_at: r.decided_at,
            received_at: r.received_at,
            refunded_at: r.refunded_at,
        }
    }
}

/// A page of returns, newest first.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReturnPageOut {
    pub items: Vec<ReturnOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

impl ReturnPageOut {
    pub fn new(returns: Vec<Return>, limit: i64) -> Self {
        let next_cursor = (returns.len() as i64 == limit)
            .then(|| returns.last().map(|r| r.id))
            .flatten();
        Self {
            items: returns.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}

/// Approving a return.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ReturnApprovalIn {
    /// Shown to the customer (e.g. where to send the parcel); up to 500 characters.
    pub note: Option<String>,
}

/// Rejecting a return.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ReturnRejectionIn {
    /// Why, shown to the customer (1-500 characters).
    pub reason: String,
}

/// The units arrived: what became of each line.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ReturnReceiptIn {
    /// Every line of the return, once.
    pub lines: Vec<ReceivedLineIn>,
}

#[derive(Debug, Object, serde::Deserialize)]
pub struct ReceivedLineIn {
    pub line_id: Uuid,
    pub disposition: Disposition,
}

impl ReturnReceiptIn {
    pub fn dispositions(self) -> Vec<(Uuid, returns::Disposition)> {
        self.lines
            .into_iter()
            .map(|l| (l.line_id, l.disposition.into()))
            .collect()
    }
}

/// Refunding a received return.
#[derive(Debug, Default, Object, serde::Deserialize)]
pub struct ReturnRefundIn {
    pub adjustment: Option<RefundAdjustmentIn>,
    pub manual: Option<RefundMadeOutsideIn>,
}

/// Staff's change to the computed refund, with the reason (e.g. a restocking fee).
#[derive(Debug, Object, serde::Deserialize)]
pub struct RefundAdjustmentIn {
    /// Minor units added (negative: taken off); not 0.
    pub amount: i64,
    /// 1-500 characters, recorded in the order history.
    pub reason: String,
}

/// The refund was made outside Midtrans (required when Midtrans cannot refund the payment's
/// method, such as virtual accounts).
#[derive(Debug, Object, serde::Deserialize)]
pub struct RefundMadeOutsideIn {
    /// How the money went back, e.g. `bank_transfer`, `cash`.
    pub method: String,
    /// The transfer's reference (bank or shop), 1-100 characters.
    pub reference: String,
}

impl From<ReturnRefundIn> for RefundReturn {
    fn from(r: ReturnRefundIn) -> Self {
        let (adjustment, adjustment_reason) = match r.adjustment {
            Some(a) => (Some(a.amount), Some(a.reason)),
            None => (None, None),
        };
        Self {
            adjustment,
            adjustment_reason,
            manual: r.manual.map(|m| MadeOutside {
                method: m.method,
                reference: m.reference,
            }),
            limit: None,
        }
    }
}
