//! The library behind `tokoctl dlq` and `tokoctl outbox status`, and the worker's
//! health and metrics endpoints.

use std::{net::SocketAddr, time::Duration};

use lapin::{
    options::{BasicGetOptions, BasicNackOptions, BasicPublishOptions},
    BasicProperties, Connection,
};
use serde_json::json;
use toko::messaging::{
    dlq::{self, QueueRow, Selection},
    envelope::{self, failure_properties, Failure},
    management::Management,
    topology::{self, WorkerTopology},
    Worker,
};
use toko::outbox::OutboxStatus;
use toko_testkit::{eventually, TcpProxy};

use crate::helpers::{header, insert_event, order_payload, publish, Env, Mode, TestHandler};

/// Declares the notifier's queues and parks `ids` in its DLQ as the consumer would.
async fn dead_letters(connection: &Connection, ids: &[&str]) {
    let channel = connection.create_channel().await.unwrap();
    let t = WorkerTopology::new("notifier", &["order.paid"], &[Duration::from_secs(1)]);
    topology::declare(&channel, &t).await.unwrap();
    for id in ids {
        let original = BasicProperties::default()
            .with_message_id((*id).into())
            .with_type("order.paid".into());
        let failure = Failure {
            attempts: 5,
            error: "smtp: timeout",
            permanent: false,
            routing_key: "order.paid",
        };
        channel
            .basic_publish(
                "".into(),
                "toko.notifier.dlq".into(),
                BasicPublishOptions::default(),
                b"{}",
                failure_properties(&original, &failure),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn dlq_list_counts_each_worker_queue_with_and_without_the_management_api() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    dead_letters(&connection, &["a", "b"]).await;
    publish(&connection, "order.paid", "ready-1", &order_payload()).await;

    let listing = eventually("management statistics", Duration::from_secs(15), || async {
        let listing = dlq::list(
            &connection,
            Some((&env.broker.management, &env.broker.vhost)),
        )
        .await
        .unwrap();
        (listing.rows.first().map(|r| (r.ready, r.dead)) == Some((1, 2))).then_some(listing)
    })
    .await;
    assert_eq!(
        listing.rows,
        vec![QueueRow {
            worker: "notifier".into(),
            ready: 1,
            unacked: Some(0),
            retrying: Some(0),
            dead: 2
        }]
    );
    assert_eq!(listing.unacked_unavailable, None);

    let unreachable = Management::new("http://guest:guest@127.0.0.1:9").unwrap();
    let listing = dlq::list(&connection, Some((&unreachable, &env.broker.vhost)))
        .await
        .unwrap();
    assert_eq!(
        listing.rows,
        vec![QueueRow {
            worker: "notifier".into(),
            ready: 1,
            unacked: None,
            retrying: None,
            dead: 2
        }]
    );
    assert!(listing.unacked_unavailable.unwrap().contains("unreachable"));
}

#[tokio::test]
async fn dlq_show_reads_without_losing_and_replay_selects_by_id() {
    let env = Env::new().await;
    let capture = env.capture("order.paid").await;
    let connection = env.broker.connect().await;
    dead_letters(&connection, &["one", "two", "three"]).await;

    let shown = dlq::show(&connection, "toko.notifier.dlq", 2)
        .await
        .unwrap();
    assert_eq!(
        shown
            .iter()
            .map(|l| l.message_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(
        (shown[0].attempts, shown[0].last_error.as_deref()),
        (5, Some("smtp: timeout"))
    );
    let again = dlq::show(&connection, "toko.notifier.dlq", 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 3, "showing returns every message, in order");
    assert_eq!(again[0].message_id.as_deref(), Some("one"));

    let dry = dlq::replay(
        &connection,
        "toko.notifier.dlq",
        &Selection::All,
        true,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(dry.replayed.len(), 3);
    assert!(
        capture.take().await.is_empty(),
        "a dry run publishes nothing"
    );
    assert_eq!(
        dlq::show(&connection, "toko.notifier.dlq", 10)
            .await
            .unwrap()
            .len(),
        3
    );

    let mut progress = Vec::new();
    let selection = Selection::Ids(vec!["two".into(), "missing".into()]);
    let summary = dlq::replay(
        &connection,
        "toko.notifier.dlq",
        &selection,
        false,
        |seen, total| progress.push((seen, total)),
    )
    .await
    .unwrap();
    assert_eq!(summary.replayed, vec!["two".to_owned()]);
    assert_eq!(
        (summary.skipped, summary.missing.clone()),
        (2, vec!["missing".to_owned()])
    );
    assert_eq!(progress.last(), Some(&(3, 3)));

    let replayed = capture.take_n(1).await;
    let copy = &replayed[0];
    assert_eq!(copy.routing_key.as_str(), "order.paid");
    assert_eq!(
        copy.properties.message_id().as_ref().unwrap().as_str(),
        "two"
    );
    assert_eq!(header(copy, envelope::ATTEMPTS), None, "attempts reset");
    assert!(header(copy, envelope::REPLAYED_AT).is_some());
    let left = dlq::show(&connection, "toko.notifier.dlq", 10)
        .await
        .unwrap();
    assert_eq!(
        left.iter()
            .map(|l| l.message_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["one", "three"]
    );

    assert_eq!(
        dlq::purge(&connection, "toko.notifier.dlq").await.unwrap(),
        2
    );
    assert!(dlq::show(&connection, "toko.notifier.dlq", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        dlq::show(&connection, "toko.nobody.dlq", 1).await,
        Err(dlq::DlqError::NoSuchQueue(_))
    ));
}

#[tokio::test]
async fn outbox_status_reports_the_backlog() {
    let env = Env::new().await;
    let empty = OutboxStatus::load(&env.pool).await.unwrap();
    assert_eq!(
        (
            empty.pending,
            empty.oldest_pending_age,
            empty.published_last_hour
        ),
        (0, None, 0)
    );

    insert_event(&env.pool, "order.paid", json!({})).await;
    let old = insert_event(&env.pool, "order.paid", json!({})).await;
    env.exec(
        "update outbox_events set created_at = now() - interval '90 seconds' where event_id = $1",
        old,
    )
    .await;
    let published = insert_event(&env.pool, "order.paid", json!({})).await;
    env.exec(
        "update outbox_events set published_at = now() - interval '5 minutes' where event_id = $1",
        published,
    )
    .await;

    let status = OutboxStatus::load(&env.pool).await.unwrap();
    assert_eq!(status.pending, 2);
    let age = status.oldest_pending_age.unwrap();
    assert!(
        (Duration::from_secs(89)..Duration::from_secs(120)).contains(&age),
        "{age:?}"
    );
    assert_eq!(
        (status.published_last_minute, status.published_last_hour),
        (0, 1)
    );
    assert_eq!((status.refused, status.last_error), (0, None));
}

#[tokio::test]
async fn a_worker_serves_health_and_metrics_with_counters_and_queue_depths() {
    let env = Env::new().await;
    let mut proxy = TcpProxy::reserve().await;
    let handler = TestHandler::new("notifier", &env.pool, Mode::Succeed);
    let mut worker = Worker::with_pool(
        "notifier",
        env.config_for(&env.broker.url_via(proxy.addr)),
        env.pool.clone(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    worker.consume(handler.clone()).unwrap();
    let base = format!("http://{}", worker.http_addr());
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    assert_eq!(get("/health/live").await.unwrap().status(), 200);
    let not_ready = get("/health/ready").await.unwrap();
    assert_eq!(not_ready.status(), 503, "RabbitMQ is unreachable");
    assert!(not_ready
        .text()
        .await
        .unwrap()
        .contains("rabbitmq: not connected"));

    proxy.open().await;
    eventually("ready once connected", Duration::from_secs(10), || async {
        (get("/health/ready").await.ok()?.status() == 200).then_some(())
    })
    .await;

    let connection = env.broker.connect().await;
    publish(&connection, "order.paid", "m-ok", &order_payload()).await;
    eventually("processed", Duration::from_secs(10), || async {
        (env.effects("m-ok").await == 1).then_some(())
    })
    .await;
    handler.set_mode(Mode::Permanent("bad order"));
    publish(&connection, "order.paid", "m-bad", &order_payload()).await;

    let expected = [
        r#"toko_messages_processed_total{queue="toko.notifier"} 1"#,
        r#"toko_messages_dead_lettered_total{queue="toko.notifier"} 1"#,
        r#"toko_messages_failed_total{kind="permanent",queue="toko.notifier"} 1"#,
        r#"toko_messages_retried_total{queue="toko.notifier"} 0"#,
        r#"toko_queue_messages{queue="toko.notifier"} 0"#,
        r#"toko_queue_messages{queue="toko.notifier.dlq"} 1"#,
        r#"toko_message_handler_duration_seconds_count{queue="toko.notifier"} 2"#,
    ];
    // Counters move right after the broker's confirm and depths on the next poll: wait
    // until the page shows all of them.
    eventually("every metric", Duration::from_secs(10), || async {
        let body = get("/metrics").await.unwrap().text().await.unwrap();
        let missing: Vec<_> = expected.iter().filter(|l| !body.contains(*l)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing {missing:?} in\n{body}"))
        }
    })
    .await;
    worker.run_until(async {}).await;
}

#[tokio::test]
async fn a_message_that_never_gets_acked_lands_in_the_dlq_after_the_delivery_limit() {
    let env = Env::new().await;
    let connection = env.broker.connect().await;
    dead_letters(&connection, &[]).await; // declares the notifier's queues
    publish(&connection, "order.paid", "poison", &order_payload()).await;

    // Each requeue without an ack counts as a delivery, as a consumer crash would.
    let channel = connection.create_channel().await.unwrap();
    let requeue = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    for _ in 0..=topology::DELIVERY_LIMIT {
        let Some(m) = channel
            .basic_get("toko.notifier".into(), BasicGetOptions::default())
            .await
            .unwrap()
        else {
            break;
        };
        m.delivery.acker.nack(requeue).await.unwrap();
    }
    let letters = eventually(
        "the poison message in the DLQ",
        Duration::from_secs(10),
        || async {
            let letters = dlq::show(&connection, "toko.notifier.dlq", 10).await.ok()?;
            (letters.len() == 1).then_some(letters)
        },
    )
    .await;
    assert_eq!(letters[0].message_id.as_deref(), Some("poison"));
    assert_eq!(letters[0].failure.as_deref(), Some("crashed"));
    assert_eq!(letters[0].routing_key, "order.paid");
}
