//! Read caches of the public catalog (product pages, listings, category filters, search
//! results), emptied whenever the catalog changes.
//!
//! Statement triggers on `products` and `categories` (which also carry the price and stock
//! aggregates of variants) `NOTIFY catalog_changed`; PostgreSQL delivers a notification only
//! once its transaction has committed. [`CatalogChanges`] listens and counts them as a
//! generation. A cached value is served only while the generation it was computed in is
//! current, and a value whose computation overlapped a change is never stored — so a read
//! that raced a commit cannot pin a stale answer. Answers are thus at most one notification
//! delay (milliseconds) behind the database. While the listening connection is down nothing
//! is served from memory, and every entry also expires after [`TIME_TO_LIVE`].

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};

use sqlx::{postgres::PgListener, PgPool};

/// The channel the catalog triggers notify.
pub const CHANNEL: &str = "catalog_changed";
/// A safety net: no entry outlives this, notification or not.
const TIME_TO_LIVE: Duration = Duration::from_secs(60);
/// Pause before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The catalog's change counter, kept current by a listener task.
pub struct CatalogChanges {
    generation: AtomicU64,
    listening: AtomicBool,
}

impl CatalogChanges {
    /// Starts following changes on a connection of its own (taken from `db`).
    pub fn follow(db: PgPool) -> Arc<Self> {
        let changes = Arc::new(Self::new());
        tokio::spawn(listen(Arc::downgrade(&changes), db));
        changes
    }

    fn new() -> Self {
        Self {
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    /// The current generation; `None` while changes may go unseen.
    fn current(&self) -> Option<u64> {
        let generation = self.generation.load(Ordering::Acquire);
        self.listening.load(Ordering::Acquire).then_some(generation)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether changes are followed now (caches are bypassed while they are not).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// A write this process has just committed may have changed the catalog: stop serving
    /// what was cached before it now, rather than when its notification arrives, so that a
    /// client reads its own writes (other processes catch up through the notification).
    pub fn changed_here(&self) {
        self.changed();
    }

    fn set_listening(&self, listening: bool) {
        // Changes missed while not listening are unknown: everything cached is suspect.
        self.changed();
        self.listening.store(listening, Ordering::Release);
    }
}

/// How much one read cache may hold.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    pub entries: usize,
    /// Estimated bytes of keys and values together.
    pub bytes: usize,
}

impl CacheLimits {
    pub const NONE: Self = Self {
        entries: 0,
        bytes: 0,
    };
}

/// A stored value: the generation it was computed in, when, and its estimated size.
struct Entry<V> {
    generation: u64,
    at: Instant,
    value: V,
    bytes: usize,
}

#[derive(Default)]
struct Entries<V> {
    map: HashMap<String, Entry<V>>,
    bytes: usize,
}

/// Values keyed by what was asked, valid for the generation they were computed in.
pub struct ReadCache<V> {
    changes: Option<Arc<CatalogChanges>>,
    limits: CacheLimits,
    entries: Mutex<Entries<V>>,
}

/// The estimated memory of a cached value: the length of its debug rendering, which tracks
/// the strings that make up most of it (what a client's input can make large).
fn estimated_bytes<V: std::fmt::Debug>(key: &str, value: &V) -> usize {
    use std::fmt::Write;
    struct Counter(usize);
    impl Write for Counter {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = write!(counter, "{value:?}");
    key.len() + counter.0
}

impl<V: Clone + std::fmt::Debug> ReadCache<V> {
    /// A cache within `limits`; `None` changes (or a zero limit) caches nothing.
    pub fn new(changes: Option<Arc<CatalogChanges>>, limits: CacheLimits) -> Self {
        Self {
            changes: changes.filter(|_| limits.entries > 0 && limits.bytes > 0),
            limits,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// A cache that always computes.
    pub fn disabled() -> Self {
        Self::new(None, CacheLimits::NONE)
    }

    /// The cached value of `key`, or `compute`'s (stored when no change overlapped it).
    pub async fn get_or_try<E, Fut>(
        &self,
        key: String,
        compute: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let Some(generation) = self.changes.as_ref().and_then(|c| c.current()) else {
            return compute().await;
        };
        if let Some(value) = self.lookup(&key, generation) {
            return Ok(value);
        }
        let value = compute().await?;
        self.store(key, generation, &value);
        Ok(value)
    }

    fn lookup(&self, key: &str, generation: u64) -> Option<V> {
        let entries = self.entries.lock().expect("read cache lock");
        entries
            .map
            .get(key)
            .filter(|e| e.generation == generation && e.at.elapsed() < TIME_TO_LIVE)
            .map(|e| e.value.clone())
    }

    fn store(&self, key: String, generation: u64, value: &V) {
        let current = self.changes.as_ref().and_then(|c| c.current());
        if current != Some(generation) {
            return; // the catalog changed while this value was computed
        }
        let bytes = estimated_bytes(&key, value);
        if bytes > self.limits.bytes {
            return;
        }
        let mut entries = self.entries.lock().expect("read cache lock");
        let full = |e: &Entries<V>| {
            e.map.len() >= self.limits.entries || e.bytes + bytes > self.limits.bytes
        };
        if full(&entries) {
            // Entries of past generations are dead weight; drop them, or everything.
            entries.map.retain(|_, e| e.generation == generation);
            entries.bytes = entries.map.values().map(|e| e.bytes).sum();
            if full(&entries) {
                entries.map.clear();
                entries.bytes = 0;
            }
        }
        let entry = Entry {
            generation,
            at: Instant::now(),
            value: value.clone(),
            bytes,
        };
        if let Some(replaced) = entries.map.insert(key, entry) {
            entries.bytes -= replaced.bytes;
        }
        entries.bytes += bytes;
    }
}

/// Follows catalog changes for as long as anyone holds the counter.
async fn listen(changes: Weak<CatalogChanges>, db: PgPool) {
    loop {
        match PgListener::connect_with(&db).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    let Some(counter) = changes.upgrade() else {
                        return;
                    };
                    counter.set_listening(true);
                    drop(counter);
                    loop {
                        // `try_recv` reports a lost connection (`Ok(None)`) instead of
                        // reconnecting silently, so missed notifications cannot go unnoticed.
                        let received = listener.try_recv().await;
                        let Some(counter) = changes.upgrade() else {
                            return;
                        };
                        match received {
                            Ok(Some(_)) => counter.changed(),
                            Ok(None) | Err(_) => {
                                tracing::warn!("catalog read caches: lost the change listener; bypassed until it is back");
                                counter.set_listening(false);
                                break;
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "catalog read caches: LISTEN failed; bypassed")
                }
            },
            Err(error) => {
                tracing::warn!(%error, "catalog read caches: cannot listen for changes; bypassed")
            }
        }
        if changes.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening() -> Arc<CatalogChanges> {
        let changes = Arc::new(CatalogChanges::new());
        changes.set_listening(true);
        changes
    }

    fn limits(entries: usize, bytes: usize) -> CacheLimits {
        CacheLimits { entries, bytes }
    }

    #[tokio::test]
    async fn the_bytes_held_are_bounded_and_oversized_values_not_kept() {
        let changes = listening();
        let cache = ReadCache::new(Some(changes.clone()), limits(1_000, 100));
        for i in 0..50 {
            get(&cache, &format!("key-{i:040}"), i).await;
            let entries = cache.entries.lock().unwrap();
            assert!(entries.bytes <= 100, "{} bytes held", entries.bytes);
            assert_eq!(
                entries.bytes,
                entries.map.values().map(|e| e.bytes).sum::<usize>()
            );
        }
        let big = "k".repeat(200);
        get(&cache, &big, 1).await;
        assert!(!cache.entries.lock().unwrap().map.contains_key(&big));
    }

    async fn get(cache: &ReadCache<u32>, key: &str, computed: u32) -> u32 {
        cache
            .get_or_try::<(), _>(key.into(), || async move { Ok(computed) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_value_is_served_until_the_catalog_changes() {
        let changes = listening();
        let cache = ReadCache::new(Some(changes.clone()), limits(10, 1 << 20));
        assert_eq!(get(&cache, "a", 1).await, 1);
        assert_eq!(get(&cache, "a", 2).await, 1, "served from memory");
        assert_eq!(get(&cache, "b", 3).await, 3, "another key is computed");
        changes.changed();
        assert_eq!(get(&cache, "a", 4).await, 4, "recomputed after a change");
    }

    #[tokio::test]
    async fn a_value_computed_across_a_change_is_not_stored() {
        let changes = listening();
        let cache = ReadCache::new(Some(changes.clone()), limits(10, 1 << 20));
        let value = cache
            .get_or_try::<(), _>("a".into(), || async {
                changes.changed(); // a commit landed while this read ran
                Ok(1)
            })
            .await
            .unwrap();
        assert_eq!(value, 1);
        assert_eq!(get(&cache, "a", 2).await, 2);
    }

    #[tokio::test]
    async fn nothing_is_served_while_not_listening_and_the_size_is_bounded() {
        let changes = listening();
        let cache = ReadCache::new(Some(changes.clone()), limits(2, 1 << 20));
        changes.set_listening(false);
        get(&cache, "a", 1).await;
        assert_eq!(get(&cache, "a", 2).await, 2);

        changes.set_listening(true);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            get(&cache, key, i as u32).await;
        }
        assert!(cache.entries.lock().unwrap().map.len() <= 2);
        assert_eq!(get(&cache, "c", 9).await, 2);
        assert_eq!(get(&ReadCache::disabled(), "c", 9).await, 9);
    }
}
