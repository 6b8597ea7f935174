//! Password-guess throttling, stored in Postgres so every API replica sees the same counts.
//!
//! Three counters per attempt (see docs/SECURITY.md for the policy): the account from one
//! client IP (low limit: stops a guesser), the client IP across accounts (stops spraying), and
//! the account across all IPs (a high ceiling: stops a distributed guesser without letting one
//! address lock the owner out). An attempt is counted against all three *before* the password
//! is verified, atomically, and only when none is at its limit: under any concurrency no more
//! than a limit's worth of guesses is ever verified in a window. A correct password gives its
//! count back (and clears the account-from-this-IP counter), so only failures accumulate.

use std::{net::IpAddr, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::config::AuthConfig;

/// One throttled key and its limit.
pub struct ThrottleKey {
    pub key: String,
    pub limit: u32,
}

/// The counters of one password attempt on `email` from `ip`.
pub struct Attempt {
    keys: Vec<ThrottleKey>,
}

impl Attempt {
    pub fn new(config: &AuthConfig, email: &str, ip: Option<IpAddr>) -> Self {
        let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let mut keys = vec![
            ThrottleKey {
                key: format!("account-ip:{email} {ip}"),
                limit: config.max_failed_logins,
            },
            ThrottleKey {
                key: format!("ip:{ip}"),
                limit: config.max_failed_logins_per_ip,
            },
            ThrottleKey {
                key: format!("account:{email}"),
                limit: config.max_failed_logins_per_account,
            },
        ];
        // One lock order for every transaction that shares a key.
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Self { keys }
    }

    fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.key.as_str()).collect()
    }
}

/// Counts the attempt against every key unless one is at its limit; then returns how long
/// until it may try again (nothing is counted).
pub async fn admit(
    db: &PgPool,
    attempt: &Attempt,
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    let names = attempt.names();
    let mut tx = db.begin().await?;
    sqlx::query!(
        "insert into login_failures (throttle_key, window_start, failure_count)
         select k, now(), 0 from unnest($1::text[]) as k order by k
         on conflict (throttle_key) do nothing",
        &names[..] as &[&str],
    )
    .execute(&mut *tx)
    .await?;
    // The row locks serialise concurrent attempts on a key between this check and the count.
    let rows: Vec<(String, DateTime<Utc>, i32)> = sqlx::query!(
        "select throttle_key, window_start, failure_count from login_failures
         where throttle_key = any($1) order by throttle_key for update",
        &names[..] as &[&str],
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.throttle_key, r.window_start, r.failure_count))
    .collect();
    let now = Utc::now();
    let window_length = chrono::Duration::from_std(window).unwrap_or_default();
    let wait = rows
        .iter()
        .filter(|(key, start, count)| {
            let limit = attempt
                .keys
                .iter()
                .find(|k| &k.key == key)
                .map_or(u32::MAX, |k| k.limit);
            *start + window_length > now && i64::from(*count) >= i64::from(limit)
        })
        .map(|(_, start, _)| (*start + window_length - now).to_std().unwrap_or_default())
        .max();
    if let Some(wait) = wait {
        tx.rollback().await?;
        return Ok(Some(wait.max(Duration::from_secs(1))));
    }
    sqlx::query!(
        "update login_failures set
           failure_count = case when window_start + $2 > now() then failure_count + 1 else 1 end,
           window_start  = case when window_start + $2 > now() then window_start else now() end
         where throttle_key = any($1)",
        &names[..] as &[&str],
        window as _,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(None)
}

/// The password was right: the attempt is given back, and the account's counter from this
/// IP forgotten.
pub async fn succeeded(db: &PgPool, attempt: &Attempt) -> Result<(), sqlx::Error> {
    let names = attempt.names();
    sqlx::query!(
        "update login_failures set failure_count = greatest(failure_count - 1, 0)
         where throttle_key = any($1) and throttle_key not like 'account-ip:%'",
        &names[..] as &[&str],
    )
    .execute(db)
    .await?;
    sqlx::query!(
        "delete from login_failures where throttle_key = any($1) and throttle_key like 'account-ip:%'",
        &names[..] as &[&str],
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Deletes the counters whose window has ended (a new window starts from nothing anyway), so
/// guesses from ever new addresses and accounts do not grow the table without bound.
pub async fn prune(db: &PgPool, window: Duration) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "delete from login_failures where window_start + $1 <= now()",
        window as _,
    )
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}
