//! The shop most specs start from: an app, an administrator, and a catalog made through the
//! admin API, named so a spec can say `s.variants["PHONE-1"]` or `s.categories["kaos"]`.

use std::collections::HashMap;

use serde_json::{json, Value};
use toko::search::SearchBackend;

use crate::{Call, TestApp, TestAppBuilder, TestUser};

pub struct Shop {
    pub app: TestApp,
    pub admin: TestUser,
    /// Category key (as given to [`ShopBuilder::category`]) -> id.
    pub categories: HashMap<String, String>,
    /// Product name -> id.
    pub products: HashMap<String, String>,
    /// SKU -> variant id.
    pub variants: HashMap<String, String>,
}

/// A catalog to create once the app is up; categories before products, in the order given.
pub struct ShopBuilder {
    app: TestAppBuilder,
    /// (key, name, parent key)
    categories: Vec<(String, String, Option<String>)>,
    /// (category key, admin product body without its `category_id`)
    products: Vec<(String, Value)>,
}

impl Shop {
    /// A shop on a default app.
    pub fn builder() -> ShopBuilder {
        Self::on(TestApp::builder())
    }

    /// A shop on an app with settings of its own.
    pub fn on(app: TestAppBuilder) -> ShopBuilder {
        ShopBuilder {
            app,
            categories: Vec::new(),
            products: Vec::new(),
        }
    }

    /// A new active product with one variant (stock 1000) in the category with id
    /// `category_id`; returns the variant's id.
    pub async fn add_variant(
        &self,
        category_id: &str,
        sku: &str,
        price: i64,
        brand: Option<&str>,
    ) -> String {
        let product = self
            .app
            .create_product(
                &self.admin,
                &json!({
                    "name": format!("Item {sku}"), "category_id": category_id, "status": "active",
                    "brand": brand,
                    "variants": [{"sku": sku, "price": price, "stock_on_hand": 1000}]
                }),
            )
            .await;
        product["variants"][0]["id"]
            .as_str()
            .expect("variant id")
            .to_owned()
    }

    /// A GET of the admin's.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.app.by(&self.admin).get(path).expect(200).await
    }

    /// An admin `PATCH`, asserting it succeeded.
    pub async fn admin_patch(&self, path: &str, body: &Value) -> Value {
        self.app.by(&self.admin).patch(path, body).expect(200).await
    }

    /// `GET /api/v1/search` with `query`.
    pub fn search_request(&self, query: &[(&str, &str)]) -> Call {
        self.app.anonymous().get("/api/v1/search").query(query)
    }

    /// A successful search's body.
    pub async fn search(&self, query: &[(&str, &str)]) -> Value {
        self.search_request(query).expect(200).await
    }

    pub fn search_backend(&self) -> &dyn SearchBackend {
        self.app.state.search.backend()
    }

    /// Rebuilds the search index and makes it visible, as `tokoctl search reindex` would.
    pub async fn reindex(&self) {
        self.search_backend()
            .reindex(&|_| {})
            .await
            .expect("reindex");
        self.search_backend().refresh().await.expect("refresh");
    }

    /// What the search-indexer worker does for an event about the products `names`.
    pub async fn index(&self, names: &[&str]) {
        let ids: Vec<uuid::Uuid> = names
            .iter()
            .map(|n| self.products[*n].parse().expect("product id"))
            .collect();
        self.search_backend()
            .index_products(&ids)
            .await
            .expect("index products");
        self.search_backend().refresh().await.expect("refresh");
    }
}

impl ShopBuilder {
    /// A category named `name`, under the category with key `parent`.
    pub fn category(mut self, key: &str, name: &str, parent: Option<&str>) -> Self {
        self.categories
            .push((key.to_owned(), name.to_owned(), parent.map(str::to_owned)));
        self
    }

    /// An active product with one variant `sku`.
    pub fn product(self, category: &str, name: &str, sku: &str, price: i64, stock: i64) -> Self {
        self.product_from(
            category,
            json!({
                "name": name,
                "status": "active",
                "variants": [{ "sku": sku, "price": price, "stock_on_hand": stock }]
            }),
        )
    }

    /// A product from a full admin body (`name` and `variants` at least); its `category_id`
    /// is the category with key `category`.
    pub fn product_from(mut self, category: &str, body: Value) -> Self {
        self.products.push((category.to_owned(), body));
        self
    }

    /// Starts the app and creates the admin and the catalog.
    pub async fn open(self) -> Shop {
        let app = self.app.spawn().await;
        let admin = app.register_admin().await;
        let mut categories: HashMap<String, String> = HashMap::new();
        for (key, name, parent) in self.categories {
            let parent_id = parent.map(|p| categories[&p].clone());
            let id = app
                .create_category_id(&admin, &name, parent_id.as_deref())
                .await;
            categories.insert(key, id);
        }
        let mut products = HashMap::new();
        let mut variants = HashMap::new();
        for (category, mut body) in self.products {
            body["category_id"] = json!(categories[&category]);
            let name = body["name"].as_str().expect("a product name").to_owned();
            let created = app.create_product(&admin, &body).await;
            products.insert(name, created["id"].as_str().expect("id").to_owned());
            for variant in created["variants"].as_array().expect("variants") {
                variants.insert(
                    variant["sku"].as_str().expect("sku").to_owned(),
                    variant["id"].as_str().expect("variant id").to_owned(),
                );
            }
        }
        Shop {
            app,
            admin,
            categories,
            products,
            variants,
        }
    }
}
