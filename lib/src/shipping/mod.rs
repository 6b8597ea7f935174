//! Shipping: the methods the shop offers, zones that price them by where a parcel goes and
//! what it weighs, and the quotes checkout charges.
//!
//! A quote comes from a [`RateProvider`]: the built-in [`TableRates`] (the zones staff set up)
//! or, when `SHIPPING_RATE_PROVIDER_URL` is set, an external courier service ([`CourierApi`])
//! whose failure or slowness falls back to the table or refuses, as configured.
//!
//! Table rules:
//! - While no zone exists, every method is offered everywhere at its flat `SHIPPING_METHODS`
//!   fee. Once one exists, only zones ship: an address no zone matches gets no method.
//! - A zone matches an address in one of its countries, and (when it lists any) in one of its
//!   provinces (case-insensitive) and with a postal code starting with one of its prefixes
//!   (spaces and dashes ignored). The most specific matching zone prices the parcel: the
//!   longest matching postal prefix, then a province match, then the older zone.
//! - Each rate row of the zone is a bracket for one method: weight and subtotal bounds, both
//!   inclusive. The cheapest row whose bounds hold the parcel quotes the method; a method with
//!   no such row is not offered. `free_from` waives the fee when the subtotal (before
//!   discounts, like promotions' minimums) reaches it.

pub mod provider;
mod settings;
mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub use self::{
    provider::{CourierApi, ProviderError, RateProvider, TableRates},
    settings::{ProviderConfig, ProviderFallback, ShippingConfig, ShippingMethod},
};
use crate::{
    addresses::{self, ShipTo},
    cart::{CartOwner, Carts},
    validation::ValidationErrors,
};

/// Where a parcel goes, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Destination {
    /// Upper case.
    pub country_code: String,
    /// Trimmed, lower case.
    pub province: Option<String>,
    /// Upper case without spaces and dashes.
    pub postal_code: Option<String>,
}

impl Destination {
    pub fn new(country_code: &str, province: Option<&str>, postal_code: Option<&str>) -> Self {
        Self {
            country_code: country_code.trim().to_ascii_uppercase(),
            province: province
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty()),
            postal_code: postal_code
                .map(normalise_postal_code)
                .filter(|p| !p.is_empty()),
        }
    }
}

fn normalise_postal_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase()
}

/// What is shipped: its weight (the variants' `weight_grams` × quantities) and its subtotal
/// before discounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Parcel {
    pub weight_grams: i64,
    pub subtotal: i64,
}

/// A method's price for one parcel to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub method: String,
    pub name: String,
    /// Minor units; 0 when `free`.
    pub fee: i64,
    /// The fee was waived because the subtotal reached the rate's free-shipping threshold.
    pub free: bool,
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
}

/// An address to quote for, as a client gives it: its parts, or a saved address of a
/// signed-in customer (with neither, their default address).
#[derive(Debug, Default)]
pub struct AddressQuery<'a> {
    pub address_id: Option<Uuid>,
    pub country_code: Option<&'a str>,
    pub province: Option<&'a str>,
    pub postal_code: Option<&'a str>,
}

/// A cart's parcel and the methods that ship it (none for an empty cart).
#[derive(Debug)]
pub struct CartOptions {
    pub parcel: Parcel,
    pub quotes: Vec<Quote>,
}

/// One bracket of a zone's price for a method (bounds inclusive; `None`: unbounded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Rate {
    pub method: String,
    pub min_weight_grams: i64,
    pub max_weight_grams: Option<i64>,
    pub min_subtotal: i64,
    pub max_subtotal: Option<i64>,
    pub fee: i64,
    pub free_from: Option<i64>,
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
}

impl Rate {
    fn holds(&self, parcel: &Parcel) -> bool {
        parcel.weight_grams >= self.min_weight_grams
            && self
                .max_weight_grams
                .is_none_or(|m| parcel.weight_grams <= m)
            && parcel.subtotal >= self.min_subtotal
            && self.max_subtotal.is_none_or(|m| parcel.subtotal <= m)
    }

    /// The fee this bracket charges the parcel, and whether it was waived.
    fn charge(&self, parcel: &Parcel) -> (i64, bool) {
        match self.free_from {
            Some(threshold) if parcel.subtotal >= threshold => (0, true),
            _ => (self.fee, false),
        }
    }
}

/// Where a zone ships and how it prices each method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: Uuid,
    pub name: String,
    pub countries: Vec<String>,
    pub provinces: Vec<String>,
    pub postal_prefixes: Vec<String>,
    pub rates: Vec<Rate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Zone {
    /// How specifically the zone matches `destination` (higher is more specific), or `None`.
    fn specificity(&self, destination: &Destination) -> Option<(usize, bool)> {
        if !self.countries.contains(&destination.country_code) {
            return None;
        }
        let province = if self.provinces.is_empty() {
            false
        } else if destination
            .province
            .as_ref()
            .is_some_and(|p| self.provinces.contains(p))
        {
            true
        } else {
            return None;
        };
        let prefix = if self.postal_prefixes.is_empty() {
            0
        } else {
            let postal = destination.postal_code.as_deref()?;
            self.postal_prefixes
                .iter()
                .filter(|p| postal.starts_with(p.as_str()))
                .map(String::len)
                .max()?
        };
        Some((prefix, province))
    }

    /// The zone's quote for each method of `methods` it prices for the parcel, in their order.
    fn quotes(&self, parcel: &Parcel, methods: &[ShippingMethod]) -> Vec<Quote> {
        methods
            .iter()
            .filter_map(|method| {
                self.rates
                    .iter()
                    .filter(|r| r.method == method.code && r.holds(parcel))
                    .map(|r| (r.charge(parcel), r))
                    .min_by_key(|((fee, _), _)| *fee)
                    .map(|((fee, free), rate)| Quote {
                        method: method.code.clone(),
                        name: method.name.clone(),
                        fee,
                        free,
                        min_days: rate.min_days,
                        max_days: rate.max_days,
                    })
            })
            .collect()
    }
}

/// The most specific of `zones` for `destination` (see the module docs).
pub fn best_zone<'z>(zones: &'z [Zone], destination: &Destination) -> Option<&'z Zone> {
    zones
        .iter()
        .filter_map(|z| z.specificity(destination).map(|s| (s, z)))
        // On a tie the older zone (the smaller v7 id) counts as the greater.
        .max_by(|(a, za), (b, zb)| a.cmp(b).then(zb.id.cmp(&za.id)))
        .map(|(_, z)| z)
}

/// A zone as staff submit it.
#[derive(Debug, Clone)]
pub struct ZoneDraft {
    pub name: String,
    pub countries: Vec<String>,
    pub provinces: Vec<String>,
    pub postal_prefixes: Vec<String>,
    pub rates: Vec<Rate>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("shipping zone not found")]
    ZoneNotFound,
    #[error("shipping rates are unavailable right now; try again shortly")]
    RatesUnavailable,
    #[error(transparent)]
    Cart(#[from] crate::cart::CartError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Method codes: lowercase letters, digits, `-`, `_`; 1-40 characters.
pub(crate) fn method_code_ok(code: &str) -> bool {
    (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The shipping service: zones for staff, quotes for carts and checkout.
#[derive(Clone)]
pub struct Shipping {
    db: PgPool,
    config: Arc<ShippingConfig>,
    table: TableRates,
    courier: Option<Arc<dyn RateProvider>>,
}

impl Shipping {
    pub fn new(db: PgPool, config: ShippingConfig) -> Self {
        let courier = config
            .provider
            .as_ref()
            .map(|p| Arc::new(CourierApi::new(p)) as Arc<dyn RateProvider>);
        Self {
            table: TableRates::new(db.clone()),
            db,
            config: Arc::new(config),
            courier,
        }
    }

    /// The methods offered (with the flat fees charged while no zone exists).
    pub fn methods(&self) -> &[ShippingMethod] {
        &self.config.methods
    }

    /// The methods available for `parcel` to `destination`, with their prices, in the order of
    /// `SHIPPING_METHODS`. Empty when nothing ships there.
    pub async fn options(
        &self,
        destination: &Destination,
        parcel: &Parcel,
    ) -> Result<Vec<Quote>, ShippingError> {
        let methods = &self.config.methods;
        if let (Some(courier), Some(settings)) = (&self.courier, &self.config.provider) {
            match tokio::time::timeout(
                settings.timeout,
                courier.quotes(destination, parcel, methods),
            )
            .await
            {
                Ok(Ok(quotes)) => return Ok(quotes),
                Ok(Err(e)) => tracing::warn!(error = %e, "the shipping rate provider failed"),
                Err(_) => tracing::warn!(
                    timeout_ms = settings.timeout.as_millis() as u64,
                    "the shipping rate provider did not answer in time"
                ),
            }
            if settings.fallback == ProviderFallback::Refuse {
                return Err(ShippingError::RatesUnavailable);
            }
        }
        self.table
            .quotes(destination, parcel, methods)
            .await
            .map_err(|e| match e {
                ProviderError::Database(e) => ShippingError::Database(e),
                // The table only fails with the database.
                other => {
                    tracing::error!(error = %other, "the table rates failed");
                    ShippingError::RatesUnavailable
                }
            })
    }

    /// The quote of `method` (the field `field` of the caller's input), or a validation error
    /// naming what is available instead.
    pub async fn quote(
        &self,
        destination: &Destination,
        parcel: &Parcel,
        method: &str,
        field: &str,
    ) -> Result<Quote, ShippingError> {
        let options = self.options(destination, parcel).await?;
        if let Some(quote) = options.iter().find(|q| q.method == method) {
            return Ok(quote.clone());
        }
        let message = if options.is_empty() {
            "no shipping method serves this address".to_owned()
        } else {
            format!(
                "is not available for this address; available: {}",
                options
                    .iter()
                    .map(|q| q.method.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(ValidationErrors::single(field, message).into())
    }

    /// The options of `owner`'s cart to an address given by its parts (every bad part is
    /// reported at once; a postal code or province narrows the zones that match) or saved in
    /// the customer's address book.
    pub async fn cart_options(
        &self,
        carts: &Carts,
        owner: &CartOwner,
        address: &AddressQuery<'_>,
    ) -> Result<CartOptions, ShippingError> {
        let parts_given = address.country_code.is_some()
            || address.province.is_some()
            || address.postal_code.is_some();
        let saved = match (owner, address.address_id) {
            (_, Some(_)) if parts_given => {
                return Err(ValidationErrors::single(
                    "address_id",
                    "give either address_id or the address parts, not both",
                )
                .into())
            }
            (CartOwner::Guest { .. }, Some(_)) => {
                return Err(ValidationErrors::single(
                    "address_id",
                    "saved addresses need a signed-in customer",
                )
                .into())
            }
            (CartOwner::Customer(user_id), id) if id.is_some() || !parts_given => {
                let mut conn = self.db.acquire().await?;
                match addresses::ship_to(&mut conn, *user_id, id).await? {
                    ShipTo::Address(address) => Some(address),
                    ShipTo::NotInBook => {
                        return Err(ValidationErrors::single(
                            "address_id",
                            "is not an address in your address book",
                        )
                        .into())
                    }
                    ShipTo::NoDefault => None,
                }
            }
            _ => None,
        };
        let address = match &saved {
            Some(saved) => AddressQuery {
                address_id: None,
                country_code: Some(&saved.country_code),
                province: saved.province.as_deref(),
                postal_code: Some(&saved.postal_code),
            },
            None => AddressQuery { ..*address },
        };
        let mut errors = ValidationErrors::new();
        let country = address.country_code.map(str::trim).unwrap_or_default();
        errors.check(
            (2..=3).contains(&country.len()) && country.bytes().all(|b| b.is_ascii_alphabetic()),
            "country_code",
            "required (or an address_id): an ISO 3166 code, e.g. ID or IDN",
        );
        if let Some(province) = address.province {
            errors.length("province", province.trim(), 0, 100);
        }
        if let Some(postal) = address.postal_code {
            errors.check(
                addresses::postal_code_ok(postal),
                "postal_code",
                "must be a postal code (3-10 letters or digits)",
            );
        }
        errors.finish()?;
        let cart = carts.get(owner).await?;
        let parcel = Parcel {
            weight_grams: cart.weight_grams,
            subtotal: cart.subtotal,
        };
        let destination = Destination::new(country, address.province, address.postal_code);
        let quotes = if cart.lines.is_empty() {
            Vec::new()
        } else {
            self.options(&destination, &parcel).await?
        };
        Ok(CartOptions { parcel, quotes })
    }

    pub async fn zones(&self) -> Result<Vec<Zone>, ShippingError> {
        Ok(store::zones(&self.db, None).await?)
    }

    pub async fn zone(&self, id: Uuid) -> Result<Zone, ShippingError> {
        store::zones(&self.db, Some(id))
            .await?
            .pop()
            .ok_or(ShippingError::ZoneNotFound)
    }

    pub async fn create_zone(&self, draft: ZoneDraft) -> Result<Zone, ShippingError> {
        let draft = self.validate(draft)?;
        let id = Uuid::now_v7();
        store::insert_zone(&self.db, id, &draft).await?;
        self.zone(id).await
    }

    /// Replaces a zone's area and rates.
    pub async fn replace_zone(&self, id: Uuid, draft: ZoneDraft) -> Result<Zone, ShippingError> {
        let draft = self.validate(draft)?;
        if !store::replace_zone(&self.db, id, &draft).await? {
            return Err(ShippingError::ZoneNotFound);
        }
        self.zone(id).await
    }

    pub async fn delete_zone(&self, id: Uuid) -> Result<(), ShippingError> {
        if !store::delete_zone(&self.db, id).await? {
            return Err(ShippingError::ZoneNotFound);
        }
        Ok(())
    }

    /// Checks every field of `draft` at once and normalises its area.
    fn validate(&self, draft: ZoneDraft) -> Result<ZoneDraft, ShippingError> {
        let mut errors = ValidationErrors::new();
        errors.length("name", draft.name.trim(), 1, 100);
        errors.check(
            (1..=250).contains(&draft.countries.len()),
            "countries",
            "must list 1 to 250 countries",
        );
        for (i, c) in draft.countries.iter().enumerate() {
            errors.check(
                (2..=3).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase()),
                format!("countries[{i}]"),
                "must be an uppercase ISO 3166 code, e.g. ID or IDN",
            );
        }
        errors.check(
            draft.provinces.len() <= 100,
            "provinces",
            "must list at most 100 provinces",
        );
        for (i, p) in draft.provinces.iter().enumerate() {
            errors.length(&format!("provinces[{i}]"), p.trim(), 1, 100);
        }
        errors.check(
            draft.postal_prefixes.len() <= 1000,
            "postal_prefixes",
            "must list at most 1000 prefixes",
        );
        for (i, p) in draft.postal_prefixes.iter().enumerate() {
            let p = normalise_postal_code(p);
            errors.check(
                (1..=10).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()),
                format!("postal_prefixes[{i}]"),
                "must be 1-10 letters or digits",
            );
        }
        errors.check(
            draft.rates.len() <= 100,
            "rates",
            "must list at most 100 rates",
        );
        let codes: Vec<&str> = self
            .config
            .methods
            .iter()
            .map(|m| m.code.as_str())
            .collect();
        for (i, r) in draft.rates.iter().enumerate() {
            let field = |name: &str| format!("rates[{i}].{name}");
            errors.check(
                codes.contains(&r.method.as_str()),
                field("method"),
                format!("must be one of: {}", codes.join(", ")),
            );
            errors.check(r.fee >= 0, field("fee"), "must not be negative");
            errors.check(
                r.min_weight_grams >= 0,
                field("min_weight_grams"),
                "must not be negative",
            );
            errors.check(
                r.max_weight_grams.is_none_or(|m| m >= r.min_weight_grams),
                field("max_weight_grams"),
                "must not be below min_weight_grams",
            );
            errors.check(
                r.min_subtotal >= 0,
                field("min_subtotal"),
                "must not be negative",
            );
            errors.check(
                r.max_subtotal.is_none_or(|m| m >= r.min_subtotal),
                field("max_subtotal"),
                "must not be below min_subtotal",
            );
            errors.check(
                r.free_from.is_none_or(|f| f >= 0),
                field("free_from"),
                "must not be negative",
            );
            errors.check(
                r.min_days.is_none_or(|d| (0..=365).contains(&d)),
                field("min_days"),
                "must be between 0 and 365",
            );
            errors.check(
                r.max_days
                    .is_none_or(|d| (0..=365).contains(&d) && d >= r.min_days.unwrap_or(0)),
                field("max_days"),
                "must be between min_days and 365",
            );
        }
        errors.finish()?;
        let unique = |values: Vec<String>| {
            let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
            values.sort();
            values.dedup();
            values
        };
        Ok(ZoneDraft {
            name: draft.name.trim().to_owned(),
            countries: unique(draft.countries),
            provinces: unique(
                draft
                    .provinces
                    .iter()
                    .map(|p| p.trim().to_lowercase())
                    .collect(),
            ),
            postal_prefixes: unique(
                draft
                    .postal_prefixes
                    .iter()
                    .map(|p| normalise_postal_code(p))
                    .collect(),
            ),
            rates: draft.rates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, provinces: &[&str], prefixes: &[&str], rates: Vec<Rate>) -> Zone {
        Zone {
            id: Uuid::now_v7(),
            name: name.into(),
            countries: vec!["ID".into()],
            provinces: provinces.iter().map(|p| p.to_string()).collect(),
            postal_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            rates,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn rate(method: &str, max_weight: Option<i64>, fee: i64) -> Rate {
        Rate {
            method: method.into(),
            min_weight_grams: 0,
            max_weight_grams: max_weight,
            min_subtotal: 0,
            max_subtotal: None,
            fee,
            free_from: None,
            min_days: Some(2),
            max_days: Some(4),
        }
    }

    fn methods() -> Vec<ShippingMethod> {
        ShippingConfig::default().methods
    }

    #[test]
    fn the_most_specific_zone_wins() {
        let zones = vec![
            zone("Indonesia", &[], &[], vec![]),
            zone("Jakarta", &["dki jakarta"], &[], vec![]),
            zone("Central Jakarta", &[], &["101"], vec![]),
            zone("Central Jakarta, precisely", &[], &["1011"], vec![]),
        ];
        let at = |province, postal| {
            best_zone(&zones, &Destination::new("id", province, postal)).map(|z| z.name.as_str())
        };
        assert_eq!(
            at(Some(" DKI Jakarta "), Some("10110")),
            Some("Central Jakarta, precisely")
        );
        assert_eq!(
            at(Some("DKI Jakarta"), Some("10150")),
            Some("Central Jakarta")
        );
        assert_eq!(at(Some("DKI Jakarta"), Some("12345")), Some("Jakarta"));
        assert_eq!(at(Some("Bali"), Some("80361")), Some("Indonesia"));
        assert_eq!(at(None, None), Some("Indonesia"));
        assert_eq!(
            best_zone(&zones, &Destination::new("SG", None, Some("018989"))).map(|z| &z.name),
            None
        );
    }

    #[test]
    fn the_older_zone_wins_a_tie() {
        let zones = vec![
            zone("first", &[], &[], vec![]),
            zone("second", &[], &[], vec![]),
        ];
        let best = best_zone(&zones, &Destination::new("ID", None, None)).unwrap();
        assert_eq!(best.name, "first");
    }

    #[test]
    fn the_cheapest_bracket_holding_the_parcel_prices_a_method() {
        let z = zone(
            "Indonesia",
            &[],
            &[],
            vec![
                rate("standard", Some(1_000), 10_000),
                rate("standard", Some(5_000), 25_000),
                Rate {
                    free_from: Some(500_000),
                    ..rate("express", Some(2_000), 40_000)
                },
            ],
        );
        let parcel = |weight_grams, subtotal| Parcel {
            weight_grams,
            subtotal,
        };
        let q = z.quotes(&parcel(1_000, 100_000), &methods());
        assert_eq!(
            (q[0].method.as_str(), q[0].fee),
            ("standard", 10_000),
            "bounds are inclusive"
        );
        assert_eq!(
            (q[1].method.as_str(), q[1].fee, q[1].free),
            ("express", 40_000, false)
        );
        let q = z.quotes(&parcel(1_001, 500_000), &methods());
        assert_eq!(q[0].fee, 25_000);
        assert_eq!((q[1].fee, q[1].free), (0, true), "free from the threshold");
        let q = z.quotes(&parcel(3_000, 100_000), &methods());
        assert_eq!(q.len(), 1, "express carries up to 2 kg: {q:?}");
        assert!(z.quotes(&parcel(5_001, 100_000), &methods()).is_empty());
    }
}
