//! `/api/v1/auth`: register, login, refresh, logout.

use poem::Request;
use poem_openapi::{param::Header, payload::Json, ApiResponse, Object, OpenApi};

use super::{
    dto::{SessionOut, TokenPairOut},
    ApiTags,
};
use crate::{
    auth::{AuthError, LoginInput, Registration},
    error_set,
    http::{client_ip, problem::ApiResult, AppState, JsonBody},
};

error_set!(RegisterErrors: 409, 413, 415, 422);
error_set!(LoginErrors: 401, 403, 413, 415, 422);
error_set!(TokenErrors: 401, 413, 415, 422);
error_set!(ResetErrors: 413, 415, 422);

/// A new account.
#[derive(Debug, Object, serde::Deserialize)]
pub struct RegisterIn {
    // A missing field parses as empty (the spec still requires it) so that the account rules
    // report it together with every other bad field of the form, not alone.
    /// Normalised to lowercase; must be unique.
    #[serde(default)]
    pub email: String,
    /// At least 10 characters, not your email, not a common password.
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub name: String,
}

/// Credentials.
#[derive(Debug, Object, serde::Deserialize)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

/// A refresh token to rotate or revoke.
#[derive(Debug, Object, serde::Deserialize)]
pub struct RefreshIn {
    pub refresh_token: String,
}

/// The token of a verification link.
#[derive(Debug, Object, serde::Deserialize)]
pub struct VerifyEmailIn {
    pub token: String,
}

/// Where to send a password reset link.
#[derive(Debug, Object, serde::Deserialize)]
pub struct PasswordResetIn {
    pub email: String,
}

/// A new password with the token of a reset link.
#[derive(Debug, Object, serde::Deserialize)]
pub struct PasswordResetConfirmIn {
    /// The `token` of the link in the email.
    #[serde(default)]
    pub token: String,
    /// At least 10 characters, not your email, not a common password.
    #[serde(default)]
    pub new_password: String,
}

#[derive(ApiResponse)]
pub enum ResetRequested {
    /// If the address has an account, a link is on its way (the answer is the same either way).
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account was created; the user is signed in.
    #[oai(status = 201)]
    Created(Json<SessionOut>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session is revoked.
    #[oai(status = 204)]
    NoContent,
}

/// Accepting a staff invite.
#[derive(Debug, Object, serde::Deserialize)]
pub struct InviteAcceptIn {
    /// The `token` of the invite's link.
    #[serde(default)]
    pub token: String,
    /// The new account's password: at least 10 characters, not the email, not a common one.
    #[serde(default)]
    pub new_password: String,
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Register a customer account
    ///
    /// Creates the account and signs it in with a new token pair. With `X-Cart-Token`, the
    /// guest cart is merged into the new customer's cart.
    #[oai(path = "/register", method = "post", operation_id = "register_user")]
    async fn register(
        &self,
        state: poem::web::Data<&AppState>,
        /// A guest cart to merge into the account's cart.
        #[oai(name = "X-Cart-Token")]
        cart_token: Header<Option<String>>,
        body: JsonBody<RegisterIn>,
    ) -> ApiResult<RegisterResponse, RegisterErrors> {
        let RegisterIn {
            email,
            password,
            name,
        } = body.0;
        let registration = Registration::parse(&email, password, &name).map_err(AuthError::from)?;
        let (user, tokens) = state.auth.register(registration).await?;
        super::cart::merge_guest_cart(&state, cart_token.0.as_deref(), user.id).await;
        Ok(RegisterResponse::Created(Json(SessionOut {
            user: user.into(),
            tokens: tokens.into(),
        })))
    }

    /// Log in
    ///
    /// Unknown emails and wrong passwords get the same 401. Repeated failures per account and
    /// per client IP are refused with 429 and `Retry-After`. A disabled account gets 403
    /// `account_disabled`, told only to whoever gave its right password. With `X-Cart-Token`, the guest
    /// cart is merged into the customer's cart (quantities summed, capped by availability).
    #[oai(path = "/login", method = "post", operation_id = "login_user")]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        /// A guest cart to merge into the customer's cart.
        #[oai(name = "X-Cart-Token")]
        cart_token: Header<Option<String>>,
        body: JsonBody<LoginIn>,
    ) -> ApiResult<Json<SessionOut>, LoginErrors> {
        let LoginIn { email, password } = body.0;
        let client_ip = client_ip(req, &state.config.http);
        let (user, tokens) = state
            .auth
            .login(LoginInput {
                email,
                password,
                client_ip,
            })
            .await?;
        super::cart::merge_guest_cart(&state, cart_token.0.as_deref(), user.id).await;
        Ok(Json(SessionOut {
            user: user.into(),
            tokens: tokens.into(),
        }))
    }

    /// Rotate a refresh token
    ///
    /// Returns a new pair; the presented token is spent. Presenting a spent token again revokes
    /// the whole session (every token derived from the same login) and returns 401.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh_token")]
    async fn refresh(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<RefreshIn>,
    ) -> ApiResult<Json<TokenPairOut>, TokenErrors> {
        let tokens = state.auth.refresh(&body.0.refresh_token).await?;
        Ok(Json(tokens.into()))
    }

    /// Ask for a password reset link
    ///
    /// Emails a link that works once, for `PASSWORD_RESET_TTL` (1 hour), to the account of
    /// `email`. The answer is the same 202 whether or not the address has an account; at most
    /// `PASSWORD_RESETS_PER_HOUR` links per account are sent, and the per-IP limit of
    /// `/api/v1/auth/*` applies.
    #[oai(
        path = "/password-reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn request_password_reset(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<PasswordResetIn>,
    ) -> ApiResult<ResetRequested, ResetErrors> {
        state.auth.request_password_reset(&body.0.email).await?;
        Ok(ResetRequested::Accepted)
    }

    /// Set a new password with a reset link
    ///
    /// Ends every session of the account (refresh and access tokens stop working at once) and
    /// every other open link; sign in with the new password. An invalid, expired or used
    /// token is a 422 naming `token`.
    #[oai(
        path = "/password-reset/confirm",
        method = "post",
        operation_id = "confirm_password_reset"
    )]
    async fn confirm_password_reset(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<PasswordResetConfirmIn>,
    ) -> ApiResult<Done, ResetErrors> {
        state
            .auth
            .reset_password(&body.0.token, &body.0.new_password)
            .await?;
        Ok(Done::NoContent)
    }

    /// Accept a staff invite
    ///
    /// Creates the staff account of the invite (its address verified, its role the invite's)
    /// and signs it in. An invalid, expired or used token is a 422 naming `token`.
    #[oai(
        path = "/accept-invite",
        method = "post",
        operation_id = "accept_staff_invite"
    )]
    async fn accept_invite(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<InviteAcceptIn>,
    ) -> ApiResult<RegisterResponse, RegisterErrors> {
        let (user, tokens) = state
            .auth
            .accept_invite(&body.0.token, &body.0.new_password)
            .await?;
        Ok(RegisterResponse::Created(Json(SessionOut {
            user: user.into(),
            tokens: tokens.into(),
        })))
    }

    /// Verify my email address with a link's token
    ///
    /// An invalid, expired or used token (or one sent to an address the account no longer
    /// has) is a 422 naming `token`.
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<VerifyEmailIn>,
    ) -> ApiResult<Done, ResetErrors> {
        state.auth.verify_email(&body.0.token).await?;
        Ok(Done::NoContent)
    }

    /// Log out
    ///
    /// Revokes the session the refresh token belongs to.
    #[oai(path = "/logout", method = "post", operation_id = "logout_user")]
    async fn logout(
        &self,
        state: poem::web::Data<&AppState>,
        body: JsonBody<RefreshIn>,
    ) -> ApiResult<LogoutResponse, TokenErrors> {
        state.auth.logout(&body.0.refresh_token).await?;
        Ok(LogoutResponse::NoContent)
    }
}
