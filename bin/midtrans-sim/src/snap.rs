//! Snap: `POST /snap/v1/transactions` (midtrans.md §3).
//!
//! The request is validated field by field on the raw JSON rather than through a typed serde
//! struct, so each problem gets its own message in `error_messages` (Snap returns a list) and a
//! malformed amount is told apart from a missing one. The validated result, [`SnapRequest`], is
//! what the simulator stores; the raw body is kept alongside for the control API.

use std::sync::Arc;

use chrono::Duration;
use poem::http::{HeaderMap, StatusCode};
use poem::web::{Data, Json, Path};
use poem::{handler, Body, IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::notify::NotificationTargets;
use crate::sim::{SimError, Simulator};
use crate::wib::{self, Timestamp};

/// Longest `order_id` Snap accepts.
pub const MAX_ORDER_ID_LEN: usize = 50;
/// Longest item `id`/`name` (the PHP sanitizer truncates to this, so longer ones are refused).
pub const MAX_ITEM_TEXT_LEN: usize = 50;
/// Longest `custom_field1..3`.
pub const MAX_CUSTOM_FIELD_LEN: usize = 255;
/// Payment window when the Snap request sets no `expiry` (Midtrans' default for most methods).
pub const DEFAULT_EXPIRY_HOURS: i64 = 24;

/// Message for a reused order_id (Indonesian locale, midtrans.md §3).
pub const DUPLICATE_ORDER_ID: &str = "transaction_details.order_id sudah digunakan";
/// Message for an item sum that differs from `gross_amount`.
pub const SUM_MISMATCH: &str =
    "transaction_details.gross_amount is not equal to the sum of item_details";
/// Message for a missing or wrong server key.
pub const UNAUTHORIZED: &str =
    "Access denied due to unauthorized transaction, please check client or server key";

const MIN_EXPIRY_MINUTES: i64 = 5;
const MAX_EXPIRY_MINUTES: i64 = 7 * 24 * 60;

/// Snap `expiry`: the payment deadline is `start_time + duration`, or, without `start_time`,
/// counted from the moment the customer picks a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub start_time: Option<Timestamp>,
    pub duration: Duration,
}

/// A validated Snap request.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapRequest {
    pub order_id: String,
    pub gross_amount: i64,
    pub expiry: Option<Expiry>,
    pub finish_url: Option<String>,
    pub custom_fields: [Option<String>; 3],
    pub enabled_payments: Option<Vec<String>>,
}

impl SnapRequest {
    /// Validates a Snap body. Returns every problem found, as Snap lists them.
    pub fn parse(body: &Value) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let Some(body) = body.as_object() else {
            return Err(vec!["request body must be a JSON object".to_owned()]);
        };
        let details = body.get("transaction_details").and_then(Value::as_object);
        let order_id = details
            .and_then(|details| details.get("order_id"))
            .and_then(Value::as_str);
        let order_id = match order_id {
            None | Some("") => {
                errors.push("transaction_details.order_id is required".to_owned());
                None
            }
            Some(id) => check_order_id(id, &mut errors).then(|| id.to_owned()),
        };
        let gross_amount = match details.and_then(|details| details.get("gross_amount")) {
            None | Some(Value::Null) => {
                errors.push("transaction_details.gross_amount is required".to_owned());
                None
            }
            Some(value) => match integer(value) {
                None => {
                    errors.push(
                        "transaction_details.gross_amount must be an integer (IDR has no decimals)"
                            .to_owned(),
                    );
                    None
                }
                Some(amount) if amount <= 0 => {
                    errors
                        .push("transaction_details.gross_amount must be greater than 0".to_owned());
                    None
                }
                Some(amount) => Some(amount),
            },
        };
        let item_sum = parse_items(body.get("item_details"), &mut errors);
        if let (Some(gross), Some(Some(sum))) = (gross_amount, item_sum) {
            if i128::from(gross) != sum {
                errors.push(SUM_MISMATCH.to_owned());
            }
        }
        let expiry = parse_expiry(body.get("expiry"), &mut errors);
        let finish_url = parse_finish_url(body.get("callbacks"), &mut errors);
        let custom_fields = ["custom_field1", "custom_field2", "custom_field3"]
            .map(|name| optional_text(body.get(name), name, MAX_CUSTOM_FIELD_LEN, &mut errors));
        let enabled_payments = parse_enabled_payments(body.get("enabled_payments"), &mut errors);

        match (order_id, gross_amount) {
            (Some(order_id), Some(gross_amount)) if errors.is_empty() => Ok(Self {
                order_id,
                gross_amount,
                expiry,
                finish_url,
                custom_fields,
                enabled_payments,
            }),
            _ => Err(errors),
        }
    }

    /// The payment deadline of a transaction started at `chosen_at`.
    pub fn deadline(&self, chosen_at: Timestamp) -> Timestamp {
        match &self.expiry {
            Some(expiry) => expiry.start_time.unwrap_or(chosen_at) + expiry.duration,
            None => chosen_at + Duration::hours(DEFAULT_EXPIRY_HOURS),
        }
    }

    /// Whether the Snap page would offer `payment_type` given `enabled_payments` (all methods
    /// when absent). Channel names map to Core `payment_type`s, including the aliases
    /// `bank_transfer` and `store`.
    pub fn offers(&self, payment_type: &str) -> bool {
        let Some(enabled) = &self.enabled_payments else {
            return true;
        };
        let channels: &[&str] = match payment_type {
            "bank_transfer" => &[
                "bank_transfer",
                "permata_va",
                "bca_va",
                "bni_va",
                "bri_va",
                "cimb_va",
                "other_va",
            ],
            "echannel" => &["echannel", "bank_transfer"],
            "cstore" => &["store", "indomaret", "alfamart"],
            "qris" => &["qris", "other_qris"],
            _ => &[],
        };
        enabled
            .iter()
            .any(|channel| channel == payment_type || channels.contains(&channel.as_str()))
    }
}

/// Success body of Snap create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SnapCreated {
    pub token: String,
    pub redirect_url: String,
}

/// `POST /snap/v1/transactions`.
#[handler]
pub async fn create(sim: Data<&Arc<Simulator>>, headers: &HeaderMap, body: Body) -> Response {
    let raw: Value = match body.into_bytes().await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(raw) => raw,
            Err(_) => return error(StatusCode::BAD_REQUEST, ["request body is not valid JSON"]),
        },
        Err(_) => return error(StatusCode::BAD_REQUEST, ["request body could not be read"]),
    };
    let request = match SnapRequest::parse(&raw) {
        Ok(request) => request,
        Err(messages) => return error(StatusCode::BAD_REQUEST, messages),
    };
    let targets = NotificationTargets::from_headers(headers);
    match sim.create_snap(request, raw, targets) {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(SimError::DuplicateOrderId) => error(StatusCode::BAD_REQUEST, [DUPLICATE_ORDER_ID]),
        Err(other) => error(StatusCode::BAD_REQUEST, [other.to_string()]),
    }
}

/// `POST /snap/v1/transactions/{token}/cancel`: closes a Snap session before its expiry so it
/// can no longer be paid (reference/cancel-a-snap-session). `200 {"canceled_at": ...}`; errors
/// `{"error_messages": [...]}`: "token not found" (404), "token already canceled" and
/// "Transaction is on progress" (a method was chosen: cancel or expire the Core transaction)
/// (both 412: the docs give the messages, not the statuses).
#[handler]
pub async fn cancel(sim: Data<&Arc<Simulator>>, Path(token): Path<String>) -> Response {
    match sim.cancel_snap(&token) {
        Ok(canceled_at) => Json(json!({ "canceled_at": canceled_at })).into_response(),
        Err(SnapCancelError::NotFound) => error(StatusCode::NOT_FOUND, ["token not found"]),
        Err(SnapCancelError::AlreadyCanceled) => {
            error(StatusCode::PRECONDITION_FAILED, ["token already canceled"])
        }
        Err(SnapCancelError::InProgress) => error(
            StatusCode::PRECONDITION_FAILED,
            ["Transaction is on progress"],
        ),
    }
}

/// Why a Snap session could not be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapCancelError {
    NotFound,
    AlreadyCanceled,
    InProgress,
}

/// The Snap 401 answer.
pub fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, [UNAUTHORIZED])
}

/// A Snap error: the HTTP status carries the code, the body lists messages.
fn error<S: Into<String>>(status: StatusCode, messages: impl IntoIterator<Item = S>) -> Response {
    let messages: Vec<String> = messages.into_iter().map(Into::into).collect();
    (status, Json(json!({ "error_messages": messages }))).into_response()
}

/// Reads an integer the way Midtrans does: `150000` or `150000.0`, but not `150000.5` or
/// `"150000"`. Also used for refund amounts.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    if let Some(int) = value.as_i64() {
        return Some(int);
    }
    let float = value.as_f64()?;
    // The range check keeps the cast exact; anything that large is not a real amount anyway.
    (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
}

fn check_order_id(id: &str, errors: &mut Vec<String>) -> bool {
    let mut ok = true;
    if id.chars().count() > MAX_ORDER_ID_LEN {
        errors.push(format!(
            "transaction_details.order_id must be at most {MAX_ORDER_ID_LEN} characters"
        ));
        ok = false;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '.');
    if !id.chars().all(allowed) {
        errors.push(
            "transaction_details.order_id may only contain letters, digits, '-', '_', '~' and '.'"
                .to_owned(),
        );
        ok = false;
    }
    ok
}

/// Validates `item_details`. Returns `None` when absent, `Some(None)` when invalid (so no sum
/// check is made), `Some(Some(sum))` otherwise. The sum is `i128` so no product can overflow.
fn parse_items(items: Option<&Value>, errors: &mut Vec<String>) -> Option<Option<i128>> {
    let items = match items {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push("item_details must be an array".to_owned());
            return Some(None);
        }
    };
    let mut sum = Some(0_i128);
    for (index, item) in items.iter().enumerate() {
        let field = |name: &str| item.get(name).filter(|value| !value.is_null());
        let price = field("price").and_then(integer);
        if price.is_none() {
            errors.push(format!("item_details[{index}].price must be an integer"));
        }
        let quantity = field("quantity").and_then(integer).filter(|q| *q >= 1);
        if quantity.is_none() {
            errors.push(format!(
                "item_details[{index}].quantity must be an integer of at least 1"
            ));
        }
        match field("name").and_then(Value::as_str) {
            None | Some("") => errors.push(format!("item_details[{index}].name is required")),
            Some(name) if name.chars().count() > MAX_ITEM_TEXT_LEN => errors.push(format!(
                "item_details[{index}].name must be at most {MAX_ITEM_TEXT_LEN} characters"
            )),
            Some(_) => {}
        }
        let id_len = match field("id") {
            Some(Value::String(id)) => id.chars().count(),
            Some(other) => other.to_string().len(),
            None => 0,
        };
        if id_len > MAX_ITEM_TEXT_LEN {
            errors.push(format!(
                "item_details[{index}].id must be at most {MAX_ITEM_TEXT_LEN} characters"
            ));
        }
        sum = match (sum, price, quantity) {
            (Some(sum), Some(price), Some(quantity)) => {
                Some(sum + i128::from(price) * i128::from(quantity))
            }
            _ => None,
        };
    }
    Some(sum)
}

fn parse_expiry(expiry: Option<&Value>, errors: &mut Vec<String>) -> Option<Expiry> {
    let expiry = match expiry {
        None | Some(Value::Null) => return None,
        Some(Value::Object(expiry)) => expiry,
        Some(_) => {
            errors.push("expiry must be an object".to_owned());
            return None;
        }
    };
    let unit = expiry
        .get("unit")
        .and_then(Value::as_str)
        .map(|unit| unit.trim().to_ascii_lowercase());
    let minutes_per_unit = match unit.as_deref() {
        Some("minute" | "minutes") => Some(1),
        Some("hour" | "hours") => Some(60),
        Some("day" | "days") => Some(24 * 60),
        _ => {
            errors.push("expiry.unit must be one of minute, hour, day".to_owned());
            None
        }
    };
    let duration = expiry.get("duration").and_then(integer).filter(|d| *d > 0);
    if duration.is_none() {
        errors.push("expiry.duration must be a positive integer".to_owned());
    }
    let start_time = match expiry.get("start_time") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let parsed = value.as_str().and_then(wib::parse_start_time);
            if parsed.is_none() {
                errors.push(
                    "expiry.start_time must look like \"2024-05-01 10:00:00 +0700\"".to_owned(),
                );
            }
            parsed
        }
    };
    let minutes = duration?.checked_mul(minutes_per_unit?)?;
    // Snap accepts an expiry of 5 minutes to 7 days (reference/expire-a-snap-session).
    if !(MIN_EXPIRY_MINUTES..=MAX_EXPIRY_MINUTES).contains(&minutes) {
        errors.push("expiry.duration must be between 5 minutes and 7 days".to_owned());
        return None;
    }
    Some(Expiry {
        start_time,
        duration: Duration::try_minutes(minutes)?,
    })
}

fn parse_finish_url(callbacks: Option<&Value>, errors: &mut Vec<String>) -> Option<String> {
    let finish = callbacks?.get("finish").filter(|value| !value.is_null())?;
    match finish.as_str().map(url::Url::parse) {
        Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => Some(url.to_string()),
        _ => {
            errors.push("callbacks.finish must be an http(s) URL".to_owned());
            None
        }
    }
}

fn optional_text(
    value: Option<&Value>,
    name: &str,
    max_len: usize,
    errors: &mut Vec<String>,
) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= max_len => Some(text.clone()),
        Some(Value::String(_)) => {
            errors.push(format!("{name} must be at most {max_len} characters"));
            None
        }
        Some(_) => {
            errors.push(format!("{name} must be a string"));
            None
        }
    }
}

fn parse_enabled_payments(value: Option<&Value>, errors: &mut Vec<String>) -> Option<Vec<String>> {
    let list = value.filter(|value| !value.is_null())?;
    let names: Option<Vec<String>> = list.as_array().and_then(|items| {
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect()
    });
    if names.is_none() {
        errors.push("enabled_payments must be an array of strings".to_owned());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        json!({
            "transaction_details": { "order_id": "ORD-2024-0001", "gross_amount": 150000 },
            "item_details": [
                { "id": "SKU-1", "price": 60000, "quantity": 2, "name": "T-shirt" },
                { "id": "SHIP",  "price": 40000, "quantity": 1, "name": "Shipping" },
                { "id": "DISC",  "price": -10000, "quantity": 1, "name": "Voucher" }
            ],
            "customer_details": { "first_name": "Budi", "email": "budi@example.com" },
            "expiry": { "start_time": "2024-05-01 10:00:00 +0700", "unit": "hour", "duration": 24 },
            "callbacks": { "finish": "https://shop.example/payment/finish" },
            "custom_field1": "cart-7"
        })
    }

    fn errors_of(body: Value) -> Vec<String> {
        SnapRequest::parse(&body).expect_err("should be rejected")
    }

    #[test]
    fn accepts_the_reference_example() {
        let request = SnapRequest::parse(&valid()).unwrap();
        assert_eq!(request.order_id, "ORD-2024-0001");
        assert_eq!(request.gross_amount, 150_000);
        assert_eq!(
            request.finish_url.as_deref(),
            Some("https://shop.example/payment/finish")
        );
        assert_eq!(request.custom_fields[0].as_deref(), Some("cart-7"));
        let deadline = request.deadline(wib::now());
        assert_eq!(wib::format(&deadline), "2024-05-02 10:00:00");
    }

    #[test]
    fn sum_mismatch_is_refused() {
        let mut body = valid();
        body["transaction_details"]["gross_amount"] = json!(150_001);
        assert_eq!(errors_of(body), [SUM_MISMATCH]);
    }

    #[test]
    fn items_are_optional() {
        let mut body = valid();
        body.as_object_mut().unwrap().remove("item_details");
        assert!(SnapRequest::parse(&body).is_ok());
    }

    #[test]
    fn order_id_rules() {
        let mut body = valid();
        body["transaction_details"]
            .as_object_mut()
            .unwrap()
            .remove("order_id");
        assert_eq!(
            errors_of(body),
            ["transaction_details.order_id is required"]
        );

        for bad in ["has space", "slash/no", &"x".repeat(51), "ümlaut"] {
            let mut body = valid();
            body["transaction_details"]["order_id"] = json!(bad);
            assert_eq!(errors_of(body).len(), 1, "{bad}");
        }
        let mut body = valid();
        body["transaction_details"]["order_id"] = json!("a-Z_0~9.x");
        assert!(SnapRequest::parse(&body).is_ok());
    }

    #[test]
    fn gross_amount_rules() {
        for (bad, reason) in [
            (json!(0), "greater than 0"),
            (json!(-5), "greater than 0"),
            (json!(150000.5), "integer"),
            (json!("150000"), "integer"),
        ] {
            let mut body = valid();
            body["transaction_details"]["gross_amount"] = bad.clone();
            body.as_object_mut().unwrap().remove("item_details");
            let errors = errors_of(body);
            assert!(errors[0].contains(reason), "{bad}: {errors:?}");
        }
        let mut body = valid();
        body["transaction_details"]["gross_amount"] = json!(150000.0);
        assert!(SnapRequest::parse(&body).is_ok());
    }

    #[test]
    fn item_rules_are_all_reported() {
        let mut body = valid();
        body["item_details"] = json!([
            { "price": 1.5, "quantity": 0, "name": "" },
            { "id": "x".repeat(51), "price": 1, "quantity": 1, "name": "y".repeat(51) }
        ]);
        let errors = errors_of(body);
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn expiry_rules() {
        let mut body = valid();
        body["expiry"] = json!({ "unit": "week", "duration": 0, "start_time": "soon" });
        assert_eq!(errors_of(body).len(), 3);

        let mut body = valid();
        body["expiry"] = json!({ "unit": "Minutes", "duration": 30 });
        let request = SnapRequest::parse(&body).unwrap();
        let now = wib::now();
        assert_eq!(request.deadline(now), now + Duration::minutes(30));
    }

    #[test]
    fn default_deadline_is_a_day() {
        let mut body = valid();
        body.as_object_mut().unwrap().remove("expiry");
        let request = SnapRequest::parse(&body).unwrap();
        let now = wib::now();
        assert_eq!(request.deadline(now), now + Duration::hours(24));
    }

    #[test]
    fn enabled_payments_with_aliases() {
        let mut body = valid();
        body["enabled_payments"] = json!(["bca_va", "gopay", "store"]);
        let request = SnapRequest::parse(&body).unwrap();
        assert!(request.offers("bank_transfer"));
        assert!(request.offers("gopay"));
        assert!(request.offers("cstore"));
        assert!(!request.offers("credit_card"));
        assert!(!request.offers("qris"));
    }

    #[test]
    fn non_object_body() {
        assert_eq!(errors_of(json!([1])).len(), 1);
    }
}
