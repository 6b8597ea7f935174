//! The consumer runtime against the real broker: delayed retries, dead letters, replay,
//! duplicates, a consumer dying mid-message, draining on shutdown.

use std::{net::SocketAddr, time::Duration};

use lapin::Connection;

use toko::messaging::{
    dlq::{self, Selection},
    Idempotency, Worker,
};
use toko_testkit::{broker::TestBroker, eventually};

use crate::helpers::{order_payload, publish, Env, Mode, TestHandler};

/// Starts a worker process running `handler` in this test (health server on a random
/// port), waits until it has declared its queues, and opens a connection for the test.
async fn start(env: &Env, handler: &TestHandler, connection_name: &str) -> (Worker, Connection) {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut worker = Worker::with_pool(handler.name, env.config(), env.pool.clone(), addr)
        .await
        .unwrap();
    let name = connection_name.to_owned();
    worker
        .consume_with(handler.clone(), move |c| c.with_connection_name(&name))
        .unwrap();
    env.broker.wait_for_queues(handler.name).await;
    (worker, env.broker.connect().await)
}

/// Ready + unacked messages of a queue, from the management API.
async fn depth(broker: &TestBroker, queue: &str) -> u64 {
    let queues = broker.management.queues(&broker.vhost).await.unwrap();
    queues
        .iter()
        .find(|q| q.name == queue)
        .map_or(0, |q| q.messages_ready + q.messages_unacknowledged)
}

/// Waits until a queue holds no message, ready or unacked (the management API samples its
/// statistics every few seconds, so a single read can be stale).
async fn wait_empty(broker: &TestBroker, queue: &str) {
    eventually(
        &format!("{queue} empty"),
        Duration::from_secs(15),
        || async { (depth(broker, queue).await == 0).then_some(()) },
    )
    .await;
}

async fn dead_letters(broker: &TestBroker, queue: &str) -> Vec<dlq::DeadLetter> {
    let connection = broker.connect().await;
    dlq::show(&connection, queue, 100).await.unwrap()
}

#[tokio::test]
async fn retryable_failures_wait_longer_each_time_then_dead_letter_with_their_error_and_replay_once(
) {
    let env = Env::new().await;
    let handler = TestHandler::new(
        "notifier",
        &env.pool,
        Mode::Retryable("smtp: connection refused"),
    );
    let (worker, connection) = start(&env, &handler, "notifier-1").await;
    publish(&connection, "order.paid", "msg-retry", &order_payload()).await;

    let letters = eventually(
        "the message in the DLQ",
        Duration::from_secs(10),
        || async {
            let letters = dead_letters(&env.broker, "toko.notifier.dlq").await;
            (!letters.is_empty()).then_some(letters)
        },
    )
    .await;
    // MAX_ATTEMPTS = 3 in tests: three calls, waiting 100 ms then 200 ms (RETRY_DELAYS).
    assert_eq!(handler.calls(), 3);
    let log = handler.log.lock().unwrap().clone();
    assert_eq!(
        log.iter()
            .map(|(attempt, _, _)| *attempt)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        log[1].2 - log[0].2 >= Duration::from_millis(100),
        "first retry after {:?}",
        log[1].2 - log[0].2
    );
    assert!(
        log[2].2 - log[1].2 >= Duration::from_millis(200),
        "second retry after {:?}",
        log[2].2 - log[1].2
    );

    let letter = &letters[0];
    assert_eq!(letter.message_id.as_deref(), Some("msg-retry"));
    assert_eq!(letter.event_type.as_deref(), Some("order.paid"));
    assert_eq!(
        letter.routing_key, "order.paid",
        "the original routing key survives the retries"
    );
    assert_eq!(letter.attempts, 3);
    assert_eq!(
        letter.last_error.as_deref(),
        Some("smtp: connection refused")
    );
    assert_eq!(letter.failure.as_deref(), Some("retryable"));
    assert!(letter.first_seen.is_some() && letter.failed_at.is_some());
    assert_eq!(
        dead_letters(&env.broker, "toko.notifier.dlq").await.len(),
        1,
        "show leaves the message in place"
    );
    assert_eq!(env.effects("msg-retry").await, 0);

    // The cause is fixed; the replay brings it back once, and it succeeds once.
    handler.set_mode(Mode::Succeed);
    let summary = dlq::replay(
        &connection,
        "toko.notifier.dlq",
        &Selection::All,
        false,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(summary.replayed, vec!["msg-retry".to_owned()]);
    eventually(
        "the replayed message handled",
        Duration::from_secs(10),
        || async { (env.effects("msg-retry").await == 1).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handler.calls(), 4);
    assert_eq!(
        handler.log.lock().unwrap()[3].0,
        1,
        "attempts start again after a replay"
    );
    assert_eq!(env.effects("msg-retry").await, 1);
    wait_empty(&env.broker, "toko.notifier.dlq").await;
    wait_empty(&env.broker, "toko.notifier").await;
    worker.run_until(async {}).await;
}

#[tokio::test]
async fn permanent_failures_and_malformed_messages_go_straight_to_the_dlq() {
    let env = Env::new().await;
    let handler = TestHandler::new(
        "inventory-reconciler",
        &env.pool,
        Mode::Permanent("order 42 does not exist"),
    );
    let (worker, connection) = start(&env, &handler, "reconciler-1").await;
    publish(
        &connection,
        "order.cancelled",
        "msg-permanent",
        &order_payload(),
    )
    .await;
    // Not JSON: the handler never sees it.
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "".into(),
            "toko.inventory-reconciler".into(),
            Default::default(),
            b"<xml/>",
            lapin::BasicProperties::default().with_message_id("msg-xml".into()),
        )
        .await
        .unwrap();

    let letters = eventually("both in the DLQ", Duration::from_secs(10), || async {
        let letters = dead_letters(&env.broker, "toko.inventory-reconciler.dlq").await;
        (letters.len() == 2).then_some(letters)
    })
    .await;
    assert_eq!(handler.calls(), 1, "no retries for a permanent error");
    let by_id = |id: &str| {
        letters
            .iter()
            .find(|l| l.message_id.as_deref() == Some(id))
            .unwrap()
            .clone()
    };
    let permanent = by_id("msg-permanent");
    assert_eq!(
        (permanent.attempts, permanent.failure.as_deref()),
        (1, Some("permanent"))
    );
    assert_eq!(
        permanent.last_error.as_deref(),
        Some("order 42 does not exist")
    );
    let malformed = by_id("msg-xml");
    assert!(malformed
        .last_error
        .unwrap()
        .starts_with("body is not JSON"));
    assert_eq!(
        depth(&env.broker, "toko.inventory-reconciler.retry.1").await,
        0
    );
    worker.run_until(async {}).await;
}

#[tokio::test]
async fn duplicates_of_one_message_id_have_one_effect() {
    let env = Env::new().await;
    let handler = TestHandler::new("search-indexer", &env.pool, Mode::Succeed);
    let (worker, connection) = start(&env, &handler, "indexer-1").await;
    let payload = order_payload();
    for _ in 0..5 {
        publish(&connection, "order.paid", "msg-dup", &payload).await;
    }
    publish(&connection, "order.paid", "msg-other", &payload).await;

    eventually("both messages handled", Duration::from_secs(10), || async {
        (env.effects("msg-other").await == 1 && env.effects("msg-dup").await == 1).then_some(())
    })
    .await;
    wait_empty(&env.broker, "toko.search-indexer").await;
    // Every copy has been acked now: still one effect.
    worker.run_until(async {}).await;
    assert_eq!(env.effects("msg-dup").await, 1);
    assert_eq!(depth(&env.broker, "toko.search-indexer.dlq").await, 0);
}

#[tokio::test]
async fn a_consumer_that_dies_mid_message_gets_it_again_without_repeating_the_effect() {
    let env = Env::new().await;
    let handler = TestHandler::new("payment-poller", &env.pool, Mode::EffectThenHang);
    let (worker, connection) = start(&env, &handler, "poller-1").await;
    let entered = handler.entered.notified();
    publish(&connection, "order.paid", "msg-crash", &order_payload()).await;
    entered.await; // the effect is committed, the ack not sent

    // The connection dies without the ack: the broker requeues the message.
    handler.set_mode(Mode::Succeed);
    // The management API lists a connection a few seconds after it opened.
    eventually(
        "the consumer's connection closed",
        Duration::from_secs(15),
        || async { (env.broker.close_connections("poller-1").await == 1).then_some(()) },
    )
    .await;
    eventually("the redelivery acked", Duration::from_secs(10), || async {
        (depth(&env.broker, "toko.payment-poller").await == 0).then_some(())
    })
    .await;
    assert_eq!(
        env.effects("msg-crash").await,
        1,
        "the idempotency record prevented a second effect"
    );
    // The runtime skipped the redelivery before the handler (it was recorded as processed).
    assert_eq!(handler.calls(), 1);

    handler.release.notify_waiters();
    worker.run_until(async {}).await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_messages_before_closing() {
    let env = Env::new().await;
    let handler = TestHandler::new(
        "notifier",
        &env.pool,
        Mode::Slow(Duration::from_millis(400)),
    );
    let (worker, connection) = start(&env, &handler, "notifier-drain").await;
    let entered = handler.entered.notified();
    publish(&connection, "order.paid", "msg-slow", &order_payload()).await;
    entered.await;

    worker.run_until(async {}).await; // the SIGTERM path
    assert_eq!(
        env.effects("msg-slow").await,
        1,
        "the in-flight message finished"
    );
    // and was acked before the channel closed (else it would be back in the queue)
    wait_empty(&env.broker, "toko.notifier").await;
}

#[tokio::test]
async fn idempotency_records_serialize_concurrent_deliveries_of_one_message() {
    let env = Env::new().await;
    let first = Idempotency::begin(&env.pool, "notifier", "m")
        .await
        .unwrap()
        .expect("the first delivery proceeds");
    let pool = env.pool.clone();
    let second = tokio::spawn(async move {
        Idempotency::begin(&pool, "notifier", "m")
            .await
            .unwrap()
            .is_some()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a concurrent delivery waits for the first transaction"
    );
    first.commit().await.unwrap();
    assert!(!second.await.unwrap(), "and then finds the record");
    assert!(Idempotency::is_processed(&env.pool, "notifier", "m")
        .await
        .unwrap());

    let rolled_back = Idempotency::begin(&env.pool, "notifier", "n")
        .await
        .unwrap()
        .unwrap();
    rolled_back.rollback().await.unwrap();
    assert!(
        Idempotency::begin(&env.pool, "notifier", "n")
            .await
            .unwrap()
            .is_some(),
        "a failed attempt leaves no record"
    );
    assert!(
        Idempotency::begin(&env.pool, "search-indexer", "m")
            .await
            .unwrap()
            .is_some(),
        "records are per consumer"
    );
}

#[tokio::test]
async fn messages_of_other_schema_versions_go_to_the_dlq_with_the_reason() {
    let env = Env::new().await;
    let handler = TestHandler::new("notifier", &env.pool, Mode::Succeed);
    let (worker, connection) = start(&env, &handler, "notifier-1").await;
    let channel = connection.create_channel().await.unwrap();
    // order.paid is at version 2: 3 is newer than this consumer, 1 retired.
    for (id, version) in [("msg-v3", 3), ("msg-v1", 1), ("msg-v2", 2)] {
        let mut headers = lapin::types::FieldTable::default();
        headers.insert(
            "schema_version".into(),
            lapin::types::AMQPValue::LongInt(version),
        );
        channel
            .basic_publish(
                toko::messaging::topology::EXCHANGE.into(),
                "order.paid".into(),
                Default::default(),
                &serde_json::to_vec(&order_payload()).unwrap(),
                lapin::BasicProperties::default()
                    .with_message_id(id.into())
                    .with_headers(headers),
            )
            .await
            .unwrap();
    }

    let letters = eventually("v3 and v1 in the DLQ", Duration::from_secs(10), || async {
        let letters = dead_letters(&env.broker, "toko.notifier.dlq").await;
        (letters.len() >= 2).then_some(letters)
    })
    .await;
    eventually("v2 handled", Duration::from_secs(10), || async {
        (env.effects("msg-v2").await == 1).then_some(())
    })
    .await;
    assert_eq!(letters.len(), 2);
    let reason = |id: &str| {
        let letter = letters
            .iter()
            .find(|l| l.message_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id} dead-lettered: {letters:?}"));
        assert_eq!(letter.failure.as_deref(), Some("permanent"));
        letter.last_error.clone().unwrap()
    };
    let newer = reason("msg-v3");
    assert!(
        newer.starts_with(
            "unsupported schema_version 3 of order.paid: this consumer reads version 2"
        ),
        "{newer}"
    );
    let older = reason("msg-v1");
    assert!(
        older.starts_with("retired schema_version 1 of order.paid"),
        "{older}"
    );
    assert_eq!(handler.calls(), 1, "the handler saw only version 2");
    assert_eq!(env.effects("msg-v3").await + env.effects("msg-v1").await, 0);
    worker.run_until(async {}).await;
}
