//! A shop with its workers: the API (with the Midtrans simulator), a vhost, an SMTP server,
//! the relay and chosen workers running in this process.

use std::{
    collections::HashMap,
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use toko::{
    config::{Reader, WorkerConfig},
    messaging::Worker,
    notifications::{MailConfig, Mailer, Notifier},
    webhooks::{dispatch, WebhookConfig},
};
use toko_testkit::{
    broker::worker_settings, eventually, SmtpCatcher, TestApp, TestBroker, TestUser,
};

pub struct Pipeline {
    pub app: TestApp,
    pub broker: TestBroker,
    pub smtp: SmtpCatcher,
    /// The admin who set the catalog up.
    pub admin_token: String,
    pub variant: String,
    pub settings: HashMap<String, String>,
    stop: CancellationToken,
}

impl Pipeline {
    /// The shop, the relay and a notifier; `app_settings` tweak the API.
    pub async fn start(app_settings: &[(&str, &str)], smtp_delay: Duration) -> Self {
        let pipeline = Self::bare(app_settings, smtp_delay, None).await;
        pipeline.spawn_relay().await;
        pipeline.spawn_notifier().await;
        pipeline
    }

    /// The shop and its vhost without workers; `broker_url` overrides the workers' AMQP URL.
    pub async fn bare(
        app_settings: &[(&str, &str)],
        smtp_delay: Duration,
        broker_url: Option<String>,
    ) -> Self {
        let smtp = SmtpCatcher::spawn(smtp_delay);
        let broker = TestBroker::create().await;
        let mut builder = TestApp::builder().with_midtrans();
        for (k, v) in app_settings {
            builder = builder.setting(k, v);
        }
        let app = builder.spawn().await;
        let admin = app.register_admin().await;
        let category = app.create_category_id(&admin, "Books", None).await;
        let variant = app
            .create_simple_variant(&admin, &category, "Novel", "NOVEL", 80_000, 100)
            .await;
        let mut settings = worker_settings(
            &app.database.url,
            broker_url.as_deref().unwrap_or(&broker.url),
        );
        settings.insert("SMTP_URL".into(), smtp.url());
        settings.insert("MAIL_FROM".into(), "toko <orders@toko.test>".into());
        // The API's key, from which the notifier derives password reset links.
        let api = toko_testkit::default_settings(&app.database.url);
        settings.insert("JWT_SECRET".into(), api["JWT_SECRET"].clone());
        for (k, v) in app_settings {
            settings.insert(k.to_string(), v.to_string());
        }
        Self {
            variant,
            admin_token: admin.access_token.clone(),
            app,
            broker,
            smtp,
            settings,
            stop: CancellationToken::new(),
        }
    }

    async fn worker(&self, name: &str) -> Worker {
        let config = WorkerConfig::from_source(&self.settings).expect("worker settings");
        let pool = sqlx::PgPool::connect(&self.app.database.url)
            .await
            .expect("worker pool");
        Worker::with_pool(name, config, pool, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("worker")
    }

    fn run(&self, worker: Worker) {
        let stop = self.stop.clone();
        tokio::spawn(worker.run_until(async move { stop.cancelled().await }));
    }

    pub async fn spawn_relay(&self) {
        let mut worker = self.worker("outbox-relay").await;
        worker.relay().expect("relay");
        self.run(worker);
    }

    pub fn notifier(&self, pool: sqlx::PgPool) -> Notifier {
        let reader = Reader(&self.settings);
        let mail = MailConfig::from_reader(&reader).expect("mail settings");
        Notifier::new(pool, Mailer::new(&mail).expect("mailer"), mail.shop)
            .with_link_key(mail.link_key)
    }

    pub async fn spawn_consumer(&self, name: &str, handler: impl toko::messaging::Handler) {
        let mut worker = self.worker(name).await;
        worker.consume(handler).expect("consume");
        self.run(worker);
    }

    /// The webhook dispatcher: its queue consumer and its delivery sweep.
    pub async fn spawn_webhook_dispatcher(&self) {
        let mut worker = self.worker("webhook-dispatcher").await;
        let config = WebhookConfig::from_reader(&Reader(&self.settings)).expect("webhook settings");
        dispatch::run_in(&mut worker, config).expect("dispatcher");
        self.run(worker);
    }

    pub async fn spawn_notifier(&self) {
        let mut worker = self.worker("notifier").await;
        let notifier = self.notifier(worker.pool.clone());
        worker.consume(notifier).expect("consume");
        self.run(worker);
    }

    /// A customer checks out `quantity` novels; returns (customer, order id, order number).
    pub async fn order(&self, quantity: i64) -> (TestUser, String, String) {
        let (user, body): (TestUser, Value) = self.app.checked_out(&self.variant, quantity).await;
        let order = &body["order"];
        (
            user,
            order["id"].as_str().unwrap().to_owned(),
            order["number"].as_str().unwrap().to_owned(),
        )
    }

    /// Messages whose subject contains `needle`.
    pub fn emails_about(&self, needle: &str) -> Vec<String> {
        self.smtp
            .messages()
            .into_iter()
            .filter(|m| subject(m).contains(needle))
            .collect()
    }
}

/// A worker's real binary (where a crash matters), killed when dropped.
pub struct WorkerProcess(pub Child);

impl WorkerProcess {
    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL the worker");
        self.0.wait().expect("reap the worker");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Pipeline {
    /// Starts `binary` (an `env!("CARGO_BIN_EXE_<name>")`) with the pipeline's settings plus
    /// `extra`.
    pub fn start_binary(&self, binary: &str, extra: &[(&str, &str)]) -> WorkerProcess {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.settings)
            .env("METRICS_PORT", toko_testkit::smtp::free_port().to_string())
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied());
        WorkerProcess(
            command
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {binary}: {e}")),
        )
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The Subject header of a raw message.
pub fn subject(message: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the count `check` returns reaches `expected`, and returns it; panics with the
/// last count after `timeout`.
pub async fn wait_until<F: Fn() -> usize>(check: F, expected: usize, timeout: Duration) -> usize {
    eventually(&format!("a count of {expected}"), timeout, || {
        let n = check();
        async move {
            if n >= expected {
                Ok(n)
            } else {
                Err(n)
            }
        }
    })
    .await
}
