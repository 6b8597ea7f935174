//! W1 (list products, first page of 20, with and without a category filter) and W2 (product
//! by id, random among 10,000).

use std::sync::Arc;

use rand::Rng;

use super::Load;
use crate::{api::Api, load, stats::Summary};

/// W1a: the first page of the catalog, newest first (the default sort).
pub async fn list_first_page(api: &Api, load: Load) -> Summary {
    let api = api.clone();
    load::run("W1a", load.connections, load.duration, move |_, _| {
        let api = api.clone();
        async move { load::timed(api.get_ok("/api/v1/products?limit=20")).await }
    })
    .await
}

/// W1b: the first page of a top-level category (its descendants included), round robin.
pub async fn list_by_category(api: &Api, load: Load, slugs: &[String]) -> Summary {
    let (api, paths) = (api.clone(), Arc::new(slug_paths(slugs)));
    load::run(
        "W1b",
        load.connections,
        load.duration,
        move |connection, i| {
            let (api, paths) = (api.clone(), paths.clone());
            async move {
                let path = &paths[(connection + i as usize) % paths.len()];
                load::timed(api.get_ok(path)).await
            }
        },
    )
    .await
}

fn slug_paths(slugs: &[String]) -> Vec<String> {
    slugs
        .iter()
        .map(|slug| format!("/api/v1/products?limit=20&category={slug}"))
        .collect()
}

/// W2: one product with its variants, by id, uniformly among `ids`.
pub async fn product_by_id(api: &Api, load: Load, ids: &[uuid::Uuid]) -> Summary {
    let (api, ids) = (api.clone(), Arc::new(ids.to_vec()));
    load::run("W2", load.connections, load.duration, move |_, _| {
        let (api, ids) = (api.clone(), ids.clone());
        async move {
            let id = ids[rand::rng().random_range(0..ids.len())];
            load::timed(api.get_ok(&format!("/api/v1/products/{id}"))).await
        }
    })
    .await
}
