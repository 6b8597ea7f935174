//! `/api/v1/admin/webhooks`: merchants' endpoints for toko's events, their deliveries and
//! the catalog of event types.

use std::time::Duration;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    admin_catalog::Deleted,
    webhook_dto::{
        RedeliverIn, RedeliveredOut, RotateSecretIn, WebhookDeliveryDetail, WebhookDeliveryOut,
        WebhookDeliveryPage, WebhookEndpointIn, WebhookEndpointOut, WebhookEndpointPatchIn,
        WebhookEndpointWithSecret, WebhookEventTypeOut,
    },
    ApiTags,
};
use crate::{
    auth::Permission,
    error_set,
    events::EventKind,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(WebhookList: 401, 403);
error_set!(WebhookRead: 401, 403, 404);
error_set!(WebhookWrite: 401, 403, 404, 413, 415, 422);

#[derive(ApiResponse)]
pub enum CreatedEndpoint {
    #[oai(status = 201)]
    Created(Json<WebhookEndpointWithSecret>),
}

#[derive(ApiResponse)]
pub enum QueuedDelivery {
    /// Queued: the dispatcher sends it within a second or so.
    #[oai(status = 202)]
    Accepted(Json<WebhookDeliveryOut>),
}

/// Delivery statuses to filter on.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

pub struct AdminWebhooksApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminWebhooksApi {
    /// Register a webhook endpoint
    ///
    /// The answer holds the endpoint's signing secret; it is not shown again (rotate it to
    /// get a new one).
    #[oai(
        path = "/webhooks",
        method = "post",
        operation_id = "create_webhook_endpoint"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<WebhookEndpointIn>,
    ) -> ApiResult<CreatedEndpoint, WebhookWrite> {
        auth.require(Permission::Settings)?;
        let created = state.webhooks.create(body.0.into()).await?;
        Ok(CreatedEndpoint::Created(Json(created.into())))
    }

    /// List webhook endpoints
    #[oai(
        path = "/webhooks",
        method = "get",
        operation_id = "list_webhook_endpoints"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<Vec<WebhookEndpointOut>>, WebhookList> {
        auth.require(Permission::Settings)?;
        let endpoints = state.webhooks.list().await?;
        Ok(Json(endpoints.into_iter().map(Into::into).collect()))
    }

    /// The event types endpoints can receive, with the JSON Schema of each one's data
    #[oai(
        path = "/webhooks/event-types",
        method = "get",
        operation_id = "list_webhook_event_types"
    )]
    async fn event_types(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<Json<Vec<WebhookEventTypeOut>>, WebhookList> {
        auth.require(Permission::Settings)?;
        Ok(Json(EventKind::ALL.iter().map(|k| (*k).into()).collect()))
    }

    /// Get a webhook endpoint
    #[oai(
        path = "/webhooks/:endpoint_id",
        method = "get",
        operation_id = "get_webhook_endpoint"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Json<WebhookEndpointOut>, WebhookRead> {
        auth.require(Permission::Settings)?;
        Ok(Json(state.webhooks.get(endpoint_id.0).await?.into()))
    }

    /// Change a webhook endpoint
    #[oai(
        path = "/webhooks/:endpoint_id",
        method = "patch",
        operation_id = "update_webhook_endpoint"
    )]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
        body: JsonBody<WebhookEndpointPatchIn>,
    ) -> ApiResult<Json<WebhookEndpointOut>, WebhookWrite> {
        auth.require(Permission::Settings)?;
        let endpoint = state.webhooks.update(endpoint_id.0, body.0.into()).await?;
        Ok(Json(endpoint.into()))
    }

    /// Delete a webhook endpoint and its delivery log
    #[oai(
        path = "/webhooks/:endpoint_id",
        method = "delete",
        operation_id = "delete_webhook_endpoint"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Deleted, WebhookRead> {
        auth.require(Permission::Settings)?;
        state.webhooks.delete(endpoint_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Rotate an endpoint's signing secret
    ///
    /// Returns the new secret (shown once). The previous one keeps signing as well for
    /// `overlap_seconds`: deliveries then carry both signatures.
    #[oai(
        path = "/webhooks/:endpoint_id/rotate-secret",
        method = "post",
        operation_id = "rotate_webhook_secret"
    )]
    async fn rotate_secret(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
        body: JsonBody<RotateSecretIn>,
    ) -> ApiResult<Json<WebhookEndpointWithSecret>, WebhookWrite> {
        auth.require(Permission::Settings)?;
        let overlap = Duration::from_secs(body.0.overlap_seconds.unwrap_or(86_400));
        let rotated = state.webhooks.rotate_secret(endpoint_id.0, overlap).await?;
        Ok(Json(rotated.into()))
    }

    /// Send a test event to an endpoint
    #[oai(
        path = "/webhooks/:endpoint_id/test",
        method = "post",
        operation_id = "send_webhook_test"
    )]
    async fn send_test(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<QueuedDelivery, WebhookRead> {
        auth.require(Permission::Settings)?;
        let delivery = state.webhooks.send_test(endpoint_id.0).await?;
        Ok(QueuedDelivery::Accepted(Json(delivery.into())))
    }

    /// Send again the failed deliveries of a time range
    #[oai(
        path = "/webhooks/:endpoint_id/redeliver",
        method = "post",
        operation_id = "redeliver_webhook_range"
    )]
    async fn redeliver_range(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
        body: JsonBody<RedeliverIn>,
    ) -> ApiResult<Json<RedeliveredOut>, WebhookWrite> {
        auth.require(Permission::Settings)?;
        let count = state
            .webhooks
            .redeliver_failed(endpoint_id.0, body.0.from, body.0.to)
            .await?;
        Ok(Json(RedeliveredOut { count }))
    }

    /// List an endpoint's deliveries
    ///
    /// Newest first, optionally of one status.
    #[oai(
        path = "/webhooks/:endpoint_id/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        endpoint_id: Path<Uuid>,
        status: Query<Option<DeliveryStatus>>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<WebhookDeliveryPage>, WebhookRead> {
        auth.require(Permission::Settings)?;
        let items = state
            .webhooks
            .deliveries(
                endpoint_id.0,
                status.0.map(DeliveryStatus::as_str),
                cursor.0,
                limit.0,
            )
            .await?;
        let next_cursor = (items.len() as i64 == limit.0)
            .then(|| items.last().map(|d| d.id))
            .flatten();
        Ok(Json(WebhookDeliveryPage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Get a delivery with its attempts
    #[oai(
        path = "/webhook-deliveries/:delivery_id",
        method = "get",
        operation_id = "get_webhook_delivery"
    )]
    async fn delivery(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        delivery_id: Path<Uuid>,
    ) -> ApiResult<Json<WebhookDeliveryDetail>, WebhookRead> {
        auth.require(Permission::Settings)?;
        let (delivery, attempts) = state.webhooks.delivery(delivery_id.0).await?;
        Ok(Json(WebhookDeliveryDetail {
            delivery: delivery.into(),
            attempts: attempts.into_iter().map(Into::into).collect(),
        }))
    }

    /// Send a delivery again
    ///
    /// From the start of the retry schedule, whatever its status.
    #[oai(
        path = "/webhook-deliveries/:delivery_id/redeliver",
        method = "post",
        operation_id = "redeliver_webhook_delivery"
    )]
    async fn redeliver(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        delivery_id: Path<Uuid>,
    ) -> ApiResult<QueuedDelivery, WebhookRead> {
        auth.require(Permission::Settings)?;
        let delivery = state.webhooks.redeliver(delivery_id.0).await?;
        Ok(QueuedDelivery::Accepted(Json(delivery.into())))
    }
}

fn default_limit() -> i64 {
    20
}
