//! W6: the outbox relay, events per second from an outbox row to its confirmed publish.
//!
//! The harness binds its own queue to the routing key it uses (the relay publishes with
//! `mandatory`, and an unroutable event would stay pending), inserts N rows in one
//! transaction while the relay idles, and times until none of them is unpublished.

use std::time::{Duration, Instant};

use lapin::{
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
    Connection, ConnectionProperties, ExchangeKind,
};
use sqlx::PgPool;

use crate::stats::Summary;

const EXCHANGE: &str = "toko.events";
const BENCH_QUEUE: &str = "toko.bench.relay";
pub const ROUTING_KEY: &str = "bench.relay";

/// Marks every pending event published, so the backlog the API wrote during W4/W5 (with no
/// relay running) does not land in the measurement. The bench database is disposable.
pub async fn discard_backlog(db: &PgPool) -> anyhow::Result<u64> {
    let done =
        sqlx::query!("update outbox_events set published_at = now() where published_at is null",)
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

/// Declares the exchange (as the relay does: durable topic) and a bench queue bound to
/// [`ROUTING_KEY`].
pub async fn bind_bench_queue(amqp_url: &str) -> anyhow::Result<()> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            BENCH_QUEUE.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            BENCH_QUEUE.into(),
            EXCHANGE.into(),
            ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    connection.close(200, "bench queue bound".into()).await?;
    Ok(())
}

pub async fn delete_bench_queue(amqp_url: &str) -> anyhow::Result<()> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .queue_delete(BENCH_QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    connection.close(200, "bench queue deleted".into()).await?;
    Ok(())
}

/// Inserts `events` rows of `event_type` (payload from `payload_sql`, an SQL expression of
/// the series number `n`) in one transaction; returns when they are committed.
pub async fn insert_events(
    db: &PgPool,
    event_type: &str,
    payload_sql: &str,
    events: u32,
) -> anyhow::Result<()> {
    // `payload_sql` is one of this crate's constant expressions, never user input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload)
         select gen_random_uuid(), $1, 'bench', gen_random_uuid(), {payload_sql}
           from generate_series(1, $2) n"
    )))
    .bind(event_type)
    .bind(i64::from(events))
    .execute(db)
    .await?;
    Ok(())
}

/// Waits until no event of `event_type` is unpublished (or `timeout`).
pub async fn wait_drained(db: &PgPool, event_type: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from outbox_events where event_type = $1 and published_at is null"#,
            event_type,
        )
        .fetch_one(db)
        .await?;
        if pending == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "{pending} {event_type} events still unpublished after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// W6 proper: the relay is running and idle; insert, time until drained.
pub async fn measure(db: &PgPool, events: u32) -> anyhow::Result<Summary> {
    let inserted = Instant::now();
    insert_events(db, ROUTING_KEY, "jsonb_build_object('n', n)", events).await?;
    let committed = Instant::now();
    wait_drained(db, ROUTING_KEY, Duration::from_secs(120)).await?;
    let elapsed = committed.elapsed();
    // Per-event latency from the row's creation (its transaction's start) to the marking
    // transaction of its batch.
    let row = sqlx::query!(
        r#"select q[1] as "p50!", q[2] as "p95!", q[3] as "p99!" from (
             select percentile_cont(array[0.5, 0.95, 0.99]) within group
                    (order by extract(epoch from published_at - created_at) * 1000) as q
               from outbox_events where event_type = $1 and created_at >= now() - $2::interval) s"#,
        ROUTING_KEY,
        format!("{} milliseconds", inserted.elapsed().as_millis() + 1000) as _,
    )
    .fetch_one(db)
    .await?;
    let (p50, p95, p99) = (row.p50, row.p95, row.p99);
    Ok(Summary {
        requests: u64::from(events),
        throughput: f64::from(events) / elapsed.as_secs_f64(),
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p99,
        ..Summary::default()
    })
}

/// The broker alone, W6's yardstick: the same number of persistent messages published with
/// confirms to the same exchange and routing key (so to the bench queue and the durable
/// archive queue), as the relay does it (batches of `batch` messages, each confirmed before
/// the next, on `channels` channels at once) but without the database around each batch.
/// W6's ratio to it is the relay's overhead; its rate is the bound on this machine.
pub async fn broker_yardstick(
    amqp_url: &str,
    events: u32,
    batch: u32,
    channels: u32,
) -> anyhow::Result<Summary> {
    use lapin::{
        options::{BasicPublishOptions, ConfirmSelectOptions},
        BasicProperties, Confirmation,
    };
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..channels {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        // This channel's share of the messages: [first, end).
        let (first, end) = (events * c / channels, events * (c + 1) / channels);
        tasks.push(tokio::spawn(async move {
            let mut sent = first;
            while sent < end {
                let mut confirms = Vec::new();
                for n in sent..(sent + batch).min(end) {
                    let body = format!("{{\"n\":{n}}}");
                    let confirm = channel
                        .basic_publish(
                            EXCHANGE.into(),
                            ROUTING_KEY.into(),
                            BasicPublishOptions {
                                mandatory: true,
                                ..Default::default()
                            },
                            body.as_bytes(),
                            BasicProperties::default()
                                .with_content_type("application/json".into())
                                .with_delivery_mode(2),
                        )
                        .await?;
                    confirms.push(confirm);
                }
                sent += confirms.len() as u32;
                for confirm in confirms {
                    anyhow::ensure!(
                        matches!(confirm.await?, Confirmation::Ack(None)),
                        "the broker did not take a message"
                    );
                }
            }
            anyhow::Ok(sent - first)
        }));
    }
    let mut published = 0;
    for task in tasks {
        published += task.await??;
    }
    let elapsed = started.elapsed();
    connection
        .close(200, "broker yardstick done".into())
        .await?;
    Ok(Summary {
        requests: u64::from(published),
        throughput: f64::from(published) / elapsed.as_secs_f64(),
        ..Summary::default()
    })
}
