//! Waiting for something that happens asynchronously (a worker, a notification, a listener):
//! one poller, so every wait in the specs times out the same way and says what it last saw.

use std::{fmt::Debug, future::Future, time::Duration};

use tokio::time::Instant;

/// How often a condition is checked again.
const INTERVAL: Duration = Duration::from_millis(50);

/// What one check of a condition found: the value waited for, or what was seen instead.
pub trait Observation {
    type Value;
    /// `Ok` when the wait is over; otherwise a description of what was seen.
    fn into_outcome(self) -> Result<Self::Value, String>;
}

/// `None`: not yet, with nothing worth reporting.
impl<T> Observation for Option<T> {
    type Value = T;
    fn into_outcome(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".to_owned())
    }
}

/// `Err(seen)`: not yet, and `seen` is what the timeout reports.
impl<T, E: Debug> Observation for Result<T, E> {
    type Value = T;
    fn into_outcome(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:#?}"))
    }
}

/// Checks `check` every 50 ms until it returns `Some`/`Ok`, and returns that value; panics
/// after `timeout` naming `what` and the last `Err` seen.
pub async fn eventually<O, F, Fut>(what: &str, timeout: Duration, mut check: F) -> O::Value
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await.into_outcome() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last saw: {last}"
        );
        tokio::time::sleep(INTERVAL).await;
    }
}

/// `Ok(items)` once there are at least `count` of them: for waiting on arrivals.
pub fn at_least<T>(count: usize, items: Vec<T>) -> Result<Vec<T>, Vec<T>> {
    if items.len() >= count {
        Ok(items)
    } else {
        Err(items)
    }
}
