//! W5: checkout. (a) spread over many variants; (b) every connection buying one of 5 hot
//! variants until their stock runs out, then the database is checked for overselling; (c) as
//! (a) with a promotion code on every cart (a percentage off, with a usage limit, so every
//! checkout evaluates, allocates and counts the redemption under the promotion's row lock).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{cart, Load};
use crate::{
    api::Api,
    load,
    stats::{Step, Summary},
};

/// Units of stock each hot variant of W5b starts with.
pub const HOT_STOCK: i32 = 200;
const HOT_VARIANTS: i64 = 5;

/// The code W5c puts on every cart.
pub const BENCH_CODE: &str = "BENCH10";

/// Creates W5c's promotion: 10% off, without limits (the bench database is disposable:
/// written directly).
pub async fn prepare_code(db: &PgPool) -> anyhow::Result<()> {
    sqlx::query!(
        "insert into promotions (promotion_id, name, code, effect, percent)
         values ($1, 'Bench ten percent', $2, 'order_percent', 10)
         on conflict do nothing",
        Uuid::now_v7(),
        BENCH_CODE,
    )
    .execute(db)
    .await?;
    // Without limits, like most shop-wide codes (a limited code counts each redemption on
    // its row, so its checkouts queue on that row; see docs/BENCHMARKS.md).
    sqlx::query!(
        "update promotions set usage_limit = null, per_customer_limit = null where code = $1",
        BENCH_CODE,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// W5a (and W5c with `code`): each iteration puts one random variant in the customer's cart
/// and shows the cart (W5c: puts the code on it), not timed, then checks out with a fresh
/// `Idempotency-Key` (timed).
pub async fn spread(
    api: &Api,
    load: Load,
    tokens: &[String],
    variant_ids: &[Uuid],
    code: Option<&'static str>,
) -> Summary {
    cart::clear_carts(api, tokens).await;
    let (api, tokens, variants) = (
        api.clone(),
        Arc::new(tokens.to_vec()),
        Arc::new(variant_ids.to_vec()),
    );
    load::run(
        if code.is_some() { "W5c" } else { "W5a" },
        load.connections,
        load.duration,
        move |connection, _| {
            let (api, tokens, variants) = (api.clone(), tokens.clone(), variants.clone());
            async move {
                let token = &tokens[connection];
                let variant = variants[rand::rng().random_range(0..variants.len())];
                let mut prepared = cart::add_item(&api, token, variant).await;
                // The shopper looks at the cart before paying: W5c by putting the code on it
                // (the answer is the cart), W5a by reading it, so both iterations make the
                // same number of requests and differ only in the code.
                if prepared.is_ok() {
                    prepared = match code {
                        Some(code) => apply_code(&api, token, code).await,
                        None => view_cart(&api, token).await,
                    };
                }
                if prepared.is_err() {
                    let _ = cart::clear_cart(&api, token).await;
                    return Step::Failed(Default::default());
                }
                let step = load::timed(checkout(&api, token)).await;
                if !matches!(step, Step::Ok(_)) {
                    let _ = cart::clear_cart(&api, token).await;
                }
                step
            }
        },
    )
    .await
}

/// What W5b found in the database after the rush.
#[derive(Debug, Clone, Default)]
pub struct HotOutcome {
    pub initial_stock: i64,
    pub sold: i64,
    /// Units sold beyond the initial stock, plus variants left with negative or
    /// over-reserved stock. Must be 0.
    pub oversold: i64,
}

/// W5b: every connection buys one unit of a random hot variant until all are sold out.
pub async fn hot_variants(
    api: &Api,
    db: &PgPool,
    load: Load,
    tokens: &[String],
) -> anyhow::Result<(Summary, HotOutcome)> {
    let hot = prepare_hot_variants(db).await?;
    cart::clear_carts(api, tokens).await;
    let sold_out = Arc::new(Mutex::new(HashSet::<Uuid>::new()));
    let (api_c, tokens_c, hot_c) = (
        api.clone(),
        Arc::new(tokens.to_vec()),
        Arc::new(hot.clone()),
    );
    let summary = load::run(
        "W5b",
        load.connections,
        load.duration,
        move |connection, _| {
            let (api, tokens, hot, sold_out) = (
                api_c.clone(),
                tokens_c.clone(),
                hot_c.clone(),
                sold_out.clone(),
            );
            async move {
                let token = &tokens[connection];
                let left: Vec<Uuid> = {
                    let sold_out = sold_out.lock().expect("not poisoned");
                    hot.iter()
                        .filter(|v| !sold_out.contains(v))
                        .copied()
                        .collect()
                };
                let Some(&variant) = left.get(rand::rng().random_range(0..left.len().max(1)))
                else {
                    return Step::Stop;
                };
                // Adding refuses a sold-out variant (409) as checkout does: both are refusals.
                let added = cart::add_item(&api, token, variant).await;
                let step = match added {
                    Ok(true) => load::timed(checkout(&api, token)).await,
                    _ => Step::Refused(Default::default()),
                };
                if !matches!(step, Step::Ok(_)) {
                    let _ = cart::clear_cart(&api, token).await;
                    if matches!(step, Step::Refused(_)) {
                        sold_out.lock().expect("not poisoned").insert(variant);
                    }
                }
                step
            }
        },
    )
    .await;
    let outcome = verify_no_overselling(db, &hot).await?;
    Ok((summary, outcome))
}

async fn view_cart(api: &Api, token: &str) -> anyhow::Result<bool> {
    let request = api.request(Method::GET, "/api/v1/cart", Some(token));
    api.send(request, &[]).await
}

async fn apply_code(api: &Api, token: &str, code: &str) -> anyhow::Result<bool> {
    let request = api
        .request(Method::POST, "/api/v1/cart/promotions", Some(token))
        .json(&json!({ "code": code }));
    api.send(request, &[]).await
}

pub async fn checkout(api: &Api, token: &str) -> anyhow::Result<bool> {
    let body = json!({
        "shipping_address": {
            "recipient_name": "Bench Buyer",
            "phone": "+6281234567890",
            "line1": "Jl. Sudirman 1",
            "city": "Jakarta",
            "postal_code": "10110",
            "country_code": "ID"
        },
        "shipping_method": "standard"
    });
    let request = api
        .request(Method::POST, "/api/v1/checkout", Some(token))
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&body);
    api.send(request, &[StatusCode::CONFLICT]).await
}

/// Picks 5 variants no order has touched and gives each `HOT_STOCK` units (the bench
/// database is disposable: set directly rather than through the ledger).
async fn prepare_hot_variants(db: &PgPool) -> anyhow::Result<Vec<Uuid>> {
    let hot: Vec<Uuid> = sqlx::query_scalar!(
        "update variants set stock_on_hand = $1, stock_reserved = 0
          where variant_id in (
              select v.variant_id from variants v join products p using (product_id)
               where p.status = 'active' and v.stock_reserved = 0
                 and not exists (select 1 from order_lines l where l.variant_id = v.variant_id)
                 and not exists (select 1 from cart_items c where c.variant_id = v.variant_id)
               order by v.variant_id desc limit $2)
          returning variant_id",
        HOT_STOCK,
        HOT_VARIANTS,
    )
    .fetch_all(db)
    .await?;
    anyhow::ensure!(
        hot.len() == HOT_VARIANTS as usize,
        "not enough untouched variants for W5b"
    );
    Ok(hot)
}

async fn verify_no_overselling(db: &PgPool, hot: &[Uuid]) -> anyhow::Result<HotOutcome> {
    let row = sqlx::query!(
        r#"with sold as (
             select v.variant_id, v.stock_on_hand, v.stock_reserved,
                    coalesce((select sum(l.quantity) from order_lines l where l.variant_id = v.variant_id), 0)::int8 as units
               from variants v where v.variant_id = any($1))
         select coalesce(sum(units), 0)::int8 as "sold!",
                coalesce(sum(greatest(units - $2, 0)), 0)::int8 as "over_initial!",
                count(*) filter (where stock_reserved < 0 or stock_on_hand < stock_reserved
                                    or stock_reserved <> units) as "broken!"
           from sold"#,
        hot,
        i64::from(HOT_STOCK),
    )
    .fetch_one(db)
    .await?;
    let (sold, over_initial, broken) = (row.sold, row.over_initial, row.broken);
    Ok(HotOutcome {
        initial_stock: i64::from(HOT_STOCK) * hot.len() as i64,
        sold,
        oversold: over_initial + broken,
    })
}
