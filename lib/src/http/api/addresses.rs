//! `/api/v1/me/addresses`: the signed-in customer's address book.

use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{admin_catalog::Deleted, order_dto::AddressDto, ApiTags};
use crate::{
    addresses::{AddressDraft, SavedAddress},
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
};

error_set!(AddressList: 401);
error_set!(AddressRead: 401, 404);
error_set!(AddressCreate: 401, 404, 409, 413, 415, 422);
error_set!(AddressWrite: 401, 404, 413, 415, 422);

/// An address to save.
#[derive(Debug, Object, serde::Deserialize)]
pub struct AddressIn {
    /// Your name for it, e.g. "Home" (at most 50 characters).
    pub label: Option<String>,
    pub address: AddressDto,
    /// Make it the default shipping address (the previous default stops being one). The
    /// first saved address is the default in any case.
    #[oai(default)]
    #[serde(default)]
    pub is_default: bool,
}

impl From<AddressIn> for AddressDraft {
    fn from(a: AddressIn) -> Self {
        Self {
            label: a.label,
            address: a.address.into(),
            is_default: a.is_default,
        }
    }
}

/// A saved address.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SavedAddressOut {
    pub id: Uuid,
    pub label: Option<String>,
    pub address: AddressDto,
    /// Checkout and shipping quotes use it when no address is given.
    pub is_default: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<SavedAddress> for SavedAddressOut {
    fn from(a: SavedAddress) -> Self {
        Self {
            id: a.id,
            label: a.label,
            address: a.address.into(),
            is_default: a.is_default,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct SavedAddressesOut {
    /// Oldest first.
    pub items: Vec<SavedAddressOut>,
}

#[derive(ApiResponse)]
pub enum AddressCreated {
    #[oai(status = 201)]
    Created(Json<SavedAddressOut>),
}

pub struct AddressesApi;

#[OpenApi(prefix_path = "/api/v1/me", tag = "ApiTags::Account")]
impl AddressesApi {
    /// List my addresses
    #[oai(path = "/addresses", method = "get", operation_id = "list_addresses")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<SavedAddressesOut>, AddressList> {
        let addresses = state.addresses.list(auth.principal().user_id).await?;
        Ok(Json(SavedAddressesOut {
            items: addresses.into_iter().map(Into::into).collect(),
        }))
    }

    /// Save an address
    ///
    /// At most 20 per account (409 `address_book_full`).
    #[oai(path = "/addresses", method = "post", operation_id = "create_address")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<AddressIn>,
    ) -> ApiResult<AddressCreated, AddressCreate> {
        let saved = state
            .addresses
            .add(auth.principal().user_id, body.0.into())
            .await?;
        Ok(AddressCreated::Created(Json(saved.into())))
    }

    /// Get one of my addresses
    #[oai(
        path = "/addresses/:address_id",
        method = "get",
        operation_id = "get_address"
    )]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        address_id: Path<Uuid>,
    ) -> ApiResult<Json<SavedAddressOut>, AddressRead> {
        let saved = state
            .addresses
            .get(auth.principal().user_id, address_id.0)
            .await?;
        Ok(Json(saved.into()))
    }

    /// Replace one of my addresses
    ///
    /// Orders already placed keep the address they were shipped to.
    #[oai(
        path = "/addresses/:address_id",
        method = "put",
        operation_id = "replace_address"
    )]
    async fn replace(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        address_id: Path<Uuid>,
        body: JsonBody<AddressIn>,
    ) -> ApiResult<Json<SavedAddressOut>, AddressWrite> {
        let saved = state
            .addresses
            .replace(auth.principal().user_id, address_id.0, body.0.into())
            .await?;
        Ok(Json(saved.into()))
    }

    /// Delete one of my addresses
    ///
    /// Deleting the default address leaves the book without a default.
    #[oai(
        path = "/addresses/:address_id",
        method = "delete",
        operation_id = "delete_address"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        address_id: Path<Uuid>,
    ) -> ApiResult<Deleted, AddressRead> {
        state
            .addresses
            .remove(auth.principal().user_id, address_id.0)
            .await?;
        Ok(Deleted::NoContent)
    }
}
