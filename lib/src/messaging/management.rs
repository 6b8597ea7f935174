//! A small client of the RabbitMQ management HTTP API (plugin `rabbitmq_management`, port
//! 15672): queue statistics AMQP cannot give (unacked counts, listing queues), and the
//! vhost and connection calls the tests use to isolate and disturb brokers.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

/// Why a management call failed.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("invalid management URL: {0}")]
    Url(String),
    #[error("management API unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("management API answered {status} to {what}")]
    Status { status: StatusCode, what: String },
}

/// The management API of one broker, with the credentials of its URL.
#[derive(Clone)]
pub struct Management {
    base: Url,
    user: String,
    password: String,
    client: reqwest::Client,
}

/// A queue's statistics.
#[derive(Debug, Clone, Deserialize)]
pub struct QueueInfo {
    pub name: String,
    #[serde(default)]
    pub messages_ready: u64,
    #[serde(default)]
    pub messages_unacknowledged: u64,
    #[serde(default)]
    pub consumers: u64,
}

/// An AMQP connection as the management API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    pub name: String,
    pub vhost: String,
    #[serde(default)]
    pub client_properties: serde_json::Value,
}

impl ConnectionInfo {
    /// The `connection_name` the client announced (ours: `toko-<role>@<host>`).
    pub fn client_name(&self) -> Option<&str> {
        self.client_properties.get("connection_name")?.as_str()
    }
}

impl Management {
    /// `http://user:password@host:15672` (credentials default to guest/guest).
    pub fn new(url: &str) -> Result<Self, ManagementError> {
        let mut base = Url::parse(url).map_err(|e| ManagementError::Url(e.to_string()))?;
        let user = match base.username() {
            "" => "guest".to_owned(),
            u => percent_decode(u),
        };
        let password = base
            .password()
            .map_or_else(|| "guest".to_owned(), percent_decode);
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(ManagementError::Unreachable)?;
        Ok(Self {
            base,
            user,
            password,
            client,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, ManagementError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ManagementError::Url("the URL cannot be a base".into()))?
            .pop_if_empty()
            .push("api")
            .extend(path);
        let what = format!("{method} {}", url.path());
        let mut request = self
            .client
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(ManagementError::Status {
                status: response.status(),
                what,
            });
        }
        Ok(response)
    }

    /// Every queue of `vhost`.
    pub async fn queues(&self, vhost: &str) -> Result<Vec<QueueInfo>, ManagementError> {
        Ok(self
            .call(Method::GET, &["queues", vhost], None)
            .await?
            .json()
            .await?)
    }

    /// Creates `vhost` and gives the API's user full permissions on it.
    pub async fn create_vhost(&self, vhost: &str) -> Result<(), ManagementError> {
        self.call(Method::PUT, &["vhosts", vhost], Some(serde_json::json!({})))
            .await?;
        let permissions = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
        self.call(
            Method::PUT,
            &["permissions", vhost, &self.user],
            Some(permissions),
        )
        .await?;
        Ok(())
    }

    /// Deletes `vhost` with everything in it.
    pub async fn delete_vhost(&self, vhost: &str) -> Result<(), ManagementError> {
        match self.call(Method::DELETE, &["vhosts", vhost], None).await {
            Err(ManagementError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Names of every vhost.
    pub async fn vhosts(&self) -> Result<Vec<String>, ManagementError> {
        #[derive(Deserialize)]
        struct Vhost {
            name: String,
        }
        let vhosts: Vec<Vhost> = self
            .call(Method::GET, &["vhosts"], None)
            .await?
            .json()
            .await?;
        Ok(vhosts.into_iter().map(|v| v.name).collect())
    }

    /// The AMQP connections to `vhost`.
    pub async fn connections(&self, vhost: &str) -> Result<Vec<ConnectionInfo>, ManagementError> {
        Ok(self
            .call(Method::GET, &["vhosts", vhost, "connections"], None)
            .await?
            .json()
            .await?)
    }

    /// Force-closes a connection (by its management name).
    pub async fn close_connection(&self, name: &str) -> Result<(), ManagementError> {
        self.call(Method::DELETE, &["connections", name], None)
            .await
            .map(|_| ())
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

/// The vhost of an AMQP URL (`/` when the path is empty or `%2f`).
pub fn vhost_of(amqp_url: &str) -> String {
    match amqp_url.parse::<lapin::uri::AMQPUri>() {
        Ok(uri) => uri.vhost,
        Err(_) => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vhosts_come_from_the_amqp_url() {
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "/");
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/shop"), "shop");
    }

    #[test]
    fn credentials_come_from_the_management_url() {
        let m = Management::new("http://toko:s%40cret@127.0.0.1:15672").unwrap();
        assert_eq!((m.user.as_str(), m.password.as_str()), ("toko", "s@cret"));
        assert_eq!(m.base.as_str(), "http://127.0.0.1:15672/");
        let m = Management::new("http://127.0.0.1:15672").unwrap();
        assert_eq!((m.user.as_str(), m.password.as_str()), ("guest", "guest"));
    }
}
