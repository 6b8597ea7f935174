//! HTTP notifications: where they go, how they are sent, and Midtrans' retry rules
//! (midtrans.md §5).
//!
//! Sending never blocks the call that changed a transaction: bodies are queued on a per-order
//! lane (an unbounded channel drained by one task), so the first attempt of each notification of
//! an order goes out in the order the changes happened. Retries run in their own tasks, so a
//! failing receiver lets later notifications overtake earlier ones, which is exactly the
//! out-of-order delivery the docs warn about. Every HTTP request is written to a log that the
//! control API exposes, so tests can assert on retries instead of guessing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use poem::http::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::record::StatusRecord;
use crate::state::TransactionStatus;

/// Redirects (307/308) followed per attempt before giving the response the "anything else" rule.
pub const MAX_REDIRECTS: usize = 5;
/// URLs honoured per override/append header (current docs; the 2021 docs said 2).
pub const MAX_HEADER_URLS: usize = 3;

/// Per-transaction destinations taken from the Snap request headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationTargets {
    /// `X-Override-Notification`: only these URLs, the configured one is ignored.
    pub override_urls: Vec<String>,
    /// `X-Append-Notification`: these URLs in addition to the configured one.
    pub append_urls: Vec<String>,
}

impl NotificationTargets {
    /// Reads `X-Override-Notification` and `X-Append-Notification` (comma-separated, at most
    /// 3 each; extra URLs are ignored).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let urls = |name: &str| -> Vec<String> {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| {
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|url| !url.is_empty())
                        .take(MAX_HEADER_URLS)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            override_urls: urls("x-override-notification"),
            append_urls: urls("x-append-notification"),
        }
    }

    /// The URLs a notification goes to, given the configured default. Override wins over append.
    pub fn resolve(&self, default_url: Option<&str>) -> Vec<String> {
        if !self.override_urls.is_empty() {
            return self.override_urls.clone();
        }
        let mut urls: Vec<String> = default_url.map(str::to_owned).into_iter().collect();
        for url in &self.append_urls {
            if !urls.contains(url) {
                urls.push(url.clone());
            }
        }
        urls
    }
}

/// What happened to one HTTP request of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    /// 2xx: done.
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed and the retry budget for this response is used up.
    GaveUp,
    /// 307/308: the same body is being POSTed to the `Location`.
    Redirected,
    /// 301/302/303: Midtrans does not follow these and does not retry.
    RedirectNotFollowed,
    /// Notifications are paused (`/_sim/notifications/pause`): nothing was sent.
    DroppedPaused,
}

/// One row of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// Identifies the notification; all attempts and redirect hops of it share this.
    pub notification_id: u64,
    pub order_id: String,
    pub transaction_id: String,
    pub transaction_status: TransactionStatus,
    /// The `status_code` inside the body.
    pub status_code: String,
    pub url: String,
    /// 1 for the first delivery, 2 for the first retry, and so on.
    pub attempt: u32,
    pub http_status: Option<u16>,
    /// Transport error (timeout, connection refused, ...), when there was no HTTP response.
    pub error: Option<String>,
    pub result: AttemptResult,
    /// RFC 3339 UTC with milliseconds, to make retry spacing visible.
    pub at: String,
}

/// How Midtrans reacts to a receiver's answer (midtrans.md §5 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Delivered,
    /// No retry (301/302/303).
    Final,
    Retry {
        max_retries: u32,
    },
}

/// Classifies a response status; `None` is a timeout or connection error. 307/308 only reach
/// here once the redirect budget is spent (or without a usable `Location`), and then count as
/// "anything else".
pub(crate) fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(301..=303) => Verdict::Final,
        Some(500) => Verdict::Retry { max_retries: 1 },
        Some(503) => Verdict::Retry { max_retries: 4 },
        Some(400 | 404) => Verdict::Retry { max_retries: 2 },
        _ => Verdict::Retry { max_retries: 5 },
    }
}

/// The delay before retry number `retry` (0-based): the configured list, its last entry
/// repeating, or zero if the list is empty.
pub(crate) fn retry_delay(delays: &[Duration], retry: u32) -> Duration {
    let index = usize::try_from(retry).unwrap_or(usize::MAX);
    delays
        .get(index)
        .or_else(|| delays.last())
        .copied()
        .unwrap_or_default()
}

/// A notification ready to send.
struct Job {
    id: u64,
    /// The [`Notifier::reset`] generation it belongs to; older jobs are dropped silently.
    generation: u64,
    order_id: String,
    transaction_id: String,
    transaction_status: TransactionStatus,
    status_code: String,
    body: String,
    urls: Vec<String>,
}

/// Queues, sends and retries notifications, and keeps the delivery log.
pub struct Notifier {
    client: reqwest::Client,
    default_url: RwLock<Option<String>>,
    retry_delays: Vec<Duration>,
    paused: AtomicBool,
    generation: AtomicU64,
    next_id: AtomicU64,
    log: Mutex<Vec<DeliveryAttempt>>,
    lanes: Mutex<HashMap<String, mpsc::UnboundedSender<Arc<Job>>>>,
    shutdown: CancellationToken,
}

/// Locks a mutex even if a panicking thread poisoned it: the data (a log, a map of channels)
/// stays consistent under every operation we do, so there is nothing to recover.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Notifier {
    /// Creates a notifier. Its tasks stop when `shutdown` is cancelled.
    pub(crate) fn new(
        default_url: Option<String>,
        retry_delays: Vec<Duration>,
        timeout: Duration,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Veritrans")
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            client,
            default_url: RwLock::new(default_url),
            retry_delays,
            paused: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            log: Mutex::new(Vec::new()),
            lanes: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    /// The configured notification URL (the dashboard setting).
    pub fn default_url(&self) -> Option<String> {
        self.default_url
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the configured notification URL; applies to notifications queued from now on.
    pub fn set_default_url(&self, url: Option<String>) {
        *self
            .default_url
            .write()
            .unwrap_or_else(PoisonError::into_inner) = url;
    }

    /// Drops every notification (and retry) until [`Notifier::resume`], to simulate lost webhooks.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Ends a [`Notifier::pause`]. Dropped notifications are not re-sent.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The whole delivery log, oldest first.
    pub fn attempts(&self) -> Vec<DeliveryAttempt> {
        lock(&self.log).clone()
    }

    /// The log rows of the given transactions.
    pub fn attempts_for(&self, transaction_ids: &[String]) -> Vec<DeliveryAttempt> {
        lock(&self.log)
            .iter()
            .filter(|row| transaction_ids.contains(&row.transaction_id))
            .cloned()
            .collect()
    }

    /// Forgets the log and the queues, un-pauses, and makes in-flight retries stop quietly.
    pub(crate) fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        lock(&self.lanes).clear();
        lock(&self.log).clear();
        self.resume();
    }

    /// Queues `record` for every URL of `targets`. Must be called in the order the changes
    /// happened (the simulator does so while holding its store lock).
    pub(crate) fn enqueue(self: &Arc<Self>, record: &StatusRecord, targets: &NotificationTargets) {
        let urls = targets.resolve(self.default_url().as_deref());
        if urls.is_empty() {
            tracing::warn!(
                order.id = %record.order_id,
                transaction.status = record.transaction_status.as_str(),
                "no notification URL configured; notification not sent"
            );
            return;
        }
        let body = match serde_json::to_string(record) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "could not serialise a notification body");
                return;
            }
        };
        let job = Arc::new(Job {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            generation: self.generation.load(Ordering::SeqCst),
            order_id: record.order_id.clone(),
            transaction_id: record.transaction_id.clone(),
            transaction_status: record.transaction_status,
            status_code: record.status_code.clone(),
            body,
            urls,
        });
        let mut lanes = lock(&self.lanes);
        let lane = lanes.entry(job.order_id.clone()).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(Arc::clone(self).run_lane(receiver));
            sender
        });
        if lane.send(job).is_err() {
            tracing::debug!("notification lane closed (shutting down); notification dropped");
        }
    }

    /// Sends the first attempt of each queued notification of one order, in order.
    async fn run_lane(self: Arc<Self>, mut receiver: mpsc::UnboundedReceiver<Arc<Job>>) {
        loop {
            let job = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                job = receiver.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            for url in &job.urls {
                if let Some(delay) = self.attempt(&job, url, 1).await {
                    tokio::spawn(Arc::clone(&self).retry(Arc::clone(&job), url.clone(), delay));
                }
            }
        }
    }

    /// Retries one URL of a notification until it is delivered or the budget runs out.
    async fn retry(self: Arc<Self>, job: Arc<Job>, url: String, mut delay: Duration) {
        let mut number = 2;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            match self.attempt(&job, &url, number).await {
                Some(next) => {
                    delay = next;
                    number += 1;
                }
                None => return,
            }
        }
    }

    /// Makes attempt `number` to `url` and logs it. Returns the delay before the next attempt,
    /// or `None` when this notification is finished for this URL.
    async fn attempt(&self, job: &Job, url: &str, number: u32) -> Option<Duration> {
        if job.generation != self.generation.load(Ordering::SeqCst) {
            return None;
        }
        if self.is_paused() {
            self.record(job, url, number, None, None, AttemptResult::DroppedPaused);
            return None;
        }
        let (final_url, response) = self.post_following_redirects(job, url, number).await;
        let (status, error) = match response {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        let retries_done = number - 1;
        let (result, next) = match classify(status) {
            Verdict::Delivered => (AttemptResult::Delivered, None),
            Verdict::Final => (AttemptResult::RedirectNotFollowed, None),
            Verdict::Retry { max_retries } if retries_done < max_retries => (
                AttemptResult::Retrying,
                Some(retry_delay(&self.retry_delays, retries_done)),
            ),
            Verdict::Retry { .. } => (AttemptResult::GaveUp, None),
        };
        self.record(job, &final_url, number, status, error, result);
        next
    }

    /// POSTs the body, following up to [`MAX_REDIRECTS`] 307/308 redirects (each hop logged).
    /// Returns the last URL tried and its status or transport error.
    async fn post_following_redirects(
        &self,
        job: &Job,
        url: &str,
        number: u32,
    ) -> (String, Result<u16, String>) {
        let mut url = url.to_owned();
        let mut redirects = 0;
        loop {
            let response = self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(job.body.clone())
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(error) => return (url, Err(describe(&error))),
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| reqwest::Url::parse(&url).ok()?.join(location).ok());
            match location {
                Some(next) if matches!(status, 307 | 308) && redirects < MAX_REDIRECTS => {
                    self.record(
                        job,
                        &url,
                        number,
                        Some(status),
                        None,
                        AttemptResult::Redirected,
                    );
                    url = next.to_string();
                    redirects += 1;
                }
                _ => return (url, Ok(status)),
            }
        }
    }

    fn record(
        &self,
        job: &Job,
        url: &str,
        attempt: u32,
        http_status: Option<u16>,
        error: Option<String>,
        result: AttemptResult,
    ) {
        if job.generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        match result {
            AttemptResult::Delivered | AttemptResult::Redirected => tracing::info!(
                order.id = %job.order_id,
                transaction.status = job.transaction_status.as_str(),
                url, attempt, http_status, ?result, "notification sent"
            ),
            _ => tracing::warn!(
                order.id = %job.order_id,
                transaction.status = job.transaction_status.as_str(),
                url, attempt, http_status, error, ?result, "notification not delivered"
            ),
        }
        lock(&self.log).push(DeliveryAttempt {
            notification_id: job.id,
            order_id: job.order_id.clone(),
            transaction_id: job.transaction_id.clone(),
            transaction_status: job.transaction_status,
            status_code: job.status_code.clone(),
            url: url.to_owned(),
            attempt,
            http_status,
            error,
            result,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        format!("connection failed: {error}")
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    #[test]
    fn retry_budgets_follow_the_table() {
        assert_eq!(classify(Some(200)), Verdict::Delivered);
        assert_eq!(classify(Some(204)), Verdict::Delivered);
        for redirect in [301, 302, 303] {
            assert_eq!(classify(Some(redirect)), Verdict::Final);
        }
        let budget = |status| match classify(status) {
            Verdict::Retry { max_retries } => max_retries,
            other => panic!("{status:?} gave {other:?}"),
        };
        assert_eq!(budget(Some(500)), 1);
        assert_eq!(budget(Some(503)), 4);
        assert_eq!(budget(Some(400)), 2);
        assert_eq!(budget(Some(404)), 2);
        assert_eq!(budget(Some(307)), 5);
        assert_eq!(budget(Some(401)), 5);
        assert_eq!(budget(Some(502)), 5);
        assert_eq!(budget(None), 5);
    }

    #[test]
    fn retry_delays_repeat_the_last_entry() {
        let delays = [10, 20].map(Duration::from_millis);
        assert_eq!(retry_delay(&delays, 0), Duration::from_millis(10));
        assert_eq!(retry_delay(&delays, 1), Duration::from_millis(20));
        assert_eq!(retry_delay(&delays, 4), Duration::from_millis(20));
        assert_eq!(retry_delay(&[], 0), Duration::ZERO);
    }

    #[test]
    fn targets_from_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Override-Notification",
            HeaderValue::from_static("http://a/1, http://b/2,,http://c/3,http://d/4"),
        );
        let targets = NotificationTargets::from_headers(&headers);
        assert_eq!(
            targets.override_urls,
            ["http://a/1", "http://b/2", "http://c/3"]
        );
        assert!(targets.append_urls.is_empty());
        assert_eq!(
            targets.resolve(Some("http://default")),
            targets.override_urls
        );
    }

    #[test]
    fn append_adds_to_the_default() {
        let targets = NotificationTargets {
            override_urls: vec![],
            append_urls: vec!["http://x".into(), "http://default".into()],
        };
        assert_eq!(
            targets.resolve(Some("http://default")),
            ["http://default", "http://x"]
        );
        assert_eq!(targets.resolve(None), ["http://x", "http://default"]);
        assert!(NotificationTargets::default().resolve(None).is_empty());
    }
}
