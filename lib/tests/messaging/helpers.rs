//! Shared set-up of the messaging tests: a fresh database and vhost per test, a capture
//! queue on `toko.events`, and a configurable test handler.

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use lapin::{
    message::Delivery,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    BasicProperties, Channel, Connection,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::Notify;
use toko::{
    config::WorkerConfig,
    events::EventKind,
    messaging::{topology, Delivered, Handler, HandlerError, Idempotency},
};
use toko_testkit::{
    broker::{worker_settings, Capture},
    TestBroker, TestDatabase,
};
use uuid::Uuid;

/// A database and a vhost of the test's own.
pub struct Env {
    pub pool: PgPool,
    pub broker: TestBroker,
    pub database: TestDatabase,
}

impl Env {
    pub async fn new() -> Self {
        let database = TestDatabase::create().await;
        let pool = PgPool::connect(&database.url)
            .await
            .expect("connect to the test database");
        sqlx::query(
            "create table test_effects (effect_id bigserial primary key, message_id text not null)",
        )
        .execute(&pool)
        .await
        .expect("create test_effects");
        Self {
            pool,
            broker: TestBroker::create().await,
            database,
        }
    }

    pub fn config(&self) -> WorkerConfig {
        self.config_for(&self.broker.url)
    }

    /// Worker settings pointing at another RabbitMQ URL (a proxy).
    pub fn config_for(&self, rabbitmq_url: &str) -> WorkerConfig {
        WorkerConfig::from_source(&worker_settings(&self.database.url, rabbitmq_url))
            .expect("test settings")
    }

    /// Effects the test handler wrote for `message_id`.
    pub async fn effects(&self, message_id: &str) -> i64 {
        sqlx::query_scalar("select count(*) from test_effects where message_id = $1")
            .bind(message_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A queue bound to `toko.events` with `pattern`, to observe what is published.
    pub async fn capture(&self, pattern: &str) -> Capture {
        self.broker.capture(pattern).await
    }

    /// A connection and a channel in confirm mode, as the relay publishes on.
    pub async fn confirm_channel(&self) -> (Connection, Channel) {
        let connection = self.broker.connect().await;
        let channel = connection.create_channel().await.unwrap();
        let options = ConfirmSelectOptions::default();
        channel.confirm_select(options).await.unwrap();
        (connection, channel)
    }

    /// Runs `sql` with `id` as `$1` (test fixtures: ages and states of outbox rows).
    pub async fn exec(&self, sql: &'static str, id: Uuid) {
        sqlx::query(sql).bind(id).execute(&self.pool).await.unwrap();
    }
}

/// Writes an outbox row of any type and payload, at the version the catalog gives its type
/// (1 for a type not in it), to exercise the relay and consumers apart from the events
/// toko's own modules write; returns its id.
pub async fn insert_event(pool: &PgPool, event_type: &'static str, payload: Value) -> Uuid {
    let id = Uuid::now_v7();
    let version = EventKind::from_routing_key(event_type).map_or(1, EventKind::schema_version);
    sqlx::query(
        "insert into outbox_events (event_id, event_type, aggregate_type, aggregate_id, payload, schema_version)
         values ($1, $2, 'order', $3, $4, $5)",
    )
    .bind(id)
    .bind(event_type)
    .bind(Uuid::new_v4())
    .bind(payload)
    .bind(version)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// Publishes an event straight to `toko.events` (as the relay would), waiting for the confirm.
pub async fn publish(
    connection: &Connection,
    routing_key: &str,
    message_id: &str,
    payload: &Value,
) {
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    topology::declare_exchange(&channel).await.unwrap();
    let properties = BasicProperties::default()
        .with_message_id(message_id.into())
        .with_type(routing_key.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    let confirm = channel
        .basic_publish(
            topology::EXCHANGE.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &serde_json::to_vec(payload).unwrap(),
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        confirm,
        lapin::Confirmation::Ack(None),
        "publish of {message_id} not confirmed"
    );
}

/// A string header of a delivery.
pub fn header(delivery: &Delivery, name: &str) -> Option<String> {
    toko::messaging::envelope::header_str(
        &delivery.properties.headers().clone().unwrap_or_default(),
        name,
    )
}

/// What the test handler does with its next message.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Writes one effect row in the idempotency transaction.
    Succeed,
    Retryable(&'static str),
    Permanent(&'static str),
    /// Commits the effect, then hangs until released: a consumer dying after its effect
    /// and before its ack.
    EffectThenHang,
    /// Sleeps, then succeeds (for drain tests).
    Slow(Duration),
}

/// A handler whose behaviour the test switches at run time, recording every call.
#[derive(Clone)]
pub struct TestHandler {
    pub name: &'static str,
    pub pool: PgPool,
    pub mode: Arc<Mutex<Mode>>,
    pub calls: Arc<AtomicU32>,
    /// (attempt, redelivered, when) of every call.
    pub log: Arc<Mutex<Vec<(u32, bool, Instant)>>>,
    pub entered: Arc<Notify>,
    pub release: Arc<Notify>,
}

impl TestHandler {
    pub fn new(name: &'static str, pool: &PgPool, mode: Mode) -> Self {
        Self {
            name,
            pool: pool.clone(),
            mode: Arc::new(Mutex::new(mode)),
            calls: Arc::default(),
            log: Arc::default(),
            entered: Arc::default(),
            release: Arc::default(),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn effect(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let Some(mut tx) = Idempotency::begin(&self.pool, self.name, &msg.message_id).await? else {
            return Ok(());
        };
        sqlx::query("insert into test_effects (message_id) values ($1)")
            .bind(&msg.message_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Handler for TestHandler {
    fn name(&self) -> &str {
        self.name
    }

    fn routing_keys(&self) -> Vec<&str> {
        vec!["order.paid", "order.cancelled"]
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.log
            .lock()
            .unwrap()
            .push((msg.attempt, msg.redelivered, Instant::now()));
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Succeed => self.effect(msg).await,
            Mode::Retryable(why) => Err(HandlerError::retryable(why)),
            Mode::Permanent(why) => Err(HandlerError::permanent(why)),
            Mode::EffectThenHang => {
                self.effect(msg).await?;
                self.entered.notify_one();
                self.release.notified().await;
                Ok(())
            }
            Mode::Slow(delay) => {
                self.entered.notify_one();
                tokio::time::sleep(delay).await;
                self.effect(msg).await
            }
        }
    }
}

/// A small payload.
pub fn order_payload() -> Value {
    json!({ "order_id": Uuid::new_v4(), "total": 125_000 })
}
