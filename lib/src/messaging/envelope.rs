//! What a consumer reads from a delivery ([`Delivered`]) and what it writes on the copies it
//! sends to a retry or dead-letter queue (the `x-toko-*` headers). Pure functions of the
//! message, unit-tested here.

use chrono::{SecondsFormat, Utc};
use lapin::{
    types::{AMQPValue, FieldTable, ShortString},
    BasicProperties,
};

use super::topology::long_string;
use crate::events::{Event, EventKind};

/// Failed attempts so far (0 on the first delivery).
pub const ATTEMPTS: &str = "x-toko-attempts";
/// The last failure, with its cause chain.
pub const LAST_ERROR: &str = "x-toko-last-error";
/// `retryable` or `permanent`: the kind of the last failure.
pub const FAILURE: &str = "x-toko-failure";
/// When a consumer first failed on the message (RFC 3339).
pub const FIRST_SEEN: &str = "x-toko-first-seen";
/// When the message last failed (RFC 3339).
pub const FAILED_AT: &str = "x-toko-failed-at";
/// The routing key the relay published with (`order.paid`), kept across retries.
pub const ORIGINAL_ROUTING_KEY: &str = "x-toko-original-routing-key";
/// When `tokoctl dlq replay` republished the message (RFC 3339).
pub const REPLAYED_AT: &str = "x-toko-replayed-at";

/// Headers longer than this are cut (a long error chain must not bloat every copy).
const MAX_ERROR_BYTES: usize = 4_000;

/// A message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The event id: the deduplication key.
    pub message_id: String,
    /// `order.paid`, ... (the AMQP `type`, else the original routing key).
    pub event_type: String,
    /// The routing key the event was published with.
    pub routing_key: String,
    pub payload: serde_json::Value,
    /// All headers: `aggregate_type`, `aggregate_id`, `schema_version`, and `x-toko-*` after
    /// a failure.
    pub headers: FieldTable,
    /// 1 on the first delivery, 2 on the first retry, ...
    pub attempt: u32,
    pub correlation_id: Option<String>,
    /// Delivered before without an ack (a consumer died or lost its connection).
    pub redelivered: bool,
}

/// Why a delivery cannot become a [`Delivered`]; such messages go straight to the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message has no message_id, so it cannot be deduplicated")]
    MissingMessageId,
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "unsupported schema_version {found} of {event_type}: this consumer reads version \
         {supported}; replay it (`tokoctl dlq replay`) once a toko that reads it is deployed"
    )]
    UnsupportedSchema {
        event_type: String,
        found: i64,
        supported: i32,
    },
    #[error(
        "retired schema_version {found} of {event_type}: this consumer reads version \
         {supported}; it was published by an older toko (drain the queues before such an \
         upgrade, see docs/EVENTS.md)"
    )]
    RetiredSchema {
        event_type: String,
        found: i64,
        supported: i32,
    },
}

/// The header carrying the payload's schema version ([`EventKind::schema_version`]).
pub const SCHEMA_VERSION: &str = "schema_version";

impl Delivered {
    /// Reads a delivery's properties and body.
    pub fn parse(
        properties: &BasicProperties,
        routing_key: &str,
        redelivered: bool,
        body: &[u8],
    ) -> Result<Self, EnvelopeError> {
        let headers = properties.headers().clone().unwrap_or_default();
        let message_id = properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .filter(|id| !id.is_empty())
            .ok_or(EnvelopeError::MissingMessageId)?;
        let routing_key =
            header_str(&headers, ORIGINAL_ROUTING_KEY).unwrap_or_else(|| routing_key.to_owned());
        let event_type = properties
            .kind()
            .as_ref()
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|| routing_key.clone());
        check_schema_version(&headers, &event_type)?;
        let payload =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Ok(Self {
            message_id,
            event_type,
            routing_key,
            payload,
            attempt: failed_attempts(&headers).saturating_add(1),
            correlation_id: properties
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_owned()),
            headers,
            redelivered,
        })
    }

    /// A header as text (string headers only).
    pub fn header(&self, name: &str) -> Option<String> {
        header_str(&self.headers, name)
    }

    /// The kind of event, when it is one this code knows.
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_routing_key(&self.event_type)
    }

    /// The event with its typed payload. An unknown type or a payload that does not match
    /// its type is a permanent failure (retrying will not change the bytes).
    pub fn event(&self) -> Result<Event, super::HandlerError> {
        let kind = self.kind().ok_or_else(|| {
            super::HandlerError::permanent(format!("unknown event type {:?}", self.event_type))
        })?;
        Event::decode(kind, self.payload.clone()).map_err(|e| {
            super::HandlerError::permanent(format!("{kind} payload does not match its schema: {e}"))
        })
    }
}

/// Accepts the schema version this code reads for the event's kind. The version is a major
/// version: compatible changes (a new field) keep it, so a newer one has a layout this
/// consumer cannot read yet, and an older one a layout it no longer reads. A message without
/// the header (published by hand) is read as the current version; an unknown event type as
/// version 1.
fn check_schema_version(headers: &FieldTable, event_type: &str) -> Result<(), EnvelopeError> {
    let supported = EventKind::from_routing_key(event_type).map_or(1, EventKind::schema_version);
    let Some(value) = headers.inner().get(SCHEMA_VERSION) else {
        return Ok(());
    };
    let found = as_i64(value).unwrap_or(-1);
    let event_type = event_type.to_owned();
    match found {
        f if f == i64::from(supported) => Ok(()),
        f if (1..i64::from(supported)).contains(&f) => Err(EnvelopeError::RetiredSchema {
            event_type,
            found,
            supported,
        }),
        _ => Err(EnvelopeError::UnsupportedSchema {
            event_type,
            found,
            supported,
        }),
    }
}

/// Failed attempts recorded on a message (0 when none).
pub fn failed_attempts(headers: &FieldTable) -> u32 {
    headers.inner().get(ATTEMPTS).and_then(as_u32).unwrap_or(0)
}

/// A string header (long or short string).
pub fn header_str(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn as_u32(value: &AMQPValue) -> Option<u32> {
    u32::try_from(as_i64(value)?).ok()
}

fn as_i64(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => *n,
        _ => return None,
    })
}

/// A failure to record on a copy.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// Attempts made, including the one that just failed.
    pub attempts: u32,
    pub error: &'a str,
    pub permanent: bool,
    /// The routing key of the delivery that failed.
    pub routing_key: &'a str,
}

/// The properties of a retry or dead-letter copy: the original properties and headers,
/// without the broker's `x-death` bookkeeping, plus the `x-toko-*` failure headers.
pub fn failure_properties(original: &BasicProperties, failure: &Failure<'_>) -> BasicProperties {
    let mut headers = without_broker_headers(original.headers().as_ref());
    let now = now_rfc3339();
    if !headers.contains_key(FIRST_SEEN) {
        headers.insert(FIRST_SEEN.into(), long_string(&now));
    }
    if !headers.contains_key(ORIGINAL_ROUTING_KEY) {
        headers.insert(
            ORIGINAL_ROUTING_KEY.into(),
            long_string(failure.routing_key),
        );
    }
    headers.insert(
        ATTEMPTS.into(),
        AMQPValue::LongInt(i32::try_from(failure.attempts).unwrap_or(i32::MAX)),
    );
    headers.insert(
        LAST_ERROR.into(),
        long_string(truncate(failure.error, MAX_ERROR_BYTES)),
    );
    headers.insert(
        FAILURE.into(),
        long_string(if failure.permanent {
            "permanent"
        } else {
            "retryable"
        }),
    );
    headers.insert(FAILED_AT.into(), long_string(&now));
    original.clone().with_headers(headers).with_delivery_mode(2)
}

/// The properties of a replayed dead letter: the original message with every failure
/// header removed (attempts start again at 1) and `x-toko-replayed-at` added.
pub fn replay_properties(dead: &BasicProperties) -> BasicProperties {
    let mut headers: FieldTable = without_broker_headers(dead.headers().as_ref())
        .inner()
        .iter()
        .filter(|(k, _)| !k.as_str().starts_with("x-toko-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<std::collections::BTreeMap<ShortString, AMQPValue>>()
        .into();
    headers.insert(REPLAYED_AT.into(), long_string(&now_rfc3339()));
    dead.clone().with_headers(headers).with_delivery_mode(2)
}

/// Headers without `x-death`, `x-first-death-*` and `x-last-death-*`, which the broker adds
/// when a retry queue dead-letters a message back and which would grow on every retry.
fn without_broker_headers(headers: Option<&FieldTable>) -> FieldTable {
    headers
        .map(|h| {
            h.inner()
                .iter()
                .filter(|(k, _)| {
                    let k = k.as_str();
                    k != "x-death"
                        && !k.starts_with("x-first-death-")
                        && !k.starts_with("x-last-death-")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::BTreeMap<ShortString, AMQPValue>>()
                .into()
        })
        .unwrap_or_default()
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert("aggregate_type".into(), long_string("order"));
        headers.insert("schema_version".into(), AMQPValue::LongInt(2));
        BasicProperties::default()
            .with_message_id("m-1".into())
            .with_type("order.paid".into())
            .with_correlation_id("c-1".into())
            .with_headers(headers)
    }

    #[test]
    fn a_first_delivery_is_attempt_one() {
        let msg =
            Delivered::parse(&published(), "order.paid", false, br#"{"order_id":"o-1"}"#).unwrap();
        assert_eq!(msg.message_id, "m-1");
        assert_eq!(msg.event_type, "order.paid");
        assert_eq!(msg.routing_key, "order.paid");
        assert_eq!(msg.attempt, 1);
        assert_eq!(msg.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(msg.header("aggregate_type").as_deref(), Some("order"));
        assert_eq!(msg.payload["order_id"], "o-1");
    }

    #[test]
    fn only_known_schema_versions_are_read() {
        let with_version = |version: AMQPValue| {
            let mut headers = FieldTable::default();
            headers.insert(SCHEMA_VERSION.into(), version);
            published().with_headers(headers)
        };
        let parse = |p: &BasicProperties, event_type: &str| {
            Delivered::parse(
                &p.clone().with_type(event_type.into()),
                event_type,
                false,
                b"{}",
            )
        };
        let current = EventKind::OrderPaid.schema_version();
        assert_eq!(current, 2);
        assert!(parse(&with_version(AMQPValue::LongInt(2)), "order.paid").is_ok());
        assert!(parse(&with_version(AMQPValue::LongInt(1)), "product.updated").is_ok());
        assert!(
            parse(
                &BasicProperties::default().with_message_id("m".into()),
                "order.paid"
            )
            .is_ok(),
            "no header reads as the current version"
        );
        let newer = parse(&with_version(AMQPValue::LongInt(3)), "order.paid").unwrap_err();
        assert_eq!(
            newer,
            EnvelopeError::UnsupportedSchema {
                event_type: "order.paid".into(),
                found: 3,
                supported: 2
            }
        );
        assert!(newer.to_string().starts_with(
            "unsupported schema_version 3 of order.paid: this consumer reads version 2"
        ));
        let older = parse(&with_version(AMQPValue::LongInt(1)), "order.paid").unwrap_err();
        assert!(
            matches!(older, EnvelopeError::RetiredSchema { found: 1, .. }),
            "{older}"
        );
        assert!(parse(&with_version(AMQPValue::LongInt(2)), "product.updated").is_err());
        assert!(parse(&with_version(AMQPValue::LongInt(0)), "order.paid").is_err());
        assert!(parse(&with_version(long_string("two")), "order.paid").is_err());
    }

    #[test]
    fn a_retry_copy_counts_attempts_and_keeps_the_original_routing_key() {
        let failure = Failure {
            attempts: 1,
            error: "smtp: connection refused",
            permanent: false,
            routing_key: "order.paid",
        };
        let copy = failure_properties(&published(), &failure);
        // Dead-lettered back from toko.notifier.retry.1, the routing key is the queue name.
        let msg = Delivered::parse(&copy, "toko.notifier", false, b"{}").unwrap();
        assert_eq!(msg.attempt, 2);
        assert_eq!(msg.routing_key, "order.paid");
        assert_eq!(
            msg.header(LAST_ERROR).as_deref(),
            Some("smtp: connection refused")
        );
        assert_eq!(msg.header(FAILURE).as_deref(), Some("retryable"));
        assert_eq!(
            msg.header("aggregate_type").as_deref(),
            Some("order"),
            "original headers stay"
        );
        assert_eq!(copy.message_id(), published().message_id());

        let first_seen = msg.header(FIRST_SEEN).unwrap();
        let again = failure_properties(
            &copy,
            &Failure {
                attempts: 2,
                error: "still down",
                permanent: true,
                routing_key: "toko.notifier",
            },
        );
        let msg = Delivered::parse(&again, "toko.notifier", false, b"{}").unwrap();
        assert_eq!((msg.attempt, msg.routing_key.as_str()), (3, "order.paid"));
        assert_eq!(
            msg.header(FIRST_SEEN),
            Some(first_seen),
            "first-seen is kept"
        );
        assert_eq!(msg.header(FAILURE).as_deref(), Some("permanent"));
    }

    #[test]
    fn copies_drop_the_brokers_death_headers_and_replays_reset_attempts() {
        let mut props = published();
        let mut headers = props.headers().clone().unwrap();
        headers.insert("x-death".into(), AMQPValue::FieldArray(vec![].into()));
        headers.insert(
            "x-first-death-queue".into(),
            long_string("toko.notifier.retry.1"),
        );
        props = props.with_headers(headers);
        let copy = failure_properties(
            &props,
            &Failure {
                attempts: 5,
                error: "boom",
                permanent: false,
                routing_key: "order.paid",
            },
        );
        let h = copy.headers().clone().unwrap();
        assert!(!h.contains_key("x-death") && !h.contains_key("x-first-death-queue"));

        let replayed = replay_properties(&copy);
        let msg = Delivered::parse(&replayed, "order.paid", false, b"{}").unwrap();
        assert_eq!(msg.attempt, 1);
        assert!(msg.header(LAST_ERROR).is_none() && msg.header(ORIGINAL_ROUTING_KEY).is_none());
        assert!(msg.header(REPLAYED_AT).is_some());
        assert_eq!(msg.message_id, "m-1");
    }

    #[test]
    fn undeliverable_envelopes_are_named() {
        let no_id = BasicProperties::default();
        assert_eq!(
            Delivered::parse(&no_id, "x", false, b"{}").unwrap_err(),
            EnvelopeError::MissingMessageId
        );
        assert!(matches!(
            Delivered::parse(&published(), "x", false, b"not json"),
            Err(EnvelopeError::NotJson(_))
        ));
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let long = "é".repeat(3_000);
        let cut = truncate(&long, MAX_ERROR_BYTES);
        assert!(cut.len() <= MAX_ERROR_BYTES && cut.chars().all(|c| c == 'é'));
    }
}
