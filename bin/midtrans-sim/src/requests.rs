//! The log of Snap and Core API requests (method, path, `Content-Type`, `Accept`), so tests can
//! check that a client sends the headers Midtrans documents as required on every call
//! (midtrans.md §2). `GET /_sim/requests` shows it.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::header;
use poem::{Endpoint, EndpointExt, IntoResponse};
use serde::{Deserialize, Serialize};

use crate::sim::Simulator;

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
}

/// Wraps `endpoint` so that every request it receives is logged first.
pub fn logged<E>(endpoint: E, sim: Arc<Simulator>) -> BoxEndpoint<'static>
where
    E: Endpoint + 'static,
{
    endpoint
        .around(move |inner, request| {
            let header_of = |name: header::HeaderName| {
                request
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            sim.log_request(ApiRequest {
                method: request.method().to_string(),
                path: request.original_uri().path().to_owned(),
                content_type: header_of(header::CONTENT_TYPE),
                accept: header_of(header::ACCEPT),
            });
            async move { inner.call(request).await.map(IntoResponse::into_response) }
        })
        .boxed()
}
