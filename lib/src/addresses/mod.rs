//! Postal addresses and each customer's address book.
//!
//! [`Address`] is where a parcel goes: orders keep a copy of it, checkout and shipping quotes
//! take one, and its rules live here once ([`Address::problems`]). The address book holds up
//! to [`MAX_ADDRESSES`] saved addresses per customer, at most one of them the default (a
//! partial unique index); every write locks the customer's row, so the limit and the single
//! default hold under concurrent requests. Checkout and quotes accept a saved address by id,
//! or fall back to the default one ([`ship_to`]).

mod store;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::validation::ValidationErrors;

/// How many addresses one customer may save.
pub const MAX_ADDRESSES: i64 = 20;

/// Where a parcel ships to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    pub recipient_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 or alpha-3.
    pub country_code: String,
}

impl Address {
    /// Every bad field, named relative to the address (`phone`, `postal_code`, ...).
    pub fn problems(&self) -> ValidationErrors {
        let mut errors = ValidationErrors::new();
        errors.length("recipient_name", self.recipient_name.trim(), 1, 100);
        let phone = self.phone.trim();
        errors.check(
            (6..=20).contains(&phone.len())
                && phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-() ".contains(c)),
            "phone",
            "must be a phone number (6-20 digits, may start with +)",
        );
        errors.length("line1", self.line1.trim(), 1, 200);
        if let Some(line2) = &self.line2 {
            errors.length("line2", line2, 0, 200);
        }
        errors.length("city", self.city.trim(), 1, 100);
        if let Some(province) = &self.province {
            errors.length("province", province, 0, 100);
        }
        errors.check(
            postal_code_ok(&self.postal_code),
            "postal_code",
            "must be a postal code (3-10 letters or digits)",
        );
        let country = &self.country_code;
        errors.check(
            (2..=3).contains(&country.len()) && country.chars().all(|c| c.is_ascii_uppercase()),
            "country_code",
            "must be an uppercase ISO 3166 code, e.g. ID or IDN",
        );
        errors
    }

    /// The same address without surrounding blanks (and without empty optional lines).
    fn trimmed(self) -> Self {
        let optional = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Self {
            recipient_name: self.recipient_name.trim().to_owned(),
            phone: self.phone.trim().to_owned(),
            line1: self.line1.trim().to_owned(),
            line2: optional(self.line2),
            city: self.city.trim().to_owned(),
            province: optional(self.province),
            postal_code: self.postal_code.trim().to_owned(),
            country_code: self.country_code,
        }
    }
}

/// 3-10 letters, digits, spaces or dashes (after trimming).
pub fn postal_code_ok(postal_code: &str) -> bool {
    let postal = postal_code.trim();
    (3..=10).contains(&postal.len())
        && postal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// An address as the customer saves it.
#[derive(Debug, Clone)]
pub struct AddressDraft {
    /// The customer's name for it ("Home", "Office").
    pub label: Option<String>,
    pub address: Address,
    /// Makes it the default (the previous default stops being one). A customer's first
    /// address is the default whatever this says.
    pub is_default: bool,
}

impl AddressDraft {
    fn parse(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        errors.nest("address", self.address.problems());
        let label = self
            .label
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty());
        if let Some(label) = &label {
            errors.length("label", label, 0, 50);
        }
        errors.finish()?;
        Ok(Self {
            label,
            address: self.address.trimmed(),
            is_default: self.is_default,
        })
    }
}

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAddress {
    pub id: Uuid,
    pub label: Option<String>,
    pub address: Address,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("address not found")]
    NotFound,
    #[error("the address book is full ({MAX_ADDRESSES} addresses); delete one first")]
    BookFull,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The address book service.
#[derive(Clone)]
pub struct AddressBook {
    db: PgPool,
}

impl AddressBook {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }

    /// The customer's addresses, oldest first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SavedAddress>, AddressError> {
        Ok(store::list(&self.db, user_id).await?)
    }

    pub async fn get(&self, user_id: Uuid, id: Uuid) -> Result<SavedAddress, AddressError> {
        let mut conn = self.db.acquire().await?;
        store::find(&mut conn, user_id, id)
            .await?
            .ok_or(AddressError::NotFound)
    }

    /// Saves a new address (refused once the book holds [`MAX_ADDRESSES`]).
    pub async fn add(
        &self,
        user_id: Uuid,
        draft: AddressDraft,
    ) -> Result<SavedAddress, AddressError> {
        let draft = draft.parse()?;
        let mut tx = self.db.begin().await?;
        let count = store::lock_book(&mut tx, user_id)
            .await?
            .ok_or(AddressError::NotFound)?;
        if count >= MAX_ADDRESSES {
            return Err(AddressError::BookFull);
        }
        let is_default = draft.is_default || count == 0;
        if is_default {
            store::clear_default(&mut tx, user_id).await?;
        }
        let id = Uuid::now_v7();
        store::insert(&mut tx, user_id, id, &draft, is_default).await?;
        let saved = store::find(&mut tx, user_id, id)
            .await?
            .ok_or(AddressError::NotFound)?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Replaces a saved address. Orders placed with it keep the address they shipped to.
    pub async fn replace(
        &self,
        user_id: Uuid,
        id: Uuid,
        draft: AddressDraft,
    ) -> Result<SavedAddress, AddressError> {
        let draft = draft.parse()?;
        let mut tx = self.db.begin().await?;
        store::lock_book(&mut tx, user_id)
            .await?
            .ok_or(AddressError::NotFound)?;
        if draft.is_default {
            store::clear_default(&mut tx, user_id).await?;
        }
        if !store::update(&mut tx, user_id, id, &draft).await? {
            return Err(AddressError::NotFound);
        }
        let saved = store::find(&mut tx, user_id, id)
            .await?
            .ok_or(AddressError::NotFound)?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Deletes a saved address; deleting the default leaves the book without one.
    pub async fn remove(&self, user_id: Uuid, id: Uuid) -> Result<(), AddressError> {
        if !store::delete(&self.db, user_id, id).await? {
            return Err(AddressError::NotFound);
        }
        Ok(())
    }
}

/// What a customer's address book says about where to ship.
#[derive(Debug)]
pub(crate) enum ShipTo {
    Address(Address),
    /// No id was named and no address is the default.
    NoDefault,
    /// The id named is not one of the customer's addresses.
    NotInBook,
}

/// Where to ship for a customer who named a saved address (`Some(id)`) or none (their default
/// address, if they have one).
pub(crate) async fn ship_to(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Option<Uuid>,
) -> Result<ShipTo, sqlx::Error> {
    Ok(match id {
        Some(id) => match store::find(conn, user_id, id).await? {
            Some(saved) => ShipTo::Address(saved.address),
            None => ShipTo::NotInBook,
        },
        None => match store::default_address(conn, user_id).await? {
            Some(saved) => ShipTo::Address(saved.address),
            None => ShipTo::NoDefault,
        },
    })
}

/// Deletes a deleted customer's address book.
pub(crate) async fn forget_customer(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    store::delete_all(tx, user_id).await
}

/// Every saved address of a customer (their data export).
pub(crate) async fn of_customer(
    db: &PgPool,
    user_id: Uuid,
) -> Result<Vec<SavedAddress>, sqlx::Error> {
    store::list(db, user_id).await
}
