//! Failed-login throttling per account and per client IP, stored in Postgres so every API
//! replica sees the same counts. Only failures write; a successful login clears the account.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// One throttled key and its limit.
pub struct ThrottleKey {
    pub key: String,
    pub limit: u32,
}

impl ThrottleKey {
    pub fn account(email: &str, limit: u32) -> Self {
        Self {
            key: format!("account:{email}"),
            limit,
        }
    }
    pub fn ip(ip: &str, limit: u32) -> Self {
        Self {
            key: format!("ip:{ip}"),
            limit,
        }
    }
}

/// How long until the first blocked key may try again, if any key is over its limit.
pub async fn blocked_for(
    db: &PgPool,
    keys: &[ThrottleKey],
    window: Duration,
) -> Result<Option<Duration>, sqlx::Error> {
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let rows: Vec<(String, DateTime<Utc>, i32)> = sqlx::query_as(
        "select throttle_key, window_start, failure_count from login_failures
         where throttle_key = any($1)",
    )
    .bind(&names)
    .fetch_all(db)
    .await?;
    let now = Utc::now();
    let window = chrono::Duration::from_std(window).unwrap_or_default();
    let wait = rows
        .iter()
        .filter(|(key, start, count)| {
            let limit = keys
                .iter()
                .find(|k| &k.key == key)
                .map_or(u32::MAX, |k| k.limit);
            *start + window > now && *count as u32 >= limit
        })
        .map(|(_, start, _)| (*start + window - now).to_std().unwrap_or_default())
        .max();
    Ok(wait.map(|w| w.max(Duration::from_secs(1))))
}

/// Counts one failure against each key, starting a new window when the old one ran out.
pub async fn record_failure(
    db: &PgPool,
    keys: &[ThrottleKey],
    window: Duration,
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    sqlx::query(
        "insert into login_failures (throttle_key, window_start, failure_count)
         select k, now(), 1 from unnest($1::text[]) as k
         on conflict (throttle_key) do update set
           failure_count = case when login_failures.window_start + $2 > now()
                                then login_failures.failure_count + 1 else 1 end,
           window_start  = case when login_failures.window_start + $2 > now()
                                then login_failures.window_start else now() end",
    )
    .bind(&names)
    .bind(window)
    .execute(db)
    .await
    .map(|_| ())
}

/// Forgets an account's failures after it logged in.
pub async fn clear(db: &PgPool, key: &ThrottleKey) -> Result<(), sqlx::Error> {
    sqlx::query("delete from login_failures where throttle_key = $1")
        .bind(&key.key)
        .execute(db)
        .await
        .map(|_| ())
}
