//! `/api/v1/me`: the signed-in user's own account.

use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi};

use super::{dto::UserOut, ApiTags};
use crate::{
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
