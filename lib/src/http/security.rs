//! Bearer-token authentication for API operations.
//!
//! As an operation parameter, [`BearerAuth`] both enforces authentication (401 before the
//! handler runs) and documents the `bearerAuth` security scheme in the spec. The token must
//! belong to a live session (see `auth::sessions`). Routes under `/api/v1/admin/` refuse
//! non-admins here, before the body is read; handlers check the role again with
//! [`BearerAuth::admin`], so a customer gets 403, never the data.

use poem::{IntoResponse, Request};
use poem_openapi::{auth::Bearer, error::AuthorizationError, SecurityScheme};

use super::{
    problem::{ApiError, ErrorSet, Problem},
    AppState,
};
use crate::auth::{Permission, Principal};

/// A valid access token in `Authorization: Bearer <jwt>`.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "authenticate"
)]
pub struct BearerAuth(pub Principal);

/// 401 for a token that is invalid or no longer current; a database failure is its own
/// problem (503), not a 401 that would sign the client out.
async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    match state.auth.authenticate(&bearer.token).await {
        Ok(Some(principal)) => check_route_role(req, principal),
        Ok(None) => Err(AuthorizationError.into()),
        Err(error) => Err(poem::Error::from_response(
            Problem::from(error).into_response(),
        )),
    }
}

/// Every operation under `/api/v1/admin/` is for staff: customers are refused here, before
/// the request body is read or validated (authorization comes first: 403, never a 422 that
/// would tell a customer about the shape of admin inputs). Each operation then asks for its
/// permission ([`BearerAuth::require`]) before it reads its body.
fn check_route_role(req: &Request, principal: Principal) -> poem::Result<Principal> {
    if req.uri().path().starts_with("/api/v1/admin/") && !principal.role.is_staff() {
        let problem: Problem = Problem::forbidden("this operation is for staff");
        return Err(poem::Error::from_response(problem.into_response()));
    }
    Ok(principal)
}

impl BearerAuth {
    pub fn principal(&self) -> Principal {
        self.0
    }

    /// The principal if its role holds `permission`; 403 otherwise.
    #[allow(clippy::result_large_err)] // the problem body is the error path's answer
    pub fn require<S: ErrorSet>(&self, permission: Permission) -> Result<Principal, ApiError<S>> {
        if self.0.can(permission) {
            Ok(self.0)
        } else {
            Err(Problem::forbidden(format!(
                "this operation requires the `{}` permission",
                permission.name()
            ))
            .into())
        }
    }
}

/// A guest cart's token in `X-Cart-Token` (from `POST /api/v1/carts`).
#[derive(SecurityScheme)]
#[oai(
    rename = "cartToken",
    ty = "api_key",
    key_name = "X-Cart-Token",
    key_in = "header"
)]
pub struct CartTokenAuth(pub poem_openapi::auth::ApiKey);

/// Cart operations accept a signed-in customer or a guest cart token.
#[derive(SecurityScheme)]
pub enum CartAuth {
    Customer(BearerAuth),
    Guest(CartTokenAuth),
}

impl CartAuth {
    pub fn owner(&self) -> crate::cart::CartOwner {
        match self {
            CartAuth::Customer(auth) => crate::cart::CartOwner::Customer(auth.0.user_id),
            CartAuth::Guest(token) => crate::cart::CartOwner::Guest {
                token: token.0.key.clone(),
            },
        }
    }
}
