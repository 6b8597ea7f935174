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
                if let Some(shop) = super::super::Shop::open(super::super::Engine::Postgres).await {
                    super::$case(shop).await;
                }
            })*
        }
        mod on_elasticsearch {
            $(#[tokio::test]
            async fn $case() {
                if let Some(shop) = super::super::Shop::open(super::super::Engine::Elasticsearch).await {
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

use std::collections::HashMap;

use serde_json::{json, Value};
use toko::search::SearchBackend;
use toko_testkit::{elasticsearch::TestIndex, TestApp, TestUser};

#[derive(Clone, Copy)]
pub enum Engine {
    Postgres,
    /// PostgreSQL behind the API's result cache (off in every other test).
    PostgresCached,
    Elasticsearch,
}

/// A small shop: Elektronik > {Handphone, Aksesoris}, Fashion > {Kaos, Sepatu}, Dapur, with
/// nine active products, one draft and one archived (see `PRODUCTS`).
pub struct Shop {
    pub app: TestApp,
    pub admin: TestUser,
    /// Category slug -> id.
    pub categories: HashMap<&'static str, String>,
    /// Product name -> id.
    pub products: HashMap<&'static str, String>,
    /// The Elasticsearch index, removed when the shop is dropped.
    _index: Option<TestIndex>,
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

impl Shop {
    /// The shop on `engine`, indexed; `None` (with a note) when the engine is not available.
    pub async fn open(engine: Engine) -> Option<Self> {
        let (app, index) = match engine {
            Engine::Postgres => (TestApp::spawn().await, None),
            Engine::PostgresCached => (
                TestApp::builder()
                    .setting("CATALOG_CACHE_ENTRIES", "100")
                    .spawn()
                    .await,
                None,
            ),
            Engine::Elasticsearch => {
                let index = TestIndex::from_env()?;
                let mut builder = TestApp::builder();
                for (name, value) in index.settings() {
                    builder = builder.setting(name, &value);
                }
                (builder.spawn().await, Some(index))
            }
        };
        let admin = app.register_admin().await;
        let mut categories: HashMap<&str, String> = HashMap::new();
        for (slug, name, parent) in [
            ("elektronik", "Elektronik", None),
            ("handphone", "Handphone", Some("elektronik")),
            ("aksesoris", "Aksesoris", Some("elektronik")),
            ("fashion", "Fashion", None),
            ("kaos", "Kaos", Some("fashion")),
            ("sepatu", "Sepatu", Some("fashion")),
            ("dapur", "Dapur", None),
        ] {
            let parent_id = parent.map(|p| categories[p].clone());
            let created = app
                .create_category(&admin, name, parent_id.as_deref())
                .await;
            categories.insert(slug, created["id"].as_str().unwrap().to_owned());
        }
        let mut products = HashMap::new();
        for (i, (name, category, brand, price, stock, description, status)) in
            PRODUCTS.into_iter().enumerate()
        {
            let created = app
                .create_product(
                    &admin,
                    &json!({
                        "name": name, "category_id": categories[category], "brand": brand, "description": description,
                        "status": status, "variants": [{ "sku": format!("SKU-{i}"), "price": price, "stock_on_hand": stock }]
                    }),
                )
                .await;
            products.insert(name, created["id"].as_str().unwrap().to_owned());
        }
        let shop = Self {
            app,
            admin,
            categories,
            products,
            _index: index,
        };
        shop.reindex().await;
        Some(shop)
    }

    pub fn backend(&self) -> &dyn SearchBackend {
        self.app.state.search.backend()
    }

    /// Rebuilds the index and makes it visible, as `tokoctl search reindex` would.
    pub async fn reindex(&self) {
        self.backend().reindex(&|_| {}).await.expect("reindex");
        self.backend().refresh().await.expect("refresh");
    }

    /// What the search-indexer worker does for a product event.
    pub async fn index(&self, names: &[&str]) {
        let ids: Vec<uuid::Uuid> = names
            .iter()
            .map(|n| self.products[n].parse().unwrap())
            .collect();
        self.backend()
            .index_products(&ids)
            .await
            .expect("index products");
        self.backend().refresh().await.expect("refresh");
    }

    /// An admin `PATCH`, asserting it succeeded.
    pub async fn admin_patch(&self, path: &str, body: &Value) {
        self.app
            .patch_ok(&self.admin.access_token, path, body)
            .await;
    }

    pub async fn get(&self, query: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .client
            .get(self.app.url("/api/v1/search"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// A successful search's body.
    pub async fn search(&self, query: &[(&str, &str)]) -> Value {
        let resp = self.get(query).await;
        assert_eq!(
            resp.status(),
            200,
            "{query:?}: {}",
            resp.text().await.unwrap_or_default()
        );
        resp.json().await.unwrap()
    }
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
