//! The control API under `/_sim`: not part of Midtrans, it lets tests (and the quick-start's
//! payment page) play the customer, the bank and the dashboard.
//!
//! JSON in and out, no authentication. Action endpoints also accept HTML form posts
//! (`application/x-www-form-urlencoded`) so the Snap page can use plain forms; those get a
//! redirect back to the shop instead of JSON. Errors are `{"error": "..."}` with 400 (bad
//! input), 404 (unknown order_id) or 409 (the state does not allow it; `midtrans_status_code`
//! then says what the Core API would have answered).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{delete, get, handler, post, Body, IntoResponse, Request, Response, Route};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core_api::RefundBody;
use crate::page;
use crate::sim::{Action, OrderView, Payment, SimError, Simulator};
use crate::state::TransactionStatus;

/// Routes mounted at `/_sim`.
pub fn routes() -> Route {
    Route::new()
        .at("/transactions", get(list))
        .at("/transactions/:order_id", get(show))
        .at("/transactions/:order_id/pay", post(pay))
        .at("/transactions/:order_id/settle", post(settle))
        .at("/transactions/:order_id/expire", post(expire))
        .at("/transactions/:order_id/cancel", post(cancel))
        .at("/transactions/:order_id/deny", post(deny))
        .at("/transactions/:order_id/refund", post(refund))
        .at("/transactions/:order_id/notify", post(notify))
        .at("/notifications", get(attempts))
        .at("/requests", get(api_requests))
        .at("/notifications/pause", post(pause))
        .at("/notifications/resume", post(resume))
        .at(
            "/notification-url",
            get(notification_url).put(set_notification_url),
        )
        .at("/reset", delete(reset))
}

type Sim<'a> = Data<&'a Arc<Simulator>>;

#[handler]
fn api_requests(sim: Sim<'_>) -> Json<Vec<crate::requests::ApiRequest>> {
    Json(sim.requests())
}

#[handler]
fn list(sim: Sim<'_>) -> Json<Vec<OrderView>> {
    Json(sim.orders())
}

#[handler]
fn show(sim: Sim<'_>, Path(order_id): Path<String>) -> Response {
    reply(sim.order(&order_id), false)
}

#[handler]
async fn pay(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    match read::<Payment>(req, body).await {
        Ok(input) => reply(sim.pay(&order_id, input.value), input.from_form),
        Err(response) => response,
    }
}

#[handler]
async fn settle(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    transition(&sim, &order_id, req, body, Action::Settle).await
}

#[handler]
async fn expire(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    transition(&sim, &order_id, req, body, Action::Expire).await
}

#[handler]
async fn cancel(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    transition(&sim, &order_id, req, body, Action::Cancel).await
}

#[handler]
async fn deny(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    transition(&sim, &order_id, req, body, Action::DenyByProvider).await
}

/// `{"amount"?, "refund_key"?, "reason"?}`: a refund made from the dashboard.
#[handler]
async fn refund(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    let input = match read::<RefundBody>(req, body).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    match input.value.into_request() {
        Ok(request) => act(&sim, &order_id, input.from_form, Action::Refund(request)),
        Err(error) => error_response(&error),
    }
}

#[derive(Debug, Default, Deserialize)]
struct NotifyBody {
    /// Re-send the latest earlier notification with this status instead of the current one.
    status: Option<TransactionStatus>,
}

/// Re-sends a notification (a duplicate, or with `status` a stale one). Answers with the body sent.
#[handler]
async fn notify(sim: Sim<'_>, Path(order_id): Path<String>, req: &Request, body: Body) -> Response {
    match read::<NotifyBody>(req, body).await {
        Ok(input) => match sim.renotify(&order_id, input.value.status) {
            Ok(record) => Json(record).into_response(),
            Err(error) => error_response(&error),
        },
        Err(response) => response,
    }
}

#[handler]
fn attempts(sim: Sim<'_>) -> Response {
    Json(sim.notifier().attempts()).into_response()
}

#[handler]
fn pause(sim: Sim<'_>) -> Json<Value> {
    sim.notifier().pause();
    Json(json!({ "paused": true }))
}

#[handler]
fn resume(sim: Sim<'_>) -> Json<Value> {
    sim.notifier().resume();
    Json(json!({ "paused": false }))
}

#[derive(Debug, Default, Deserialize)]
struct UrlBody {
    url: Option<String>,
}

#[handler]
fn notification_url(sim: Sim<'_>) -> Json<Value> {
    Json(json!({ "url": sim.notifier().default_url() }))
}

/// `{"url": "http://..."}` or `{"url": null}`: the dashboard's notification URL.
#[handler]
async fn set_notification_url(sim: Sim<'_>, req: &Request, body: Body) -> Response {
    match read::<UrlBody>(req, body).await {
        Ok(input) => {
            let url = input.value.url.filter(|url| !url.trim().is_empty());
            sim.notifier().set_default_url(url.clone());
            Json(json!({ "url": url })).into_response()
        }
        Err(response) => response,
    }
}

#[handler]
fn reset(sim: Sim<'_>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

/// A request body read as JSON or as an HTML form.
struct Input<T> {
    value: T,
    from_form: bool,
}

/// Reads the body as JSON, or as a form when the content type says so. An empty body is the
/// type's default, so `curl -X POST .../settle` works.
async fn read<T: DeserializeOwned + Default>(
    req: &Request,
    body: Body,
) -> Result<Input<T>, Response> {
    let from_form = req
        .content_type()
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    let bytes = body
        .into_bytes()
        .await
        .map_err(|_| error_response(&SimError::Invalid("request body could not be read".into())))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Input {
            value: T::default(),
            from_form,
        });
    }
    let parsed = if from_form {
        let fields = url::form_urlencoded::parse(&bytes)
            .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(fields))
    } else {
        serde_json::from_slice(&bytes)
    };
    parsed
        .map(|value| Input { value, from_form })
        .map_err(|error| {
            error_response(&SimError::Invalid(format!("invalid request body: {error}")))
        })
}

/// A body-less simulator trigger (the body may only say it came from a form).
async fn transition(
    sim: &Simulator,
    order_id: &str,
    req: &Request,
    body: Body,
    action: Action,
) -> Response {
    match read::<Value>(req, body).await {
        Ok(input) => act(sim, order_id, input.from_form, action),
        Err(response) => response,
    }
}

/// Applies `action` to the current transaction of a Snap order and answers with the order.
fn act(sim: &Simulator, order_id: &str, from_form: bool, action: Action) -> Response {
    // Check the order first so an unknown order_id is a 404 rather than "no transaction".
    let result = sim
        .order(order_id)
        .and_then(|_| sim.apply(order_id, action))
        .and_then(|_| sim.order(order_id));
    reply(result, from_form)
}

fn reply(result: Result<OrderView, SimError>, from_form: bool) -> Response {
    match result {
        Ok(view) if from_form => page::after_form(&view),
        Ok(view) => Json(view).into_response(),
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &SimError) -> Response {
    let (status, midtrans_code) = match error {
        SimError::UnknownOrder(_) => (StatusCode::NOT_FOUND, None),
        SimError::Invalid(_) => (StatusCode::BAD_REQUEST, None),
        SimError::Rejected(rejection) => (StatusCode::CONFLICT, Some(rejection.status_code())),
        SimError::NoTransaction => {
            let message =
                "no payment method chosen yet: POST /_sim/transactions/{order_id}/pay first";
            return (StatusCode::CONFLICT, Json(json!({ "error": message }))).into_response();
        }
        SimError::DuplicateOrderId | SimError::Conflict(_) => (StatusCode::CONFLICT, None),
    };
    let mut body = json!({ "error": error.to_string() });
    if let Some(code) = midtrans_code {
        body["midtrans_status_code"] = json!(code.to_string());
    }
    (status, Json(body)).into_response()
}
