//! `/api/v1/admin/shipping-zones`: where the shop ships and at what price.

use poem_openapi::{param::Path, payload::Json, ApiResponse, OpenApi};
use uuid::Uuid;

use super::{
    admin_catalog::Deleted,
    shipping_dto::{ShippingZoneIn, ShippingZoneOut, ShippingZonesOut},
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(ZoneList: 401, 403);
error_set!(ZoneRead: 401, 403, 404);
error_set!(ZoneWrite: 401, 403, 404, 413, 415, 422);

#[derive(ApiResponse)]
pub enum CreatedZone {
    #[oai(status = 201)]
    Created(Json<ShippingZoneOut>),
}

pub struct AdminShippingApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminShippingApi {
    /// List shipping zones
    ///
    /// While there is none, every method ships everywhere at its flat fee.
    #[oai(
        path = "/shipping-zones",
        method = "get",
        operation_id = "list_shipping_zones"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<ShippingZonesOut>, ZoneList> {
        auth.require(Permission::Settings)?;
        let zones = state.shipping.zones().await?;
        Ok(Json(ShippingZonesOut {
            items: zones.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create a shipping zone
    ///
    /// Once a zone exists, only zones ship: an address no zone matches gets no method. The
    /// most specific matching zone prices a parcel (longest postal prefix, then province).
    #[oai(
        path = "/shipping-zones",
        method = "post",
        operation_id = "create_shipping_zone"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<ShippingZoneIn>,
    ) -> ApiResult<CreatedZone, ZoneWrite> {
        auth.require(Permission::Settings)?;
        let zone = state.shipping.create_zone(body.0.into()).await?;
        Ok(CreatedZone::Created(Json(zone.into())))
    }

    /// Get a shipping zone
    #[oai(
        path = "/shipping-zones/:zone_id",
        method = "get",
        operation_id = "get_shipping_zone"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        zone_id: Path<Uuid>,
    ) -> ApiResult<Json<ShippingZoneOut>, ZoneRead> {
        auth.require(Permission::Settings)?;
        Ok(Json(state.shipping.zone(zone_id.0).await?.into()))
    }

    /// Replace a shipping zone
    ///
    /// Its area and all its rates; placed orders keep the fee they were charged.
    #[oai(
        path = "/shipping-zones/:zone_id",
        method = "put",
        operation_id = "replace_shipping_zone"
    )]
    async fn replace(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        zone_id: Path<Uuid>,
        body: JsonBody<ShippingZoneIn>,
    ) -> ApiResult<Json<ShippingZoneOut>, ZoneWrite> {
        auth.require(Permission::Settings)?;
        let zone = state
            .shipping
            .replace_zone(zone_id.0, body.0.into())
            .await?;
        Ok(Json(zone.into()))
    }

    /// Delete a shipping zone
    #[oai(
        path = "/shipping-zones/:zone_id",
        method = "delete",
        operation_id = "delete_shipping_zone"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        zone_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ZoneRead> {
        auth.require(Permission::Settings)?;
        state.shipping.delete_zone(zone_id.0).await?;
        Ok(Deleted::NoContent)
    }
}
