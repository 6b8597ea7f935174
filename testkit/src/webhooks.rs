//! A webhook endpoint for tests: `testkit/webhook_receiver.py` in a child process. It records
//! every delivery and checks its signature with the `standardwebhooks` package from PyPI, so
//! toko's signing is judged by a verifier toko's authors did not write (a verifier of our own
//! would share our misreadings of the spec). Tests set its secrets and its answers over HTTP.

use std::{process::Child, time::Duration};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    poll::{at_least, eventually},
    smtp::{free_port, spawn_tool_script},
};

pub struct WebhookReceiver {
    child: Child,
    pub port: u16,
    client: reqwest::Client,
}

/// One request the receiver got on a non-control path, as it saw it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedWebhook {
    /// The request path, query included.
    pub path: String,
    /// The `webhook-id` header (`None` when absent, as for every header here).
    pub id: Option<String>,
    /// The `webhook-timestamp` header, unparsed.
    pub timestamp: Option<String>,
    /// The `webhook-signature` header: space-separated `v1,<base64>` signatures.
    pub signature: Option<String>,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    /// Whether `standardwebhooks` verified it (signature and 5-minute timestamp tolerance)
    /// against one of the secrets set.
    pub verified: bool,
    /// Why it did not verify: the verifier's error for each secret.
    pub error: Option<String>,
    /// Which of the secrets set verified it.
    pub secret_index: Option<usize>,
    /// When it arrived, in seconds since the Unix epoch.
    pub received_at: f64,
    /// The status the receiver answered it with.
    pub status: u16,
}

impl WebhookReceiver {
    /// Starts the receiver on a free port; it answers 204 at once and has no secrets (so
    /// nothing verifies) until told otherwise.
    pub fn spawn() -> Self {
        let port = free_port();
        let child = spawn_tool_script(
            "webhook_receiver.py",
            &[port.to_string().into()],
            "webhook receiver",
        );
        Self {
            child,
            port,
            // Straight to 127.0.0.1, whatever proxy the environment names.
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    /// `http://127.0.0.1:<port><path>`: any path but `/_control/...` is a webhook endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secrets (`whsec_<base64 key>`) a delivery may be signed with; several during a
    /// rotation. Replaces those set before.
    pub async fn set_secrets(&self, secrets: &[&str]) {
        self.control("secrets", json!({ "secrets": secrets })).await;
    }

    /// Answers the next `times` deliveries (every one when `None`) with `status` after
    /// `delay`; then 204 at once again.
    pub async fn behave(&self, status: u16, delay: Duration, times: Option<u32>) {
        let delay_ms = u64::try_from(delay.as_millis()).expect("a delay in milliseconds");
        self.control(
            "behaviour",
            json!({ "status": status, "delay_ms": delay_ms, "times": times }),
        )
        .await;
    }

    /// Answers the next delivery with `status` and a body of `bytes` bytes.
    pub async fn answer_with_body(&self, status: u16, bytes: usize) {
        self.control(
            "behaviour",
            json!({ "status": status, "times": 1, "body_bytes": bytes }),
        )
        .await;
    }

    /// Forgets the deliveries so far and the behaviour; the secrets stay.
    pub async fn reset(&self) {
        self.control("reset", json!({})).await;
    }

    /// Every delivery so far, oldest first.
    pub async fn requests(&self) -> Vec<ReceivedWebhook> {
        let resp = self
            .client
            .get(self.url("/_control/requests"))
            .send()
            .await
            .expect("ask the webhook receiver for its requests");
        assert_eq!(resp.status(), 200, "webhook receiver requests");
        resp.json().await.expect("webhook receiver requests body")
    }

    /// Waits until at least `count` deliveries arrived; returns them all. Panics, listing
    /// what did arrive, after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedWebhook> {
        eventually(&format!("{count} webhook deliveries"), timeout, || async {
            at_least(count, self.requests().await)
        })
        .await
    }

    async fn control(&self, command: &str, body: Value) {
        let resp = self
            .client
            .post(self.url(&format!("/_control/{command}")))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("webhook receiver {command}: {e}"));
        assert_eq!(
            resp.status(),
            204,
            "webhook receiver {command}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
