//! Requests as a spec tells them: who sends what, and what has to come back.
//!
//! ```ignore
//! let cart = app.by(&customer).post("/api/v1/cart/items", &body).expect(200).await;
//! app.anonymous().get("/api/v1/me").expect_problem(401, "unauthorized").await;
//! let resp = app.by(&admin).get("/api/v1/admin/orders").await; // the raw response
//! ```
//!
//! `TestApp::get`/`post`/... stay for requests a spec builds byte by byte.

use std::{
    future::{Future, IntoFuture},
    pin::Pin,
};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::{assert_problem, TestApp, TestUser};

/// Sends requests on behalf of one caller (a user, a bare token, or nobody).
#[derive(Clone, Copy)]
pub struct Client<'a> {
    app: &'a TestApp,
    token: Option<&'a str>,
}

impl TestApp {
    /// Requests without credentials.
    pub fn anonymous(&self) -> Client<'_> {
        Client {
            app: self,
            token: None,
        }
    }

    /// Requests with `user`'s access token.
    pub fn by<'a>(&'a self, user: &'a TestUser) -> Client<'a> {
        self.with_token(&user.access_token)
    }

    /// Requests with any bearer token (expired, forged, someone's refresh token...).
    pub fn with_token<'a>(&'a self, token: &'a str) -> Client<'a> {
        Client {
            app: self,
            token: Some(token),
        }
    }
}

impl Client<'_> {
    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path, None)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Call {
        self.call(Method::POST, path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Call {
        self.call(Method::PATCH, path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Call {
        self.call(Method::PUT, path, Some(body))
    }

    /// A request with any method and no body (OPTIONS, a POST that takes none...).
    pub fn request(&self, method: Method, path: &str) -> Call {
        self.call(method, path, None)
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Call {
        let mut request = self.app.client.request(method.clone(), self.app.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        Call {
            request,
            method,
            path: path.to_owned(),
        }
    }
}

/// One request, ready to send. Awaiting it gives the raw response; the `expect` methods
/// assert on the answer first.
#[must_use = "a request does nothing until awaited"]
pub struct Call {
    request: reqwest::RequestBuilder,
    /// For failure messages.
    method: Method,
    path: String,
}

impl Call {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: &Value) -> Self {
        self.request = self.request.json(body);
        self
    }

    /// Adds `pairs` (a slice of pairs, a map...) to the query string, encoded.
    pub fn query<T: Serialize + ?Sized>(mut self, pairs: &T) -> Self {
        self.request = self.request.query(pairs);
        self
    }

    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    /// Asserts the status and returns the JSON body (`Null` when there is none).
    pub async fn expect(self, status: u16) -> Value {
        let method = self.method.clone();
        let resp = self.await;
        let what = format!("{method} {}", resp.url());
        let actual = resp.status().as_u16();
        let text = resp.text().await.expect("read the response body");
        assert_eq!(actual, status, "{what}: {text}");
        if text.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
    }

    /// Asserts a problem+json answer with `status` and `code`; returns its body.
    pub async fn expect_problem(self, status: u16, code: &str) -> Value {
        assert_problem(self.await, status, code).await
    }
}

impl IntoFuture for Call {
    type Output = reqwest::Response;
    type IntoFuture = Pin<Box<dyn Future<Output = reqwest::Response> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let what = format!("{} {}", self.method, self.path);
        let request = self.request;
        Box::pin(async move {
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"))
        })
    }
}
