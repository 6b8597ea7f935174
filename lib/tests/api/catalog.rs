//! Catalog: categories, products with variants, listing filters and sorts, cursor pagination,
//! conditional GETs, admin validation, and the outbox events each change writes.

use std::collections::HashSet;

use serde_json::{json, Value};
use toko_testkit::{assert_problem, problem_fields, Call, Shop, TestApp};

/// A small catalog: Clothing > {Shirts, Shoes}, Electronics; products across them.
async fn shop() -> Shop {
    Shop::builder()
        .category("clothing", "Clothing", None)
        .category("shirts", "Shirts", Some("clothing"))
        .category("shoes", "Shoes", Some("clothing"))
        .category("electronics", "Electronics", None)
        .open()
        .await
}

fn names(page: &Value) -> Vec<String> {
    page_field(page, "name")
}

fn ids(page: &Value) -> Vec<String> {
    page_field(page, "id")
}

fn page_field(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn categories_form_a_tree_addressable_by_id_or_slug() {
    let s = shop().await;
    let tree: Value = s
        .app
        .anonymous()
        .get("/api/v1/categories")
        .expect(200)
        .await;
    let roots: Vec<&str> = tree["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(roots, vec!["clothing", "electronics"]);
    let children: Vec<&str> = tree["items"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(children, vec!["shirts", "shoes"]);

    let by_slug: Value = s
        .app
        .anonymous()
        .get("/api/v1/categories/shirts")
        .expect(200)
        .await;
    assert_eq!(by_slug["category"]["id"], s.categories["shirts"].as_str());
    assert_eq!(by_slug["ancestors"][0]["slug"], "clothing");
    let by_id: Value = s
        .app
        .anonymous()
        .get(&format!("/api/v1/categories/{}", s.categories["clothing"]))
        .expect(200)
        .await;
    assert_eq!(by_id["children"].as_array().unwrap().len(), 2);
    s.app
        .anonymous()
        .get("/api/v1/categories/nope")
        .expect_problem(404, "not_found")
        .await;
}

#[tokio::test]
async fn categories_cannot_form_cycles_and_only_empty_leaves_are_deleted() {
    let s = shop().await;
    let admin = s.app.by(&s.admin);
    let body = admin
        .patch(
            &format!("/api/v1/admin/categories/{}", s.categories["clothing"]),
            &json!({"parent_id": s.categories["shirts"]}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "parent_id");

    admin
        .delete(&format!(
            "/api/v1/admin/categories/{}",
            s.categories["clothing"]
        ))
        .expect_problem(409, "category_in_use")
        .await;
    s.app
        .create_simple_product(
            &s.admin,
            &s.categories["shoes"],
            "Runner",
            "RUN-1",
            500_000,
            5,
        )
        .await;
    admin
        .delete(&format!(
            "/api/v1/admin/categories/{}",
            s.categories["shoes"]
        ))
        .expect_problem(409, "category_in_use")
        .await;
    admin
        .delete(&format!(
            "/api/v1/admin/categories/{}",
            s.categories["electronics"]
        ))
        .expect(204)
        .await;

    // Moving to the root with an explicit null.
    let resp = admin
        .patch(
            &format!("/api/v1/admin/categories/{}", s.categories["shirts"]),
            &json!({"parent_id": null}),
        )
        .await;
    let moved: Value = resp.json().await.unwrap();
    assert!(moved["parent_id"].is_null());
}

#[tokio::test]
async fn a_product_is_created_with_its_variants_and_read_by_id_or_slug() {
    let s = shop().await;
    let created = s.app.create_product(&s.admin, &json!({
        "name": "Kaos Polos Premium",
        "description": "Kaos katun combed 30s yang adem.",
        "brand": "Toko Basics",
        "category_id": s.categories["shirts"],
        "status": "active",
        "attributes": {"material": "cotton"},
        "images": [{"url": "https://cdn.example.com/kaos.jpg", "alt_text": "Kaos hitam"}],
        "options": ["size", "color"],
        "variants": [
            {"sku": "KAOS-BLK-M", "price": 89_000, "stock_on_hand": 10, "options": {"size": "M", "color": "black"}},
            {"sku": "KAOS-BLK-L", "price": 95_000, "compare_at_price": 120_000, "weight_grams": 200, "stock_on_hand": 0,
             "options": {"size": "L", "color": "black"}}
        ]
    })).await;
    assert_eq!(created["slug"], "kaos-polos-premium");
    assert_eq!(created["price_min"], 89_000);
    assert_eq!(created["price_max"], 95_000);
    assert_eq!(created["currency"], "IDR");
    assert_eq!(
        created["variants"][0]["stock_on_hand"], 10,
        "admins see stock levels"
    );

    let public: Value = s
        .app
        .anonymous()
        .get("/api/v1/products/kaos-polos-premium")
        .expect(200)
        .await;
    assert_eq!(public["id"], created["id"]);
    assert_eq!(public["category"]["slug"], "shirts");
    assert_eq!(public["attributes"]["material"], "cotton");
    assert_eq!(public["variants"][0]["available"], 10);
    assert_eq!(public["variants"][1]["in_stock"], false);
    assert!(
        public["variants"][0].get("stock_on_hand").is_none(),
        "shoppers do not see stock levels"
    );
    assert_eq!(public["in_stock"], true);

    let movements: i64 =
        sqlx::query_scalar("select count(*) from stock_movements where kind = 'initial'")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(movements, 1, "initial stock is in the ledger");
}

#[tokio::test]
async fn drafts_and_archived_products_are_hidden_from_shoppers() {
    let s = shop().await;
    let draft = s
        .app
        .create_product(
            &s.admin,
            &json!({
                "name": "Secret Draft", "category_id": s.categories["shirts"],
                "variants": [{"sku": "DRAFT-1", "price": 1000, "stock_on_hand": 1}]
            }),
        )
        .await;
    assert_eq!(draft["status"], "draft");
    s.app
        .anonymous()
        .get("/api/v1/products/secret-draft")
        .expect_problem(404, "not_found")
        .await;

    let active = s
        .app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Soon Archived",
            "ARCH-1",
            1000,
            1,
        )
        .await;
    let id = active["id"].as_str().unwrap();
    s.app
        .by(&s.admin)
        .patch(
            &format!("/api/v1/admin/products/{id}"),
            &json!({"status": "archived"}),
        )
        .expect(200)
        .await;
    s.app
        .anonymous()
        .get(&format!("/api/v1/products/{id}"))
        .expect_problem(404, "not_found")
        .await;
    let list: Value = s.app.anonymous().get("/api/v1/products").expect(200).await;
    assert!(names(&list).is_empty(), "{list}");

    let admin_list: Value = s
        .app
        .by(&s.admin)
        .get("/api/v1/admin/products")
        .expect(200)
        .await;
    assert_eq!(admin_list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_list_filters_by_category_tree_brand_price_and_stock() {
    let s = shop().await;
    let p = |name: &str, cat: &str, brand: Option<&str>, price: i64, stock: i64| {
        json!({"name": name, "category_id": cat, "brand": brand, "status": "active",
               "variants": [{"sku": name.to_uppercase().replace(' ', "-"), "price": price, "stock_on_hand": stock}]})
    };
    for body in [
        p(
            "Oxford Shirt",
            &s.categories["shirts"],
            Some("Uniqlo"),
            300_000,
            5,
        ),
        p(
            "Linen Shirt",
            &s.categories["shirts"],
            Some("Zara"),
            450_000,
            0,
        ),
        p(
            "Trail Shoe",
            &s.categories["shoes"],
            Some("Uniqlo"),
            900_000,
            3,
        ),
        p("Phone", &s.categories["electronics"], None, 5_000_000, 7),
    ] {
        s.app.create_product(&s.admin, &body).await;
    }
    let list = |query: &str| {
        let url = format!("/api/v1/products?sort=name&{query}");
        let app = &s.app;
        async move {
            names(
                &app.anonymous()
                    .get(&url)
                    .await
                    .json::<Value>()
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(
        list("category=clothing").await,
        vec!["Linen Shirt", "Oxford Shirt", "Trail Shoe"],
        "descendants included"
    );
    assert_eq!(
        list(&format!("category={}", s.categories["shoes"])).await,
        vec!["Trail Shoe"]
    );
    assert_eq!(
        list("category=unknown-category").await,
        Vec::<String>::new()
    );
    assert_eq!(
        list("brand=uniqlo").await,
        vec!["Oxford Shirt", "Trail Shoe"]
    );
    assert_eq!(
        list("min_price=400000&max_price=1000000").await,
        vec!["Linen Shirt", "Trail Shoe"]
    );
    assert_eq!(list("in_stock=false").await, vec!["Linen Shirt"]);
    assert_eq!(
        list("in_stock=true&category=clothing&brand=Uniqlo&max_price=500000").await,
        vec!["Oxford Shirt"]
    );

    s.app
        .anonymous()
        .get("/api/v1/products?min_price=-1")
        .expect_problem(400, "invalid_parameter")
        .await;
    let body = s
        .app
        .anonymous()
        .get("/api/v1/products?sort=popularity")
        .expect_problem(400, "invalid_parameter")
        .await;
    assert_eq!(body["errors"][0]["field"], "sort");
}

#[tokio::test]
async fn every_sort_order_is_honoured() {
    let s = shop().await;
    for (name, price) in [("Banana", 300), ("apple", 100), ("Cherry", 200)] {
        s.app
            .create_simple_product(
                &s.admin,
                &s.categories["shirts"],
                name,
                &format!("SKU-{name}"),
                price,
                1,
            )
            .await;
    }
    let sorted = |sort: &'static str| {
        let app = &s.app;
        async move {
            names(
                &app.anonymous()
                    .get(&format!("/api/v1/products?sort={sort}"))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(sorted("newest").await, vec!["Cherry", "apple", "Banana"]);
    assert_eq!(sorted("price_asc").await, vec!["apple", "Cherry", "Banana"]);
    assert_eq!(
        sorted("price_desc").await,
        vec!["Banana", "Cherry", "apple"]
    );
    let by_name = sorted("name").await;
    let mut expected = by_name.clone();
    expected.sort();
    assert_eq!(
        by_name, expected,
        "name order follows the database collation consistently"
    );
}

#[tokio::test]
async fn cursor_pagination_has_no_duplicates_or_gaps_when_sort_keys_tie() {
    let s = shop().await;
    // 23 products, all at the same price: only the id breaks the ties.
    for i in 0..23 {
        s.app
            .create_simple_product(
                &s.admin,
                &s.categories["shirts"],
                &format!("Same Price {i:02}"),
                &format!("TIE-{i:02}"),
                50_000,
                1,
            )
            .await;
    }
    for sort in ["price_asc", "price_desc", "newest", "name"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut url = format!("/api/v1/products?sort={sort}&limit=5");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = s.app.anonymous().get(&url).expect(200).await;
            pages += 1;
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 5, "{sort}");
        assert_eq!(seen.len(), 23, "{sort}: no gaps");
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            23,
            "{sort}: no duplicates"
        );
    }

    // A cursor from one sort is refused by another.
    let page: Value = s
        .app
        .anonymous()
        .get("/api/v1/products?sort=price_asc&limit=5")
        .expect(200)
        .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let body = s
        .app
        .anonymous()
        .get(&format!("/api/v1/products?sort=name&cursor={cursor}"))
        .expect_problem(400, "invalid_parameter")
        .await;
    assert_eq!(body["errors"][0]["field"], "cursor");
    s.app
        .anonymous()
        .get("/api/v1/products?limit=101")
        .expect_problem(400, "invalid_parameter")
        .await;
}

#[tokio::test]
async fn product_reads_support_conditional_requests() {
    let s = shop().await;
    let product = s
        .app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Cached Shirt",
            "CACHE-1",
            10_000,
            5,
        )
        .await;
    let url = format!("/api/v1/products/{}", product["id"].as_str().unwrap());

    let first = s.app.anonymous().get(&url).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    let again = s
        .app
        .anonymous()
        .get(&url)
        .header("if-none-match", &etag)
        .await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);

    // A stock change is visible, so the representation (and its ETag) changes.
    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "CACHE-1", "delta": 3, "reason": "restock"}),
        )
        .await;
    let changed = s
        .app
        .anonymous()
        .get(&url)
        .header("if-none-match", &etag)
        .await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    let list = s.app.anonymous().get("/api/v1/products").await;
    let list_etag = list.headers()["etag"].to_str().unwrap().to_owned();
    s.app
        .anonymous()
        .get("/api/v1/products")
        .header("if-none-match", &list_etag)
        .expect(304)
        .await;
}

#[tokio::test]
async fn admin_catalog_routes_require_the_admin_role() {
    let s = shop().await;
    let customer = s.app.register_customer().await;
    let body = json!({"name": "X", "category_id": s.categories["shirts"], "variants": [{"sku": "X-1", "price": 1, "stock_on_hand": 1}]});
    s.app
        .anonymous()
        .post("/api/v1/admin/products", &body)
        .expect_problem(401, "unauthorized")
        .await;
    s.app
        .by(&customer)
        .post("/api/v1/admin/products", &body)
        .expect_problem(403, "forbidden")
        .await;
    s.app
        .by(&customer)
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "X-1", "delta": 1, "reason": "r"}),
        )
        .expect_problem(403, "forbidden")
        .await;
    let count: i64 = sqlx::query_scalar("select count(*) from products")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn invalid_products_are_refused_naming_each_field_and_nothing_is_written() {
    let s = shop().await;
    let body = s
        .app
        .by(&s.admin)
        .post(
            "/api/v1/admin/products",
            &json!({
                "name": "",
                "slug": "Not A Slug",
                "category_id": s.categories["shirts"],
                "images": [{"url": "ftp://nope"}],
                "options": ["size"],
                "variants": [
                    {"sku": "bad sku", "price": -5, "stock_on_hand": 1, "options": {"size": "M"}},
                    {"sku": "OK-1", "price": 100, "stock_on_hand": -1, "options": {"colour": "red"}},
                    {"sku": "OK-1", "price": 100, "stock_on_hand": 1, "options": {"size": "L"}}
                ]
            }),
        )
        .expect_problem(422, "validation_failed")
        .await;
    let fields: HashSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "name",
        "slug",
        "images[0].url",
        "variants[0].sku",
        "variants[0].price",
        "variants[1].stock_on_hand",
        "variants[1].options",
        "variants[2].sku",
    ] {
        assert!(fields.contains(f), "{f} missing from {fields:?}");
    }

    let body = s
        .app
        .by(&s.admin)
        .post(
            "/api/v1/admin/products",
            &json!({
                "name": "Orphan", "category_id": "00000000-0000-0000-0000-000000000000",
                "variants": [{"sku": "ORPHAN-1", "price": 1, "stock_on_hand": 1}]
            }),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "category_id");

    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/products",
            &json!({"name": "No variants", "category_id": s.categories["shirts"], "variants": []}),
        )
        .expect_problem(422, "validation_failed")
        .await;

    let counts: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from products), (select count(*) from variants), (select count(*) from outbox_events where event_type like 'product.%')",
    ).fetch_one(&s.app.db).await.unwrap();
    assert_eq!(counts, (0, 0, 0));
}

/// An admin's POST or PATCH of `body` to `path`.
fn admin_write(s: &Shop, patch: bool, path: &str, body: &Value) -> Call {
    let admin = s.app.by(&s.admin);
    if patch {
        admin.patch(path, body)
    } else {
        admin.post(path, body)
    }
}

/// The body of a successful admin write.
async fn admin_ok(s: &Shop, patch: bool, path: &str, body: Value) -> Value {
    let resp = admin_write(s, patch, path, &body).await;
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("json body")
}

/// The fields a refused admin write names.
async fn admin_refused(s: &Shop, patch: bool, path: &str, body: Value) -> Vec<String> {
    let problem = admin_write(s, patch, path, &body)
        .expect_problem(422, "validation_failed")
        .await;
    problem_fields(&problem)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn products_name_their_category_by_slug_or_id() {
    let s = shop().await;
    const PRODUCTS: &str = "/api/v1/admin/products";
    let product = |name: &str, category: Value, price: i64| {
        let mut body = json!({"name": name, "variants": [{"sku": name.to_uppercase().replace(' ', "-"), "price": price, "stock_on_hand": 1}]});
        body.as_object_mut()
            .unwrap()
            .extend(category.as_object().unwrap().clone());
        body
    };

    // `category` takes a slug, as the bulk import does, or an id; `category_id` an id.
    for (name, category, expected) in [
        (
            "Slug Tee",
            json!({"category": "shirts"}),
            &s.categories["shirts"],
        ),
        (
            "Id Shoe",
            json!({"category": s.categories["shoes"]}),
            &s.categories["shoes"],
        ),
        (
            "Both",
            json!({"category": "shirts", "category_id": s.categories["shirts"]}),
            &s.categories["shirts"],
        ),
    ] {
        let created = admin_ok(&s, false, PRODUCTS, product(name, category, 1)).await;
        assert_eq!(created["category"]["id"], expected.as_str(), "{created}");
    }
    let slug_tee = admin_ok(
        &s,
        false,
        PRODUCTS,
        product("Moved Tee", json!({"category": "shirts"}), 1),
    )
    .await;
    let path = format!("{PRODUCTS}/{}", slug_tee["id"].as_str().unwrap());

    // A patch moves a product by slug too.
    let moved = admin_ok(&s, true, &path, json!({"category": "electronics"})).await;
    assert_eq!(
        moved["category"]["id"],
        s.categories["electronics"].as_str(),
        "{moved}"
    );

    // An unknown slug is reported with every other bad field; none given, or two that name
    // different categories, are refused too.
    let lost = product("Lost", json!({"category": "no-such-category"}), -5);
    let fields = admin_refused(&s, false, PRODUCTS, lost).await;
    assert_eq!(fields, ["category", "variants[0].price"]);
    let none = product("None", json!({}), 1);
    assert_eq!(admin_refused(&s, false, PRODUCTS, none).await, ["category"]);
    let two = product(
        "Two",
        json!({"category": "shoes", "category_id": s.categories["shirts"]}),
        1,
    );
    assert_eq!(admin_refused(&s, false, PRODUCTS, two).await, ["category"]);
    let unknown = json!({"category": "no-such-category"});
    assert_eq!(admin_refused(&s, true, &path, unknown).await, ["category"]);
}

#[tokio::test]
async fn categories_name_their_parent_by_slug_or_id() {
    let s = shop().await;
    const CATEGORIES: &str = "/api/v1/admin/categories";
    let boots = admin_ok(
        &s,
        false,
        CATEGORIES,
        json!({"name": "Boots", "parent": "shoes"}),
    )
    .await;
    assert_eq!(
        boots["parent_id"],
        s.categories["shoes"].as_str(),
        "{boots}"
    );
    let path = format!("{CATEGORIES}/{}", boots["id"].as_str().unwrap());
    let moved = admin_ok(&s, true, &path, json!({"parent": "electronics"})).await;
    assert_eq!(
        moved["parent_id"],
        s.categories["electronics"].as_str(),
        "{moved}"
    );
    let root = admin_ok(&s, true, &path, json!({"parent_id": null})).await;
    assert!(root.get("parent_id").is_none(), "{root}");

    let lost = json!({"name": "Lost", "parent": "no-such-category"});
    assert_eq!(admin_refused(&s, false, CATEGORIES, lost).await, ["parent"]);
    // A category never moves under its own subtree, named by slug either.
    let clothing = format!("{CATEGORIES}/{}", s.categories["clothing"]);
    let cycle = json!({"parent": "shirts"});
    assert_eq!(admin_refused(&s, true, &clothing, cycle).await, ["parent"]);
}

#[tokio::test]
async fn duplicate_slugs_and_skus_are_conflicts() {
    let s = shop().await;
    s.app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Unique",
            "UNIQ-1",
            100,
            1,
        )
        .await;
    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/products",
            &json!({ "name": "Other", "slug": "unique", "category_id": s.categories["shirts"], "variants": [{"sku": "UNIQ-2", "price": 1, "stock_on_hand": 1}] }),
        )
        .expect_problem(409, "slug_taken")
        .await;
    s.app
        .by(&s.admin)
        .post(
            "/api/v1/admin/products",
            &json!({ "name": "Other", "category_id": s.categories["shirts"], "variants": [{"sku": "UNIQ-1", "price": 1, "stock_on_hand": 1}] }),
        )
        .expect_problem(409, "sku_taken")
        .await;

    // Without an explicit slug, a taken name still gets a fresh slug.
    let again = s
        .app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Unique",
            "UNIQ-3",
            100,
            1,
        )
        .await;
    assert!(again["slug"].as_str().unwrap().starts_with("unique-"));
}

#[tokio::test]
async fn variants_are_added_updated_and_deleted_but_never_the_last_one() {
    let s = shop().await;
    let product = s.app.create_product(&s.admin, &json!({
        "name": "Sock", "category_id": s.categories["shirts"], "status": "active", "options": ["size"],
        "variants": [{"sku": "SOCK-S", "price": 20_000, "stock_on_hand": 4, "options": {"size": "S"}}]
    })).await;
    let pid = product["id"].as_str().unwrap();
    let admin = s.app.by(&s.admin);

    let m = admin
        .post(
            &format!("/api/v1/admin/products/{pid}/variants"),
            &json!({"sku": "SOCK-M", "price": 25_000, "stock_on_hand": 2, "options": {"size": "M"}}),
        )
        .expect(201)
        .await;

    let body = admin
        .post(
            &format!("/api/v1/admin/products/{pid}/variants"),
            &json!({"sku": "SOCK-M2", "price": 25_000, "stock_on_hand": 2, "options": {"size": "M"}}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "options");

    let resp = admin
        .patch(
            &format!("/api/v1/admin/variants/{}", m["id"].as_str().unwrap()),
            &json!({"price": 30_000, "compare_at_price": 40_000}),
        )
        .await;
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(
        (
            updated["price"].as_i64(),
            updated["compare_at_price"].as_i64()
        ),
        (Some(30_000), Some(40_000))
    );
    let listed: Value = s
        .app
        .anonymous()
        .get("/api/v1/products/sock")
        .expect(200)
        .await;
    assert_eq!(
        listed["price_max"], 30_000,
        "the price range follows the variants"
    );

    admin
        .delete(&format!(
            "/api/v1/admin/variants/{}",
            m["id"].as_str().unwrap()
        ))
        .expect(204)
        .await;
    let only = product["variants"][0]["id"].as_str().unwrap();
    admin
        .delete(&format!("/api/v1/admin/variants/{only}"))
        .expect_problem(409, "last_variant")
        .await;

    let resp = admin.delete(&format!("/api/v1/admin/products/{pid}")).await;
    assert_eq!(resp.status(), 204, "never ordered, so it can be deleted");
    s.app
        .anonymous()
        .get("/api/v1/products/sock")
        .expect_problem(404, "not_found")
        .await;
}

#[tokio::test]
async fn inventory_adjustments_keep_a_ledger_and_never_go_below_reserved() {
    let s = shop().await;
    s.app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Mug",
            "MUG-1",
            50_000,
            10,
        )
        .await;
    let admin = s.app.by(&s.admin);
    let body = admin
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "MUG-1", "delta": -4, "reason": "broken in storage"}),
        )
        .expect(201)
        .await;
    assert_eq!(body["variant"]["stock_on_hand"], 6);
    assert_eq!(body["movement"]["on_hand_after"], 6);
    assert_eq!(body["movement"]["kind"], "adjustment");

    // Reserve 5 as an unpaid order would, then try to remove more than the 1 left.
    sqlx::query("update variants set stock_reserved = 5 where sku = 'MUG-1'")
        .execute(&s.app.db)
        .await
        .unwrap();
    admin
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "MUG-1", "delta": -2, "reason": "count"}),
        )
        .expect_problem(409, "below_reserved")
        .await;

    admin
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "NOPE", "delta": 1, "reason": "x"}),
        )
        .expect_problem(404, "not_found")
        .await;
    let body = admin
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "MUG-1", "delta": 0, "reason": ""}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);

    let ledger: Value = admin
        .get("/api/v1/admin/inventory/MUG-1/movements")
        .expect(200)
        .await;
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["adjustment", "initial"]);
}

#[tokio::test]
async fn concurrent_inventory_adjustments_lose_no_update() {
    let s = shop().await;
    s.app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Busy",
            "BUSY-1",
            1_000,
            100,
        )
        .await;
    let requests = (0..40).map(|i| {
        let delta = if i % 2 == 0 { 3 } else { -1 };
        s.app
            .by(&s.admin)
            .post(
                "/api/v1/admin/inventory/adjustments",
                &json!({"sku": "BUSY-1", "delta": delta, "reason": "race"}),
            )
            .expect(201)
    });
    futures::future::join_all(requests).await;
    let (on_hand, ledger_sum, moves): (i32, i64, i64) = sqlx::query_as(
        "select v.stock_on_hand, (select sum(on_hand_delta) from stock_movements m where m.variant_id = v.variant_id),
                (select count(*) from stock_movements m where m.variant_id = v.variant_id)
         from variants v where sku = 'BUSY-1'",
    ).fetch_one(&s.app.db).await.unwrap();
    assert_eq!(on_hand, 100 + 20 * 3 - 20);
    assert_eq!(
        ledger_sum, on_hand as i64,
        "the ledger sums to the stock on hand"
    );
    assert_eq!(moves, 41);
}

#[tokio::test]
async fn a_retried_adjustment_with_the_same_idempotency_key_is_applied_once() {
    let s = shop().await;
    s.app
        .create_simple_product(
            &s.admin,
            &s.categories["shirts"],
            "Lamp",
            "LAMP-1",
            90_000,
            10,
        )
        .await;
    let adjust = |key: &'static str, delta: i64| {
        s.app
            .by(&s.admin)
            .post(
                "/api/v1/admin/inventory/adjustments",
                &json!({"sku": "LAMP-1", "delta": delta, "reason": "delivery"}),
            )
            .idempotency_key(key)
    };

    // Five concurrent retries of one request: one adjustment, five identical answers.
    let bodies =
        futures::future::join_all((0..5).map(|_| adjust("delivery-7", 5).expect(201))).await;
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "every retry sees the first result"
    );
    assert_eq!(bodies[0]["variant"]["stock_on_hand"], 15);
    assert_eq!(s.app.stock_of("LAMP-1").await, (15, 0));
    let adjustments: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements m join variants v using (variant_id)
         where v.sku = 'LAMP-1' and m.kind = 'adjustment'",
    )
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(adjustments, 1);

    // The same key with a different body is a client bug, not a replay.
    adjust("delivery-7", 6)
        .expect_problem(422, "idempotency_key_reused")
        .await;
    // A refused request stores nothing: once possible, its retry is applied.
    adjust("shrink-1", -20)
        .expect_problem(409, "below_reserved")
        .await;
    assert_eq!(s.app.stock_of("LAMP-1").await, (15, 0));
    adjust("restock", 10).expect(201).await;
    adjust("shrink-1", -20).expect(201).await;
    assert_eq!(s.app.stock_of("LAMP-1").await, (5, 0));
}

#[tokio::test]
async fn every_catalog_change_writes_an_outbox_event_in_its_transaction() {
    let s = shop().await;
    let admin = s.app.by(&s.admin);
    let product = s.app.create_product(&s.admin, &json!({
        "name": "Evented", "category_id": s.categories["shirts"], "status": "active", "options": ["size"],
        "variants": [{"sku": "EV-S", "price": 1_000, "stock_on_hand": 1, "options": {"size": "S"}}]
    })).await;
    let pid = product["id"].as_str().unwrap();
    admin
        .patch(
            &format!("/api/v1/admin/products/{pid}"),
            &json!({"name": "Evented 2"}),
        )
        .await;
    let v: Value = admin
        .post(
            &format!("/api/v1/admin/products/{pid}/variants"),
            &json!({"sku": "EV-M", "price": 1_500, "stock_on_hand": 0, "options": {"size": "M"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    admin
        .patch(
            &format!("/api/v1/admin/variants/{}", v["id"].as_str().unwrap()),
            &json!({"price": 1_600}),
        )
        .await;
    admin
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "EV-M", "delta": 5, "reason": "restock"}),
        )
        .await;
    admin
        .delete(&format!(
            "/api/v1/admin/variants/{}",
            v["id"].as_str().unwrap()
        ))
        .await;
    admin
        .patch(
            &format!("/api/v1/admin/products/{pid}"),
            &json!({"status": "archived"}),
        )
        .await;
    admin.delete(&format!("/api/v1/admin/products/{pid}")).await;

    let events = s.app.outbox_events(pid).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "product.created",
            "product.updated",
            "variant.created",
            "variant.updated",
            "stock.changed",
            "variant.deleted",
            "product.archived",
            "product.deleted",
        ]
    );
    let stock = &events[4].1;
    assert_eq!(
        (stock["sku"].as_str(), stock["available"].as_i64()),
        (Some("EV-M"), Some(5))
    );
    assert_eq!(events[0].1["product_id"], pid);
}

#[tokio::test]
async fn an_ordered_product_cannot_be_deleted_only_archived() {
    let s = shop().await;
    let product = s.app.create_product(&s.admin, &json!({
        "name": "Bestseller", "category_id": s.categories["shirts"], "status": "active", "options": ["size"],
        "variants": [
            {"sku": "BEST-S", "price": 10_000, "stock_on_hand": 5, "options": {"size": "S"}},
            {"sku": "BEST-M", "price": 10_000, "stock_on_hand": 5, "options": {"size": "M"}}
        ]
    })).await;
    let pid = product["id"].as_str().unwrap();
    let sold = product["variants"][0]["id"].as_str().unwrap();
    let buyer = s.app.register_customer().await;
    s.app.add_to_cart(&buyer, sold, 1).await;
    s.app.checkout(&buyer, "bestseller-1").expect(201).await;

    let admin = s.app.by(&s.admin);
    admin
        .delete(&format!("/api/v1/admin/variants/{sold}"))
        .expect_problem(409, "product_has_orders")
        .await;
    admin
        .delete(&format!("/api/v1/admin/products/{pid}"))
        .expect_problem(409, "product_has_orders")
        .await;
    admin
        .patch(
            &format!("/api/v1/admin/products/{pid}"),
            &json!({"status": "archived"}),
        )
        .expect(200)
        .await;
    let variants: i64 = sqlx::query_scalar("select count(*) from variants")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(variants, 2, "nothing was deleted");
}

/// Found by the schemathesis fuzz: PostgreSQL text cannot hold U+0000, which used to reach
/// the database and come back as a 500.
#[tokio::test]
async fn nul_characters_in_json_bodies_are_a_422_naming_the_field() {
    let s = shop().await;
    let body = s
        .app
        .by(&s.admin)
        .post(
            "/api/v1/admin/categories",
            &json!({"name": "Kaos", "description": "cotton\u{0}tee"}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "description");
    let body = s
        .app
        .by(&s.admin)
        .patch(
            &format!("/api/v1/admin/categories/{}", s.categories["shirts"]),
            &json!({"name": "T-\u{0}shirts"}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(body["errors"][0]["field"], "name");
}

/// Found by the schemathesis fuzz: `GET /products?category=%00...` reached PostgreSQL and was
/// a 500. A NUL in any path or query parameter is now a 400 naming it.
#[tokio::test]
async fn nul_characters_in_paths_and_query_parameters_are_a_400() {
    let s = shop().await;
    for (path, code, field) in [
        (
            "/api/v1/products?limit=5&category=shirts%00",
            "invalid_parameter",
            "category",
        ),
        ("/api/v1/search?q=%00kaos", "invalid_parameter", "q"),
        (
            "/api/v1/products/kaos%00polos",
            "invalid_path_parameter",
            "path",
        ),
        ("/api/v1/categories/%00", "invalid_path_parameter", "path"),
    ] {
        let resp = s.app.anonymous().get(path).await;
        let body = assert_problem(resp, 400, code).await;
        assert_eq!(body["errors"][0]["field"], field, "{path}");
    }
    s.app
        .anonymous()
        .get("/api/v1/products?category=shirts")
        .expect(200)
        .await;
}

/// A category's listing merges its subcategories' pages: paging through a parent category
/// in every order yields exactly the whole catalogue's order restricted to that category.
#[tokio::test]
async fn a_parent_category_pages_through_its_subcategories_in_the_global_order() {
    let s = shop().await;
    let mut in_clothing = HashSet::new();
    for i in 0..14 {
        let (category, prefix) = match i % 3 {
            0 => (&s.categories["shirts"], "Shirt"),
            1 => (&s.categories["shoes"], "Shoe"),
            _ => (&s.categories["electronics"], "Gadget"),
        };
        // Prices repeat so that ties are broken by the id across subcategories too.
        let product = s
            .app
            .create_simple_product(
                &s.admin,
                category,
                &format!("{prefix} {:02}", (i * 7) % 14),
                &format!("MERGE-{i:02}"),
                10_000 * (1 + i % 4),
                i % 5,
            )
            .await;
        if category != &s.categories["electronics"] {
            in_clothing.insert(product["id"].as_str().unwrap().to_owned());
        }
    }
    for sort in ["newest", "price_asc", "price_desc", "name"] {
        for stock in ["", "&in_stock=true"] {
            let everything: Value = s
                .app
                .anonymous()
                .get(&format!("/api/v1/products?sort={sort}&limit=100{stock}"))
                .expect(200)
                .await;
            let expected: Vec<String> = ids(&everything)
                .into_iter()
                .filter(|id| in_clothing.contains(id))
                .collect();

            let mut paged = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut url =
                    format!("/api/v1/products?category=clothing&sort={sort}&limit=3{stock}");
                if let Some(c) = &cursor {
                    url.push_str(&format!("&cursor={c}"));
                }
                let page: Value = s.app.anonymous().get(&url).expect(200).await;
                paged.extend(ids(&page));
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            assert!(!expected.is_empty());
            assert_eq!(paged, expected, "sort={sort}{stock}");
        }
    }
}

/// Every listing the API can be asked for (a category with its descendants, a brand, a price
/// range, availability; each sort), paged with cursors, lists exactly the products a plain
/// query over the table finds, in the same order. The combinations cover both ways a price
/// range is read (sparse ranges sorted from a price index, dense ones walked in page order).
#[tokio::test]
async fn every_filter_and_sort_combination_lists_what_a_plain_query_finds() {
    use rand::{rngs::StdRng, Rng, SeedableRng};

    let app = TestApp::spawn().await;
    app.state.catalog.seed(1500, 5, |_| {}).await.unwrap();
    let categories: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("select slug, category_id from categories order by slug")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let brands: Vec<String> = sqlx::query_scalar(
        "select distinct brand from products where brand is not null order by 1",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let prices: Vec<i64> = sqlx::query_scalar("select min_price from products order by 1")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(16);
    let (mut sparse, mut dense) = (0, 0);
    for round in 0..80 {
        let sort = ["newest", "price_asc", "price_desc", "name"][round % 4];
        let mut query: Vec<(&str, String)> = vec![("sort", sort.into()), ("limit", "40".into())];
        let mut conditions = vec!["p.status = 'active'".to_owned()];
        if rng.random_bool(0.5) {
            let (slug, id) = &categories[rng.random_range(0..categories.len())];
            query.push(("category", slug.clone()));
            conditions.push(format!(
                "p.category_id in (select category_id from categories where category_id = '{id}' or parent_id = '{id}')"
            ));
        }
        if rng.random_bool(0.3) {
            let brand = &brands[rng.random_range(0..brands.len())];
            query.push(("brand", brand.to_uppercase()));
            conditions.push(format!("lower(p.brand) = lower('{brand}')"));
        }
        // Most rounds bound the price, from a sliver of the catalog's prices to most of them.
        if round % 5 != 4 {
            let a = prices[rng.random_range(0..prices.len())];
            let b = prices[rng.random_range(0..prices.len())];
            let (low, high) = (a.min(b), a.max(b));
            query.push(("min_price", low.to_string()));
            query.push(("max_price", high.to_string()));
            conditions.push(format!("p.min_price between {low} and {high}"));
        }
        if rng.random_bool(0.3) {
            let in_stock = rng.random_bool(0.7);
            query.push(("in_stock", in_stock.to_string()));
            conditions.push(format!("p.in_stock = {in_stock}"));
        }
        let order = match sort {
            "newest" => "p.created_at desc, p.product_id desc",
            "price_asc" => "p.min_price asc, p.product_id asc",
            "price_desc" => "p.min_price desc, p.product_id desc",
            _ => "p.name asc, p.product_id asc",
        };
        let matching = conditions.join(" and ");
        let expected: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select p.product_id::text from products p where {matching} order by {order} limit 120"
        )))
        .fetch_all(&app.db)
        .await
        .unwrap();
        let matches: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from products p where {matching}"
        )))
        .fetch_one(&app.db)
        .await
        .unwrap();
        if matches > 500 {
            dense += 1;
        } else {
            sparse += 1;
        }

        // Three pages of 40 at most: the first page and two cursors.
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..3 {
            let mut page_query = query.clone();
            if let Some(c) = &cursor {
                page_query.push(("cursor", c.clone()));
            }
            let page = app
                .anonymous()
                .get("/api/v1/products")
                .query(&page_query)
                .expect(200)
                .await;
            listed.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(listed, expected, "{query:?}");
    }
    assert!(sparse > 0 && dense > 0, "sparse {sparse}, dense {dense}");
}
