//! `/api/v1/checkout`, `/api/v1/orders` and `/api/v1/shipping-methods`: placing and following
//! one's own orders.

use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};

use super::{
    catalog::default_limit,
    order_dto::{
        CheckoutIn, CheckoutOut, OrderOut, OrderPageOut, PaymentOut, ShippingMethodOut,
        ShippingMethodsOut,
    },
    ApiTags,
};
use crate::{
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    idempotency::IdempotencyKey,
    orders::{checkout::CheckoutInput, OrderId},
};

error_set!(CheckoutErrors: 401, 403, 409, 413, 415, 422);
error_set!(OrderRead: 401, 404);
error_set!(OrderList: 401);
error_set!(OrderCancel: 401, 404, 409);
error_set!(NoErrors: );
error_set!(PaymentRead: 401, 404);
error_set!(PaymentStart: 401, 404, 409);

#[derive(ApiResponse)]
pub enum OrderPlaced {
    /// The order was placed (or, for a repeated Idempotency-Key, had been placed).
    #[oai(status = 201)]
    Created(Json<CheckoutOut>),
}

pub struct OrdersApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// List shipping methods
    ///
    /// The methods the shop offers, with the flat fee charged while no shipping zone is
    /// configured; `GET /api/v1/cart/shipping-options` prices them for a cart and address.
    #[oai(
        path = "/shipping-methods",
        method = "get",
        operation_id = "list_shipping_methods"
    )]
    async fn shipping_methods(
        &self,
        state: poem::web::Data<&AppState>,
    ) -> ApiResult<Json<ShippingMethodsOut>, NoErrors> {
        let currency = &state.catalog.currency;
        Ok(Json(ShippingMethodsOut {
            items: state
                .shipping
                .methods()
                .iter()
                .map(|m| ShippingMethodOut {
                    code: m.code.clone(),
                    name: m.name.clone(),
                    fee: m.fee,
                    currency: currency.clone(),
                })
                .collect(),
        }))
    }

    /// Check out my cart
    ///
    /// Places the cart as an order, reserves its stock and starts the payment. Requires an
    /// `Idempotency-Key`: a retry with the same key and body returns the original response
    /// (also when retries race); the same key with another body is a 422. Lines whose price
    /// changed or that are short are listed in a 409 and nothing is written.
    #[oai(path = "/checkout", method = "post", operation_id = "create_checkout")]
    async fn checkout(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        /// A unique key per checkout attempt (e.g. a UUID), reused for its retries.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<String>,
        body: JsonBody<CheckoutIn>,
    ) -> ApiResult<OrderPlaced, CheckoutErrors> {
        let user_id = auth.principal().user_id;
        let key = IdempotencyKey::new(format!("checkout:{user_id}"), &idempotency_key.0, &body.0)
            .map_err(crate::orders::OrderError::from)?;
        let CheckoutIn {
            shipping_address,
            address_id,
            shipping_method,
            note,
        } = body.0;
        let input = CheckoutInput {
            shipping_address: shipping_address.map(Into::into),
            address_id,
            shipping_method,
            note,
        };
        let receipt = state.orders.checkout(user_id, input, &key).await?;
        Ok(OrderPlaced::Created(Json(receipt.into())))
    }

    /// List my orders
    ///
    /// Newest first.
    #[oai(path = "/orders", method = "get", operation_id = "list_orders")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<OrderId>>,
    ) -> ApiResult<Json<OrderPageOut>, OrderList> {
        let orders = state
            .orders
            .customer_orders(auth.principal().user_id, cursor.0, limit.0)
            .await?;
        Ok(Json(OrderPageOut::new(orders, limit.0)))
    }

    /// Get my order
    #[oai(path = "/orders/:order_id", method = "get", operation_id = "get_order")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<OrderOut>, OrderRead> {
        let order = state
            .orders
            .customer_order(auth.principal().user_id, order_id.0)
            .await?;
        Ok(Json(order.into()))
    }

    /// Cancel my unpaid order
    ///
    /// Only while the order waits for payment; its stock is released.
    #[oai(
        path = "/orders/:order_id/cancel",
        method = "post",
        operation_id = "cancel_order"
    )]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<OrderOut>, OrderCancel> {
        let order = state
            .orders
            .cancel_by_customer(auth.principal().user_id, order_id.0)
            .await?;
        Ok(Json(order.into()))
    }

    /// Get my order's payment
    ///
    /// The Snap token and redirect URL of the order's current payment and its status.
    #[oai(
        path = "/orders/:order_id/payment",
        method = "get",
        operation_id = "get_order_payment"
    )]
    async fn payment(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<PaymentOut>, PaymentRead> {
        let payment = state
            .payments
            .payment_of(auth.principal().user_id, order_id.0)
            .await?;
        Ok(Json(payment.into()))
    }

    /// Start or resume paying my order
    ///
    /// Idempotent: reuses the live Snap session while it is valid, otherwise opens a new one.
    /// Use it when checkout reported the payment `unavailable`. Only unpaid orders (409).
    #[oai(
        path = "/orders/:order_id/payment",
        method = "post",
        operation_id = "create_order_payment"
    )]
    async fn pay(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        /// Replays the first answer of a retried request for 24 hours.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> ApiResult<Json<PaymentOut>, PaymentStart> {
        let user_id = auth.principal().user_id;
        let key = idempotency_key
            .0
            .map(|k| IdempotencyKey::new(format!("payment:{user_id}"), &k, &order_id.0))
            .transpose()
            .map_err(crate::payments::PaymentError::from)?;
        let payment = state
            .payments
            .pay(user_id, order_id.0, key.as_ref())
            .await?;
        Ok(Json(payment.into()))
    }
}
