//! `/api/v1/admin/audit-log`: what staff changed, for the owner and administrators.

use poem_openapi::{param::Query, payload::Json, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use crate::{
    audit_log::{self, Entry, Filter},
    auth::Permission,
    error_set,
    http::{errors::internal, problem::ApiResult, AppState, BearerAuth},
};

error_set!(AuditRead: 401, 403);

/// One change a staff member made.
#[derive(Debug, Object)]
#[oai(remote = "Entry", skip_serializing_if_is_none)]
pub struct AuditEntryOut {
    #[oai(rename = "id")]
    pub entry_id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who: the staff account and its role at the time.
    pub actor_id: Uuid,
    pub actor_role: String,
    /// The operation, e.g. `update_product`.
    pub action: String,
    pub method: String,
    pub path: String,
    /// `products`, `orders`, `users`, ... (the path's first segment under `/admin/`).
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub status: i32,
    /// The request body (secrets redacted).
    pub request: Option<serde_json::Value>,
    /// The resource as the admin API showed it before the change (secrets redacted).
    pub before: Option<serde_json::Value>,
    /// The response: the resource after the change (secrets redacted).
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditPageOut {
    /// Newest first.
    pub items: Vec<AuditEntryOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

pub struct AdminAuditApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminAuditApi {
    /// Read the audit log
    ///
    /// Every change staff made through the admin API, newest first, append-only.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/audit-log", method = "get", operation_id = "list_audit_log")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        /// The staff account that acted.
        actor_id: Query<Option<Uuid>>,
        /// An operation id, e.g. `update_product`.
        #[oai(validator(max_length = 100))]
        action: Query<Option<String>>,
        /// `products`, `orders`, `users`, ...
        #[oai(validator(max_length = 100))]
        resource_type: Query<Option<String>>,
        #[oai(validator(max_length = 100))] resource_id: Query<Option<String>>,
        /// From this time (inclusive).
        from: Query<Option<chrono::DateTime<chrono::Utc>>>,
        /// Until this time (exclusive).
        to: Query<Option<chrono::DateTime<chrono::Utc>>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<AuditPageOut>, AuditRead> {
        auth.require(Permission::AuditRead)?;
        let filter = Filter {
            actor_id: actor_id.0,
            action: action.0,
            resource_type: resource_type.0,
            resource_id: resource_id.0,
            from: from.0,
            to: to.0,
            before: cursor.0,
        };
        let entries = audit_log::list(&state.db, &filter, limit.0)
            .await
            .map_err(|e| internal(&e))?;
        let next_cursor = (entries.len() as i64 == limit.0)
            .then(|| entries.last().map(|e| e.entry_id))
            .flatten();
        Ok(Json(AuditPageOut {
            items: entries.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}

fn default_limit() -> i64 {
    20
}
