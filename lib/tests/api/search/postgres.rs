//! What only the PostgreSQL backend promises: documents current in the writing transaction
//! (no indexer involved), a reindex that repairs them, the `websearch_to_tsquery` syntax, and
//! search in the readiness check.

use serde_json::{json, Value};
use toko::search::{postgres::tsquery, syntax};

use super::{name_set, sorted, Engine, Shop};

async fn shop() -> Shop {
    super::shop(Engine::Postgres)
        .await
        .expect("PostgreSQL is always available")
}

#[tokio::test]
async fn changes_are_searchable_as_soon_as_they_commit() {
    let s = shop().await;
    // A renamed category renames its products' documents in the same transaction.
    let kaos = &s.categories["kaos"];
    s.admin_patch(
        &format!("/api/v1/admin/categories/{kaos}"),
        &json!({"name": "Atasan Pria"}),
    )
    .await;
    assert_eq!(
        name_set(&s.search(&[("q", "atasan")]).await),
        sorted(&[
            "Kaos Grafis Hitam Putih",
            "Kaos Polos Hitam",
            "Kaos Polos Putih"
        ])
    );
    // A renamed product too, new words included in typo correction.
    let mug = &s.products["Mug Café Keramik"];
    s.admin_patch(
        &format!("/api/v1/admin/products/{mug}"),
        &json!({"name": "Gelas Tumbler Stainless"}),
    )
    .await;
    assert_eq!(
        name_set(&s.search(&[("q", "tumbler")]).await),
        sorted(&["Gelas Tumbler Stainless"])
    );
    assert_eq!(
        name_set(&s.search(&[("q", "tumbelr")]).await),
        sorted(&["Gelas Tumbler Stainless"])
    );
    assert_eq!(s.search(&[("q", "cafe")]).await["total"], 0);
}

#[tokio::test]
async fn reindex_rebuilds_documents_and_the_typo_vocabulary() {
    let s = shop().await;
    // As if rows had been bulk-loaded with the triggers off.
    sqlx::query("update products set search_vector = ''")
        .execute(&s.app.db)
        .await
        .unwrap();
    sqlx::query("delete from search_terms")
        .execute(&s.app.db)
        .await
        .unwrap();
    assert_eq!(s.search(&[("q", "kaos")]).await["total"], 0);

    let progress = std::sync::Mutex::new(Vec::new());
    let summary = s
        .search_backend()
        .reindex(&|p| progress.lock().unwrap().push((p.done, p.total)))
        .await
        .unwrap();
    assert_eq!(
        summary.documents, 11,
        "every product, drafts and archived included"
    );
    assert_eq!(progress.into_inner().unwrap().last(), Some(&(11, 11)));
    assert_eq!(s.search(&[("q", "kaos")]).await["total"], 3);
    assert_eq!(
        s.search(&[("q", "iphnoe")]).await["total"],
        3,
        "typos are corrected again"
    );
    let vocabulary: i64 =
        sqlx::query_scalar("select count(*) from search_terms where term = 'rahasia'")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(
        vocabulary, 0,
        "the vocabulary holds words of active products only"
    );
}

/// Without typos or a word being typed, the composed query is what `websearch_to_tsquery`
/// makes of the same text: the syntax is PostgreSQL's own. (One deliberate difference: `or`
/// joins only its two neighbours, `a b or c` being `a & (b | c)` as web search engines read
/// it, where `websearch_to_tsquery` reads `(a & b) | c`.)
#[tokio::test]
async fn the_syntax_is_websearch_to_tsquery() {
    let s = shop().await;
    for q in [
        "kaos polos ",
        r#""polos hitam" kaos "#,
        "kaos -putih ",
        r#"kaos -"polos putih" "#,
        "hitam or putih ",
        "usb-c 2.0 ",
        "Café KERAMIK ",
    ] {
        let parsed = syntax::parse(q);
        let analyses = tsquery::analyze(&s.app.db, &parsed).await.unwrap();
        let composed = tsquery::compose(&parsed, &analyses).unwrap().matches;
        let (same, theirs): (bool, String) = sqlx::query_as(
            "select $1::tsquery = websearch_to_tsquery('toko_search', $2), websearch_to_tsquery('toko_search', $2)::text",
        )
        .bind(&composed)
        .bind(q)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
        assert!(
            same,
            "{q:?}: ours {composed:?}, websearch_to_tsquery {theirs:?}"
        );
    }
}

#[tokio::test]
async fn readiness_includes_search() {
    let s = shop().await;
    let ready: Value = s.app.anonymous().get("/health/ready").expect(200).await;
    assert_eq!(ready["checks"]["search"]["ok"], true, "{ready}");
}
