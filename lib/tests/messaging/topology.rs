//! The topology declared before traffic (`tokoctl messaging setup`, the relay at start):
//! events wait in their queues while no worker runs, and no event type toko produces is
//! ever refused by the broker.

use std::{collections::BTreeSet, net::SocketAddr, path::Path, time::Duration};

use serde_json::json;
use toko::{
    catalog::events as catalog,
    messaging::{
        housekeeping::OutboxStatus,
        metrics::{registry, RelayMetrics},
        relay::Relay,
        topology::{self, Topology, ARCHIVE_QUEUE, KNOWN_WORKERS},
        worker_http::BrokerStatus,
        Worker,
    },
    orders::status::ALL as ORDER_STATUSES,
    outbox::{self, NewEvent},
};
use toko_testkit::eventually;
use uuid::Uuid;

use crate::helpers::{insert_event, order_payload, Env, Mode, TestHandler};

/// Every event type toko writes to the outbox, by producer. [`producers_are_all_listed`]
/// fails when a new producer appears, so this list cannot silently fall behind.
fn produced_event_types() -> Vec<&'static str> {
    let mut types = vec![
        // catalog::products, catalog::variants (through catalog::events::{product, variant})
        catalog::PRODUCT_CREATED,
        catalog::PRODUCT_UPDATED,
        catalog::PRODUCT_ARCHIVED,
        catalog::PRODUCT_DELETED,
        catalog::VARIANT_CREATED,
        catalog::VARIANT_UPDATED,
        catalog::VARIANT_DELETED,
        // catalog::events::stock, orders::stock
        catalog::STOCK_CHANGED,
        // catalog::events::category
        catalog::CATEGORY_CHANGED,
        // auth (registration)
        toko::auth::USER_REGISTERED,
        // payments::exceptions (staff must look at a payment)
        toko::payments::exceptions::EXCEPTION_OPENED,
    ];
    // orders::checkout (order.created) and orders::lifecycle (every status move)
    types.extend(ORDER_STATUSES.iter().map(|s| s.event_type()));
    types.sort_unstable();
    types.dedup();
    types
}

/// The first argument of every `NewEvent::new(` in lib/src, each one accounted for in
/// [`produced_event_types`].
#[test]
fn producers_are_all_listed() {
    let accounted = [
        "event_type",        // catalog::events::{product, variant}: PRODUCT_* and VARIANT_*
        "STOCK_CHANGED",     // catalog::events::stock, orders::stock
        "CATEGORY_CHANGED",  // catalog::events::category
        "USER_REGISTERED",   // auth
        "EXCEPTION_OPENED",  // payments::exceptions
        "\"order.created\"", // orders::checkout
        "t.to.event_type()", // orders::lifecycle
    ];
    let call = regex::Regex::new(r"NewEvent::new\(\s*([^,]+),").unwrap();
    let mut found = BTreeSet::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for c in call.captures_iter(&text) {
                    found.insert((c[1].trim().to_owned(), path.display().to_string()));
                }
            }
        }
    }
    assert!(found.len() >= accounted.len(), "{found:?}");
    for (argument, file) in &found {
        assert!(
            accounted.contains(&argument.as_str()),
            "{file} writes events of type `{argument}`: add them to produced_event_types()"
        );
    }
}

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

    let types = produced_event_types();
    // And one no code produces yet: the archive takes whatever comes.
    let all: Vec<&'static str> = types.iter().copied().chain(["webhook.future"]).collect();
    let mut tx = env.pool.begin().await.unwrap();
    for &event_type in &all {
        let event = NewEvent::new(event_type, "test", Uuid::new_v4(), json!({}));
        outbox::enqueue(&mut tx, event).await.unwrap();
    }
    tx.commit().await.unwrap();

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
    let unsubscribed: Vec<_> = types
        .iter()
        .filter(|t| topology.queues_for(t) == [ARCHIVE_QUEUE])
        .collect();
    assert!(
        unsubscribed.contains(&&"order.processing"),
        "order.processing reaches the archive only: {unsubscribed:?}"
    );
}
