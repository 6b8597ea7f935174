//! Search: one contract, run against every backend. PostgreSQL always; Elasticsearch when
//! `ELASTICSEARCH_URL` is set, as `scripts/test.sh` does with osmem-server (each test then
//! builds its own index behind a unique alias, see `toko_testkit::elasticsearch`).
//! `contract` (matching) and `browsing` (filters, facets, pages) are the shared contract;
//! `postgres` holds what only the PostgreSQL backend promises.

/// Declares each contract case once per engine: `on_postgres::case` and
/// `on_elasticsearch::case`.
macro_rules! search_contract {
    ($($case:ident),* $(,)?) => {
        mod on_postgres {
            $(#[tokio::test]
            async fn $case() {
                if let Some(shop) = super::super::shop(super::super::Engine::Postgres).await {
                    super::$case(shop).await;
                }
            })*
        }
        mod on_elasticsearch {
            $(#[tokio::test]
            async fn $case() {
                if let Some(shop) = super::super::shop(super::super::Engine::Elasticsearch).await {
                    super::$case(shop).await;
                }
            })*
        }
    };
}

mod browsing;
mod cache;
mod contract;
mod postgres;

use serde_json::{json, Value};
use toko_testkit::{Shop, TestApp, TestIndex};

#[derive(Clone, Copy)]
pub enum Engine {
    Postgres,
    /// PostgreSQL behind the API's result cache (off in every other test).
    PostgresCached,
    Elasticsearch,
}

/// name, category slug, brand, price, stock, description, status
type Fixture = (
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
    i64,
    &'static str,
    &'static str,
);

pub const PRODUCTS: [Fixture; 11] = [
    (
        "Apple iPhone 15 Pro",
        "handphone",
        Some("Apple"),
        20_000_000,
        5,
        "Smartphone flagship dengan kamera 48MP dan chip A17 Pro.",
        "active",
    ),
    (
        "Samsung Galaxy S24",
        "handphone",
        Some("Samsung"),
        15_000_000,
        0,
        "Android flagship, pilihan terbaik bagi pengguna iPhone yang ingin pindah.",
        "active",
    ),
    (
        "Casing iPhone 15 Silikon",
        "aksesoris",
        Some("Spigen"),
        150_000,
        10,
        "Pelindung ringan, pas untuk semua seri.",
        "active",
    ),
    (
        "Kaos Polos Hitam",
        "kaos",
        Some("Uniqlo"),
        99_000,
        10,
        "Kaos katun combed 30s, adem dipakai seharian.",
        "active",
    ),
    (
        "Kaos Polos Putih",
        "kaos",
        Some("UNIQLO"),
        99_000,
        0,
        "Kaos katun putih bersih.",
        "active",
    ),
    (
        "Kaos Grafis Hitam Putih",
        "kaos",
        Some("Erigo"),
        149_000,
        3,
        "Sablon grafis tebal.",
        "active",
    ),
    (
        "Sepatu Lari Ultraboost",
        "sepatu",
        Some("Adidas"),
        2_500_000,
        2,
        "Sepatu running ringan dan empuk.",
        "active",
    ),
    (
        "Sepatu Sneakers Kanvas",
        "sepatu",
        Some("Ventela"),
        350_000,
        8,
        "Sneakers kanvas klasik buatan Bandung.",
        "active",
    ),
    (
        "Mug Café Keramik",
        "dapur",
        None,
        45_000,
        20,
        "Mug <b>350 ml</b> & tahan panas.",
        "active",
    ),
    (
        "iPhone Draft Rahasia",
        "handphone",
        Some("Apple"),
        1_000_000,
        1,
        "Belum dirilis.",
        "draft",
    ),
    (
        "Kaos Polos Arsip",
        "kaos",
        Some("Uniqlo"),
        50_000,
        1,
        "Sudah tidak dijual.",
        "archived",
    ),
];

/// A small shop: Elektronik > {Handphone, Aksesoris}, Fashion > {Kaos, Sepatu}, Dapur, with
/// nine active products, one draft and one archived (see `PRODUCTS`), on `engine` and
/// indexed; `None` (with a note) when the engine is not available.
pub async fn shop(engine: Engine) -> Option<Shop> {
    let app = match engine {
        Engine::Postgres => TestApp::builder(),
        Engine::PostgresCached => TestApp::builder().setting("CATALOG_CACHE_ENTRIES", "100"),
        Engine::Elasticsearch => TestApp::builder().with_search_index(TestIndex::from_env()?),
    };
    let mut shop = Shop::on(app)
        .category("elektronik", "Elektronik", None)
        .category("handphone", "Handphone", Some("elektronik"))
        .category("aksesoris", "Aksesoris", Some("elektronik"))
        .category("fashion", "Fashion", None)
        .category("kaos", "Kaos", Some("fashion"))
        .category("sepatu", "Sepatu", Some("fashion"))
        .category("dapur", "Dapur", None);
    for (i, (name, category, brand, price, stock, description, status)) in
        PRODUCTS.into_iter().enumerate()
    {
        shop = shop.product_from(
            category,
            json!({
                "name": name, "brand": brand, "description": description, "status": status,
                "variants": [{ "sku": format!("SKU-{i}"), "price": price, "stock_on_hand": stock }]
            }),
        );
    }
    let shop = shop.open().await;
    shop.reindex().await;
    Some(shop)
}

/// The product names of a result, in order.
pub fn names(result: &Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["product"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The product names of a result, sorted (for assertions that do not depend on order).
pub fn name_set(result: &Value) -> Vec<String> {
    let mut names = names(result);
    names.sort();
    names
}

pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names
}
