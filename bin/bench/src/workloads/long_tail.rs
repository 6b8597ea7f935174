//! The long tail of issue 16, the headline rows: every request differs, as real shop traffic
//! does, so the read caches answer few of them. L1 product by id over the whole active
//! catalog, L2 listings with random filter and sort combinations, L3 distinct searches (catalog
//! words, pairs, prefixes, typos, some within a category), L4 a mixed shop (mostly browsing,
//! some search, some cart and checkout).
//!
//! Each workload walks a shuffled pool of distinct requests in order: L1's is the whole active
//! catalog, L2's and L3's [`POOL`] requests each, which a fast run can go round more than once
//! (L2 at 100k products sends ~54,000 in 20 s), so some of its later requests repeat. W1–W3
//! are the repeated "hot set".

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicU32, AtomicUsize, Ordering},
        Arc,
    },
};

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

use super::{cart, checkout, Load};
use crate::{
    api::Api,
    load,
    stats::{Step, Summary},
};

/// Distinct listings and searches prepared per workload (a run sends fewer).
const POOL: usize = 20_000;

/// What the long-tail requests are drawn from, read from the bench database.
pub struct Catalog {
    /// Every active product, shuffled.
    product_ids: Vec<Uuid>,
    /// Slugs of every category with active products (top-level ones include descendants).
    category_slugs: Vec<String>,
    brands: Vec<String>,
    /// The lowest and highest product price.
    price_range: (i64, i64),
    /// The search vocabulary: words of names, brands and categories.
    words: Vec<String>,
}

impl Catalog {
    pub async fn load(db: &PgPool) -> anyhow::Result<Self> {
        let mut product_ids: Vec<Uuid> =
            sqlx::query_scalar!("select product_id from products where status = 'active'")
                .fetch_all(db)
                .await?;
        anyhow::ensure!(
            !product_ids.is_empty(),
            "the bench database has no products: seed it first"
        );
        let mut rng = StdRng::seed_from_u64(16);
        product_ids.shuffle(&mut rng);
        let category_slugs = sqlx::query_scalar!(
            "select c.slug from categories c
              where exists (select 1 from categories leaf
                             join products p on p.category_id = leaf.category_id
                            where (leaf.category_id = c.category_id or leaf.parent_id = c.category_id)
                              and p.status = 'active')
              order by c.slug"
        )
        .fetch_all(db)
        .await?;
        let brands = sqlx::query_scalar!(
            r#"select distinct brand as "brand!" from products
                where status = 'active' and brand is not null order by 1"#
        )
        .fetch_all(db)
        .await?;
        let price_range = sqlx::query!(
            r#"select coalesce(min(min_price), 0) as "low!", coalesce(max(min_price), 0) as "high!"
                 from products where status = 'active'"#
        )
        .fetch_one(db)
        .await?;
        let words = sqlx::query_scalar!(
            r#"select distinct term as "term!" from search_terms where length(term) >= 4 order by 1"#
        )
        .fetch_all(db)
        .await?;
        anyhow::ensure!(!words.is_empty(), "the bench database has no search terms");
        Ok(Self {
            product_ids,
            category_slugs,
            brands,
            price_range: (price_range.low, price_range.high),
            words,
        })
    }

    /// `POOL` distinct listing paths: a category (descendants included) half of the time, a
    /// brand 30%, price bounds 30%, availability 30%, the four sorts alike.
    fn listing_paths(&self) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(2);
        distinct(POOL, || {
            let mut path = String::from("/api/v1/products?limit=20");
            let sort = ["newest", "price_asc", "price_desc", "name"][rng.random_range(0..4)];
            path.push_str(&format!("&sort={sort}"));
            self.push_filters(&mut path, &mut rng, 0.5);
            path
        })
    }

    /// `POOL` distinct searches: one word 30%, two words 30%, a prefix being typed 20%, a word
    /// with a typo 20%; a fifth of them also filtered (category, brand, price or availability).
    fn search_paths(&self) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(3);
        distinct(POOL, || {
            let kind = match rng.random_range(0..10) {
                0..=2 => SearchKind::Word,
                3..=5 => SearchKind::Pair,
                6..=7 => SearchKind::Prefix,
                _ => SearchKind::Typo,
            };
            let filtered = rng.random_bool(0.2);
            self.search_path(kind, filtered, &mut rng)
        })
    }

    fn search_path(&self, kind: SearchKind, filtered: bool, rng: &mut StdRng) -> String {
        let word = |rng: &mut StdRng| self.words[rng.random_range(0..self.words.len())].clone();
        let q = match kind {
            SearchKind::Word => word(rng),
            SearchKind::Pair => format!("{} {}", word(rng), word(rng)),
            SearchKind::Prefix => {
                let w = word(rng);
                let keep = rng.random_range(2..=w.chars().count().min(5));
                w.chars().take(keep).collect()
            }
            SearchKind::Typo => typo(&word(rng), rng),
        };
        let mut path = format!("/api/v1/search?q={}", urlencode(&q));
        if filtered {
            self.push_filters(&mut path, rng, 0.6);
        }
        path
    }

    fn push_filters(&self, path: &mut String, rng: &mut StdRng, category_share: f64) {
        if rng.random_bool(category_share) && !self.category_slugs.is_empty() {
            let slug = &self.category_slugs[rng.random_range(0..self.category_slugs.len())];
            path.push_str(&format!("&category={slug}"));
        }
        if rng.random_bool(0.3) && !self.brands.is_empty() {
            let brand = &self.brands[rng.random_range(0..self.brands.len())];
            path.push_str(&format!("&brand={}", urlencode(brand)));
        }
        if rng.random_bool(0.3) {
            let (low, high) = self.price_range;
            let a = rng.random_range(low..=high.max(low));
            let b = rng.random_range(low..=high.max(low));
            path.push_str(&format!("&min_price={}&max_price={}", a.min(b), a.max(b)));
        }
        if rng.random_bool(0.3) {
            path.push_str(&format!("&in_stock={}", rng.random_bool(0.8)));
        }
    }
}

/// L1: one product by id, each request a different product of the whole active catalog.
pub async fn product_by_id(api: &Api, load: Load, catalog: &Catalog) -> Summary {
    let paths = catalog
        .product_ids
        .iter()
        .map(|id| format!("/api/v1/products/{id}"))
        .collect();
    walk("L1", api, load, paths).await
}

/// L2: the first page of a listing, each with a different filter and sort combination.
pub async fn listing(api: &Api, load: Load, catalog: &Catalog) -> Summary {
    walk("L2", api, load, catalog.listing_paths()).await
}

/// L3: distinct searches on the configured backend.
pub async fn search(api: &Api, load: Load, catalog: &Catalog) -> Summary {
    walk("L3", api, load, catalog.search_paths()).await
}

/// The kinds of L3 query, for the cost of each.
#[derive(Debug, Clone, Copy)]
pub enum SearchKind {
    Word,
    Pair,
    Prefix,
    Typo,
}

impl SearchKind {
    pub const ALL: [Self; 4] = [Self::Word, Self::Pair, Self::Prefix, Self::Typo];

    pub fn label(self) -> &'static str {
        match self {
            Self::Word => "one word",
            Self::Pair => "two words",
            Self::Prefix => "prefix of 2-5 letters",
            Self::Typo => "word with a typo",
        }
    }
}

/// What one query of each kind costs on its own: `count` distinct queries of `kind` (not in
/// L3's pool), unfiltered, one at a time on one connection, so latency is the query's cost
/// without queueing.
pub async fn search_cost(api: &Api, catalog: &Catalog, kind: SearchKind, count: usize) -> Summary {
    let mut rng = StdRng::seed_from_u64(1000 + kind as u64);
    let paths = distinct(count, || catalog.search_path(kind, false, &mut rng));
    let mut samples = crate::stats::Samples::default();
    let started = std::time::Instant::now();
    for path in &paths {
        samples.record(load::timed(api.get_ok(path)).await);
    }
    samples.summarize(started.elapsed())
}

/// Sends the pool's paths in order, each once (round again only if the run outlasts it).
async fn walk(label: &str, api: &Api, load: Load, paths: Vec<String>) -> Summary {
    let (api, paths, next) = (api.clone(), Arc::new(paths), Arc::new(AtomicUsize::new(0)));
    load::run(label, load.connections, load.duration, move |_, _| {
        let (api, paths, next) = (api.clone(), paths.clone(), next.clone());
        async move {
            let path = &paths[next.fetch_add(1, Ordering::Relaxed) % paths.len()];
            load::timed(api.get_ok(path)).await
        }
    })
    .await
}

/// L4: a shop's mix, each connection a signed-in customer: 50% product pages, 25% listings,
/// 12% searches (all long-tail), 10% adds to the cart and 3% checkouts of what the cart holds.
/// Every request is timed; throughput counts all of them.
pub async fn mixed_shop(
    api: &Api,
    load: Load,
    catalog: &Catalog,
    tokens: &[String],
    variant_ids: &[Uuid],
) -> Summary {
    cart::clear_carts(api, tokens).await;
    let pools = Arc::new(Pools {
        products: catalog
            .product_ids
            .iter()
            .map(|id| format!("/api/v1/products/{id}"))
            .collect(),
        listings: catalog.listing_paths(),
        searches: catalog.search_paths(),
        next: AtomicUsize::new(0),
    });
    let carts: Arc<Vec<AtomicU32>> = Arc::new(tokens.iter().map(|_| AtomicU32::new(0)).collect());
    let (api, tokens, variants) = (
        api.clone(),
        Arc::new(tokens.to_vec()),
        Arc::new(variant_ids.to_vec()),
    );
    load::run(
        "L4",
        load.connections,
        load.duration,
        move |connection, _| {
            let (api, tokens, variants, pools, carts) = (
                api.clone(),
                tokens.clone(),
                variants.clone(),
                pools.clone(),
                carts.clone(),
            );
            async move {
                let token = &tokens[connection];
                let lines = &carts[connection];
                let roll = rand::rng().random_range(0..100);
                match roll {
                    0..=49 => load::timed(api.get_ok(pools.take(&pools.products))).await,
                    50..=74 => load::timed(api.get_ok(pools.take(&pools.listings))).await,
                    75..=86 => load::timed(api.get_ok(pools.take(&pools.searches))).await,
                    // A full cart (the API allows 50 lines) checks out instead of adding.
                    87..=96 if lines.load(Ordering::Relaxed) < 40 => {
                        let variant = variants[rand::rng().random_range(0..variants.len())];
                        let step = load::timed(cart::add_item(&api, token, variant)).await;
                        if matches!(step, Step::Ok(_)) {
                            lines.fetch_add(1, Ordering::Relaxed);
                        }
                        step
                    }
                    _ if lines.load(Ordering::Relaxed) > 0 => {
                        let step = load::timed(checkout::checkout(&api, token)).await;
                        lines.store(0, Ordering::Relaxed);
                        if !matches!(step, Step::Ok(_)) {
                            let _ = cart::clear_cart(&api, token).await;
                        }
                        step
                    }
                    _ => load::timed(api.get_ok(pools.take(&pools.products))).await,
                }
            }
        },
    )
    .await
}

struct Pools {
    products: Vec<String>,
    listings: Vec<String>,
    searches: Vec<String>,
    next: AtomicUsize,
}

impl Pools {
    fn take<'a>(&self, pool: &'a [String]) -> &'a str {
        &pool[self.next.fetch_add(1, Ordering::Relaxed) % pool.len()]
    }
}

/// Up to `count` distinct values of `make` (fewer if it cannot produce that many).
fn distinct(count: usize, mut make: impl FnMut() -> String) -> Vec<String> {
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count * 20 {
        let value = make();
        if seen.insert(value.clone()) {
            out.push(value);
            if out.len() == count {
                break;
            }
        }
    }
    out
}

/// One edit a hurried shopper makes: a letter dropped, doubled, swapped with the next, or
/// replaced by its keyboard neighbour's stand-in.
fn typo(word: &str, rng: &mut StdRng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 {
        return word.to_owned();
    }
    let at = rng.random_range(1..chars.len() - 1);
    match rng.random_range(0..4) {
        0 => {
            chars.remove(at);
        }
        1 => chars.insert(at, chars[at]),
        2 => chars.swap(at, at + 1),
        _ => chars[at] = if chars[at] == 'e' { 'a' } else { 'e' },
    }
    chars.into_iter().collect()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
