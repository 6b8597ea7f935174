//! RabbitMQ for tests: a fresh vhost per test (created through the management API, deleted
//! when the test ends), a TCP proxy to simulate outages without touching the shared server,
//! and the settings a test worker runs with.

use std::{
    cell::RefCell,
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use lapin::{
    message::Delivery,
    options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
    Channel, Connection,
};
use tokio::{net::TcpListener, task::JoinHandle};
use toko::messaging::{management::Management, topology};

use crate::eventually;

/// The broker tests run against; override with `TEST_RABBITMQ_ADDR` and
/// `TEST_RABBITMQ_MANAGEMENT_URL`.
fn amqp_addr() -> String {
    std::env::var("TEST_RABBITMQ_ADDR").unwrap_or_else(|_| "127.0.0.1:5672".to_owned())
}

fn management_url() -> String {
    std::env::var("TEST_RABBITMQ_MANAGEMENT_URL")
        .unwrap_or_else(|_| "http://guest:guest@127.0.0.1:15672".to_owned())
}

/// Test vhosts are named `toko_test_<unix seconds>_<random>` so stale ones can be swept.
const PREFIX: &str = "toko_test_";
const STALE_AFTER_SECS: u64 = 3 * 3600;

/// A vhost of its own: the same queue and exchange names as production, isolated from every
/// other test. Deleted on drop (kept with `KEEP_TEST_VHOST=1`).
pub struct TestBroker {
    pub vhost: String,
    /// `amqp://guest:guest@<broker>/<vhost>`
    pub url: String,
    pub management: Management,
}

impl TestBroker {
    pub async fn create() -> Self {
        let management = Management::new(&management_url()).expect("management URL");
        sweep_stale(&management).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let vhost = format!(
            "{PREFIX}{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        management.create_vhost(&vhost).await.expect(
            "create a test vhost (is the rabbitmq_management plugin enabled? .ci/run enables it)",
        );
        Self {
            url: format!("amqp://guest:guest@{}/{vhost}", amqp_addr()),
            vhost,
            management,
        }
    }

    /// The URL of this vhost through another address (a [`TcpProxy`]).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        format!("amqp://guest:guest@{addr}/{}", self.vhost)
    }

    pub async fn connect(&self) -> lapin::Connection {
        toko::messaging::connect(&self.url, "toko-test")
            .await
            .expect("connect to the test vhost")
    }

    /// A queue bound to `toko.events` with `pattern`, to observe what is published.
    pub async fn capture(&self, pattern: &str) -> Capture {
        let connection = self.connect().await;
        let channel = connection.create_channel().await.expect("channel");
        topology::declare_exchange(&channel)
            .await
            .expect("declare toko.events");
        let queue = format!("test.capture.{}", uuid::Uuid::new_v4().simple());
        let options = QueueDeclareOptions::default();
        channel
            .queue_declare(queue.as_str().into(), options, FieldTable::default())
            .await
            .expect("declare the capture queue");
        let (exchange, options) = (topology::EXCHANGE.into(), QueueBindOptions::default());
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange,
                pattern.into(),
                options,
                FieldTable::default(),
            )
            .await
            .expect("bind the capture queue");
        Capture {
            _connection: connection,
            channel,
            queue,
        }
    }

    /// Waits until `worker` has declared its queues (workers declare them as they start; an
    /// event published before then has no queue to go to).
    pub async fn wait_for_queues(&self, worker: &str) {
        let dlq = format!("toko.{worker}.dlq");
        eventually(
            &format!("{worker} declared its queues"),
            Duration::from_secs(10),
            || async {
                let queues = self.management.queues(&self.vhost).await.ok()?;
                queues.iter().any(|q| q.name == dlq).then_some(())
            },
        )
        .await;
    }

    /// Force-closes every connection to this vhost whose client name is `name`; returns how
    /// many it closed.
    pub async fn close_connections(&self, name: &str) -> usize {
        let connections = self
            .management
            .connections(&self.vhost)
            .await
            .expect("list connections");
        let mut closed = 0;
        for c in connections.iter().filter(|c| c.client_name() == Some(name)) {
            if self.management.close_connection(&c.name).await.is_ok() {
                closed += 1;
            }
        }
        closed
    }
}

/// Messages published to `toko.events` that matched a capture's pattern.
pub struct Capture {
    _connection: Connection,
    pub channel: Channel,
    pub queue: String,
}

impl Capture {
    /// Takes every message waiting now.
    pub async fn take(&self) -> Vec<Delivery> {
        let mut got = Vec::new();
        let options = BasicGetOptions { no_ack: true };
        while let Some(m) = self
            .channel
            .basic_get(self.queue.as_str().into(), options)
            .await
            .expect("basic.get")
        {
            got.push(m.delivery);
        }
        got
    }

    /// Takes messages until `n` arrived (or panics after 10 s).
    pub async fn take_n(&self, n: usize) -> Vec<Delivery> {
        let got = RefCell::new(Vec::new());
        eventually(
            &format!("{n} messages"),
            Duration::from_secs(10),
            || async {
                let taken = self.take().await;
                let mut got = got.borrow_mut();
                got.extend(taken);
                if got.len() >= n {
                    Ok(())
                } else {
                    Err(format!("{} messages", got.len()))
                }
            },
        )
        .await;
        got.into_inner()
    }
}

async fn sweep_stale(management: &Management) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for vhost in management.vhosts().await.unwrap_or_default() {
        let created = vhost
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER_SECS) {
            let _ = management.delete_vhost(&vhost).await;
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_VHOST").is_some() {
            eprintln!("kept test vhost {}", self.vhost);
            return;
        }
        let vhost = self.vhost.clone();
        // Drop cannot await, and the test's runtime may be shutting down: use a thread, with
        // a client of its own (an HTTP client's connections belong to the runtime that made them).
        let deleted = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let management = Management::new(&management_url()).ok()?;
            rt.block_on(management.delete_vhost(&vhost)).ok()
        })
        .join();
        if !matches!(deleted, Ok(Some(()))) {
            eprintln!("could not delete test vhost {} (swept later)", self.vhost);
        }
    }
}

/// A TCP proxy in front of the broker whose port is reserved but closed until
/// [`TcpProxy::open`], and whose connections can be cut: a broker outage for one test only.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: String,
    accept: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Reserves a free local port; nothing listens on it yet (connections are refused).
    pub async fn reserve() -> Self {
        let probe = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("reserve a port");
        let addr = probe.local_addr().expect("local address");
        drop(probe);
        Self {
            addr,
            target: amqp_addr(),
            accept: None,
            links: Arc::default(),
        }
    }

    /// Starts accepting and forwarding to the broker.
    pub async fn open(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the reserved port");
        let (target, links) = (self.target.clone(), self.links.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// Cuts every open connection (clients see the socket close); keeps accepting.
    pub fn sever(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Stops accepting and cuts every connection: the broker is "down".
    pub fn close(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        self.sever();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.close();
    }
}

/// Worker settings for tests: short retry delays and polling so tests stay fast.
pub fn worker_settings(database_url: &str, rabbitmq_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("RABBITMQ_URL", rabbitmq_url),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("RETRY_DELAYS", "100ms,200ms"),
        ("MAX_ATTEMPTS", "3"),
        ("QUEUE_METRICS_INTERVAL", "100ms"),
        ("OUTBOX_POLL_INTERVAL", "50ms"),
        ("DRAIN_TIMEOUT", "5s"),
        ("METRICS_PORT", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
