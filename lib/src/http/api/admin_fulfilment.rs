//! `/api/v1/admin/orders/{id}/shipments` and `/cancel-units`: shipping orders in parts and
//! cancelling what will not ship (role admin).

use poem_openapi::{
    param::{Header, Path},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    fulfilment_dto::{
        CancelUnitsIn, ShipmentIn, ShipmentListOut, ShipmentOut, ShipmentWithOrderOut,
    },
    order_dto::OrderOut,
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    orders::{Actor, OrderId},
    payments::refunds::{LineRefund, MadeOutside, UnitsRefund},
};

error_set!(ShipmentRead: 401, 403, 404);
error_set!(ShipmentWrite: 401, 403, 404, 409, 413, 415, 422);
error_set!(UnitsCancel: 401, 403, 404, 409, 413, 415, 422, 502, 503);

#[derive(ApiResponse)]
pub enum CreatedShipment {
    #[oai(status = 201)]
    Created(Json<ShipmentWithOrderOut>),
}

pub struct AdminFulfilmentApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminFulfilmentApi {
    /// Ship units of an order
    ///
    /// Records a parcel (the units, the carrier, the tracking number) of a `paid`,
    /// `processing` or `partially_shipped` order; the order becomes `partially_shipped`, or
    /// `shipped` once every unit is shipped or cancelled. The customer is emailed the tracking
    /// number and `shipment.created` is published. Without `lines`, ships everything left.
    #[oai(
        path = "/orders/:order_id/shipments",
        method = "post",
        operation_id = "create_shipment"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        body: JsonBody<ShipmentIn>,
    ) -> ApiResult<CreatedShipment, ShipmentWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let (shipment, order) = state
            .fulfilment
            .ship(order_id.0, body.0.into(), Actor::Admin(admin.user_id))
            .await?;
        Ok(CreatedShipment::Created(Json(ShipmentWithOrderOut {
            shipment: shipment.into(),
            order: order.into(),
        })))
    }

    /// List an order's shipments
    #[oai(
        path = "/orders/:order_id/shipments",
        method = "get",
        operation_id = "list_shipments"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
    ) -> ApiResult<Json<ShipmentListOut>, ShipmentRead> {
        auth.require(Permission::OrdersRead)?;
        let shipments = state.fulfilment.order_shipments(order_id.0).await?;
        Ok(Json(ShipmentListOut {
            items: shipments.into_iter().map(Into::into).collect(),
        }))
    }

    /// Mark a shipment delivered
    ///
    /// The order becomes `delivered` once it is `shipped` and every shipment arrived.
    /// Marking a delivered shipment again changes nothing.
    #[oai(
        path = "/orders/:order_id/shipments/:shipment_id/delivered",
        method = "post",
        operation_id = "mark_shipment_delivered"
    )]
    async fn delivered(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        shipment_id: Path<Uuid>,
    ) -> ApiResult<Json<ShipmentWithOrderOut>, ShipmentWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let (shipment, order) = state
            .fulfilment
            .deliver(order_id.0, shipment_id.0, Actor::Admin(admin.user_id))
            .await?;
        Ok(Json(ShipmentWithOrderOut {
            shipment: ShipmentOut::from(shipment),
            order: order.into(),
        }))
    }

    /// Cancel units not shipped yet
    ///
    /// For a `paid`, `processing` or `partially_shipped` order: the units go back into stock
    /// and what was paid for them (after their promotion discounts, with their tax when it
    /// was added) is refunded — through Midtrans when the payment's method allows it,
    /// otherwise refund the customer yourself and give `manual`. The order keeps its status
    /// (`shipped` once nothing is left to ship) and its `refunded_amount` grows. Cancelling
    /// every unit of an order nothing of which shipped is refused: cancel the order. The same
    /// `Idempotency-Key` is the same cancellation.
    #[oai(
        path = "/orders/:order_id/cancel-units",
        method = "post",
        operation_id = "cancel_order_units"
    )]
    async fn cancel_units(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<OrderId>,
        /// Makes a retried cancellation the same refund.
        #[oai(name = "Idempotency-Key", validator(max_length = 255))]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<CancelUnitsIn>,
    ) -> ApiResult<Json<OrderOut>, UnitsCancel> {
        let admin = auth.require(Permission::Refunds)?;
        let units = body.0.units();
        let CancelUnitsIn { reason, manual, .. } = body.0;
        let refund = UnitsRefund {
            lines: units
                .into_iter()
                .map(|(order_line_id, quantity)| LineRefund {
                    order_line_id,
                    quantity,
                })
                .collect(),
            extra: 0,
            reason,
            idempotency_seed: idempotency_key
                .0
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            staff: admin.user_id,
            manual: manual.map(|m| MadeOutside {
                method: m.method,
                reference: m.reference,
            }),
            cancels_units: true,
            limit: state.auth.refund_limit(admin.role),
        };
        let receipt = state.payments.refund_units(order_id.0, refund).await?;
        Ok(Json(receipt.order.into()))
    }
}
