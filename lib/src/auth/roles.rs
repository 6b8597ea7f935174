//! Who may do what: a user's role, and the named permissions each staff role holds. Every
//! admin operation asks for one permission (`BearerAuth::require` at the edge); the table
//! below is the only place that says which role has it.

use serde::{Deserialize, Serialize};

/// What a user is: a customer, or one of the staff roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    /// Runs the shop: everything, staff included.
    Owner,
    /// Everything but managing staff.
    Administrator,
    /// The catalog, stock and imports.
    CatalogManager,
    /// Orders, shipments, returns and refunds (refunds up to `STAFF_REFUND_LIMIT`).
    OrderManager,
    /// Reads orders and customers, changes nothing.
    Support,
}

/// One kind of admin operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Products, variants and categories as staff see them, stock movements.
    CatalogRead,
    /// Creating, changing and deleting products, variants, categories, their tax classes.
    CatalogWrite,
    /// Stock adjustments.
    StockWrite,
    /// Orders, shipments, returns and payment exceptions as staff see them.
    OrdersRead,
    /// Moving orders on: transitions, shipments, returns, payment exceptions.
    OrdersWrite,
    /// Giving money back: refunds, unit cancellations, return refunds.
    Refunds,
    /// Customer and staff accounts (the list).
    CustomersRead,
    /// Disabling and enabling customer accounts.
    CustomersWrite,
    /// Promotions.
    Promotions,
    /// Shop settings: shipping zones, tax classes, webhook endpoints.
    Settings,
    /// Inviting staff, changing their roles, disabling them.
    Staff,
    /// Reading the audit log of staff actions.
    AuditRead,
}

impl Permission {
    /// The name problems and docs use.
    pub fn name(self) -> &'static str {
        match self {
            Permission::CatalogRead => "catalog.read",
            Permission::CatalogWrite => "catalog.write",
            Permission::StockWrite => "stock.write",
            Permission::OrdersRead => "orders.read",
            Permission::OrdersWrite => "orders.write",
            Permission::Refunds => "refunds",
            Permission::CustomersRead => "customers.read",
            Permission::CustomersWrite => "customers.write",
            Permission::Promotions => "promotions",
            Permission::Settings => "settings",
            Permission::Staff => "staff",
            Permission::AuditRead => "audit.read",
        }
    }
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Customer,
        Role::Owner,
        Role::Administrator,
        Role::CatalogManager,
        Role::OrderManager,
        Role::Support,
    ];

    pub fn as_db(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Owner => "owner",
            Role::Administrator => "admin",
            Role::CatalogManager => "catalog_manager",
            Role::OrderManager => "order_manager",
            Role::Support => "support",
        }
    }

    /// The column has a check constraint, so anything else is a bug; treat it as least
    /// privilege.
    pub fn from_db(value: &str) -> Self {
        Role::ALL
            .into_iter()
            .find(|r| r.as_db() == value)
            .unwrap_or(Role::Customer)
    }

    pub fn is_staff(self) -> bool {
        self != Role::Customer
    }

    /// Whether the role holds `permission`.
    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Customer => false,
            Role::Owner => true,
            Role::Administrator => permission != Staff,
            Role::CatalogManager => matches!(permission, CatalogRead | CatalogWrite | StockWrite),
            Role::OrderManager => matches!(
                permission,
                CatalogRead | OrdersRead | OrdersWrite | Refunds | CustomersRead
            ),
            Role::Support => matches!(permission, OrdersRead | CustomersRead),
        }
    }
}
