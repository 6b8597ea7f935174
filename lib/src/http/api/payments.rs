//! `/api/v1/payments/midtrans/notification`: Midtrans' HTTP notifications (webhook).

use poem_openapi::{payload::Json, Object, OpenApi};

use super::ApiTags;
use crate::{
    error_set,
    http::{problem::ApiResult, AppState, RawJson},
};

error_set!(NotificationErrors: 401, 404, 413, 415);

/// The notification was recorded.
#[derive(Debug, Object)]
pub struct NotificationAck {
    /// What reconciling the order did: `applied`, `unchanged`, `no_transaction`,
    /// `amount_mismatch` or `late_payment`.
    pub outcome: String,
}

pub struct PaymentsApi;

#[OpenApi(prefix_path = "/api/v1/payments", tag = "ApiTags::Payments")]
impl PaymentsApi {
    /// Receive a Midtrans notification
    ///
    /// Verifies `signature_key` (401 and nothing changes when it is wrong), records the
    /// notification, confirms the transaction with Midtrans' status API and applies it to the
    /// order, idempotently and never backwards. Unknown order ids are a 404 (Midtrans retries
    /// those twice). No authentication: the signature is the proof.
    #[oai(
        path = "/midtrans/notification",
        method = "post",
        operation_id = "receive_midtrans_notification"
    )]
    async fn notification(
        &self,
        state: poem::web::Data<&AppState>,
        body: RawJson,
    ) -> ApiResult<Json<NotificationAck>, NotificationErrors> {
        let outcome = state.payments.handle_notification(&body.0).await?;
        Ok(Json(NotificationAck {
            outcome: outcome.as_str().to_owned(),
        }))
    }
}
