//! RFC 9457 problem details: the one error shape of the API and of the workers' health server.
//!
//! Stable `code`s are listed in docs/ERRORS.md. A problem answered inside a request carries
//! that request's id.

use std::time::Duration;

use poem::{http::StatusCode, IntoResponse, Response};
use poem_openapi::{types::ToJSON, Object};

use crate::validation::ValidationErrors;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Object)]
pub struct ProblemField {
    /// Dotted path of the field, e.g. `shipping_address.postal_code`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A cart or order line that blocked an operation (price changed, not enough stock).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProblemLine {
    pub variant_id: uuid::Uuid,
    pub sku: String,
    pub requested_quantity: i64,
    pub available_quantity: i64,
    /// The unit price the client saw, when it changed.
    pub previous_unit_price: Option<i64>,
    /// The current unit price.
    pub unit_price: i64,
    /// `insufficient_stock`, `price_changed` or `unavailable`.
    pub reason: String,
}

/// An error response (RFC 9457 problem details plus a stable `code`).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/{code}`.
    #[oai(rename = "type")]
    pub problem_type: String,
    /// A short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// A stable, machine-readable error code (see docs/ERRORS.md).
    pub code: String,
    /// The request id (also in the `X-Request-Id` header), for support and log search.
    pub request_id: Option<String>,
    /// For validation problems: every invalid field.
    pub errors: Option<Vec<ProblemField>>,
    /// For stock conflicts: how many units are available.
    pub available_quantity: Option<i64>,
    /// For checkout conflicts: the lines that changed or are short.
    pub lines: Option<Vec<ProblemLine>>,
    /// Seconds until a retry may succeed (also sent as `Retry-After`).
    pub retry_after: Option<u64>,
    /// For a changed cart discount: the discount the client saw.
    pub previous_discount_total: Option<i64>,
    /// For a changed cart discount: the discount now.
    pub discount_total: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            request_id: None,
            errors: None,
            available_quantity: None,
            lines: None,
            retry_after: None,
            previous_discount_total: None,
            discount_total: None,
        }
    }

    pub fn validation(errors: ValidationErrors) -> Self {
        let detail = if errors.0.len() == 1 {
            format!("{}: {}", errors.0[0].field, errors.0[0].message)
        } else {
            format!("{} fields are invalid", errors.0.len())
        };
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        p.errors = Some(
            errors
                .0
                .into_iter()
                .map(|e| ProblemField {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        );
        p
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn too_many_requests(code: &str, retry_after: Duration) -> Self {
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            format!("too many requests; retry in {seconds} s"),
        );
        p.retry_after = Some(seconds);
        p
    }
    /// An internal failure: the body says nothing about the cause (it is logged instead).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; it has been logged",
        )
    }
    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if self.request_id.is_none() {
            self.request_id = super::current_request_id();
        }
        let status = self.status_code();
        let mut builder = Response::builder()
            .status(status)
            .content_type(PROBLEM_CONTENT_TYPE)
            .header("cache-control", "no-store");
        if status == StatusCode::UNAUTHORIZED {
            builder = builder.header("www-authenticate", "Bearer");
        }
        if let Some(seconds) = self.retry_after {
            builder = builder.header("retry-after", seconds.to_string());
        }
        builder.body(self.to_json_string())
    }
}
