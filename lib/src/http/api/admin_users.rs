//! `/api/v1/admin/users`: the user list for admins, and disabling accounts.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};
use uuid::Uuid;

use super::{
    admin_catalog::Deleted,
    dto::{RoleOut, UserOut},
    ApiTags,
};
use crate::{
    auth::{staff::StaffInvite, Permission},
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(AdminReadErrors: 401, 403);
error_set!(AdminUserWrite: 401, 403, 404, 409);
error_set!(StaffInviteErrors: 401, 403, 409, 413, 415, 422);
error_set!(RoleChangeErrors: 401, 403, 404, 409, 413, 415, 422);

/// An invitation to join the staff, with any role but `customer`.
#[derive(Debug, Object, serde::Deserialize)]
pub struct StaffInviteIn {
    pub email: String,
    pub name: String,
    pub role: RoleOut,
}

/// A sent invitation.
#[derive(Debug, Object)]
pub struct StaffInviteOut {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: RoleOut,
    pub invited_by: Uuid,
    /// The link works until then, once.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl From<StaffInvite> for StaffInviteOut {
    fn from(i: StaffInvite) -> Self {
        Self {
            id: i.id,
            email: i.email,
            name: i.name,
            role: i.role.into(),
            invited_by: i.invited_by,
            expires_at: i.expires_at,
        }
    }
}

/// Pending staff invites.
#[derive(Debug, Object)]
pub struct StaffInvitesOut {
    /// Newest first.
    pub items: Vec<StaffInviteOut>,
}

#[derive(ApiResponse)]
pub enum InviteSent {
    /// The invite is stored and its email on its way.
    #[oai(status = 201)]
    Created(Json<StaffInviteOut>),
}

/// A staff account's new role: any but `customer`.
#[derive(Debug, Object, serde::Deserialize)]
pub struct RoleIn {
    pub role: RoleOut,
}

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
        auth.require(Permission::CustomersRead)?;
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
    /// request) and it cannot sign in until enabled again. Staff cannot disable themselves;
    /// only the owner disables (or enables) staff.
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
        let admin = auth.require(Permission::CustomersWrite)?;
        let user = state.auth.set_disabled(admin, user_id.0, true).await?;
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
        let admin = auth.require(Permission::CustomersWrite)?;
        let user = state.auth.set_disabled(admin, user_id.0, false).await?;
        Ok(Json(user.into()))
    }

    /// Invite someone to the staff
    ///
    /// Emails a link (valid `STAFF_INVITE_TTL`, once) that creates the account with the role.
    /// An address that already has an account is a 409 `email_taken`.
    #[oai(
        path = "/staff-invites",
        method = "post",
        operation_id = "invite_staff"
    )]
    async fn invite(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<StaffInviteIn>,
    ) -> ApiResult<InviteSent, StaffInviteErrors> {
        let owner = auth.require(Permission::Staff)?;
        let StaffInviteIn { email, name, role } = body.0;
        let invite = state
            .auth
            .invite_staff(owner, &email, &name, role.into())
            .await?;
        Ok(InviteSent::Created(Json(invite.into())))
    }

    /// Change a staff member's role
    ///
    /// Takes effect on their next request. Not one's own role (409 `cannot_change_own_role`);
    /// customers become staff through an invite (409 `not_staff`).
    #[oai(
        path = "/users/:user_id/role",
        method = "put",
        operation_id = "change_user_role"
    )]
    async fn change_role(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        user_id: Path<Uuid>,
        body: JsonBody<RoleIn>,
    ) -> ApiResult<Json<UserOut>, RoleChangeErrors> {
        let owner = auth.require(Permission::Staff)?;
        let user = state
            .auth
            .change_role(owner, user_id.0, body.0.role.into())
            .await?;
        Ok(Json(user.into()))
    }

    /// List pending staff invites
    ///
    /// Invites neither accepted nor revoked (expired ones too: see `expires_at`), newest first.
    #[oai(
        path = "/staff-invites",
        method = "get",
        operation_id = "list_staff_invites"
    )]
    async fn invites(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<StaffInvitesOut>, AdminReadErrors> {
        auth.require(Permission::Staff)?;
        let invites = state.auth.pending_invites().await?;
        Ok(Json(StaffInvitesOut {
            items: invites.into_iter().map(Into::into).collect(),
        }))
    }

    /// Revoke a staff invite
    ///
    /// Its link stops working. An accepted or already revoked invite is a 404.
    #[oai(
        path = "/staff-invites/:invite_id",
        method = "delete",
        operation_id = "revoke_staff_invite"
    )]
    async fn revoke(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        invite_id: Path<Uuid>,
    ) -> ApiResult<Deleted, AdminUserWrite> {
        let owner = auth.require(Permission::Staff)?;
        state.auth.revoke_invite(owner, invite_id.0).await?;
        Ok(Deleted::NoContent)
    }
}

fn default_limit() -> i64 {
    20
}
