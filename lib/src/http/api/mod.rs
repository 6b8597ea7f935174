//! The versioned API (`/api/v1`): one `#[OpenApi]` impl per resource, merged here, so the whole
//! surface reads in one place. Handlers parse, authorize, call one service function, and map
//! the result; domain rules live in the domain modules.

mod account;
mod addresses;
mod admin_audit;
mod admin_catalog;
mod admin_fulfilment;
mod admin_orders;
mod admin_promotions;
mod admin_returns;
mod admin_shipping;
mod admin_tax;
mod admin_users;
mod admin_webhooks;
mod auth;
mod cart;
mod catalog;
mod catalog_dto;
mod dto;
mod fulfilment_dto;
mod order_dto;
mod orders;
mod payments;
mod promotion_dto;
mod return_dto;
mod returns;
mod search;
mod search_dto;
mod shipping_dto;
mod webhook_dto;

use poem_openapi::Tags;

/// Spec tags, one per area.
#[derive(Tags)]
#[allow(clippy::enum_variant_names)]
pub enum ApiTags {
    /// Registration, login and token refresh.
    Auth,
    /// The signed-in user's own account.
    Account,
    /// Categories and products.
    Catalog,
    /// Carts of customers and guests.
    Cart,
    /// Checkout and the customer's orders.
    Orders,
    /// Payment provider callbacks.
    Payments,
    /// Full-text product search with filters and facets.
    Search,
    /// Administration: staff, each operation needing a permission of their role.
    Admin,
}

/// Every API of the service, merged.
pub type Api = (
    auth::AuthApi,
    account::AccountApi,
    catalog::CatalogApi,
    cart::CartApi,
    orders::OrdersApi,
    payments::PaymentsApi,
    search::SearchApi,
    admin_users::AdminUsersApi,
    admin_catalog::AdminCatalogApi,
    admin_orders::AdminOrdersApi,
    admin_webhooks::AdminWebhooksApi,
    admin_promotions::AdminPromotionsApi,
    returns::ReturnsApi,
    admin_returns::AdminReturnsApi,
    admin_tax::AdminTaxApi,
    // Tuples of up to 16 APIs are an API: the last slot holds the rest.
    (
        admin_shipping::AdminShippingApi,
        admin_fulfilment::AdminFulfilmentApi,
        addresses::AddressesApi,
        admin_audit::AdminAuditApi,
    ),
);

pub fn all() -> Api {
    (
        auth::AuthApi,
        account::AccountApi,
        catalog::CatalogApi,
        cart::CartApi,
        orders::OrdersApi,
        payments::PaymentsApi,
        search::SearchApi,
        admin_users::AdminUsersApi,
        admin_catalog::AdminCatalogApi,
        admin_orders::AdminOrdersApi,
        admin_webhooks::AdminWebhooksApi,
        admin_promotions::AdminPromotionsApi,
        returns::ReturnsApi,
        admin_returns::AdminReturnsApi,
        admin_tax::AdminTaxApi,
        (
            admin_shipping::AdminShippingApi,
            admin_fulfilment::AdminFulfilmentApi,
            addresses::AddressesApi,
            admin_audit::AdminAuditApi,
        ),
    )
}
