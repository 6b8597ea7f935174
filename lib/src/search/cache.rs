//! A per-process cache of search results, emptied whenever the catalog changes.
//!
//! Ranking and faceting every match costs PostgreSQL tens of milliseconds per query, while
//! shoppers repeat the same few queries. Triggers on `products` and `categories` (which also
//! carry price and stock aggregates) `NOTIFY catalog_changed` after each writing statement;
//! the notification arrives only once the write has committed. Each notification advances a
//! generation: a result computed while the generation moved is not stored, so a query that
//! raced a commit can never pin a stale answer. Results are therefore at most one notification
//! delay (milliseconds) behind, like any near-real-time search engine. While the listening
//! connection is down the cache is bypassed, and entries also expire after [`TIME_TO_LIVE`].

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use sqlx::{postgres::PgListener, PgPool};

use super::{SearchQuery, SearchResult};

/// The channel the catalog triggers notify.
pub const CHANNEL: &str = "catalog_changed";
/// A safety net: no entry outlives this, notification or not.
const TIME_TO_LIVE: Duration = Duration::from_secs(60);
/// Pause before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Cached results keyed by the normalised query.
pub struct SearchCache {
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, Arc<SearchResult>)>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

/// Where a lookup stands: the key and generation a missed result may be stored under.
#[derive(Debug)]
pub struct Ticket {
    key: String,
    generation: u64,
}

impl SearchCache {
    /// A cache of at most `capacity` results that listens for catalog changes on `db`.
    pub fn start(db: PgPool, capacity: usize) -> Arc<Self> {
        let cache = Arc::new(Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        });
        tokio::spawn(listen(Arc::downgrade(&cache), db));
        cache
    }

    /// The cached result of `query`, or the ticket to store it with once computed.
    pub fn lookup(&self, query: &SearchQuery) -> Result<SearchResult, Ticket> {
        let ticket = Ticket {
            key: key_of(query),
            generation: self.generation.load(Ordering::Acquire),
        };
        if !self.listening.load(Ordering::Acquire) {
            return Err(ticket);
        }
        let entries = self.entries.lock().expect("search cache lock");
        match entries.get(&ticket.key) {
            Some((stored, result)) if stored.elapsed() < TIME_TO_LIVE => Ok((**result).clone()),
            _ => Err(ticket),
        }
    }

    /// Stores a freshly computed result, unless the catalog changed since the lookup.
    pub fn store(&self, ticket: Ticket, result: &SearchResult) {
        let mut entries = self.entries.lock().expect("search cache lock");
        // Checked under the lock that `invalidate` also takes: no store slips past a clear.
        if !self.listening.load(Ordering::Acquire)
            || self.generation.load(Ordering::Acquire) != ticket.generation
        {
            return;
        }
        if entries.len() >= self.capacity {
            // Simple and bounded: popular queries come straight back.
            entries.clear();
        }
        entries.insert(ticket.key, (Instant::now(), Arc::new(result.clone())));
    }

    /// Forgets everything: the catalog changed (or may have, unseen).
    fn invalidate(&self) {
        let mut entries = self.entries.lock().expect("search cache lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn set_listening(&self, listening: bool) {
        // Changes missed while not listening are unknown: start over either way.
        self.invalidate();
        self.listening.store(listening, Ordering::Release);
    }
}

fn key_of(query: &SearchQuery) -> String {
    format!(
        "{:?}|{:?}|{:?}|{}|{}",
        query.text, query.filter, query.sort, query.page, query.size
    )
}

/// Follows catalog changes for as long as the cache exists.
async fn listen(cache: std::sync::Weak<SearchCache>, db: PgPool) {
    loop {
        let mut listener = match PgListener::connect_with(&db).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "search cache: cannot listen for catalog changes; bypassed");
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "search cache: LISTEN failed; bypassed");
            tokio::time::sleep(RECONNECT_AFTER).await;
            continue;
        }
        match cache.upgrade() {
            Some(cache) => cache.set_listening(true),
            None => return,
        }
        loop {
            // `try_recv` reports a lost connection instead of silently reconnecting, so
            // notifications missed meanwhile cannot go unnoticed.
            let received = listener.try_recv().await;
            let Some(cache) = cache.upgrade() else { return };
            match received {
                Ok(Some(_)) => cache.invalidate(),
                Ok(None) | Err(_) => {
                    tracing::warn!("search cache: lost the catalog change listener; bypassed");
                    cache.set_listening(false);
                    break;
                }
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        catalog::listing::ProductFilter,
        search::{model::Facets, SearchSort},
    };

    fn cache() -> SearchCache {
        SearchCache {
            capacity: 2,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(true),
        }
    }

    fn query(text: &str) -> SearchQuery {
        SearchQuery::new(text, ProductFilter::default(), SearchSort::default(), 1, 20).unwrap()
    }

    fn result(total: i64) -> SearchResult {
        SearchResult {
            hits: Vec::new(),
            total,
            facets: Facets::default(),
            took_ms: 7,
        }
    }

    #[test]
    fn a_stored_result_is_found_by_an_equal_query_only() {
        let cache = cache();
        let ticket = cache.lookup(&query("kaos")).unwrap_err();
        cache.store(ticket, &result(3));
        assert_eq!(cache.lookup(&query("kaos")).unwrap().total, 3);
        assert!(cache.lookup(&query("kaos polos")).is_err());
    }

    #[test]
    fn a_result_computed_across_a_catalog_change_is_not_stored() {
        let cache = cache();
        let ticket = cache.lookup(&query("kaos")).unwrap_err();
        cache.invalidate(); // a change committed while the query ran
        cache.store(ticket, &result(3));
        assert!(cache.lookup(&query("kaos")).is_err());
    }

    #[test]
    fn nothing_is_cached_while_not_listening_and_the_size_is_bounded() {
        let cache = cache();
        cache.set_listening(false);
        let ticket = cache.lookup(&query("a")).unwrap_err();
        cache.store(ticket, &result(1));
        assert!(cache.lookup(&query("a")).is_err());

        cache.set_listening(true);
        for text in ["a", "b", "c"] {
            let ticket = cache.lookup(&query(text)).unwrap_err();
            cache.store(ticket, &result(1));
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
        assert!(cache.lookup(&query("c")).is_ok());
    }
}
