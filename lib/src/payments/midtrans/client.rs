//! The Midtrans HTTP client (Snap and Core API).
//!
//! The server key travels only in the `Authorization` header and is never logged. Decisions
//! are made on the body's `status_code` whatever the HTTP status (midtrans.md §4). Only
//! requests that are safe to repeat are retried (GET status; refunds, which carry a
//! refund_key); creating a Snap transaction is not.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use serde_json::Value;

use crate::config::MidtransConfig;

#[derive(Debug, thiserror::Error)]
pub enum MidtransError {
    /// Midtrans could not be reached, timed out or failed internally: try again later.
    #[error("Midtrans is unavailable: {0}")]
    Unavailable(String),
    /// Midtrans refused the request; `code` is its status_code, `message` its explanation.
    #[error("Midtrans refused the request ({code}): {message}")]
    Refused { code: u16, message: String },
    #[error("Midtrans answered something unreadable: {0}")]
    Malformed(String),
}

/// A created Snap transaction.
#[derive(Debug, Clone, Deserialize)]
pub struct SnapTransaction {
    pub token: String,
    pub redirect_url: String,
}

/// The fields of a transaction status (GET status, notifications, action answers) we act on.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionStatus {
    pub status_code: String,
    #[serde(default)]
    pub status_message: Option<String>,
    pub order_id: Option<String>,
    pub transaction_id: Option<String>,
    pub transaction_status: Option<String>,
    pub fraud_status: Option<String>,
    pub gross_amount: Option<String>,
    pub currency: Option<String>,
    pub payment_type: Option<String>,
    /// Cumulative refunded amount, e.g. `"5000.00"`.
    pub refund_amount: Option<String>,
}

#[derive(Clone)]
pub struct MidtransClient {
    http: reqwest::Client,
    config: MidtransConfig,
    authorization: String,
}

const RETRIES: u32 = 2;

impl MidtransClient {
    pub fn new(config: MidtransConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(config.timeout)
            .user_agent(concat!("toko/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with plain settings builds");
        let authorization = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:", config.server_key.expose()))
        );
        Self {
            http,
            config,
            authorization,
        }
    }

    pub fn server_key(&self) -> &str {
        self.config.server_key.expose()
    }

    /// `POST {snap}/transactions`. Not retried: a retry after a lost answer would collide with
    /// the order_id Midtrans already took (the caller then starts a fresh session).
    pub async fn create_snap(&self, body: &Value) -> Result<SnapTransaction, MidtransError> {
        let text = self.snap_post("/transactions", Some(body)).await?;
        serde_json::from_str(&text).map_err(|e| MidtransError::Malformed(e.to_string()))
    }

    /// `POST {snap}/transactions/{token}/cancel`: closes a Snap session so it can no longer be
    /// paid. Refused (`Refused { code, message }`) when the token is unknown, already
    /// cancelled, or a method was already chosen ("Transaction is on progress": then cancel
    /// or expire the Core transaction instead).
    pub async fn cancel_snap(&self, token: &str) -> Result<(), MidtransError> {
        self.snap_post(&format!("/transactions/{token}/cancel"), None)
            .await
            .map(drop)
    }

    /// A Snap POST; the body text of a 200/201 answer.
    async fn snap_post(&self, path: &str, body: Option<&Value>) -> Result<String, MidtransError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.config.snap_url))
            .header("authorization", &self.authorization)
            .header("accept", "application/json")
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let resp = request
            .send()
            .await
            .map_err(|e| MidtransError::Unavailable(describe(&e)))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| MidtransError::Unavailable(describe(&e)))?;
        if status == 201 || status == 200 {
            Ok(text)
        } else {
            Err(snap_error(status, &text))
        }
    }

    /// `GET /v2/{id}/status`; `Ok(None)` when Midtrans has no transaction (yet).
    pub async fn status(&self, id: &str) -> Result<Option<TransactionStatus>, MidtransError> {
        match self
            .core(
                reqwest::Method::GET,
                &format!("/v2/{id}/status"),
                None,
                true,
            )
            .await
        {
            Ok(status) => Ok(Some(status)),
            Err(MidtransError::Refused { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v2/{id}/cancel`: voids a transaction before settlement.
    pub async fn cancel(&self, id: &str) -> Result<TransactionStatus, MidtransError> {
        self.core(
            reqwest::Method::POST,
            &format!("/v2/{id}/cancel"),
            None,
            false,
        )
        .await
    }

    /// `POST /v2/{id}/refund` with a stable `refund_key` (which also makes it safe to retry).
    pub async fn refund(
        &self,
        id: &str,
        refund_key: &str,
        amount: i64,
        reason: &str,
    ) -> Result<TransactionStatus, MidtransError> {
        let body =
            serde_json::json!({ "refund_key": refund_key, "amount": amount, "reason": reason });
        self.core(
            reqwest::Method::POST,
            &format!("/v2/{id}/refund"),
            Some(&body),
            true,
        )
        .await
    }

    async fn core(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        retry: bool,
    ) -> Result<TransactionStatus, MidtransError> {
        let url = format!("{}{path}", self.config.api_url);
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("authorization", &self.authorization)
                .header("accept", "application/json")
                .header("content-type", "application/json");
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            let result = match request.send().await {
                Ok(resp) => {
                    let http_status = resp.status().as_u16();
                    match resp.text().await {
                        Ok(text) => interpret(http_status, &text),
                        Err(e) => Err(MidtransError::Unavailable(describe(&e))),
                    }
                }
                Err(e) => Err(MidtransError::Unavailable(describe(&e))),
            };
            match result {
                Err(MidtransError::Unavailable(_)) if retry && attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                }
                other => return other,
            }
        }
    }
}

/// A Snap error: the HTTP status is the code, the body `{"error_messages": [...]}`.
fn snap_error(status: u16, text: &str) -> MidtransError {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v["error_messages"].as_array().map(|m| {
                m.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status >= 500 {
        MidtransError::Unavailable(message)
    } else {
        MidtransError::Refused {
            code: status,
            message,
        }
    }
}

/// Core API bodies carry `status_code`; 407 (expired) is a normal answer, ≥ 400 an error.
fn interpret(http_status: u16, text: &str) -> Result<TransactionStatus, MidtransError> {
    let parsed: Result<TransactionStatus, _> = serde_json::from_str(text);
    let status = match parsed {
        Ok(status) => status,
        Err(_) if http_status >= 500 => {
            return Err(MidtransError::Unavailable(format!("HTTP {http_status}")))
        }
        Err(e) => return Err(MidtransError::Malformed(e.to_string())),
    };
    let code: u16 = status.status_code.parse().unwrap_or(http_status);
    match code {
        407 => Ok(status),
        c if c >= 500 => Err(MidtransError::Unavailable(
            status.status_message.unwrap_or_default(),
        )),
        c if c >= 400 => Err(MidtransError::Refused {
            code: c,
            message: status.status_message.unwrap_or_default(),
        }),
        _ => Ok(status),
    }
}

/// A transport error without the URL's credentials or query (never print the request).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else if error.is_body() || error.is_decode() {
        "unreadable response".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_on_the_body_status_code() {
        let ok = interpret(
            200,
            r#"{"status_code":"200","transaction_status":"settlement"}"#,
        )
        .unwrap();
        assert_eq!(ok.transaction_status.as_deref(), Some("settlement"));
        assert!(interpret(
            200,
            r#"{"status_code":"407","transaction_status":"expire"}"#
        )
        .is_ok());
        assert!(matches!(
            interpret(
                200,
                r#"{"status_code":"412","status_message":"Merchant cannot modify the status of the transaction"}"#
            ),
            Err(MidtransError::Refused { code: 412, .. })
        ));
        assert!(matches!(
            interpret(
                404,
                r#"{"status_code":"404","status_message":"Transaction doesn't exist."}"#
            ),
            Err(MidtransError::Refused { code: 404, .. })
        ));
        assert!(matches!(
            interpret(503, "<html>"),
            Err(MidtransError::Unavailable(_))
        ));
    }
}
