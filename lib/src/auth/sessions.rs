//! The check that makes access tokens revocable: a token names its session (the refresh-token
//! family of one login), and is honoured only while that session is live and its user exists.
//! A session is read at most once per [`FRESHNESS`] per process; this process forgets a
//! session at once when it revokes it itself, other replicas within [`FRESHNESS`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use uuid::Uuid;

use super::Role;

/// How long a session's state is reused before being read again.
pub const FRESHNESS: Duration = Duration::from_secs(2);

/// Sessions remembered at most; beyond that the cache starts over (it refills in `FRESHNESS`).
const MAX_SESSIONS: usize = 100_000;

/// What the database said about a session: live, with its user's current role, or not.
pub type SessionState = Option<Role>;

struct Entry {
    user_id: Uuid,
    read_at: Instant,
    state: SessionState,
}

#[derive(Clone, Default)]
pub struct SessionCache(Arc<Mutex<HashMap<Uuid, Entry>>>);

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, session_id: Uuid) -> Option<SessionState> {
        self.lock()
            .get(&session_id)
            .filter(|e| e.read_at.elapsed() < FRESHNESS)
            .map(|e| e.state)
    }

    pub fn put(&self, session_id: Uuid, user_id: Uuid, state: SessionState) {
        let mut cache = self.lock();
        if cache.len() >= MAX_SESSIONS {
            cache.clear();
        }
        let read_at = Instant::now();
        cache.insert(
            session_id,
            Entry {
                user_id,
                read_at,
                state,
            },
        );
    }

    pub fn forget_session(&self, session_id: Uuid) {
        self.lock().remove(&session_id);
    }

    pub fn forget_user(&self, user_id: Uuid) {
        self.lock().retain(|_, e| e.user_id != user_id);
    }
}
