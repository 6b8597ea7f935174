//! `/api/v1/cart` (the caller's cart) and `/api/v1/carts` (guest carts).

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    order_dto::{CartItemIn, CartItemPatch, CartOut, GuestCartOut, PromotionCodeIn},
    shipping_dto::{ShippingOptionOut, ShippingOptionsOut},
    ApiTags,
};
use crate::{
    error_set,
    http::{problem::ApiResult, AppState, CartAuth, JsonBody},
};

error_set!(CartRead: 401, 404);
error_set!(CartWrite: 401, 404, 409, 413, 415, 422);
error_set!(CartShippingQuote: 401, 404, 422);

#[derive(ApiResponse)]
pub enum GuestCartCreated {
    #[oai(status = 201)]
    Created(Json<GuestCartOut>),
}

pub struct CartApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Cart")]
impl CartApi {
    /// Create a guest cart
    ///
    /// Returns a cart token: send it as `X-Cart-Token` to use the cart without logging in,
    /// and with the login or registration request to merge it into the customer's cart.
    #[oai(path = "/carts", method = "post", operation_id = "create_guest_cart")]
    async fn create_guest(
        &self,
        state: poem::web::Data<&AppState>,
    ) -> ApiResult<GuestCartCreated, CartRead> {
        let guest = state.carts.create_guest().await?;
        Ok(GuestCartCreated::Created(Json(GuestCartOut {
            cart_token: guest.token,
            cart: CartOut::new(guest.cart, &state.catalog.currency),
        })))
    }

    /// Get my cart
    ///
    /// A customer's cart is created on first use. Prices, totals and availability are current.
    #[oai(path = "/cart", method = "get", operation_id = "get_cart")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
    ) -> ApiResult<Json<CartOut>, CartRead> {
        let cart = state.carts.get(&auth.owner()).await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Quote shipping for my cart
    ///
    /// The methods that ship the cart to the address, with their fees (free-shipping
    /// thresholds compare the subtotal before discounts) and delivery estimates; checkout
    /// charges the same for the same cart and address. Empty when nothing ships there (or
    /// the cart is empty).
    #[oai(
        path = "/cart/shipping-options",
        method = "get",
        operation_id = "quote_cart_shipping"
    )]
    async fn shipping_options(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        /// A saved address (`GET /api/v1/me/addresses`), instead of the parts below. With
        /// neither, a signed-in customer's default address.
        address_id: Query<Option<Uuid>>,
        country_code: Query<Option<String>>,
        province: Query<Option<String>>,
        postal_code: Query<Option<String>>,
    ) -> ApiResult<Json<ShippingOptionsOut>, CartShippingQuote> {
        let address = crate::shipping::AddressQuery {
            address_id: address_id.0,
            country_code: country_code.0.as_deref(),
            province: province.0.as_deref(),
            postal_code: postal_code.0.as_deref(),
        };
        let options = state
            .shipping
            .cart_options(&state.carts, &auth.owner(), &address)
            .await?;
        let currency = &state.catalog.currency;
        Ok(Json(ShippingOptionsOut {
            items: options
                .quotes
                .into_iter()
                .map(|q| ShippingOptionOut::new(q, currency))
                .collect(),
            weight_grams: options.parcel.weight_grams,
            subtotal: options.parcel.subtotal,
            currency: currency.clone(),
        }))
    }

    /// Add an item to my cart
    ///
    /// Adds to the existing line of the same variant. More than is available, or a product
    /// not for sale, is a 409 (with `available_quantity`).
    #[oai(path = "/cart/items", method = "post", operation_id = "add_cart_item")]
    async fn add(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        body: JsonBody<CartItemIn>,
    ) -> ApiResult<Json<CartOut>, CartWrite> {
        let cart = state
            .carts
            .add_item(&auth.owner(), body.0.variant_id, body.0.quantity)
            .await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Change an item's quantity
    ///
    /// A quantity of 0 removes the item.
    #[oai(
        path = "/cart/items/:item_id",
        method = "patch",
        operation_id = "update_cart_item"
    )]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        item_id: Path<Uuid>,
        body: JsonBody<CartItemPatch>,
    ) -> ApiResult<Json<CartOut>, CartWrite> {
        let cart = state
            .carts
            .set_quantity(&auth.owner(), item_id.0, body.0.quantity)
            .await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Remove an item from my cart
    #[oai(
        path = "/cart/items/:item_id",
        method = "delete",
        operation_id = "delete_cart_item"
    )]
    async fn remove(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        item_id: Path<Uuid>,
    ) -> ApiResult<Json<CartOut>, CartRead> {
        let cart = state.carts.remove_item(&auth.owner(), item_id.0).await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Put a promotion code on my cart
    ///
    /// Replaces the cart's code. A code no promotion has is a 422 (`promotion_code_unknown`);
    /// a known code is kept even when it does not apply yet, and the cart says why
    /// (`rejected_code`).
    #[oai(
        path = "/cart/promotions",
        method = "post",
        operation_id = "apply_cart_promotion_code"
    )]
    async fn apply_code(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        body: JsonBody<PromotionCodeIn>,
    ) -> ApiResult<Json<CartOut>, CartWrite> {
        let cart = state.carts.apply_code(&auth.owner(), &body.0.code).await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Take a promotion code off my cart
    #[oai(
        path = "/cart/promotions/:code",
        method = "delete",
        operation_id = "remove_cart_promotion_code"
    )]
    async fn remove_code(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
        code: Path<String>,
    ) -> ApiResult<Json<CartOut>, CartRead> {
        let cart = state.carts.remove_code(&auth.owner(), &code.0).await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }

    /// Empty my cart
    #[oai(path = "/cart", method = "delete", operation_id = "clear_cart")]
    async fn clear(
        &self,
        state: poem::web::Data<&AppState>,
        auth: CartAuth,
    ) -> ApiResult<Json<CartOut>, CartRead> {
        let cart = state.carts.clear(&auth.owner()).await?;
        Ok(Json(CartOut::new(cart, &state.catalog.currency)))
    }
}

/// Merges the guest cart named by `X-Cart-Token` into a customer's cart after login or
/// registration.
pub(super) async fn merge_guest_cart(state: &AppState, token: Option<&str>, user_id: Uuid) {
    let Some(token) = token else { return };
    // The login itself succeeded; a failed merge leaves the guest cart where it was, so it is
    // logged rather than turned into a failed login.
    if let Err(error) = state.carts.merge_guest(token, user_id).await {
        tracing::warn!(user.id = %user_id, error = %error, "could not merge the guest cart");
    }
}
