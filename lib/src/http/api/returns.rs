//! `/api/v1/orders/{id}/returns` and `/api/v1/returns`: a customer sends delivered units back.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    catalog::default_limit,
    return_dto::{ReturnIn, ReturnOut, ReturnPageOut},
    ApiTags,
};
use crate::{
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(ReturnRequestErrors: 401, 404, 409, 413, 415, 422);
error_set!(ReturnRead: 401, 404);
error_set!(ReturnList: 401);

#[derive(ApiResponse)]
pub enum ReturnRequested {
    #[oai(status = 201)]
    Created(Json<ReturnOut>),
}

pub struct ReturnsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl ReturnsApi {
    /// Ask to return delivered items
    ///
    /// Within the return window (`RETURN_WINDOW_DAYS` after delivery, 409
    /// `return_window_closed` after), for units of a delivered order not already returned,
    /// being returned or refunded; each line with a reason. Staff then approve or reject it;
    /// every step is emailed.
    #[oai(
        path = "/orders/:order_id/returns",
        method = "post",
        operation_id = "create_return"
    )]
    async fn request(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        order_id: Path<Uuid>,
        body: JsonBody<ReturnIn>,
    ) -> ApiResult<ReturnRequested, ReturnRequestErrors> {
        let r = state
            .returns
            .request(auth.principal().user_id, order_id.0, body.0.into())
            .await?;
        Ok(ReturnRequested::Created(Json(r.into())))
    }

    /// List my returns
    ///
    /// Newest first.
    #[oai(path = "/returns", method = "get", operation_id = "list_returns")]
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
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<ReturnPageOut>, ReturnList> {
        let returns = state
            .returns
            .list(Some(auth.principal().user_id), None, cursor.0, limit.0)
            .await?;
        Ok(Json(ReturnPageOut::new(returns, limit.0)))
    }

    /// Get my return
    #[oai(
        path = "/returns/:return_id",
        method = "get",
        operation_id = "get_return"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
    ) -> ApiResult<Json<ReturnOut>, ReturnRead> {
        let r = state
            .returns
            .customer_return(auth.principal().user_id, return_id.0)
            .await?;
        Ok(Json(r.into()))
    }
}
