//! The outbox relay against the real broker: properties, confirms, concurrent replicas,
//! outages, pruning.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use lapin::types::AMQPValue;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use toko::messaging::{
    housekeeping::prune,
    metrics::{registry, RelayMetrics},
    relay::{BatchOutcome, Relay},
    topology,
    worker_http::BrokerStatus,
};
use toko::outbox::OutboxStatus;
use toko_testkit::{eventually, TcpProxy};
use uuid::Uuid;

use crate::helpers::{header, insert_event, Env};

fn relay(env: &Env, url: &str, batch_size: i64) -> Relay {
    let mut config = env.config().relay;
    config.batch_size = batch_size;
    Relay::new(
        env.pool.clone(),
        config,
        url,
        RelayMetrics::register(&registry()).unwrap(),
        BrokerStatus::default(),
    )
}

async fn published_at(env: &Env, id: Uuid) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("select published_at from outbox_events where event_id = $1")
        .bind(id)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

async fn unpublished(env: &Env) -> i64 {
    sqlx::query_scalar("select count(*) from outbox_events where published_at is null")
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_publishes_each_row_once_with_its_properties_and_marks_it_after_the_confirm() {
    let env = Env::new().await;
    let capture = env.capture("order.*").await;
    let paid = insert_event(&env.pool, "order.paid", json!({ "total": 10 })).await;
    let cancelled =
        insert_event(&env.pool, "order.cancelled", json!({ "reason": "timeout" })).await;
    let correlation = Uuid::new_v4();
    sqlx::query("update outbox_events set correlation_id = $1 where event_id = $2")
        .bind(correlation)
        .bind(cancelled)
        .execute(&env.pool)
        .await
        .unwrap();

    let (_connection, channel) = env.confirm_channel().await;
    let relay = relay(&env, &env.broker.url, 500);
    let outcome = relay.publish_batch(&channel).await.unwrap();
    assert_eq!(
        outcome,
        BatchOutcome {
            claimed: 2,
            published: 2,
            rejected: 0
        }
    );
    assert!(
        published_at(&env, paid).await.is_some() && published_at(&env, cancelled).await.is_some()
    );

    let messages = capture.take_n(2).await;
    let first = &messages[0];
    let p = &first.properties;
    assert_eq!(first.routing_key.as_str(), "order.paid");
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), paid.to_string());
    assert_eq!(
        p.correlation_id().as_ref().unwrap().as_str(),
        paid.to_string(),
        "defaults to the event id"
    );
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "order.paid");
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(*p.delivery_mode(), Some(2));
    assert!(p.timestamp().is_some());
    assert_eq!(header(first, "aggregate_type").as_deref(), Some("order"));
    assert!(header(first, "aggregate_id").is_some());
    assert_eq!(
        p.headers().as_ref().unwrap().inner().get("schema_version"),
        Some(&AMQPValue::LongInt(
            toko::events::EventKind::OrderPaid.schema_version()
        ))
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&first.data).unwrap(),
        json!({ "total": 10 })
    );
    let second = &messages[1];
    assert_eq!(
        second
            .properties
            .correlation_id()
            .as_ref()
            .unwrap()
            .as_str(),
        correlation.to_string()
    );

    // Published rows are never claimed again.
    assert_eq!(
        relay.publish_batch(&channel).await.unwrap(),
        BatchOutcome::default()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(capture.take().await.is_empty(), "no second copy");
}

#[tokio::test]
async fn an_event_the_broker_returns_stays_unpublished_and_backs_off() {
    let env = Env::new().await;
    let _capture = env.capture("order.paid").await; // nothing is bound to refund.issued
    let unroutable = insert_event(&env.pool, "refund.issued", json!({})).await;
    let routable = insert_event(&env.pool, "order.paid", json!({})).await;

    let (_connection, channel) = env.confirm_channel().await;
    let relay = relay(&env, &env.broker.url, 500);
    assert_eq!(
        relay.publish_batch(&channel).await.unwrap(),
        BatchOutcome {
            claimed: 2,
            published: 1,
            rejected: 1
        }
    );

    assert!(published_at(&env, routable).await.is_some());
    assert!(published_at(&env, unroutable).await.is_none());
    let (attempts, error, retry_in): (i32, String, f64) = sqlx::query_as(
        "select publish_attempts, last_error, extract(epoch from next_attempt_at - now())::float8
         from outbox_events where event_id = $1",
    )
    .bind(unroutable)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert!(error.contains("NO_ROUTE"), "{error}");
    assert!(
        retry_in > 0.0,
        "the refused row waits before its next attempt"
    );
    assert_eq!(
        relay.publish_batch(&channel).await.unwrap().claimed,
        0,
        "not claimed again before then"
    );

    let status = OutboxStatus::load(&env.pool).await.unwrap();
    assert_eq!(
        (status.pending, status.refused, status.published_last_minute),
        (1, 1, 1)
    );
    assert!(status.last_error.unwrap().contains("NO_ROUTE"));
    assert!(status.oldest_pending_age.is_some());
}

#[tokio::test]
async fn two_relays_put_each_event_on_the_exchange_exactly_once() {
    let env = Env::new().await;
    let capture = env.capture("order.paid").await;
    let mut ids = HashSet::new();
    for i in 0..300 {
        ids.insert(
            insert_event(&env.pool, "order.paid", json!({ "n": i }))
                .await
                .to_string(),
        );
    }

    let shutdown = CancellationToken::new();
    let a = relay(&env, &env.broker.url, 20).with_connection_name("relay-a");
    let b = relay(&env, &env.broker.url, 20).with_connection_name("relay-b");
    let runs = [
        tokio::spawn({
            let s = shutdown.clone();
            async move { a.run(s).await }
        }),
        tokio::spawn({
            let s = shutdown.clone();
            async move { b.run(s).await }
        }),
    ];
    let messages = capture.take_n(300).await;
    eventually(
        "every row marked published",
        Duration::from_secs(10),
        || async { (unpublished(&env).await == 0).then_some(()) },
    )
    .await;
    shutdown.cancel();
    for run in runs {
        run.await.unwrap();
    }

    let mut seen = HashSet::new();
    for m in &messages {
        let id = m.properties.message_id().as_ref().unwrap().to_string();
        assert!(seen.insert(id.clone()), "{id} published twice");
    }
    assert_eq!(seen, ids);
    assert!(capture.take().await.is_empty());
}

#[tokio::test]
async fn the_relay_waits_for_an_unreachable_broker_and_survives_a_dropped_connection() {
    let env = Env::new().await;
    let capture = env.capture("order.*").await;
    let mut proxy = TcpProxy::reserve().await; // closed: the broker is "down"
    let broker = BrokerStatus::default();
    let mut config = env.config().relay;
    config.poll_interval = Duration::from_millis(50);
    let relay = Relay::new(
        env.pool.clone(),
        config,
        &env.broker.url_via(proxy.addr),
        RelayMetrics::register(&registry()).unwrap(),
        broker.clone(),
    );
    let shutdown = CancellationToken::new();
    let run = tokio::spawn({
        let s = shutdown.clone();
        async move { relay.run(s).await }
    });

    let first = insert_event(&env.pool, "order.paid", json!({})).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        published_at(&env, first).await.is_none(),
        "nothing is published while the broker is down"
    );
    broker.require();
    assert!(broker.check().is_err(), "not ready while disconnected");

    proxy.open().await; // the broker is back
    let got = capture.take_n(1).await;
    assert_eq!(
        got[0].properties.message_id().as_ref().unwrap().as_str(),
        first.to_string()
    );
    eventually("first marked published", Duration::from_secs(5), || async {
        published_at(&env, first).await.map(|_| ())
    })
    .await;
    assert!(broker.check().is_ok());

    proxy.sever(); // the connection drops under the relay
    let second = insert_event(&env.pool, "order.cancelled", json!({})).await;
    let got = capture.take_n(1).await;
    assert_eq!(
        got[0].properties.message_id().as_ref().unwrap().as_str(),
        second.to_string()
    );
    eventually(
        "second marked published",
        Duration::from_secs(10),
        || async { published_at(&env, second).await.map(|_| ()) },
    )
    .await;

    shutdown.cancel();
    run.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(capture.take().await.is_empty(), "each event exactly once");
}

#[tokio::test]
async fn a_notify_wakes_the_idle_relay_long_before_its_poll_interval() {
    let env = Env::new().await;
    let capture = env.capture("order.paid").await;
    let mut config = env.config().relay;
    config.poll_interval = Duration::from_secs(30);
    let relay = Relay::new(
        env.pool.clone(),
        config,
        &env.broker.url,
        RelayMetrics::register(&registry()).unwrap(),
        BrokerStatus::default(),
    );
    let shutdown = CancellationToken::new();
    let run = tokio::spawn({
        let s = shutdown.clone();
        async move { relay.run(s).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await; // connected and idle

    let started = std::time::Instant::now();
    insert_event(&env.pool, "order.paid", json!({})).await;
    capture.take_n(1).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by NOTIFY after {:?}",
        started.elapsed()
    );
    shutdown.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn pruning_deletes_published_rows_and_idempotency_records_past_their_retention() {
    let env = Env::new().await;
    let old_published = insert_event(&env.pool, "order.paid", json!({})).await;
    let new_published = insert_event(&env.pool, "order.paid", json!({})).await;
    let old_pending = insert_event(&env.pool, "order.paid", json!({})).await;
    env.exec(
        "update outbox_events set published_at = now() - interval '8 days' where event_id = $1",
        old_published,
    )
    .await;
    env.exec(
        "update outbox_events set published_at = now() where event_id = $1",
        new_published,
    )
    .await;
    env.exec(
        "update outbox_events set created_at = now() - interval '30 days' where event_id = $1",
        old_pending,
    )
    .await;
    sqlx::query(
        "insert into processed_messages (consumer, message_id, processed_at)
         values ('notifier', 'old', now() - interval '31 days'), ('notifier', 'new', now())",
    )
    .execute(&env.pool)
    .await
    .unwrap();

    let config = env.config().relay;
    assert_eq!(
        config.retention,
        Duration::from_secs(7 * 86_400),
        "default OUTBOX_RETENTION"
    );
    let pruned = prune(
        &env.pool,
        &config,
        &RelayMetrics::register(&registry()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!((pruned.outbox_events, pruned.processed_messages), (1, 1));

    let left: Vec<Uuid> =
        sqlx::query_scalar("select event_id from outbox_events order by event_id")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        left,
        vec![new_published, old_pending],
        "unpublished rows are never pruned"
    );
    let records: Vec<String> = sqlx::query_scalar("select message_id from processed_messages")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    assert_eq!(records, vec!["new".to_owned()]);
}

#[tokio::test]
async fn the_exchange_is_a_durable_topic() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    topology::declare_exchange(&channel).await.unwrap();
    // Re-declaring with other flags fails if the exchange exists as something else.
    let passive = lapin::options::ExchangeDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            topology::EXCHANGE.into(),
            lapin::ExchangeKind::Topic,
            passive,
            Default::default(),
        )
        .await
        .unwrap();
    let mismatch = channel
        .exchange_declare(
            topology::EXCHANGE.into(),
            lapin::ExchangeKind::Topic,
            Default::default(),
            Default::default(),
        )
        .await;
    assert!(
        mismatch.is_err(),
        "a non-durable declare conflicts with the durable exchange"
    );
}
