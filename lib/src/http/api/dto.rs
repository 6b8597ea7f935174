//! Request and response bodies shared by several APIs (`XxxIn` / `XxxOut`).

use chrono::{DateTime, Utc};
use poem_openapi::{types::MaybeUndefined, Enum, Object};
use uuid::Uuid;

use crate::auth::{Role, TokenPair, User};

/// A user's role.
#[derive(Debug, Clone, Copy, Enum, serde::Deserialize)]
#[oai(remote = "Role", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RoleOut {
    Customer,
    /// Everything, staff included.
    Owner,
    /// Everything but staff.
    #[oai(rename = "admin")]
    #[serde(rename = "admin")]
    Administrator,
    /// Catalog, stock and imports.
    CatalogManager,
    /// Orders, shipments, returns and refunds up to `STAFF_REFUND_LIMIT`.
    OrderManager,
    /// Reads orders and customers.
    Support,
}

/// A user account.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: RoleOut,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while staff have disabled the account.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role.into(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            disabled_at: u.disabled_at,
        }
    }
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone, Object)]
pub struct TokenPairOut {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub access_token_expires_at: DateTime<Utc>,
    /// Opaque; exchange it at `POST /api/v1/auth/refresh`. Single use.
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

impl From<TokenPair> for TokenPairOut {
    fn from(p: TokenPair) -> Self {
        Self {
            expires_in: (p.access_expires_at - Utc::now()).num_seconds().max(0),
            access_token: p.access_token,
            token_type: "Bearer".into(),
            access_token_expires_at: p.access_expires_at,
            refresh_token: p.refresh_token,
            refresh_token_expires_at: p.refresh_expires_at,
        }
    }
}

/// A user with a fresh token pair.
#[derive(Debug, Clone, Object)]
pub struct SessionOut {
    pub user: UserOut,
    pub tokens: TokenPairOut,
}

/// A PATCH field that may be cleared: absent leaves it (`None`), `null` clears it
/// (`Some(None)`), a value sets it.
pub fn nullable<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}
