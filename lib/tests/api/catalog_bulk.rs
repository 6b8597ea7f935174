//! Bulk data: import (JSON lines and CSV, upsert by SKU, one transaction per record) and the
//! demo seed.

use std::collections::HashSet;

use serde_json::Value;
use toko::catalog::import::{parse_csv, parse_jsonl, ImportOutcome};
use toko_testkit::TestApp;

#[tokio::test]
async fn jsonl_import_creates_then_updates_by_sku_and_reports_bad_lines() {
    let app = TestApp::spawn().await;
    let admin = app.register_admin().await;
    app.create_category(&admin, "Shirts", None).await;
    let catalog = &app.state.catalog;

    let first = r#"{"name":"Kaos Import","category":"shirts","status":"active","options":["size"],"variants":[{"sku":"IMP-S","price":50000,"stock_on_hand":5,"options":{"size":"S"}},{"sku":"IMP-M","price":52000,"stock_on_hand":0,"options":{"size":"M"}}]}
{"name":"Broken","category":"shirts","variants":[{"sku":"BAD SKU","price":1,"stock_on_hand":1}]}
{"name":"Lost","category":"no-such-category","variants":[{"sku":"LOST-1","price":1,"stock_on_hand":1}]}
not json at all
"#;
    let mut outcomes = Vec::new();
    for (line, record) in parse_jsonl(first) {
        outcomes.push((
            line,
            match record {
                Ok(r) => catalog
                    .import_product(r, None)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
        ));
    }
    assert_eq!(outcomes[0], (1, Ok(ImportOutcome::Created)));
    assert!(outcomes[1].1.is_err() && outcomes[1].0 == 2);
    assert!(
        outcomes[2]
            .1
            .as_ref()
            .unwrap_err()
            .contains("invalid input"),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(outcomes[3].0, 4);
    let products: i64 = sqlx::query_scalar("select count(*) from products")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(products, 1, "bad records leave nothing behind");

    // Re-importing by SKU updates the price and sets stock through the ledger.
    let second = r#"{"name":"Kaos Import v2","category":"shirts","options":["size"],"variants":[{"sku":"IMP-S","price":55000,"stock_on_hand":9,"options":{"size":"S"}},{"sku":"IMP-L","price":56000,"stock_on_hand":2,"options":{"size":"L"}}]}"#;
    let (_, record) = parse_jsonl(second).remove(0);
    assert_eq!(
        catalog.import_product(record.unwrap(), None).await.unwrap(),
        ImportOutcome::Updated
    );
    let product: Value = app
        .anonymous()
        .get("/api/v1/products/kaos-import")
        .expect(200)
        .await;
    assert_eq!(product["name"], "Kaos Import v2");
    let skus: Vec<(&str, i64, i64)> = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().unwrap(),
                v["price"].as_i64().unwrap(),
                v["available"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        skus,
        vec![
            ("IMP-S", 55000, 9),
            ("IMP-M", 52000, 0),
            ("IMP-L", 56000, 2)
        ]
    );
    let ledger: Vec<(String, i32)> = sqlx::query_as(
        "select kind, on_hand_delta from stock_movements where sku = 'IMP-S' order by movement_id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        vec![("initial".to_owned(), 5), ("import".to_owned(), 4)]
    );
}

#[tokio::test]
async fn csv_import_groups_rows_by_product_slug() {
    let app = TestApp::spawn().await;
    let admin = app.register_admin().await;
    app.create_category(&admin, "Shoes", None).await;
    let csv = "product_slug,product_name,category,brand,status,description,sku,price,compare_at_price,weight_grams,stock_on_hand,options\n\
               runner-x,Runner X,shoes,Ortuseight,active,Light running shoe,RUNX-40,450000,,700,3,size=40\n\
               runner-x,Runner X,shoes,Ortuseight,active,Light running shoe,RUNX-41,450000,500000,720,0,size=41\n\
               runner-x,Runner X,shoes,Ortuseight,active,Light running shoe,RUNX-42,-1,,720,0,size=42\n";
    let mut results = Vec::new();
    for (line, record) in parse_csv(csv) {
        let outcome = app
            .state
            .catalog
            .import_product(record.unwrap(), None)
            .await
            .map_err(|e| e.to_string());
        results.push((line, outcome));
    }
    assert_eq!(results[0], (2, Ok(ImportOutcome::Created)));
    assert_eq!(results[1], (3, Ok(ImportOutcome::Updated)));
    assert_eq!(results[2].0, 4);
    assert!(results[2].1.is_err(), "a negative price is refused");
    let product: Value = app
        .anonymous()
        .get("/api/v1/products/runner-x")
        .expect(200)
        .await;
    assert_eq!(product["variants"].as_array().unwrap().len(), 2);
    assert_eq!(product["brand"], "Ortuseight");
}

#[tokio::test]
async fn the_seed_builds_a_browsable_consistent_catalog() {
    let app = TestApp::spawn().await;
    let summary = app.state.catalog.seed(300, 7, |_| {}).await.unwrap();
    assert_eq!(summary.products, 300);
    assert!(summary.variants >= 300);
    let (active, ledger_drift): (i64, i64) = sqlx::query_as(
        "select (select count(*) from products where status = 'active'),
                (select count(*) from variants v where v.stock_on_hand <>
                    coalesce((select sum(on_hand_delta) from stock_movements m where m.variant_id = v.variant_id), 0))",
    ).fetch_one(&app.db).await.unwrap();
    assert!(active > 250, "{active}");
    assert_eq!(
        ledger_drift, 0,
        "every variant's stock is explained by the ledger"
    );

    let page: Value = app
        .anonymous()
        .get("/api/v1/products?category=fashion&limit=5")
        .expect(200)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let tree: Value = app.anonymous().get("/api/v1/categories").expect(200).await;
    assert!(tree["items"].as_array().unwrap().len() >= 7);
    // Seeding twice adds products without clashing slugs or SKUs.
    app.state.catalog.seed(10, 7, |_| {}).await.unwrap();
}

#[tokio::test]
async fn seeded_products_have_attributes_that_fit_their_department() {
    const FABRICS: &[&str] = &[
        "cotton",
        "linen",
        "denim",
        "flannel",
        "polyester",
        "fleece",
        "jersey",
    ];
    const ELECTRONICS_BRANDS: &[&str] =
        &["Samsung", "Xiaomi", "Asus", "Lenovo", "Sony", "Logitech"];
    let app = TestApp::spawn().await;
    app.state.catalog.seed(400, 11, |_| {}).await.unwrap();
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "select d.name, c.name, p.brand, p.attributes->>'material', p.description
         from products p join categories c on c.category_id = p.category_id
         join categories d on d.category_id = c.parent_id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 400);
    let departments: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(departments.len() >= 6, "{departments:?}");
    for (department, category, brand, material, description) in &rows {
        let what = format!("{department} > {category}: {brand}, {material}");
        assert!(
            description.contains(&format!("made with {material}")),
            "{what}: {description}"
        );
        if department != "Fashion"
            && department != "Home & Living"
            && department != "Sports & Outdoors"
        {
            assert!(!FABRICS.iter().any(|f| material.contains(f)), "{what}");
        }
        if department != "Electronics" {
            assert!(!ELECTRONICS_BRANDS.contains(&brand.as_str()), "{what}");
        }
        if department == "Electronics" || department == "Groceries" || department == "Beauty" {
            assert!(
                !["leather", "linen", "teak wood", "rattan"].contains(&material.as_str()),
                "{what}"
            );
        }
    }
}
