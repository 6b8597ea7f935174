//! Exactly-once effects on top of at-least-once delivery: the `processed_messages` table,
//! keyed by (consumer, message id).
//!
//! A handler whose effect is in Postgres writes it in the transaction [`Idempotency::begin`]
//! hands out; the record and the effect commit together or not at all:
//!
//! ```ignore
//! let Some(mut tx) = Idempotency::begin(&self.pool, self.name(), &msg.message_id).await? else {
//!     return Ok(()); // processed before: a redelivery or a duplicate publish
//! };
//! orders::mark_paid(&mut tx, order_id).await?;
//! tx.commit().await?;
//! ```
//!
//! Two deliveries of one message racing each other serialize on the primary key: the
//! second insert waits for the first transaction and then finds the record (or, if the
//! first rolled back, takes over). Effects outside Postgres (an email) cannot join the
//! transaction: commit right after the effect succeeds; a crash between the two repeats the
//! effect once, which is the best at-least-once delivery allows.
//!
//! The consumer runtime also checks [`Idempotency::is_processed`] before calling a handler
//! and records every success itself (a no-op when the handler already did).

use sqlx::{PgPool, Postgres, Transaction};

/// The idempotency helpers (namespaced functions).
pub struct Idempotency;

impl Idempotency {
    /// Opens a transaction that records `message_id` as processed by `consumer`; `None`
    /// when it was processed before (nothing is left open then).
    pub async fn begin(
        pool: &PgPool,
        consumer: &str,
        message_id: &str,
    ) -> Result<Option<Transaction<'static, Postgres>>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query!(
            "insert into processed_messages (consumer, message_id) values ($1, $2)
             on conflict (consumer, message_id) do nothing",
            consumer,
            message_id,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(tx))
    }

    /// Whether `consumer` has processed `message_id` (committed).
    pub async fn is_processed(
        pool: &PgPool,
        consumer: &str,
        message_id: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar!(
            r#"select exists(select 1 from processed_messages where consumer = $1 and message_id = $2)
                 as "exists!""#,
            consumer,
            message_id,
        )
        .fetch_one(pool)
        .await
    }

    /// Records `message_id` as processed outside any transaction (idempotent).
    pub async fn record(
        pool: &PgPool,
        consumer: &str,
        message_id: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "insert into processed_messages (consumer, message_id) values ($1, $2)
             on conflict (consumer, message_id) do nothing",
            consumer,
            message_id,
        )
        .execute(pool)
        .await
        .map(|_| ())
    }
}
