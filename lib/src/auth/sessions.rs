//! The check that makes access tokens revocable: a token names its user's session epoch, and
//! is honoured only while the user exists with that epoch. The user's row is read at most
//! once per [`FRESHNESS`] per process; this process forgets a user at once when it changes
//! the epoch itself, other replicas within [`FRESHNESS`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use uuid::Uuid;

use super::Role;

/// How long a user's epoch and role are reused before being read again.
pub const FRESHNESS: Duration = Duration::from_secs(2);

/// Users remembered at most; beyond that the cache starts over (it refills in `FRESHNESS`).
const MAX_USERS: usize = 100_000;

/// What the database said about a user: its epoch and role, or that it is gone.
pub type Session = Option<(i32, Role)>;

#[derive(Clone, Default)]
pub struct SessionCache(Arc<Mutex<HashMap<Uuid, (Instant, Session)>>>);

impl SessionCache {
    pub fn get(&self, user_id: Uuid) -> Option<Session> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&user_id)
            .filter(|(at, _)| at.elapsed() < FRESHNESS)
            .map(|(_, session)| *session)
    }

    pub fn put(&self, user_id: Uuid, session: Session) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_USERS {
            cache.clear();
        }
        cache.insert(user_id, (Instant::now(), session));
    }

    pub fn forget(&self, user_id: Uuid) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(&user_id);
    }
}
