//! Core API transaction endpoints under `/v2` (midtrans.md §4): status, cancel, expire, refund,
//! approve, deny.
//!
//! HTTP status versus body `status_code`: Midtrans' own docs are unsure whether business errors
//! come back as HTTP 200 or with a matching status, and tell clients to decide on the body. The
//! simulator answers every error with the HTTP status equal to the body's `status_code`
//! (400/401/404/406/412/414), and the one "error-looking" success, `407` from `/expire`, with
//! HTTP 200 because it is the documented normal answer. A client that reads only the HTTP status
//! therefore handles expiry wrongly here, as it would against Midtrans.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{get, handler, post, Body, IntoResponse, Response, Route};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::record::StatusRecord;
use crate::sim::{Action, SimError, Simulator};
use crate::state::{RefundRequest, Rejection};

/// Message of the Core API 401 body.
pub const UNAUTHORIZED: &str =
    "Access denied due to unauthorized transaction, please check client or server key";
/// Message of the 404 body (midtrans-php issues #61 and #94).
pub const NOT_FOUND: &str = "Transaction doesn't exist.";

/// The Core API error body: `{"status_code": "412", "status_message": "...", "id"?: "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreError {
    pub status_code: String,
    pub status_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Routes mounted at `/v2` (behind the server-key check).
pub fn routes() -> Route {
    Route::new()
        .at("/:id/status", get(status))
        .at("/:id/status/b2b", get(status_b2b))
        .at("/:id/cancel", post(cancel))
        .at("/:id/expire", post(expire))
        .at("/:id/approve", post(approve))
        .at("/:id/deny", post(deny))
        .at("/:id/refund", post(refund))
        // Legacy direct refund; `/refund` now covers every case (midtrans.md §4).
        .at("/:id/refund/online/direct", post(refund))
}

#[handler]
async fn status(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    respond(sim.status(&id))
}

/// `GET /v2/{id}/status/b2b`: `{status_code, status_message, id, transactions: [...]}`.
#[handler]
async fn status_b2b(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    match sim.status_b2b(&id) {
        Ok(transactions) => Json(serde_json::json!({
            "status_code": "200",
            "status_message": "Success, transaction is found",
            "id": id,
            "transactions": transactions,
        }))
        .into_response(),
        Err(error) => error_of(&error),
    }
}

#[handler]
async fn cancel(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    respond(sim.apply(&id, Action::Cancel))
}

#[handler]
async fn expire(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    respond(sim.apply(&id, Action::Expire))
}

#[handler]
async fn approve(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    respond(sim.apply(&id, Action::Approve))
}

#[handler]
async fn deny(sim: Data<&Arc<Simulator>>, Path(id): Path<String>) -> Response {
    respond(sim.apply(&id, Action::DenyChallenge))
}

#[handler]
async fn refund(sim: Data<&Arc<Simulator>>, Path(id): Path<String>, body: Body) -> Response {
    let request = match body.into_bytes().await {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(RefundRequest::default()),
        Ok(bytes) => serde_json::from_slice::<RefundBody>(&bytes)
            .map_err(|_| SimError::Invalid("request body is not a valid refund object".into()))
            .and_then(RefundBody::into_request),
        Err(_) => Err(SimError::Invalid("request body could not be read".into())),
    };
    respond(request.and_then(|request| sim.apply(&id, Action::Refund(request))))
}

/// The refund body as sent on the wire: `{"refund_key"?, "amount"?, "reason"?}`. Shared with the
/// control API's refund trigger.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RefundBody {
    refund_key: Option<String>,
    amount: Option<Value>,
    reason: Option<String>,
}

impl RefundBody {
    /// Validates the key (letters, digits, `-`, `_`) and the amount (an integer, else 414).
    pub(crate) fn into_request(self) -> Result<RefundRequest, SimError> {
        if let Some(key) = &self.refund_key {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
            if key.is_empty() || !key.chars().all(allowed) {
                return Err(SimError::Invalid(
                    "refund_key may only contain letters, digits, '-' and '_'".into(),
                ));
            }
        }
        let amount = match self.amount {
            None | Some(Value::Null) => None,
            Some(value) => {
                Some(crate::snap::integer(&value).ok_or(Rejection::InvalidRefundAmount)?)
            }
        };
        Ok(RefundRequest {
            refund_key: self.refund_key,
            amount,
            reason: self.reason,
        })
    }
}

/// The Core API 401 answer.
pub fn unauthorized() -> Response {
    error_response(401, UNAUTHORIZED, None)
}

fn respond(result: Result<StatusRecord, SimError>) -> Response {
    match result {
        Ok(record) => Json(record).into_response(),
        Err(error) => error_of(&error),
    }
}

fn error_of(error: &SimError) -> Response {
    match error {
        SimError::NoTransaction | SimError::UnknownOrder(_) => {
            error_response(404, NOT_FOUND, Some(Uuid::new_v4().to_string()))
        }
        SimError::Rejected(rejection) => {
            error_response(rejection.status_code(), &rejection.to_string(), None)
        }
        SimError::Invalid(message) => error_response(400, message, None),
        // Not produced by Core API actions; answer like any state conflict.
        SimError::DuplicateOrderId | SimError::Conflict(_) => {
            let rejection = Rejection::NotModifiable;
            error_response(rejection.status_code(), &rejection.to_string(), None)
        }
    }
}

fn error_response(code: u16, message: &str, id: Option<String>) -> Response {
    let body = CoreError {
        status_code: code.to_string(),
        status_message: message.to_owned(),
        id,
    };
    let http_status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (http_status, Json(body)).into_response()
}
