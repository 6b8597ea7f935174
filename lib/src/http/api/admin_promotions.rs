//! `/api/v1/admin/promotions`: discount codes and automatic promotions, and their usage.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    admin_catalog::Deleted,
    promotion_dto::{
        PromotionIn, PromotionOut, PromotionPageOut, PromotionPatchIn, PromotionUsageOut,
    },
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(PromotionList: 401, 403);
error_set!(PromotionRead: 401, 403, 404);
error_set!(PromotionDelete: 401, 403, 404, 409);
error_set!(PromotionWrite: 401, 403, 404, 409, 413, 415, 422);

#[derive(ApiResponse)]
pub enum CreatedPromotion {
    #[oai(status = 201)]
    Created(Json<PromotionOut>),
}

pub struct AdminPromotionsApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminPromotionsApi {
    /// Create a promotion
    ///
    /// With a `code`, customers enter it on their cart; without, it applies by itself when
    /// its conditions hold. How promotions combine and round: docs/PROMOTIONS.md.
    #[oai(
        path = "/promotions",
        method = "post",
        operation_id = "create_promotion"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<PromotionIn>,
    ) -> ApiResult<CreatedPromotion, PromotionWrite> {
        auth.require(Permission::Promotions)?;
        let promotion = state.promotions.create(body.0.into()).await?;
        Ok(CreatedPromotion::Created(Json(promotion.into())))
    }

    /// List promotions
    ///
    /// Newest first.
    #[oai(path = "/promotions", method = "get", operation_id = "list_promotions")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<PromotionPageOut>, PromotionList> {
        auth.require(Permission::Promotions)?;
        let items = state.promotions.list(cursor.0, limit.0).await?;
        let next_cursor = (items.len() as i64 == limit.0)
            .then(|| items.last().map(|p| p.rule.id))
            .flatten();
        Ok(Json(PromotionPageOut {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Get a promotion
    #[oai(
        path = "/promotions/:promotion_id",
        method = "get",
        operation_id = "get_promotion"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        promotion_id: Path<Uuid>,
    ) -> ApiResult<Json<PromotionOut>, PromotionRead> {
        auth.require(Permission::Promotions)?;
        Ok(Json(state.promotions.get(promotion_id.0).await?.into()))
    }

    /// Change a promotion's terms
    ///
    /// Name, window, minimum, eligibility, limits, stacking, priority and `enabled`.
    #[oai(
        path = "/promotions/:promotion_id",
        method = "patch",
        operation_id = "update_promotion"
    )]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        promotion_id: Path<Uuid>,
        body: JsonBody<PromotionPatchIn>,
    ) -> ApiResult<Json<PromotionOut>, PromotionWrite> {
        auth.require(Permission::Promotions)?;
        let promotion = state
            .promotions
            .update(promotion_id.0, body.0.into())
            .await?;
        Ok(Json(promotion.into()))
    }

    /// Delete a promotion no order redeemed
    ///
    /// A redeemed promotion is a 409 (`promotion_in_use`): disable it instead.
    #[oai(
        path = "/promotions/:promotion_id",
        method = "delete",
        operation_id = "delete_promotion"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        promotion_id: Path<Uuid>,
    ) -> ApiResult<Deleted, PromotionDelete> {
        auth.require(Permission::Promotions)?;
        state.promotions.delete(promotion_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A promotion's usage: redemptions, discount given and the orders
    #[oai(
        path = "/promotions/:promotion_id/usage",
        method = "get",
        operation_id = "get_promotion_usage"
    )]
    async fn usage(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        promotion_id: Path<Uuid>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<PromotionUsageOut>, PromotionRead> {
        auth.require(Permission::Promotions)?;
        let usage = state
            .promotions
            .usage(promotion_id.0, cursor.0, limit.0)
            .await?;
        Ok(Json(PromotionUsageOut::new(promotion_id.0, usage, limit.0)))
    }
}

fn default_limit() -> i64 {
    20
}
