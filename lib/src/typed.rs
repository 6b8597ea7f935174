//! Newtypes for the values the domain passes around, declared by the module that owns each.
//!
//! - [`typed_id!`]: one type over a UUID per kind of row, so a variant's id cannot be passed
//!   where a product's is expected. The edge turns the UUIDs of paths and bodies into them.
//! - [`checked_string!`]: a string that passed its type's `parse` (a SKU, an order number), so
//!   code holding one never checks it again.
//!
//! Both are the bare value in SQL (`sqlx(transparent)`), on the wire and in event payloads
//! (`serde(transparent)`, JSON Schema inlined), so the API and the event schemas do not change.
//! The HTTP edge parses paths and bodies straight into typed ids (`http/typed_ids.rs`).

/// Declares a typed id: `typed_id! { /// A product. pub struct ProductId; }`.
#[macro_export]
macro_rules! typed_id {
    ($(#[$doc:meta])* $vis:vis struct $name:ident;) => {
        $crate::transparent_newtype!($(#[$doc])* #[derive(Copy)] $vis struct $name(uuid::Uuid););

        impl $name {
            /// A fresh, time-ordered id (UUIDv7 keeps new rows at the end of the index).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

/// Declares a checked string: `checked_string! { /// A SKU. pub struct Sku; }`. The declaring
/// module writes its `parse`, the only way to make one from input.
#[macro_export]
macro_rules! checked_string {
    ($(#[$doc:meta])* $vis:vis struct $name:ident;) => {
        $crate::transparent_newtype!($(#[$doc])* $vis struct $name(String););

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The struct both macros declare: the bare inner value in serde, JSON Schema and SQL.
#[doc(hidden)]
#[macro_export]
macro_rules! transparent_newtype {
    ($(#[$attr:meta])* $vis:vis struct $name:ident($inner:ty);) => {
        $(#[$attr])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            schemars::JsonSchema,
            sqlx::Type,
        )]
        #[serde(transparent)]
        #[schemars(transparent, inline)]
        #[sqlx(transparent)]
        $vis struct $name($inner);
    };
}
