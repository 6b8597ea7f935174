//! Public catalog reads are served from memory until the catalog changes: product pages,
//! listings and category filters answer from the cache, and any committed change — through the
//! API or straight in the database, stock included — empties it.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use toko_testkit::{eventually, TestApp};

/// A write the change triggers do not see, to tell a cached answer from a fresh one.
async fn unnoticed(db: &PgPool, statement: &str) {
    let mut tx = db.begin().await.unwrap();
    for sql in [
        "alter table products disable trigger products_notify_catalog_changed",
        statement,
        "alter table products enable trigger products_notify_catalog_changed",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Waits until the app follows catalog changes (its caches are bypassed until then).
async fn listening(app: &TestApp) {
    let changes = app.state.catalog_changes.clone().expect("caches are on");
    eventually("the change listener", Duration::from_secs(15), || async {
        changes.is_listening().then_some(())
    })
    .await;
}

/// Renames the product behind the database's back until a read of each path still shows the
/// old name: the answers then come from memory. Each try renames to a new name, so a try that
/// cached the renamed answer (a late notification emptied the cache in between) does not spoil
/// the next. Returns the name in the database.
async fn rename_unnoticed_until_cached(app: &TestApp, paths: &[&str]) -> String {
    let name_at = |body: &Value| {
        let name = if body["items"].is_array() {
            &body["items"][0]["name"]
        } else {
            &body["name"]
        };
        name.as_str().unwrap().to_owned()
    };
    listening(app).await;
    eventually("reads are cached", Duration::from_secs(15), || async {
        let mut before = Vec::new();
        for path in paths {
            before.push(name_at(&get(app, path).await));
        }
        let renamed = format!("Lamp {}", uuid::Uuid::new_v4().simple());
        unnoticed(&app.db, &format!("update products set name = '{renamed}'")).await;
        let mut after = Vec::new();
        for path in paths {
            after.push(name_at(&get(app, path).await));
        }
        (after == before).then_some(renamed)
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> Value {
    let resp = app.anonymous().get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

/// Read-your-writes: a write through the API empties this process's caches before it
/// answers, even when the database's change notification has not arrived (here: never).
#[tokio::test]
async fn a_write_through_the_api_is_seen_by_the_next_read_without_waiting_for_the_notification() {
    let app = TestApp::builder()
        .setting("CATALOG_CACHE_ENTRIES", "100")
        .spawn()
        .await;
    let admin = app.register_admin().await;
    let category = app.create_category_id(&admin, "Lamps", None).await;
    let product = app
        .create_simple_product(&admin, &category, "Desk Lamp", "LAMP-W", 120_000, 5)
        .await;
    let id = product["id"].as_str().unwrap().to_owned();
    let page_path = format!("/api/v1/products/{id}");
    let name = rename_unnoticed_until_cached(&app, &[&page_path]).await;

    // From here on the database tells no listener about product changes.
    sqlx::query("alter table products disable trigger products_notify_catalog_changed")
        .execute(&app.db)
        .await
        .unwrap();
    app.by(&admin)
        .patch(
            &format!("/api/v1/admin/products/{id}"),
            &json!({"description": "Warm light"}),
        )
        .expect(200)
        .await;
    let page = get(&app, &page_path).await;
    assert_eq!(page["name"], name, "the write emptied the cache");
    assert_eq!(page["description"], "Warm light");
}

#[tokio::test]
async fn reads_come_from_memory_until_a_committed_change_empties_the_cache() {
    let app = TestApp::builder()
        .setting("CATALOG_CACHE_ENTRIES", "100")
        .spawn()
        .await;
    let admin = app.register_admin().await;
    let category = app.create_category_id(&admin, "Lamps", None).await;
    let product = app
        .create_simple_product(&admin, &category, "Desk Lamp", "LAMP-C", 120_000, 5)
        .await;
    let id = product["id"].as_str().unwrap().to_owned();
    let page_path = format!("/api/v1/products/{id}");
    let list_path = "/api/v1/products?category=lamps";

    // Once the cache listens, an unnoticed rename is not seen: the answers come from memory.
    let name = rename_unnoticed_until_cached(&app, &[&page_path, list_path]).await;

    // A stock change (a variant write, which refreshes the product's aggregates) notifies.
    sqlx::query("update variants set stock_on_hand = 0 where sku = 'LAMP-C'")
        .execute(&app.db)
        .await
        .unwrap();
    eventually("the cache is emptied", Duration::from_secs(15), || async {
        let page = get(&app, &page_path).await;
        let list = get(&app, list_path).await;
        (page["name"] == name && list["items"][0]["name"] == name).then_some(page)
    })
    .await;
    let in_stock = get(&app, "/api/v1/products?category=lamps&in_stock=true").await;
    assert_eq!(in_stock["items"].as_array().unwrap().len(), 0);

    // Through the API: archiving hides the product at once for shoppers.
    app.by(&admin)
        .patch(
            &format!("/api/v1/admin/products/{id}"),
            &json!({"status": "archived"}),
        )
        .expect(200)
        .await;
    eventually(
        "the archived product is gone",
        Duration::from_secs(15),
        || async {
            let gone = app.anonymous().get(&page_path).await.status() == 404;
            let list = get(&app, list_path).await;
            (gone && list["items"].as_array().unwrap().is_empty()).then_some(())
        },
    )
    .await;
}
