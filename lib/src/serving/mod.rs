//! Serving HTTP, shared by the public API ([`crate::http`]) and the small health and metrics
//! server of every worker ([`crate::messaging`]): the connection-limited server and the
//! problem+json error shape. Nothing here knows the API's routes or state.

pub mod problem;
mod server;
mod settings;

use std::sync::Arc;

pub use self::{
    problem::Problem,
    server::{BoundServer, ConnectionLimits},
    settings::HttpConfig,
};

tokio::task_local! {
    /// The id of the request being handled, so problems can carry it without plumbing.
    pub(crate) static REQUEST_ID: Arc<str>;
}

/// The request id of the current request, when called inside one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}
