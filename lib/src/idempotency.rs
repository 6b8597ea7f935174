//! Idempotency keys: a client retrying a request with the same `Idempotency-Key` gets the
//! original result instead of a second effect.
//!
//! The key is claimed with an `INSERT ... ON CONFLICT DO NOTHING` inside the caller's
//! transaction: a concurrent duplicate blocks on the unique index until the first transaction
//! ends, then sees its row. The stored result is written when the operation completes (for
//! checkout, after payment initiation, which runs outside the transaction); duplicates that
//! find the key still in progress wait for it. Only successes are stored: a refused request
//! leaves nothing behind, so its retry is evaluated afresh. Keys are kept 24 hours.

use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// How long a claimed-but-unfinished key is trusted before a retry may finish the work
/// (the first attempt crashed between its commit and its completion).
const STALE_AFTER: Duration = Duration::from_secs(30);
/// How long a duplicate waits for the first attempt to complete.
const WAIT_FOR: Duration = Duration::from_secs(20);

/// How long results are replayed.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A key with the scope it is unique in (e.g. one customer's checkouts) and the request's hash.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
    request_hash: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    InvalidKey,
    #[error("this Idempotency-Key was used with a different request body")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    StillInProgress,
    #[error("the stored result of this Idempotency-Key cannot be read")]
    UnreadableResult(#[source] serde_json::Error),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What a duplicate request finds once the key's first holder is done.
pub enum Existing<T> {
    /// The work was done before: here is its result.
    Completed(T),
    /// The first attempt rolled back: claim the key again and do the work.
    Vanished,
    /// An earlier attempt committed its effect but never completed; this request finishes it.
    Stale { resource_id: Option<Uuid> },
}

impl IdempotencyKey {
    /// `request` is what makes two requests "the same": usually the parsed body.
    pub fn new(
        scope: impl Into<String>,
        key: &str,
        request: &impl Serialize,
    ) -> Result<Self, IdempotencyError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdempotencyError::InvalidKey);
        }
        // serde_json maps are sorted, so equal bodies hash equally whatever their key order.
        let canonical =
            serde_json::to_vec(&serde_json::to_value(request).expect("requests serialize"))
                .expect("JSON values serialize");
        Ok(Self {
            scope: scope.into(),
            key: key.to_owned(),
            request_hash: Sha256::digest(&canonical).to_vec(),
        })
    }

    /// Claims the key inside `tx`: `true` when this request owns it and does the work. When
    /// another transaction holds the key, this waits for it to end; on `false` the caller ends
    /// its transaction and calls [`Self::await_existing`] (never wait holding a connection).
    pub async fn try_claim(&self, tx: &mut PgConnection) -> Result<bool, IdempotencyError> {
        let inserted = sqlx::query_scalar!(
            r#"insert into idempotency_keys (scope, idempotency_key, request_hash) values ($1, $2, $3)
               on conflict do nothing returning true as "inserted!""#,
            &self.scope,
            &self.key,
            &self.request_hash,
        )
        .fetch_optional(&mut *tx)
        .await?;
        Ok(inserted.is_some())
    }

    /// Polls an existing key until it completes, vanishes or turns stale.
    pub async fn await_existing<T: DeserializeOwned>(
        &self,
        db: &PgPool,
    ) -> Result<Existing<T>, IdempotencyError> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR;
        loop {
            // The stored key: request hash, status, response, resource id, and whether its
            // claim is stale.
            let row = sqlx::query!(
                r#"select request_hash, status, response_body, resource_id,
                          updated_at < now() - $3::interval as "stale!"
                   from idempotency_keys where scope = $1 and idempotency_key = $2"#,
                &self.scope,
                &self.key,
                STALE_AFTER as _,
            )
            .fetch_optional(db)
            .await?;
            let Some(row) = row else {
                return Ok(Existing::Vanished);
            };
            let (hash, status, body, resource_id, stale) = (
                row.request_hash,
                row.status,
                row.response_body,
                row.resource_id,
                row.stale,
            );
            if hash != self.request_hash {
                return Err(IdempotencyError::KeyReused);
            }
            if status == "completed" {
                let body = body.unwrap_or(serde_json::Value::Null);
                return serde_json::from_value(body)
                    .map(Existing::Completed)
                    .map_err(IdempotencyError::UnreadableResult);
            }
            if stale && self.refresh_claim(db).await? {
                return Ok(Existing::Stale { resource_id });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(IdempotencyError::StillInProgress);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Takes over a stale key; only one retry wins.
    async fn refresh_claim(&self, db: &PgPool) -> Result<bool, sqlx::Error> {
        let result = sqlx::query!(
            "update idempotency_keys set updated_at = now()
             where scope = $1 and idempotency_key = $2 and status = 'in_progress'
               and updated_at < now() - $3::interval",
            &self.scope,
            &self.key,
            STALE_AFTER as _,
        )
        .execute(db)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records what the claimed work produced (its main resource), in the same transaction.
    pub async fn set_resource(
        &self,
        tx: &mut PgConnection,
        resource_id: Uuid,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "update idempotency_keys set resource_id = $3 where scope = $1 and idempotency_key = $2",
            &self.scope,
            &self.key,
            resource_id,
        )
        .execute(tx)
        .await
        .map(|_| ())
    }

    /// Stores the result in the claiming transaction itself (single-transaction operations:
    /// the effect and its replayable result commit together).
    pub async fn complete_in(
        &self,
        tx: &mut PgConnection,
        result: &impl Serialize,
    ) -> Result<(), sqlx::Error> {
        let body = serde_json::to_value(result).expect("results serialize");
        sqlx::query!(
            "update idempotency_keys set status = 'completed', response_body = $3, updated_at = now()
             where scope = $1 and idempotency_key = $2",
            &self.scope,
            &self.key,
            body,
        )
        .execute(tx)
        .await
        .map(|_| ())
    }

    /// Forgets an unfinished claim after the work failed, so a retry runs it again.
    async fn release(&self, db: &PgPool) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "delete from idempotency_keys
             where scope = $1 and idempotency_key = $2 and status = 'in_progress'",
            &self.scope,
            &self.key,
        )
        .execute(db)
        .await
        .map(|_| ())
    }

    /// Runs `work` at most once per key: a repeated key gets the stored result (also while
    /// the first attempt is still running: it waits for it); a failure is not stored, so its
    /// retry runs the work again. For work that calls other services outside a transaction
    /// (payments, refunds); the work itself must tolerate being re-run after a crash.
    pub async fn run_once<T, E, F, Fut>(&self, db: &PgPool, work: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<IdempotencyError>,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        loop {
            let mut tx = db.begin().await.map_err(|e| E::from(e.into()))?;
            let owned = self.try_claim(&mut tx).await?;
            tx.commit().await.map_err(|e| E::from(e.into()))?;
            if !owned {
                match self.await_existing::<T>(db).await? {
                    Existing::Completed(result) => return Ok(result),
                    Existing::Vanished => continue,
                    Existing::Stale { .. } => {}
                }
            }
            return match work().await {
                Ok(result) => {
                    self.complete(db, &result)
                        .await
                        .map_err(|e| E::from(e.into()))?;
                    Ok(result)
                }
                Err(error) => {
                    self.release(db).await.map_err(|e| E::from(e.into()))?;
                    Err(error)
                }
            };
        }
    }

    /// Stores the result for replays.
    pub async fn complete(&self, db: &PgPool, result: &impl Serialize) -> Result<(), sqlx::Error> {
        let body = serde_json::to_value(result).expect("results serialize");
        sqlx::query!(
            "insert into idempotency_keys (scope, idempotency_key, request_hash, status, response_body)
             values ($1, $2, $3, 'completed', $4)
             on conflict (scope, idempotency_key) do update
             set status = 'completed', response_body = excluded.response_body, updated_at = now()",
            &self.scope,
            &self.key,
            &self.request_hash,
            body,
        )
        .execute(db)
        .await
        .map(|_| ())
    }
}

/// Forgets every key of a scope (and the responses kept for them).
pub async fn forget_scope(conn: &mut PgConnection, scope: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from idempotency_keys where scope = $1", scope)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets keys older than [`RETENTION`]; returns how many.
pub async fn prune(db: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "delete from idempotency_keys where created_at < now() - $1::interval",
        RETENTION as _,
    )
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bodies_hash_equally_whatever_the_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":{"x":2,"y":3}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":{"y":3,"x":2},"a":1}"#).unwrap();
        let ka = IdempotencyKey::new("s", "k", &a).unwrap();
        let kb = IdempotencyKey::new("s", "k", &b).unwrap();
        assert_eq!(ka.request_hash, kb.request_hash);
        assert!(IdempotencyKey::new("s", "", &a).is_err());
        assert!(IdempotencyKey::new("s", "has space", &a).is_err());
    }
}
