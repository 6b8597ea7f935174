//! Shipping zones, rates and quotes on the wire.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::shipping::{Quote, Rate, Zone, ZoneDraft};

/// One bracket of a zone's price for a method. Bounds are inclusive; an absent maximum is
/// unbounded. The cheapest bracket that holds a parcel prices its method.
#[derive(Debug, Clone, Object, serde::Deserialize, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ShippingRateDto {
    /// A code of `GET /api/v1/shipping-methods`.
    pub method: String,
    /// Grams; 0 when absent.
    pub min_weight_grams: Option<i64>,
    pub max_weight_grams: Option<i64>,
    /// Minor units, before discounts; 0 when absent.
    pub min_subtotal: Option<i64>,
    pub max_subtotal: Option<i64>,
    /// Minor units.
    pub fee: i64,
    /// The fee is waived when the subtotal (before discounts) reaches this.
    pub free_from: Option<i64>,
    /// Delivery estimate in days.
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
}

impl From<ShippingRateDto> for Rate {
    fn from(r: ShippingRateDto) -> Self {
        Rate {
            method: r.method,
            min_weight_grams: r.min_weight_grams.unwrap_or(0),
            max_weight_grams: r.max_weight_grams,
            min_subtotal: r.min_subtotal.unwrap_or(0),
            max_subtotal: r.max_subtotal,
            fee: r.fee,
            free_from: r.free_from,
            min_days: r.min_days,
            max_days: r.max_days,
        }
    }
}

impl From<Rate> for ShippingRateDto {
    fn from(r: Rate) -> Self {
        ShippingRateDto {
            method: r.method,
            min_weight_grams: Some(r.min_weight_grams),
            max_weight_grams: r.max_weight_grams,
            min_subtotal: Some(r.min_subtotal),
            max_subtotal: r.max_subtotal,
            fee: r.fee,
            free_from: r.free_from,
            min_days: r.min_days,
            max_days: r.max_days,
        }
    }
}

/// A shipping zone as staff submit it (a PUT replaces the whole zone, rates included).
#[derive(Debug, Object, serde::Deserialize)]
pub struct ShippingZoneIn {
    pub name: String,
    /// Uppercase ISO 3166 codes (at least one).
    pub countries: Vec<String>,
    /// Province names (case-insensitive); absent or empty: every province.
    pub provinces: Option<Vec<String>>,
    /// Postal-code prefixes (spaces and dashes ignored); absent or empty: every postal code.
    pub postal_prefixes: Option<Vec<String>>,
    /// No rates: nothing ships to the zone.
    pub rates: Vec<ShippingRateDto>,
}

impl From<ShippingZoneIn> for ZoneDraft {
    fn from(z: ShippingZoneIn) -> Self {
        ZoneDraft {
            name: z.name,
            countries: z.countries,
            provinces: z.provinces.unwrap_or_default(),
            postal_prefixes: z.postal_prefixes.unwrap_or_default(),
            rates: z.rates.into_iter().map(Into::into).collect(),
        }
    }
}

/// A shipping zone.
#[derive(Debug, Object)]
pub struct ShippingZoneOut {
    pub id: Uuid,
    pub name: String,
    pub countries: Vec<String>,
    /// Lower-cased.
    pub provinces: Vec<String>,
    /// Upper-cased, without spaces and dashes.
    pub postal_prefixes: Vec<String>,
    pub rates: Vec<ShippingRateDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Zone> for ShippingZoneOut {
    fn from(z: Zone) -> Self {
        Self {
            id: z.id,
            name: z.name,
            countries: z.countries,
            provinces: z.provinces,
            postal_prefixes: z.postal_prefixes,
            rates: z.rates.into_iter().map(Into::into).collect(),
            created_at: z.created_at,
            updated_at: z.updated_at,
        }
    }
}

/// The shipping zones, oldest first.
#[derive(Debug, Object)]
pub struct ShippingZonesOut {
    pub items: Vec<ShippingZoneOut>,
}

/// A shipping method available for the cart and an address, priced.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ShippingOptionOut {
    /// The `shipping_method` to check out with.
    pub method: String,
    pub name: String,
    /// Minor units.
    pub fee: i64,
    pub currency: String,
    /// The fee is waived: the subtotal reached the free-shipping threshold.
    pub free: bool,
    pub min_days: Option<i32>,
    pub max_days: Option<i32>,
}

impl ShippingOptionOut {
    pub fn new(q: Quote, currency: &str) -> Self {
        Self {
            method: q.method,
            name: q.name,
            fee: q.fee,
            currency: currency.to_owned(),
            free: q.free,
            min_days: q.min_days,
            max_days: q.max_days,
        }
    }
}

/// The shipping options of a cart for an address (empty: nothing ships there).
#[derive(Debug, Object)]
pub struct ShippingOptionsOut {
    pub items: Vec<ShippingOptionOut>,
    /// The cart's weight (units × their variants' weights).
    pub weight_grams: i64,
    /// The cart's subtotal before discounts, as free-shipping thresholds compare it.
    pub subtotal: i64,
    pub currency: String,
}
