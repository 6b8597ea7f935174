//! `/api/v1/me`: the signed-in user's own account.

use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi};

use super::{
    addresses::SavedAddressOut, dto::UserOut, order_dto::OrderOut, return_dto::ReturnOut, ApiTags,
};
use crate::{
    accounts::AccountExport,
    auth::PasswordChange,
    error_set,
    http::{client_ip, problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(MeErrors: 401, 404);
error_set!(VerificationResend: 401, 404, 409);

/// Whether the account's address is verified.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EmailVerificationOut {
    pub email: String,
    pub verified: bool,
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(ApiResponse)]
pub enum VerificationSent {
    /// A new link is on its way (at most 3 an hour; more requests get the same answer).
    #[oai(status = 202)]
    Accepted,
}
error_set!(MeWriteErrors: 401, 404, 413, 415, 422);

/// Fields of the account the user may change.
#[derive(Debug, Object, serde::Deserialize)]
pub struct MePatch {
    pub name: String,
}

/// A password change.
#[derive(Debug, Object, serde::Deserialize)]
pub struct PasswordChangeIn {
    pub current_password: String,
    pub new_password: String,
    /// The caller's refresh token, to keep this session signed in; every other session is
    /// revoked.
    pub refresh_token: Option<String>,
}

#[derive(ApiResponse)]
pub enum PasswordChanged {
    /// The password was changed and other sessions revoked.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum SessionsEnded {
    /// Every session of the account is signed out.
    #[oai(status = 204)]
    NoContent,
}

error_set!(AccountDeletion: 401, 409, 413, 415, 422);

/// Everything the shop holds about the signed-in customer.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountExportOut {
    pub exported_at: chrono::DateTime<chrono::Utc>,
    pub account: UserOut,
    pub email_verified_at: Option<chrono::DateTime<chrono::Utc>>,
    pub addresses: Vec<SavedAddressOut>,
    /// Newest first.
    pub orders: Vec<OrderOut>,
    /// Newest first.
    pub returns: Vec<ReturnOut>,
}

impl From<AccountExport> for AccountExportOut {
    fn from(e: AccountExport) -> Self {
        Self {
            exported_at: e.exported_at,
            account: e.user.into(),
            email_verified_at: e.email_verified_at,
            addresses: e.addresses.into_iter().map(Into::into).collect(),
            orders: e.orders.into_iter().map(Into::into).collect(),
            returns: e.returns.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(ApiResponse)]
pub enum AccountExported {
    /// A download of the account's data.
    #[oai(status = 200)]
    Ok(
        Json<AccountExportOut>,
        /// `attachment`, with a file name.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

/// The password again, to confirm a deletion.
#[derive(Debug, Object, serde::Deserialize)]
pub struct AccountDeletionIn {
    pub current_password: String,
}

#[derive(ApiResponse)]
pub enum AccountDeleted {
    /// The account is deleted and every session ended.
    #[oai(status = 204)]
    NoContent,
}

pub struct AccountApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Account")]
impl AccountApi {
    /// Get my account
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<UserOut>, MeErrors> {
        let user = state.auth.me(auth.principal().user_id).await?;
        Ok(Json(user.into()))
    }

    /// Is my email address verified
    #[oai(
        path = "/me/email-verification",
        method = "get",
        operation_id = "get_email_verification"
    )]
    async fn verification(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<EmailVerificationOut>, MeErrors> {
        let status = state
            .auth
            .verification_status(auth.principal().user_id)
            .await?;
        Ok(Json(EmailVerificationOut {
            email: status.email,
            verified: status.verified_at.is_some(),
            verified_at: status.verified_at,
        }))
    }

    /// Send me a new verification link
    ///
    /// The welcome email carries the first. A verified address is a 409
    /// `email_already_verified`.
    #[oai(
        path = "/me/email-verification",
        method = "post",
        operation_id = "resend_email_verification"
    )]
    async fn resend_verification(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<VerificationSent, VerificationResend> {
        state
            .auth
            .resend_verification(auth.principal().user_id)
            .await?;
        Ok(VerificationSent::Accepted)
    }

    /// Update my account
    #[oai(path = "/me", method = "patch", operation_id = "update_me")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<MePatch>,
    ) -> ApiResult<Json<UserOut>, MeWriteErrors> {
        let user = state
            .auth
            .update_name(auth.principal().user_id, &body.0.name)
            .await?;
        Ok(Json(user.into()))
    }

    /// Change my password
    ///
    /// Requires the current password; signs out every other session.
    #[oai(
        path = "/me/password",
        method = "post",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        state: poem::web::Data<&AppState>,
        req: &poem::Request,
        auth: BearerAuth,
        body: JsonBody<PasswordChangeIn>,
    ) -> ApiResult<PasswordChanged, MeWriteErrors> {
        let PasswordChangeIn {
            current_password,
            new_password,
            refresh_token,
        } = body.0;
        state
            .auth
            .change_password(
                auth.principal(),
                PasswordChange {
                    current: current_password,
                    new: new_password,
                    keep_refresh_token: refresh_token.as_deref(),
                    client_ip: client_ip(req, &state.config.http),
                },
            )
            .await?;
        Ok(PasswordChanged::NoContent)
    }

    /// Download my data
    ///
    /// The account, saved addresses, orders and returns, as one JSON document.
    #[oai(path = "/me/export", method = "get", operation_id = "export_my_data")]
    async fn export(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<AccountExported, MeErrors> {
        let user_id = auth.principal().user_id;
        let export = state.accounts.export(user_id).await?;
        let file = format!(
            "attachment; filename=\"toko-account-{user_id}-{}.json\"",
            export.exported_at.format("%Y%m%d")
        );
        Ok(AccountExported::Ok(Json(export.into()), file))
    }

    /// Delete my account
    ///
    /// Asks for the password again. Personal data is deleted at once and every session ends;
    /// orders stay for the shop's accounting without name, email, phone or street. Refused
    /// with 409 `account_has_open_orders` while an order is on its way or a return under way.
    #[oai(
        path = "/me/deletion",
        method = "post",
        operation_id = "delete_my_account"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        req: &poem::Request,
        auth: BearerAuth,
        body: JsonBody<AccountDeletionIn>,
    ) -> ApiResult<AccountDeleted, AccountDeletion> {
        state
            .accounts
            .delete(
                auth.principal().user_id,
                body.0.current_password,
                client_ip(req, &state.config.http),
            )
            .await?;
        Ok(AccountDeleted::NoContent)
    }

    /// Log out everywhere
    ///
    /// Ends every session of the account, this one included: all refresh tokens are revoked
    /// and all access tokens stop working at once.
    #[oai(
        path = "/me/sessions",
        method = "delete",
        operation_id = "end_all_sessions"
    )]
    async fn end_all_sessions(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<SessionsEnded, MeErrors> {
        state
            .auth
            .end_all_sessions(auth.principal().user_id)
            .await?;
        Ok(SessionsEnded::NoContent)
    }
}
