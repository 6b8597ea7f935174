//! Where quotes come from: the zones' table rates, or an external courier rate service.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{best_zone, store, Destination, Parcel, ProviderConfig, Quote, ShippingMethod};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("rate service request failed: {0}")]
    Request(String),
    #[error("rate service answered {0}")]
    Status(u16),
    #[error("rate service answer is not understood: {0}")]
    Answer(String),
}

/// Prices the offered `methods` for a parcel; returns those that serve the destination.
#[async_trait::async_trait]
pub trait RateProvider: Send + Sync {
    async fn quotes(
        &self,
        destination: &Destination,
        parcel: &Parcel,
        methods: &[ShippingMethod],
    ) -> Result<Vec<Quote>, ProviderError>;
}

/// The built-in provider: the zones staff configure (rules in the module docs).
#[derive(Clone)]
pub struct TableRates {
    db: PgPool,
}

impl TableRates {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl RateProvider for TableRates {
    async fn quotes(
        &self,
        destination: &Destination,
        parcel: &Parcel,
        methods: &[ShippingMethod],
    ) -> Result<Vec<Quote>, ProviderError> {
        let Some(zones) = store::zones_in_country(&self.db, &destination.country_code).await?
        else {
            // No zone at all: the flat fees, everywhere.
            return Ok(methods
                .iter()
                .map(|m| Quote {
                    method: m.code.clone(),
                    name: m.name.clone(),
                    fee: m.fee,
                    free: false,
                    min_days: None,
                    max_days: None,
                })
                .collect());
        };
        Ok(best_zone(&zones, destination)
            .map(|zone| zone.quotes(parcel, methods))
            .unwrap_or_default())
    }
}

/// An external rate service (a courier or an aggregator), spoken to as `docs/SHIPPING.md`
/// describes: one POST per quote, answered with the rates of the methods that serve the
/// destination. Its answer is taken only for the shop's own methods, with their names.
pub struct CourierApi {
    http: reqwest::Client,
    url: String,
}

#[derive(Serialize)]
struct RateRequest<'a> {
    destination: &'a Destination,
    weight_grams: i64,
    subtotal: i64,
    methods: Vec<&'a str>,
}

#[derive(Deserialize)]
struct RateAnswer {
    rates: Vec<CourierRate>,
}

#[derive(Deserialize)]
struct CourierRate {
    method: String,
    fee: i64,
    min_days: Option<i32>,
    max_days: Option<i32>,
}

impl CourierApi {
    pub fn new(config: &ProviderConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(2)))
            .build()
            .expect("a client with timeouts builds");
        Self {
            http,
            url: config.url.clone(),
        }
    }
}

#[async_trait::async_trait]
impl RateProvider for CourierApi {
    async fn quotes(
        &self,
        destination: &Destination,
        parcel: &Parcel,
        methods: &[ShippingMethod],
    ) -> Result<Vec<Quote>, ProviderError> {
        let request = RateRequest {
            destination,
            weight_grams: parcel.weight_grams,
            subtotal: parcel.subtotal,
            methods: methods.iter().map(|m| m.code.as_str()).collect(),
        };
        let response = self
            .http
            .post(&self.url)
            .json(&request)
            .send()
            .await
            // Without the URL: it may carry credentials.
            .map_err(|e| ProviderError::Request(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ProviderError::Status(response.status().as_u16()));
        }
        let answer: RateAnswer = response
            .json()
            .await
            .map_err(|e| ProviderError::Answer(e.without_url().to_string()))?;
        if let Some(bad) = answer
            .rates
            .iter()
            .find(|r| r.fee < 0 || r.min_days.is_some_and(|d| d < 0))
        {
            return Err(ProviderError::Answer(format!(
                "negative fee or days for {:?}",
                bad.method
            )));
        }
        Ok(methods
            .iter()
            .filter_map(|m| {
                answer
                    .rates
                    .iter()
                    .filter(|r| r.method == m.code)
                    .min_by_key(|r| r.fee)
                    .map(|r| Quote {
                        method: m.code.clone(),
                        name: m.name.clone(),
                        fee: r.fee,
                        free: false,
                        min_days: r.min_days,
                        max_days: r.max_days,
                    })
            })
            .collect())
    }
}
