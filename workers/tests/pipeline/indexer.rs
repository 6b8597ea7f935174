//! The search-indexer keeps search documents current from catalog events; on PostgreSQL it
//! repairs a document that drifted from its product.

use std::time::Duration;

use serde_json::{json, Value};
use toko::{
    config::{Reader, SearchConfig},
    search::{indexer::SearchIndexer, Search},
};

use toko_testkit::eventually;

use super::fixture::Pipeline;

#[tokio::test]
async fn catalog_events_repair_a_drifted_search_document() {
    let p = Pipeline::start(&[], Duration::ZERO).await;
    let pool = sqlx::PgPool::connect(&p.app.database.url).await.unwrap();
    let search = Search::from_config(
        &SearchConfig::from_reader(&Reader(&p.settings)).unwrap(),
        pool,
    )
    .unwrap();
    p.spawn_consumer("search-indexer", SearchIndexer::new(search))
        .await;

    let hits = || async {
        let body: Value = p
            .app
            .anonymous()
            .get("/api/v1/search?q=novel")
            .expect(200)
            .await;
        body["total"].as_i64().unwrap()
    };
    assert_eq!(hits().await, 1);
    // The document drifts (a bad manual fix, a bug): the product is no longer findable.
    sqlx::query("update products set search_vector = ''")
        .execute(&p.app.db)
        .await
        .unwrap();
    assert_eq!(hits().await, 0);

    // Any event about the product brings the document back.
    p.app
        .with_token(&p.admin_token)
        .post(
            "/api/v1/admin/inventory/adjustments",
            &json!({"sku": "NOVEL", "delta": 1, "reason": "recount"}),
        )
        .expect(201)
        .await;
    let found = eventually("the document back", Duration::from_secs(20), || async {
        let found = hits().await;
        (found > 0).then_some(found)
    })
    .await;
    assert_eq!(found, 1, "the indexer re-derived the document");
}
