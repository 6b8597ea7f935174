//! The API's search result cache: repeated queries are answered from memory, and any catalog
//! change, through the API or straight in the database, empties it once committed.

use std::time::Duration;

use serde_json::json;
use toko_testkit::eventually;

use super::{name_set, shop, sorted, Engine, Shop};

async fn cached_shop() -> Shop {
    shop(Engine::PostgresCached)
        .await
        .expect("PostgreSQL is always available")
}

#[tokio::test]
async fn repeated_queries_are_answered_from_the_cache_until_the_catalog_changes() {
    let s = cached_shop().await;
    let query = [("q", "mug")];
    // The listener starts with the app; until it listens, nothing is cached.
    let first = eventually("the cache listens", Duration::from_secs(5), || async {
        s.search(&query).await;
        // A write the triggers cannot see (they are disabled for it) ...
        sqlx::query("alter table products disable trigger products_notify_catalog_changed")
            .execute(&s.app.db)
            .await
            .unwrap();
        sqlx::query("update products set name = 'Cangkir Teh' where name = 'Mug Café Keramik'")
            .execute(&s.app.db)
            .await
            .unwrap();
        sqlx::query("alter table products enable trigger products_notify_catalog_changed")
            .execute(&s.app.db)
            .await
            .unwrap();
        // ... so a cached answer still shows the old name.
        let after = s.search(&query).await;
        let cached = name_set(&after) == sorted(&["Mug Café Keramik"]);
        if !cached {
            // Not listening yet: undo and try again.
            sqlx::query("update products set name = 'Mug Café Keramik' where name = 'Cangkir Teh'")
                .execute(&s.app.db)
                .await
                .unwrap();
        }
        cached.then_some(after)
    })
    .await;
    assert_eq!(name_set(&first), sorted(&["Mug Café Keramik"]));

    // Any committed change notifies: the next answers are computed afresh.
    sqlx::query("update categories set description = 'x' where slug = 'dapur'")
        .execute(&s.app.db)
        .await
        .unwrap();
    eventually("the cache is emptied", Duration::from_secs(5), || async {
        let names = name_set(&s.search(&[("q", "cangkir")]).await);
        (names == sorted(&["Cangkir Teh"])).then_some(())
    })
    .await;
    let names = name_set(&s.search(&query).await);
    assert!(
        !names.contains(&"Mug Café Keramik".to_owned()),
        "the old name is gone: {names:?}"
    );

    // A change through the API, as a shopper would see it.
    let product = &s.products["Mug Café Keramik"];
    s.admin_patch(
        &format!("/api/v1/admin/products/{product}"),
        &json!({"name": "Gelas Tumbler Stainless"}),
    )
    .await;
    eventually("the rename shows", Duration::from_secs(5), || async {
        let names = name_set(&s.search(&[("q", "tumbler")]).await);
        (names == sorted(&["Gelas Tumbler Stainless"])).then_some(())
    })
    .await;
}
