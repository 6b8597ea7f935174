//! The event contract: every event toko publishes, declared once below with its routing key,
//! schema version, aggregate and payload type.
//!
//! Producers build an [`Event`] (a variant per kind, holding its typed payload) and write it
//! with [`crate::outbox::enqueue`]; consumers decode a delivery into the same [`Event`] and
//! choose their events with an exhaustive `match` on [`EventKind`], so a new kind does not
//! compile until every consumer has said whether it wants it. `tokoctl events` writes the
//! catalog and the payloads' JSON Schemas to docs/EVENTS.md.
//!
//! Versions: a payload's schema version is a major version. Adding a field keeps it; removing,
//! renaming or changing a field raises it, and consumers refuse versions they do not read
//! (`messaging::envelope`).

use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

use crate::{
    auth::{
        resets::PasswordResetRequested, staff::StaffInvited, verification::VerificationRequested,
        UserDeleted, UserRegistered,
    },
    catalog::events::{CategoryChanged, ProductEvent, StockChanged, VariantEvent},
    fulfilment::ShipmentEvent,
    orders::events::OrderEvent,
    payments::exceptions::PaymentExceptionOpened,
    promotions::RedemptionEvent,
    returns::ReturnEvent,
    webhooks::EndpointDisabled,
};

/// A payload: what an event says, and which aggregate it is about (the outbox orders events
/// per aggregate).
pub trait Payload: Serialize + DeserializeOwned + JsonSchema {
    fn aggregate_id(&self) -> Uuid;
}

macro_rules! event_catalog {
    ($(
        $(#[doc = $doc:literal])+
        $kind:ident => $key:literal, v $version:literal, $aggregate:literal, $payload:ty;
    )+) => {
        /// Every kind of event, in catalog order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(#[doc = $doc])+ $kind,)+
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind,)+];

            /// The routing key on the `toko.events` exchange (also the message's `type`).
            pub const fn routing_key(self) -> &'static str {
                match self { $(EventKind::$kind => $key,)+ }
            }

            /// The payload's major version (the `schema_version` header).
            pub const fn schema_version(self) -> i32 {
                match self { $(EventKind::$kind => $version,)+ }
            }

            /// What the aggregate id names (`order`, `product`, ...).
            pub const fn aggregate_type(self) -> &'static str {
                match self { $(EventKind::$kind => $aggregate,)+ }
            }

            /// When the event is written.
            pub fn description(self) -> &'static str {
                match self { $(EventKind::$kind => concat!($($doc),+).trim_ascii(),)+ }
            }

            /// The JSON Schema of the payload.
            pub fn payload_schema(self) -> serde_json::Value {
                match self {
                    $(EventKind::$kind => schemars::schema_for!($payload).to_value(),)+
                }
            }
        }

        /// An event with its payload.
        #[derive(Debug, Clone)]
        pub enum Event {
            $($(#[doc = $doc])+ $kind($payload),)+
        }

        impl Event {
            pub fn kind(&self) -> EventKind {
                match self { $(Event::$kind(_) => EventKind::$kind,)+ }
            }

            pub fn aggregate_id(&self) -> Uuid {
                match self { $(Event::$kind(p) => p.aggregate_id(),)+ }
            }

            /// The payload as stored in the outbox and published.
            pub fn payload_json(&self) -> serde_json::Value {
                // Payloads are plain structs of ours: failing to serialize one is a bug.
                match self {
                    $(Event::$kind(p) => serde_json::to_value(p).expect("event payloads serialize"),)+
                }
            }

            /// Reads a payload of `kind`.
            pub fn decode(kind: EventKind, payload: serde_json::Value) -> Result<Self, serde_json::Error> {
                Ok(match kind {
                    $(EventKind::$kind => Event::$kind(serde_json::from_value(payload)?),)+
                })
            }
        }
    };
}

event_catalog! {
    /// A product was created.
    ProductCreated => "product.created", v 1, "product", ProductEvent;
    /// A product's details, status or category changed.
    ProductUpdated => "product.updated", v 1, "product", ProductEvent;
    /// A product was archived: no longer listed or sold, kept for past orders.
    ProductArchived => "product.archived", v 1, "product", ProductEvent;
    /// A product (never ordered) was deleted.
    ProductDeleted => "product.deleted", v 1, "product", ProductEvent;
    /// A variant was added to a product.
    VariantCreated => "variant.created", v 1, "product", VariantEvent;
    /// A variant's SKU, price or options changed.
    VariantUpdated => "variant.updated", v 1, "product", VariantEvent;
    /// A variant (never ordered) was deleted.
    VariantDeleted => "variant.deleted", v 1, "product", VariantEvent;
    /// A variant's stock on hand or reservations changed (adjustment, checkout, payment,
    /// cancellation, expiry, restock).
    StockChanged => "stock.changed", v 1, "product", StockChanged;
    /// A category was created, renamed, moved or deleted.
    CategoryChanged => "category.changed", v 1, "category", CategoryChanged;
    /// A customer registered.
    UserRegistered => "user.registered", v 1, "user", UserRegistered;
    /// The owner invited someone to join the staff (the notifier emails the link; the payload
    /// has no token).
    StaffInvited => "staff.invited", v 1, "staff_invite", StaffInvited;
    /// A customer deleted their account (the payload holds no personal data).
    UserDeleted => "user.deleted", v 1, "user", UserDeleted;
    /// A customer asked for a password reset link (the notifier emails it; the payload has no
    /// token).
    UserPasswordResetRequested => "user.password_reset_requested", v 1, "user", PasswordResetRequested;
    /// A customer asked for a new email verification link (the payload has no token).
    UserEmailVerificationRequested => "user.email_verification_requested", v 1, "user", VerificationRequested;
    /// A customer checked out: the order awaits payment.
    OrderCreated => "order.created", v 2, "order", OrderEvent;
    /// The order's payment settled.
    OrderPaid => "order.paid", v 2, "order", OrderEvent;
    /// Staff started preparing the order.
    OrderProcessing => "order.processing", v 2, "order", OrderEvent;
    /// Some of the order's units were handed to the carrier; others are still to ship.
    OrderPartiallyShipped => "order.partially_shipped", v 2, "order", OrderEvent;
    /// The order was handed to the carrier.
    OrderShipped => "order.shipped", v 2, "order", OrderEvent;
    /// The order reached the customer.
    OrderDelivered => "order.delivered", v 2, "order", OrderEvent;
    /// The order is complete.
    OrderCompleted => "order.completed", v 2, "order", OrderEvent;
    /// The order was cancelled by the customer or staff.
    OrderCancelled => "order.cancelled", v 2, "order", OrderEvent;
    /// The order was not paid in time.
    OrderExpired => "order.expired", v 2, "order", OrderEvent;
    /// The order was refunded in full.
    OrderRefunded => "order.refunded", v 2, "order", OrderEvent;
    /// Part of the order was refunded.
    OrderPartiallyRefunded => "order.partially_refunded", v 2, "order", OrderEvent;
    /// A settled payment was reversed (deny, chargeback): shipping is blocked.
    OrderPaymentReversed => "order.payment_reversed", v 2, "order", OrderEvent;
    /// Staff handed units of an order to a carrier (with its tracking number).
    ShipmentCreated => "shipment.created", v 1, "order", ShipmentEvent;
    /// A shipment reached the customer.
    ShipmentDelivered => "shipment.delivered", v 1, "order", ShipmentEvent;
    /// A payment needs staff attention (or was handled automatically and is listed).
    PaymentExceptionOpened => "payment.exception_opened", v 1, "payment_exception", PaymentExceptionOpened;
    /// A webhook endpoint was disabled after its deliveries failed for too long.
    WebhookEndpointDisabled => "webhook.endpoint_disabled", v 1, "webhook_endpoint", EndpointDisabled;
    /// An order redeemed a promotion at checkout (with the discount it gave).
    PromotionRedeemed => "promotion.redeemed", v 1, "promotion", RedemptionEvent;
    /// An unpaid order that redeemed a promotion was cancelled or expired: the redemption no
    /// longer counts towards the promotion's limits.
    PromotionReleased => "promotion.released", v 1, "promotion", RedemptionEvent;
    /// A customer asked to return delivered units.
    ReturnRequested => "return.requested", v 1, "return", ReturnEvent;
    /// Staff accepted a return: the customer may send the units.
    ReturnApproved => "return.approved", v 1, "return", ReturnEvent;
    /// Staff turned a return down, saying why.
    ReturnRejected => "return.rejected", v 1, "return", ReturnEvent;
    /// The returned units arrived; each line was restocked or written off.
    ReturnReceived => "return.received", v 1, "return", ReturnEvent;
    /// What was paid for the returned units was refunded.
    ReturnRefunded => "return.refunded", v 1, "return", ReturnEvent;
}

impl EventKind {
    pub fn from_routing_key(key: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.routing_key() == key)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.routing_key())
    }
}

/// docs/EVENTS.md: the catalog and every payload's JSON Schema.
pub fn catalog_markdown() -> String {
    let mut out = String::from(
        "# Events\n\n\
         Generated by `tokoctl events` from `lib/src/events.rs`; a test keeps it current.\n\n\
         Every event is published on the `toko.events` topic exchange with its routing key as \
         the routing key and the message `type`, the outbox event id as `message_id`, and the \
         headers `schema_version` and `aggregate_type`. Payloads are JSON. A schema version is \
         a major version: new fields may appear at any time; a changed or removed field raises \
         the version.\n\n\
         Workers read exactly the current version of each kind. A message of a newer version \
         (published by a newer toko during a rolling upgrade) goes to the worker's dead-letter \
         queue as `unsupported schema_version`, to be replayed with `tokoctl dlq replay` once \
         the worker is upgraded; one of an older version as `retired schema_version`: drain \
         the worker queues before deploying a toko that raises a version. Order events are at \
         version 2 since they carry the whole order (lines, address, customer), so that \
         consumers never read it back.\n\n\
         | routing key | version | aggregate | when |\n|---|---:|---|---|\n",
    );
    for kind in EventKind::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            kind.routing_key(),
            kind.schema_version(),
            kind.aggregate_type(),
            kind.description().replace('\n', " ")
        ));
    }
    out.push_str("\n## Payload schemas\n");
    let mut shown: Vec<serde_json::Value> = Vec::new();
    for kind in EventKind::ALL {
        let schema = kind.payload_schema();
        let title = schema["title"].as_str().unwrap_or("payload").to_owned();
        let users: Vec<String> = EventKind::ALL
            .iter()
            .filter(|k| k.payload_schema() == schema)
            .map(|k| format!("`{}`", k.routing_key()))
            .collect();
        if shown.contains(&schema) {
            continue;
        }
        out.push_str(&format!(
            "\n### {title}\n\nUsed by {}.\n\n```json\n{}\n```\n",
            users.join(", "),
            serde_json::to_string_pretty(&schema).expect("schemas serialize")
        ));
        shown.push(schema);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_are_unique_and_round_trip() {
        let mut keys: Vec<&str> = EventKind::ALL.iter().map(|k| k.routing_key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), EventKind::ALL.len());
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_routing_key(kind.routing_key()), Some(*kind));
            assert!(kind.schema_version() >= 1);
            assert!(!kind.description().is_empty());
        }
        assert_eq!(EventKind::from_routing_key("order.unknown"), None);
    }

    #[test]
    fn every_payload_has_an_object_schema_naming_its_fields() {
        for kind in EventKind::ALL {
            let schema = kind.payload_schema();
            assert_eq!(schema["type"], "object", "{kind}");
            assert!(
                schema["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty()),
                "{kind}"
            );
        }
    }
}
