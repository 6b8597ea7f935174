//! `/api/v1/admin/returns`: staff decide on returns, receive the units and refund them.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    OpenApi,
};
use uuid::Uuid;

use super::{
    catalog::default_limit,
    return_dto::{
        wire::ReturnStatus, ReturnApprovalIn, ReturnOut, ReturnPageOut, ReturnReceiptIn,
        ReturnRefundIn, ReturnRejectionIn,
    },
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    returns::RefundReturn,
};

error_set!(AdminReturnList: 401, 403);
error_set!(AdminReturnRead: 401, 403, 404);
error_set!(AdminReturnWrite: 401, 403, 404, 409, 413, 415, 422);
error_set!(AdminReturnRefund: 401, 403, 404, 409, 413, 415, 422, 502, 503);

pub struct AdminReturnsApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminReturnsApi {
    /// List returns
    ///
    /// Newest first, optionally only those with `status` (e.g. `requested`: waiting for a
    /// decision; `received`: waiting for their refund).
    #[oai(path = "/returns", method = "get", operation_id = "list_admin_returns")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        status: Query<Option<ReturnStatus>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<ReturnPageOut>, AdminReturnList> {
        auth.require(Permission::OrdersRead)?;
        let returns = state
            .returns
            .list(None, status.0.map(Into::into), cursor.0, limit.0)
            .await?;
        Ok(Json(ReturnPageOut::new(returns, limit.0)))
    }

    /// Get a return
    #[oai(
        path = "/returns/:return_id",
        method = "get",
        operation_id = "get_admin_return"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
    ) -> ApiResult<Json<ReturnOut>, AdminReturnRead> {
        auth.require(Permission::OrdersRead)?;
        Ok(Json(state.returns.get(return_id.0).await?.into()))
    }

    /// Approve a return
    ///
    /// The customer is emailed to send the units (with the note, if any).
    #[oai(
        path = "/returns/:return_id/approve",
        method = "post",
        operation_id = "approve_return"
    )]
    async fn approve(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
        body: JsonBody<ReturnApprovalIn>,
    ) -> ApiResult<Json<ReturnOut>, AdminReturnWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let r = state
            .returns
            .approve(return_id.0, admin.user_id, body.0.note)
            .await?;
        Ok(Json(r.into()))
    }

    /// Reject a return
    ///
    /// A requested return, or an approved one whose units never came; the customer is
    /// emailed the reason.
    #[oai(
        path = "/returns/:return_id/reject",
        method = "post",
        operation_id = "reject_return"
    )]
    async fn reject(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
        body: JsonBody<ReturnRejectionIn>,
    ) -> ApiResult<Json<ReturnOut>, AdminReturnWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let r = state
            .returns
            .reject(return_id.0, admin.user_id, body.0.reason)
            .await?;
        Ok(Json(r.into()))
    }

    /// Receive a return's units
    ///
    /// For every line: `restock` (back into sellable stock, a `return` stock movement) or
    /// `write_off` (damaged). The order's lines count the units as returned.
    #[oai(
        path = "/returns/:return_id/receive",
        method = "post",
        operation_id = "receive_return"
    )]
    async fn receive(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
        body: JsonBody<ReturnReceiptIn>,
    ) -> ApiResult<Json<ReturnOut>, AdminReturnWrite> {
        let admin = auth.require(Permission::OrdersWrite)?;
        let r = state
            .returns
            .receive(return_id.0, admin.user_id, body.0.dispositions())
            .await?;
        Ok(Json(r.into()))
    }

    /// Refund a received return
    ///
    /// What was paid for the units (after their promotion discounts), plus shipping when
    /// `RETURN_SHIPPING_REFUND=whole_order` and this return completes the order's return,
    /// plus the optional adjustment. Through Midtrans when the payment's method allows it;
    /// otherwise (virtual accounts, store payments) refund the customer yourself and give
    /// `manual` (a 422 names `manual.method` when it is missing). Safe to repeat: a return
    /// is refunded once.
    #[oai(
        path = "/returns/:return_id/refund",
        method = "post",
        operation_id = "refund_return"
    )]
    async fn refund(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        return_id: Path<Uuid>,
        body: JsonBody<ReturnRefundIn>,
    ) -> ApiResult<Json<ReturnOut>, AdminReturnRefund> {
        let admin = auth.require(Permission::Refunds)?;
        let how = RefundReturn {
            limit: state.auth.refund_limit(admin.role),
            ..body.0.into()
        };
        let r = state
            .returns
            .refund(return_id.0, admin.user_id, how)
            .await?;
        Ok(Json(r.into()))
    }
}
