//! The one place where domain errors become HTTP problems.
//!
//! Each module's error type maps to a [`Problem`] here; unexpected failures are logged with
//! their cause and answered with an opaque 500.

use poem::http::StatusCode;

use super::problem::Problem;
use crate::auth::AuthError;

/// Implements `From<E> for ApiError<S>` for every error set, through `From<E> for Problem`.
macro_rules! into_api_error {
    ($($error:ty),* $(,)?) => {
        $(impl<S: super::problem::ErrorSet> From<$error> for super::problem::ApiError<S> {
            fn from(error: $error) -> Self {
                Problem::from(error).into()
            }
        })*
    };
}

into_api_error!(AuthError, crate::validation::ValidationErrors);

/// Logs an unexpected error once, where it is turned into a response, and hides it. A lost
/// database connection is not unexpected in the same way: it is a 503 with `Retry-After`
/// (the client may simply try again once PostgreSQL is back).
pub fn internal(error: &(dyn std::error::Error + 'static)) -> Problem {
    let chain = crate::telemetry::error_chain(error);
    let database_unreachable =
        std::iter::successors(Some(error), |e| e.source()).any(is_database_unreachable);
    if database_unreachable {
        tracing::warn!(error = %chain, "database unreachable");
        let mut problem = Problem::unavailable(
            "database_unavailable",
            "the database is unreachable; retry shortly",
        );
        problem.retry_after = Some(DATABASE_RETRY_AFTER_SECONDS);
        return problem;
    }
    tracing::error!(error = %chain, "unexpected error");
    Problem::internal()
}

/// A restart of PostgreSQL takes seconds.
const DATABASE_RETRY_AFTER_SECONDS: u64 = 5;

/// Failures of the connection rather than of the statement: I/O, TLS, the pool having no
/// connection to give, and the server's "connection exception", "too many connections" and
/// shutdown codes.
fn is_database_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    let Some(error) = error.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl From<crate::validation::ValidationErrors> for Problem {
    fn from(errors: crate::validation::ValidationErrors) -> Self {
        Problem::validation(errors)
    }
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Validation(errors) => Problem::validation(errors),
            AuthError::EmailTaken => Problem::conflict("email_taken", error.to_string()),
            AuthError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                error.to_string(),
            ),
            AuthError::WrongCurrentPassword => {
                let mut p = Problem::validation(crate::validation::ValidationErrors::single(
                    "current_password",
                    "is not your current password",
                ));
                p.code = "wrong_current_password".into();
                p.problem_type = "/problems/wrong_current_password".into();
                p
            }
            AuthError::TooManyAttempts { retry_after } => {
                Problem::too_many_requests("too_many_login_attempts", retry_after)
            }
            AuthError::InvalidRefreshToken => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                error.to_string(),
            ),
            AuthError::UserNotFound => Problem::not_found("user not found"),
            AuthError::AccountDisabled => {
                Problem::new(StatusCode::FORBIDDEN, "account_disabled", error.to_string())
            }
            AuthError::CannotDisableSelf => {
                Problem::conflict("cannot_disable_self", error.to_string())
            }
            AuthError::CannotChangeOwnRole => {
                Problem::conflict("cannot_change_own_role", error.to_string())
            }
            AuthError::NotStaff => Problem::conflict("not_staff", error.to_string()),
            AuthError::StaffOnlyByOwner => Problem::forbidden(error.to_string()),
            AuthError::InviteNotFound => Problem::not_found(error.to_string()),
            AuthError::EmailAlreadyVerified => {
                Problem::conflict("email_already_verified", error.to_string())
            }
            AuthError::Database(ref e) => internal(e),
            AuthError::Hashing(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::catalog::CatalogError);

impl From<crate::catalog::CatalogError> for Problem {
    fn from(error: crate::catalog::CatalogError) -> Self {
        use crate::catalog::CatalogError as E;
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound(_) => Problem::not_found(error.to_string()),
            E::SlugTaken(_) => Problem::conflict("slug_taken", error.to_string()),
            E::SkuTaken(_) => Problem::conflict("sku_taken", error.to_string()),
            E::CategoryInUse(_) => Problem::conflict("category_in_use", error.to_string()),
            E::OrderedProduct => Problem::conflict("product_has_orders", error.to_string()),
            E::LastVariant => Problem::conflict("last_variant", error.to_string()),
            E::BelowReserved { .. } => Problem::conflict("below_reserved", error.to_string()),
            E::InvalidCursor => {
                invalid_parameter("cursor", "is not a cursor of this listing and sort")
            }
            E::Idempotency(e) => idempotency_problem(e),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::search::SearchError);

impl From<crate::search::SearchError> for Problem {
    fn from(error: crate::search::SearchError) -> Self {
        use crate::search::SearchError as E;
        match error {
            E::InvalidParameter { name, ref message } => invalid_parameter(name, message),
            // The engine is down or overloaded: worth a retry, and worth a log line.
            ref e if e.is_unavailable() => {
                let mut chain = e.to_string();
                if let Some(source) = std::error::Error::source(e) {
                    chain = format!("{chain}: {source}");
                }
                tracing::warn!(error = %chain, "search unavailable");
                Problem::unavailable("service_unavailable", "search is temporarily unavailable")
            }
            ref e => internal(e),
        }
    }
}

/// A 400 naming a bad query parameter (the shape of poem-openapi's own parameter errors).
pub fn invalid_parameter(name: &str, message: &str) -> Problem {
    let mut problem =
        Problem::validation(crate::validation::ValidationErrors::single(name, message));
    problem.status = 400;
    problem.title = "Bad Request".into();
    problem.code = "invalid_parameter".into();
    problem.problem_type = "/problems/invalid_parameter".into();
    problem
}

into_api_error!(crate::cart::CartError, crate::orders::OrderError);

impl From<crate::cart::CartError> for Problem {
    fn from(error: crate::cart::CartError) -> Self {
        use crate::cart::CartError as E;
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::CartNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "cart_not_found",
                "no open cart for this token",
            ),
            E::ItemNotFound => Problem::not_found(error.to_string()),
            E::VariantUnavailable => Problem::conflict("variant_unavailable", error.to_string()),
            E::InsufficientStock { available } => {
                let mut p = Problem::conflict("insufficient_stock", error.to_string());
                p.available_quantity = Some(i64::from(available));
                p
            }
            E::TooManyLines(_) => Problem::conflict("cart_full", error.to_string()),
            E::UnknownCode => {
                let mut p = Problem::validation(crate::validation::ValidationErrors::single(
                    "code",
                    error.to_string(),
                ));
                p.code = "promotion_code_unknown".into();
                p.problem_type = "/problems/promotion_code_unknown".into();
                p
            }
            E::CodeNotInCart => Problem::not_found(error.to_string()),
            E::Database(ref e) => internal(e),
        }
    }
}

fn line_problems(lines: Vec<crate::orders::LineProblem>) -> Vec<super::problem::ProblemLine> {
    lines
        .into_iter()
        .map(|l| super::problem::ProblemLine {
            variant_id: l.variant_id.into(),
            sku: l.sku.into(),
            requested_quantity: i64::from(l.requested),
            available_quantity: i64::from(l.available),
            previous_unit_price: l.previous_unit_price,
            unit_price: l.unit_price,
            reason: l.issue.as_str().to_owned(),
        })
        .collect()
}

impl From<crate::orders::OrderError> for Problem {
    fn from(error: crate::orders::OrderError) -> Self {
        use crate::orders::OrderError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound => Problem::not_found(detail),
            E::CartEmpty => Problem::conflict("cart_empty", detail),
            E::EmailNotVerified => {
                Problem::new(StatusCode::FORBIDDEN, "email_not_verified", detail)
            }
            E::CartChanged(lines) => {
                let mut p = Problem::conflict("cart_changed", detail);
                p.lines = Some(line_problems(lines));
                p
            }
            E::InsufficientStock(lines) => {
                let mut p = Problem::conflict("insufficient_stock", detail);
                p.lines = Some(line_problems(lines));
                p
            }
            E::DiscountChanged { previous, current } => {
                let mut p = Problem::conflict("cart_changed", detail);
                p.previous_discount_total = Some(previous);
                p.discount_total = Some(current);
                p
            }
            E::IllegalTransition { .. } => Problem::conflict("illegal_transition", detail),
            E::Idempotency(e) => idempotency_problem(e),
            E::Shipping(e) => e.into(),
            E::ParcelChanged => Problem::conflict("cart_changed", detail),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::accounts::AccountError);

impl From<crate::accounts::AccountError> for Problem {
    fn from(error: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        let detail = error.to_string();
        match error {
            E::Auth(e) => e.into(),
            E::OrdersOpen(_) | E::ReturnsOpen(_) => {
                Problem::conflict("account_has_open_orders", detail)
            }
            E::StaffAccount => Problem::conflict("staff_account", detail),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::addresses::AddressError);

impl From<crate::addresses::AddressError> for Problem {
    fn from(error: crate::addresses::AddressError) -> Self {
        use crate::addresses::AddressError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound => Problem::not_found(detail),
            E::BookFull => Problem::conflict("address_book_full", detail),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::shipping::ShippingError);

impl From<crate::shipping::ShippingError> for Problem {
    fn from(error: crate::shipping::ShippingError) -> Self {
        use crate::shipping::ShippingError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::ZoneNotFound => Problem::not_found(detail),
            E::Cart(e) => e.into(),
            E::RatesUnavailable => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shipping_rates_unavailable",
                    detail,
                );
                p.retry_after = Some(5);
                p
            }
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::payments::PaymentError);

impl From<crate::payments::PaymentError> for Problem {
    fn from(error: crate::payments::PaymentError) -> Self {
        use crate::payments::PaymentError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::OrderNotFound => Problem::not_found(detail),
            E::NoPayment => Problem::new(StatusCode::NOT_FOUND, "no_payment", detail),
            E::NotPayable(_) => Problem::conflict("order_not_payable", detail),
            E::NotRefundable(_) => Problem::conflict("order_not_refundable", detail),
            E::OverRefundLimit { .. } => {
                Problem::new(StatusCode::FORBIDDEN, "refund_limit_exceeded", detail)
            }
            E::GatewayRefundUnsupported { .. } => {
                Problem::conflict("refund_method_unsupported", detail)
            }
            E::PartialRefundUnsupported { .. } => {
                Problem::conflict("partial_refund_unsupported", detail)
            }
            E::RefundInProgress => Problem::conflict("refund_in_progress", detail),
            E::ExceptionNotFound => Problem::not_found(detail),
            E::ExceptionResolved => Problem::conflict("payment_exception_resolved", detail),
            E::NotConfigured => Problem::unavailable("payments_not_configured", detail),
            E::InvalidSignature => {
                Problem::new(StatusCode::UNAUTHORIZED, "invalid_signature", detail)
            }
            E::MalformedNotification(_) => Problem::bad_request("malformed_notification", detail),
            E::UnknownOrder => Problem::new(StatusCode::NOT_FOUND, "unknown_order", detail),
            E::Provider(_) => {
                Problem::new(StatusCode::BAD_GATEWAY, "payment_provider_error", detail)
            }
            E::ProviderUnavailable => {
                let mut p = Problem::unavailable("payment_provider_unavailable", detail);
                p.retry_after = Some(5);
                p
            }
            E::Order(e) => Problem::from(e),
            E::Fulfilment(e) => Problem::from(e),
            E::Idempotency(e) => idempotency_problem(e),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::fulfilment::FulfilmentError);

impl From<crate::fulfilment::FulfilmentError> for Problem {
    fn from(error: crate::fulfilment::FulfilmentError) -> Self {
        use crate::fulfilment::FulfilmentError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::Order(e) => Problem::from(e),
            E::ShipmentNotFound => Problem::not_found(detail),
            E::NotFulfillable(_) => Problem::conflict("order_not_fulfillable", detail),
            E::Database(ref e) => internal(e),
        }
    }
}

/// The problems of idempotency keys, whichever operation they guard.
fn idempotency_problem(error: crate::idempotency::IdempotencyError) -> Problem {
    use crate::idempotency::IdempotencyError as I;
    let detail = error.to_string();
    match error {
        I::InvalidKey => Problem::bad_request("invalid_idempotency_key", detail),
        I::KeyReused => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            detail,
        ),
        I::StillInProgress => {
            let mut p = Problem::conflict("idempotency_key_in_progress", detail);
            p.retry_after = Some(1);
            p
        }
        I::UnreadableResult(ref e) => internal(e),
        I::Database(ref e) => internal(e),
    }
}

/// The header a retry-safe write needs, when it is missing (or not printable ASCII).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// A write that requires an `Idempotency-Key` was sent without one: say so, and why.
pub fn idempotency_key_required() -> Problem {
    let mut problem = invalid_parameter(IDEMPOTENCY_KEY_HEADER, "is required");
    problem.code = "idempotency_key_required".into();
    problem.problem_type = "/problems/idempotency_key_required".into();
    problem.detail =
        "the Idempotency-Key header is required: this operation must not happen twice, \
        so send a unique key per attempt (e.g. a UUID) and the same key with each retry; a retry \
        then returns the first result instead of repeating the operation"
            .into();
    problem
}

into_api_error!(crate::webhooks::WebhookError);

impl From<crate::webhooks::WebhookError> for Problem {
    fn from(error: crate::webhooks::WebhookError) -> Self {
        use crate::webhooks::WebhookError as E;
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound(_) => Problem::not_found(error.to_string()),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::promotions::PromotionError);

impl From<crate::promotions::PromotionError> for Problem {
    fn from(error: crate::promotions::PromotionError) -> Self {
        use crate::promotions::PromotionError as E;
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound => Problem::not_found(error.to_string()),
            E::DuplicateCode => Problem::conflict("promotion_code_taken", error.to_string()),
            E::InUse => Problem::conflict("promotion_in_use", error.to_string()),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::returns::ReturnError);

impl From<crate::returns::ReturnError> for Problem {
    fn from(error: crate::returns::ReturnError) -> Self {
        use crate::returns::ReturnError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound => Problem::not_found(detail),
            E::OrderNotReturnable(_) => Problem::conflict("order_not_returnable", detail),
            E::WindowClosed { .. } => Problem::conflict("return_window_closed", detail),
            E::WrongStatus { .. } => Problem::conflict("return_status_conflict", detail),
            E::Order(e) => Problem::from(e),
            E::Payment(e) => Problem::from(e),
            E::Database(ref e) => internal(e),
        }
    }
}

into_api_error!(crate::tax::TaxError);

impl From<crate::tax::TaxError> for Problem {
    fn from(error: crate::tax::TaxError) -> Self {
        use crate::tax::TaxError as E;
        let detail = error.to_string();
        match error {
            E::Validation(errors) => Problem::validation(errors),
            E::NotFound(_) => Problem::not_found(detail),
            E::DuplicateCode => Problem::conflict("tax_class_taken", detail),
            E::InUse => Problem::conflict("tax_class_in_use", detail),
            E::StandardIsASetting => Problem::conflict("tax_rate_is_a_setting", detail),
            E::Database(ref e) => internal(e),
        }
    }
}
