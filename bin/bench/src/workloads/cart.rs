//! W4: add to cart, each connection its own customer.

use std::sync::Arc;

use rand::Rng;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::Load;
use crate::{api::Api, load, stats::Summary};

/// A cart holds at most `CART_MAX_LINES` (50) lines: empty it before it fills up.
const LINES_BEFORE_CLEARING: u64 = 40;

pub async fn add_items(api: &Api, load: Load, tokens: &[String], variant_ids: &[Uuid]) -> Summary {
    clear_carts(api, tokens).await;
    let (api, tokens, variants) = (
        api.clone(),
        Arc::new(tokens.to_vec()),
        Arc::new(variant_ids.to_vec()),
    );
    load::run(
        "W4",
        load.connections,
        load.duration,
        move |connection, i| {
            let (api, tokens, variants) = (api.clone(), tokens.clone(), variants.clone());
            async move {
                let token = &tokens[connection];
                if i > 0 && i % LINES_BEFORE_CLEARING == 0 {
                    let _ = clear_cart(&api, token).await;
                }
                let variant = variants[rand::rng().random_range(0..variants.len())];
                load::timed(add_item(&api, token, variant)).await
            }
        },
    )
    .await
}

pub async fn add_item(api: &Api, token: &str, variant_id: Uuid) -> anyhow::Result<bool> {
    let body = json!({ "variant_id": variant_id, "quantity": 1 });
    let request = api
        .request(Method::POST, "/api/v1/cart/items", Some(token))
        .json(&body);
    api.send(request, &[]).await
}

pub async fn clear_cart(api: &Api, token: &str) -> anyhow::Result<bool> {
    api.send(
        api.request(Method::DELETE, "/api/v1/cart", Some(token)),
        &[],
    )
    .await
}

pub async fn clear_carts(api: &Api, tokens: &[String]) {
    for token in tokens {
        let _ = clear_cart(api, token).await;
    }
}
