//! The HTTP client of the workloads: one pooled reqwest client shared by every connection.

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
}

impl Api {
    pub fn new(base: &str, connections: usize) -> anyhow::Result<Self> {
        let client = Client::builder()
            // Keep one idle keep-alive connection per load task, so no request pays a connect.
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends and reads the body; `Ok(true)` on 2xx, `Ok(false)` on a status in `refusals`.
    pub async fn send(
        &self,
        request: RequestBuilder,
        refusals: &[StatusCode],
    ) -> anyhow::Result<bool> {
        let response = request.send().await?;
        let status = response.status();
        // Read the whole body: the server's serialization is part of what is measured.
        let body = response.bytes().await?;
        if status.is_success() {
            Ok(true)
        } else if refusals.contains(&status) {
            Ok(false)
        } else {
            bail!(
                "{status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )
        }
    }

    /// Sends and parses a JSON success body (setup calls, not timed).
    pub async fn json(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            bail!("{status}: {body}");
        }
        serde_json::from_str(&body).context("response body is not JSON")
    }

    pub async fn get_ok(&self, path: &str) -> anyhow::Result<bool> {
        self.send(self.request(Method::GET, path, None), &[]).await
    }
}
