//! W3: the search mix of `scripts/bench/search-latency.py`: a word, a typo, a prefix, a
//! phrase with filters, and an empty query with facets, in equal parts.

use super::Load;
use crate::{api::Api, load, stats::Summary};

/// The queries use words of the `tokoctl catalog seed` catalog.
const QUERIES: &[&str] = &[
    "/api/v1/search?q=jacket",
    "/api/v1/search?q=headphnoes",
    "/api/v1/search?q=gui",
    "/api/v1/search?q=%22rain%20jacket%22&category=fashion&in_stock=true",
    "/api/v1/search?q=",
];

pub async fn mix(api: &Api, load: Load) -> Summary {
    let api = api.clone();
    load::run(
        "W3",
        load.connections,
        load.duration,
        move |connection, i| {
            let api = api.clone();
            async move {
                let path = QUERIES[(connection + i as usize) % QUERIES.len()];
                load::timed(api.get_ok(path)).await
            }
        },
    )
    .await
}
