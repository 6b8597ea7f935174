//! The `outbox-relay` binary as deployed: configured by the environment, serving health and
//! metrics on METRICS_PORT, publishing the outbox, and stopping cleanly on SIGTERM.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use toko::{catalog::events::ProductEvent, events::Event, outbox};
use toko_testkit::{eventually, TestBroker, TestDatabase};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_relay_binary_publishes_serves_health_and_metrics_and_stops_on_sigterm() {
    let database = TestDatabase::create().await;
    let broker = TestBroker::create().await;
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let port = free_port();
    let mut relay = Running(
        Command::new(env!("CARGO_BIN_EXE_outbox-relay"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database.url)
            .env("RABBITMQ_URL", &broker.url)
            .env("METRICS_PORT", port.to_string())
            .env("OUTBOX_POLL_INTERVAL", "50ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start outbox-relay"),
    );
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    eventually("the relay ready", Duration::from_secs(20), || async {
        (http.get(url("/health/ready")).send().await.ok()?.status() == 200).then_some(())
    })
    .await;
    assert_eq!(
        http.get(url("/health/live")).send().await.unwrap().status(),
        200
    );

    // A queue bound to the exchange the relay declared, then an event in the outbox.
    let capture = broker.capture("product.#").await;
    let mut tx = pool.begin().await.unwrap();
    let event_id = outbox::enqueue(
        &mut tx,
        Event::ProductUpdated(ProductEvent {
            product_id: toko::catalog::ProductId::generate(),
            slug: "relayed".into(),
            status: "active".into(),
            category_id: toko::catalog::CategoryId::generate(),
        }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let delivery = &capture.take_n(1).await[0];
    assert_eq!(
        delivery.properties.message_id().as_ref().unwrap().as_str(),
        event_id.to_string()
    );
    let metrics = eventually("the publish counted", Duration::from_secs(5), || async {
        let body = http
            .get(url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.contains("toko_outbox_published_total 1")
            .then_some(body)
    })
    .await;
    assert!(
        metrics.contains("toko_outbox_batch_duration_seconds_bucket"),
        "{metrics}"
    );

    let pid = relay.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = eventually(
        "the relay to exit on SIGTERM",
        Duration::from_secs(10),
        || {
            let status = relay.0.try_wait().unwrap();
            async move { status }
        },
    )
    .await;
    assert!(status.success(), "exit status {status}");
}
