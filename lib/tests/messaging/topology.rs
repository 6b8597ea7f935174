//! The topology declared before traffic (`tokoctl messaging setup`, the relay at start):
//! events wait in their queues while no worker runs, and no event type toko produces is
//! ever refused by the broker.

use std::{collections::BTreeSet, net::SocketAddr, time::Duration};

use serde_json::json;
use toko::{
    events::EventKind,
    messaging::{
        metrics::{registry, RelayMetrics},
        relay::Relay,
        topology::{self, Topology, ARCHIVE_QUEUE, KNOWN_WORKERS},
        worker_http::BrokerStatus,
        Worker,
    },
    outbox::OutboxStatus,
};
use toko_testkit::eventually;

use crate::helpers::{insert_event, order_payload, Env, Mode, TestHandler};

fn deployment(env: &Env) -> Topology {
    Topology::deployment(&env.config().consumer.retry_delays)
}

fn relay(env: &Env) -> Relay {
    Relay::new(
        env.pool.clone(),
        env.config().relay,
        &env.broker.url,
        RelayMetrics::register(&registry()).unwrap(),
        BrokerStatus::default(),
    )
}

async fn ready(env: &Env, queue: &str) -> u32 {
    let connection = env.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    topology::message_count(&channel, queue).await.unwrap()
}

#[tokio::test]
async fn setup_declares_every_queue_and_can_be_repeated() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    let topology = deployment(&env);
    topology::declare_all(&channel, &topology).await.unwrap();
    topology::declare_all(&channel, &topology)
        .await
        .expect("a second setup changes nothing and does not fail");

    let queues: BTreeSet<String> = env
        .broker
        .management
        .queues(&env.broker.vhost)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    let mut expected = BTreeSet::from([ARCHIVE_QUEUE.to_owned()]);
    for worker in KNOWN_WORKERS {
        expected.insert(topology::queue_name(worker));
        expected.insert(topology::dlq_name(worker));
        for n in 1..=env.config().consumer.retry_delays.len() {
            expected.insert(topology::retry_queue_name(worker, n));
        }
    }
    assert_eq!(queues, expected);
}

#[tokio::test]
async fn events_wait_in_their_queues_until_a_worker_started_later_consumes_them() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    topology::declare_all(&channel, &deployment(&env))
        .await
        .unwrap();

    // No worker has ever run: the relay publishes into the queues the setup declared.
    let paid = insert_event(&env.pool, "order.paid", order_payload()).await;
    let cancelled = insert_event(&env.pool, "order.cancelled", order_payload()).await;
    let (_c, confirm_channel) = env.confirm_channel().await;
    let outcome = relay(&env).publish_batch(&confirm_channel).await.unwrap();
    assert_eq!((outcome.published, outcome.rejected), (2, 0));
    assert_eq!(ready(&env, "toko.notifier").await, 2);

    // The notifier's queue, consumed by a worker that starts now.
    let handler = TestHandler::new("notifier", &env.pool, Mode::Succeed);
    let mut worker = Worker::with_pool(
        handler.name,
        env.config(),
        env.pool.clone(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    worker.consume(handler.clone()).unwrap();
    for id in [paid, cancelled] {
        eventually(
            "the waiting event is handled",
            Duration::from_secs(10),
            || async { (env.effects(&id.to_string()).await == 1).then_some(()) },
        )
        .await;
    }
    assert_eq!(handler.calls(), 2);
    worker.run_until(async {}).await;
}

#[tokio::test]
async fn every_event_type_toko_produces_is_routed_and_none_is_refused() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    let channel = connection.create_channel().await.unwrap();
    let topology = deployment(&env);
    topology::declare_all(&channel, &topology).await.unwrap();

    // Every kind of the event catalog (the only events toko's code can write), and one no
    // code produces yet: the archive takes whatever comes.
    let types: Vec<&'static str> = EventKind::ALL.iter().map(|k| k.routing_key()).collect();
    let all: Vec<&'static str> = types.iter().copied().chain(["webhook.future"]).collect();
    for &event_type in &all {
        insert_event(&env.pool, event_type, json!({})).await;
    }

    let (_c, confirm_channel) = env.confirm_channel().await;
    let outcome = relay(&env).publish_batch(&confirm_channel).await.unwrap();
    assert_eq!(
        (outcome.claimed, outcome.published, outcome.rejected),
        (all.len(), all.len(), 0)
    );
    let status = OutboxStatus::load(&env.pool).await.unwrap();
    assert_eq!((status.pending, status.refused), (0, 0));
    assert_eq!(status.last_error, None);

    // Each lands where the subscriptions say, and in the archive.
    assert_eq!(ready(&env, ARCHIVE_QUEUE).await as usize, all.len());
    for worker in &topology.workers {
        let expected = all
            .iter()
            .filter(|t| topology.queues_for(t).contains(&worker.queue.name.as_str()))
            .count();
        assert!(
            worker.worker != "search-indexer" || expected >= 9,
            "the indexer gets every catalog event"
        );
        assert_eq!(
            ready(&env, &worker.queue.name).await as usize,
            expected,
            "{}",
            worker.queue.name
        );
    }
    let unsubscribed: Vec<_> = all
        .iter()
        .filter(|t| topology.queues_for(t) == [ARCHIVE_QUEUE])
        .collect();
    assert_eq!(
        unsubscribed,
        [&"webhook.future"],
        "every catalog event has a subscriber (webhooks take them all); an unknown type reaches the archive only"
    );
}
