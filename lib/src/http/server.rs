//! Serving the public API: the shared server with the API's own limits and connection gauge.

use std::future::Future;

use super::AppState;
use crate::serving::{BoundServer, ConnectionLimits};

impl BoundServer {
    /// Serves the API until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(
        self,
        state: AppState,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let limits = ConnectionLimits::of(&state.config.http);
        let open = Some(state.http_metrics.open_connections.clone());
        self.serve_with(super::app(state), limits, open, shutdown)
            .await
    }
}
