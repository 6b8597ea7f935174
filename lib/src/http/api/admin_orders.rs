//! `/api/v1/admin/orders`: order management (role admin).

use chrono::{DateTime, Utc};
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    OpenApi,
};
use uuid::Uuid;

use super::{
    catalog::default_limit,
    order_dto::{
        refund_lines, ExceptionStateDto, ManualRefundIn, OrderDetailOut, OrderOut, OrderPageOut,
        OrderStatusDto, PaymentExceptionListOut, PaymentExceptionOut, RefundIn, ResolveExceptionIn,
        TransitionIn,
    },
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    idempotency::IdempotencyKey,
    orders::{lifecycle::Transition, Actor, OrderFilter, OrderId, OrderStatus},
    payments::refunds::{ManualRefund, RefundRequest},
    validation::ValidationErrors,
};

error_set!(AdminOrderRead: 401, 403, 404);
error_set!(AdminOrderList: 401, 403);
error_set!(AdminOrderWrite: 401, 403, 404, 409, 413, 415, 422, 502);
error_set!(AdminPaymentCancel: 401, 403, 404, 409, 502);
error_set!(AdminManualRefund: 401, 403, 404, 409, 413, 415, 422);
error_set!(AdminExceptionResolve: 401, 403, 404, 409, 413, 415, 422);

pub struct AdminOrdersApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminOrdersApi {
    /// List orders
    ///
    /// Newest first; filter by status, customer email and creation time (`created_from`
    /// inclusive, `created_to` exclusive).
    #[oai(path = "/orders", method = "get", operation_id = "list_admin_orders")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        status: Query<Option<OrderStatusDto>>,
        #[oai(validator(max_length = 254))] customer_email: Query<Option<String>>,
        created_from: Query<Option<DateTime<Utc>>>,
        created_to: Query<Option<DateTime<Utc>>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        cursor: Query<Option<OrderId>>,
    ) -> ApiResult<Json<OrderPageOut>, AdminOrderList> {
        auth.require(Permission::OrdersRead)?;
        let filter = OrderFilter {
            status: status.0.map(Into::into),
            customer_email: customer_email.0,
            created_from: created_from.0,
            created_to: created_to.0,
        };
        let orders = state
            .orders
            .admin_orders(&filter, cursor.0, limit.0)
            .await?;
        Ok(Json(OrderPageOut::new(orders, limit.0)))
    }

    /// Get an order with its history
    #[oai(
        path = "/orders/:order_id",
        method = "get",
        operation_id = "get_admin_order"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<OrderDetailOut>, AdminOrderRead> {
        auth.require(Permission::OrdersRead)?;
        let (order, history) = state.orders.admin_order(order_id.0).await?;
        Ok(Json(OrderDetailOut {
            order: order.into(),
            history: history.into_iter().map(Into::into).collect(),
        }))
    }

    /// Move an order to another status
    ///
    /// Any transition the state machine does not allow is a 409. `shipped` ships every unit
    /// left in one shipment by the order's shipping method and needs a `tracking_number`
    /// (ship in parts with `POST /api/v1/admin/orders/{id}/shipments`); `delivered` marks
    /// every shipment delivered. Cancelling a paid order refunds it in full through Midtrans and
    /// restocks; cancelling an unpaid one voids its Midtrans transaction. Partial and full
    /// refunds go through `POST /api/v1/admin/orders/{id}/refund`.
    #[oai(
        path = "/orders/:order_id/transitions",
        method = "post",
        operation_id = "create_order_transition"
    )]
    async fn transition(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        /// Makes a retried cancellation of a paid order the same refund.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<TransitionIn>,
    ) -> ApiResult<Json<OrderOut>, AdminOrderWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let TransitionIn {
            to,
            reason,
            tracking_number,
        } = body.0;
        let to: OrderStatus = to.into();
        if matches!(to, OrderStatus::Refunded | OrderStatus::PartiallyRefunded) {
            return Err(ValidationErrors::single(
                "to",
                "refunds go through POST /api/v1/admin/orders/{id}/refund",
            )
            .into());
        }
        if to == OrderStatus::Cancelled && state.payments.is_configured() {
            let seed = idempotency_key
                .0
                .unwrap_or_else(|| Uuid::new_v4().to_string());
            let reason = reason.unwrap_or_else(|| "cancelled by the shop".into());
            let order = state
                .payments
                .cancel_order(
                    order_id.0,
                    reason,
                    Actor::Admin(admin.user_id),
                    seed,
                    state.auth.refund_limit(admin.role),
                )
                .await?;
            return Ok(Json(order.into()));
        }
        let actor = Actor::Admin(admin.user_id);
        match to {
            OrderStatus::PartiallyShipped => {
                return Err(ValidationErrors::single(
                    "to",
                    "ship some units with POST /api/v1/admin/orders/{id}/shipments",
                )
                .into())
            }
            OrderStatus::Shipped => {
                let order = state
                    .fulfilment
                    .ship_rest(order_id.0, tracking_number, reason, actor)
                    .await?;
                return Ok(Json(order.into()));
            }
            OrderStatus::Delivered => {
                let order = state.fulfilment.deliver_all(order_id.0, actor).await?;
                return Ok(Json(order.into()));
            }
            _ => {}
        }
        let transition = Transition {
            to,
            actor,
            reason: reason.unwrap_or_default(),
            tracking_number,
            refunded_total: None,
        };
        let order = state.orders.transition(order_id.0, transition).await?;
        Ok(Json(order.into()))
    }

    /// Refund an order
    ///
    /// Full (no `amount`) or partial, through Midtrans with a stable refund key: retrying with
    /// the same `Idempotency-Key` repeats the same refund, never a second one. Moves the order
    /// to `partially_refunded` or `refunded`. Midtrans refunds only `credit_card`, `gopay`,
    /// `shopeepay`, `dana`, `ovo`, `qris`, `kredivo` and `akulaku` payments, and ShopeePay and
    /// OVO only in full: anything else is a 409 (`refund_method_unsupported`,
    /// `partial_refund_unsupported`) naming the method; refund outside Midtrans and record it
    /// with `POST /api/v1/admin/orders/{id}/manual-refunds`.
    #[oai(
        path = "/orders/:order_id/refund",
        method = "post",
        operation_id = "create_order_refund"
    )]
    async fn refund(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: JsonBody<RefundIn>,
    ) -> ApiResult<Json<OrderOut>, AdminOrderWrite> {
        let admin = auth.require(Permission::Refunds)?;
        let key = idempotency_key
            .0
            .as_deref()
            .map(|k| IdempotencyKey::new(format!("refund:{}", order_id.0), k, &body.0))
            .transpose()
            .map_err(crate::payments::PaymentError::from)?;
        let request = RefundRequest {
            amount: body.0.amount,
            lines: refund_lines(body.0.lines),
            reason: body.0.reason,
            // The key also makes Midtrans' refund_key stable across retries.
            idempotency_seed: idempotency_key
                .0
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            actor: Actor::Admin(admin.user_id),
            cancels_units: false,
            limit: state.auth.refund_limit(admin.role),
        };
        let order = state
            .payments
            .refund(order_id.0, request, key.as_ref())
            .await?;
        Ok(Json(order.into()))
    }

    /// Record a refund made outside Midtrans
    ///
    /// For payments Midtrans cannot refund (virtual accounts, Mandiri bill, store payments) or
    /// partial refunds it refuses: staff give the money back themselves and record the amount,
    /// method, reference and a note. The order, its refunded amount, history (naming the staff
    /// member and the note), events and emails move exactly as for a refund through Midtrans.
    /// With `cancel_order: true` (and the whole unrefunded amount) the order is also cancelled
    /// and restocked: how a paid order Midtrans cannot refund is cancelled. Retrying with the
    /// same `Idempotency-Key` records it once.
    #[oai(
        path = "/orders/:order_id/manual-refunds",
        method = "post",
        operation_id = "create_order_manual_refund"
    )]
    async fn manual_refund(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: JsonBody<ManualRefundIn>,
    ) -> ApiResult<Json<OrderOut>, AdminManualRefund> {
        let admin = auth.require(Permission::Refunds)?;
        let key = idempotency_key
            .0
            .as_deref()
            .map(|k| IdempotencyKey::new(format!("manual-refund:{}", order_id.0), k, &body.0))
            .transpose()
            .map_err(crate::payments::PaymentError::from)?;
        let ManualRefundIn {
            amount,
            lines,
            method,
            reference,
            note,
            cancel_order,
        } = body.0;
        let refund = ManualRefund {
            amount,
            lines: refund_lines(lines),
            method,
            reference,
            note,
            idempotency_seed: idempotency_key
                .0
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            staff: admin.user_id,
            limit: state.auth.refund_limit(admin.role),
            cancels_order: cancel_order.unwrap_or(false),
            cancels_units: false,
        };
        let order = state
            .payments
            .record_manual_refund(order_id.0, refund, key.as_ref())
            .await?;
        Ok(Json(order.into()))
    }

    /// List payment exceptions
    ///
    /// Payments that need a person, newest first: late payments (paid after the order was
    /// cancelled or expired, with what was done about them), settlements the bank reversed,
    /// amounts that do not match the order, refunds that need a manual step. Each says what
    /// resolves it. Staff are emailed when one appears.
    #[oai(
        path = "/payment-exceptions",
        method = "get",
        operation_id = "list_payment_exceptions"
    )]
    async fn exceptions(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        /// `open` or `resolved`; both when absent.
        #[oai(name = "state")]
        exception_state: Query<Option<ExceptionStateDto>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
    ) -> ApiResult<Json<PaymentExceptionListOut>, AdminOrderList> {
        auth.require(Permission::OrdersRead)?;
        let items = state
            .payments
            .exceptions(exception_state.0.map(ExceptionStateDto::as_str), limit.0)
            .await?;
        Ok(Json(PaymentExceptionListOut {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Resolve a payment exception
    ///
    /// Records what a staff member did about it; a resolved exception is a 409.
    #[oai(
        path = "/payment-exceptions/:exception_id/resolve",
        method = "post",
        operation_id = "resolve_payment_exception"
    )]
    async fn resolve_exception(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        exception_id: Path<Uuid>,
        body: JsonBody<ResolveExceptionIn>,
    ) -> ApiResult<Json<PaymentExceptionOut>, AdminExceptionResolve> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let resolved = state
            .payments
            .resolve_exception(exception_id.0, admin.user_id, &body.0.resolution)
            .await?;
        Ok(Json(resolved.into()))
    }

    /// Cancel an unpaid order's payment
    ///
    /// Voids the Midtrans transaction (when the customer already picked a method) and cancels
    /// the order, releasing its stock.
    #[oai(
        path = "/orders/:order_id/cancel-payment",
        method = "post",
        operation_id = "cancel_order_payment"
    )]
    async fn cancel_payment(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<OrderOut>, AdminPaymentCancel> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let order = state
            .payments
            .cancel_payment(order_id.0, Actor::Admin(admin.user_id))
            .await?;
        Ok(Json(order.into()))
    }
}
