//! `/api/v1/admin/users`: the user list for admins, and disabling accounts.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};
use uuid::Uuid;

use super::{dto::UserOut, ApiTags};
use crate::{
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth},
};

error_set!(AdminReadErrors: 401, 403);
error_set!(AdminUserWrite: 401, 403, 404, 409);

/// A page of users.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserPage {
    pub items: Vec<UserOut>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub struct AdminUsersApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminUsersApi {
    /// List users
    ///
    /// Newest first, optionally filtered by part of the email.
    #[oai(path = "/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        /// Part of the email address.
        #[oai(validator(max_length = 254))]
        email: Query<Option<String>>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<UserPage>, AdminReadErrors> {
        auth.admin()?;
        let users = state
            .auth
            .list_users(email.0.as_deref(), cursor.0, limit.0)
            .await?;
        let next_cursor = (users.len() as i64 == limit.0)
            .then(|| users.last().map(|u| u.id.to_string()))
            .flatten();
        Ok(Json(UserPage {
            items: users.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Disable a user
    ///
    /// Every session of the account ends at once (its access tokens stop working on the next
    /// request) and it cannot sign in until enabled again. Staff cannot disable themselves.
    #[oai(
        path = "/users/:user_id/disable",
        method = "post",
        operation_id = "disable_user"
    )]
    async fn disable(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<UserOut>, AdminUserWrite> {
        let admin = auth.admin()?;
        let user = state
            .auth
            .set_disabled(admin.user_id, user_id.0, true)
            .await?;
        Ok(Json(user.into()))
    }

    /// Enable a user
    ///
    /// A disabled account may sign in again; the sessions that disabling ended stay ended.
    #[oai(
        path = "/users/:user_id/enable",
        method = "post",
        operation_id = "enable_user"
    )]
    async fn enable(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<UserOut>, AdminUserWrite> {
        let admin = auth.admin()?;
        let user = state
            .auth
            .set_disabled(admin.user_id, user_id.0, false)
            .await?;
        Ok(Json(user.into()))
    }
}

fn default_limit() -> i64 {
    20
}
