//! Settings of the shop's catalog: its currency and the read caches.

use crate::config::{ConfigError, Reader};

/// Settings of the shop itself.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// ISO 4217 code of every price; amounts are integers in its minor units.
    pub currency: String,
    /// Public catalog reads and search results each API process keeps in memory, emptied on
    /// every catalog change; 0 turns the caches off.
    pub read_cache_entries: usize,
    /// Estimated bytes each of those caches holds at most.
    pub read_cache_bytes: usize,
}

impl StoreConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let currency = r.string("STORE_CURRENCY", "IDR").to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid {
                name: "STORE_CURRENCY",
                reason: "expected a three-letter ISO 4217 code such as IDR".into(),
            });
        }
        let read_cache_entries = r.parse("CATALOG_CACHE_ENTRIES", 10_000usize)?;
        Ok(Self {
            currency,
            read_cache_entries,
            read_cache_bytes: r.parse("CATALOG_CACHE_MAX_BYTES", 16 * 1024 * 1024)?,
        })
    }
}
