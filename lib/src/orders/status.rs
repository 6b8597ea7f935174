//! The order state machine. Every legal transition is listed here and nowhere else.
//!
//! ```text
//! pending_payment ─▶ paid ─▶ processing ─▶ partially_shipped ─▶ shipped ─▶ delivered ─▶ completed
//!        │             │          │  (paid and processing may ship at once)   │
//!        ├─▶ cancelled ◀──────────┤ (paid and processing: with a refund)
//!        └─▶ expired   paid … delivered ─▶ refunded | partially_refunded
//! partially_refunded ─▶ partially_refunded | refunded | completed
//! paid, processing ─▶ payment_reversed ─▶ paid | cancelled   (a settlement the bank reversed)
//! paid … delivered ─▶ itself  (units not shipped were cancelled and refunded)
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::OrderEvent;
use crate::events::Event;

/// The order statuses in lifecycle order, each with its name on the wire: the one list that
/// the domain's [`OrderStatus`] and the API's status enum are generated from.
/// `with_order_statuses!(m)` expands to `m! { Variant => "name", ... }`.
#[macro_export]
macro_rules! with_order_statuses {
    ($callback:ident) => {
        $callback! {
            PendingPayment => "pending_payment",
            Paid => "paid",
            Processing => "processing",
            /// Some units shipped, others still to ship.
            PartiallyShipped => "partially_shipped",
            Shipped => "shipped",
            Delivered => "delivered",
            Completed => "completed",
            Cancelled => "cancelled",
            Expired => "expired",
            Refunded => "refunded",
            PartiallyRefunded => "partially_refunded",
            /// The bank reversed a settled payment: held, never shipped, until staff cancel the
            /// order (restocking it) or confirm the money arrived after all.
            PaymentReversed => "payment_reversed",
        }
    };
}

macro_rules! define_order_status {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// Where an order is in its lifecycle.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum OrderStatus {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        /// Every status, in lifecycle order.
        pub const ALL: &[OrderStatus] = &[$(OrderStatus::$variant,)+];

        impl OrderStatus {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(OrderStatus::$variant => $name,)+
                }
            }
        }
    };
}

with_order_statuses!(define_order_status);

use OrderStatus::*;

impl OrderStatus {
    /// The statuses this one may move to. A status that may move to itself does so only when
    /// a refund raises the refunded amount (paying back cancelled units keeps the order where
    /// its fulfilment is).
    pub fn successors(self) -> &'static [OrderStatus] {
        match self {
            PendingPayment => &[Paid, Cancelled, Expired],
            Paid => &[
                Paid,
                Processing,
                PartiallyShipped,
                Shipped,
                Cancelled,
                Refunded,
                PartiallyRefunded,
                PaymentReversed,
            ],
            Processing => &[
                Processing,
                PartiallyShipped,
                Shipped,
                Cancelled,
                Refunded,
                PartiallyRefunded,
                PaymentReversed,
            ],
            PartiallyShipped => &[PartiallyShipped, Shipped, Refunded, PartiallyRefunded],
            Shipped => &[Shipped, Delivered, Refunded, PartiallyRefunded],
            Delivered => &[Delivered, Completed, Refunded, PartiallyRefunded],
            PartiallyRefunded => &[PartiallyRefunded, Refunded, Completed],
            PaymentReversed => &[Paid, Cancelled],
            Completed | Cancelled | Expired | Refunded => &[],
        }
    }

    pub fn can_become(self, to: OrderStatus) -> bool {
        self.successors().contains(&to)
    }

    /// Payment received and not (fully) given back: the goods are the customer's.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            Paid | Processing
                | PartiallyShipped
                | Shipped
                | Delivered
                | Completed
                | PartiallyRefunded
        )
    }

    pub fn parse(value: &str) -> Option<Self> {
        ALL.iter().copied().find(|s| s.as_str() == value)
    }

    /// The event announcing a move into this status (`order.paid`, ...).
    pub const fn event(self) -> fn(OrderEvent) -> Event {
        match self {
            PendingPayment => Event::OrderCreated,
            Paid => Event::OrderPaid,
            Processing => Event::OrderProcessing,
            PartiallyShipped => Event::OrderPartiallyShipped,
            Shipped => Event::OrderShipped,
            Delivered => Event::OrderDelivered,
            Completed => Event::OrderCompleted,
            Cancelled => Event::OrderCancelled,
            Expired => Event::OrderExpired,
            Refunded => Event::OrderRefunded,
            PartiallyRefunded => Event::OrderPartiallyRefunded,
            PaymentReversed => Event::OrderPaymentReversed,
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_go_nowhere() {
        for s in [Completed, Cancelled, Expired, Refunded] {
            assert!(s.successors().is_empty(), "{s}");
        }
    }

    #[test]
    fn the_happy_path_is_legal_and_nothing_goes_backwards() {
        let path = [
            PendingPayment,
            Paid,
            Processing,
            Shipped,
            Delivered,
            Completed,
        ];
        let split = [Processing, PartiallyShipped, Shipped];
        for pair in path.windows(2).chain(split.windows(2)) {
            assert!(pair[0].can_become(pair[1]), "{} -> {}", pair[0], pair[1]);
            assert!(!pair[1].can_become(pair[0]), "{} -> {}", pair[1], pair[0]);
        }
        assert!(!PendingPayment.can_become(Shipped));
        assert!(
            !Shipped.can_become(Cancelled),
            "shipped goods are refunded, not cancelled"
        );
        assert!(!Expired.can_become(Paid));
        assert!(
            !PaymentReversed.can_become(Shipped) && !PaymentReversed.can_become(Processing),
            "a reversed payment is never shipped"
        );
    }

    #[test]
    fn every_status_is_reachable_from_pending_payment() {
        let mut reached = vec![PendingPayment];
        let mut i = 0;
        while i < reached.len() {
            for &next in reached[i].successors() {
                if !reached.contains(&next) {
                    reached.push(next);
                }
            }
            i += 1;
        }
        for &s in ALL {
            assert!(reached.contains(&s), "{s} cannot be reached");
        }
    }

    #[test]
    fn names_round_trip() {
        for &s in ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }
}
