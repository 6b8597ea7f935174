//! The Elasticsearch backend behind the whole asynchronous path: an admin's change writes an
//! outbox event, the relay publishes it, the search-indexer writes the document, and the API's
//! search finds it. Runs against the server named by `ELASTICSEARCH_URL` (osmem-server in
//! `scripts/test.sh`), each test on an index of its own.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use toko::{
    config::{Reader, SearchConfig},
    search::{indexer::SearchIndexer, Search},
};
use toko_testkit::{elasticsearch::TestIndex, eventually};
use uuid::Uuid;

use super::fixture::Pipeline;

/// How long a change may take to become searchable.
const VISIBLE_WITHIN: Duration = Duration::from_secs(5);
/// Between two renames: slow enough for the indexer to keep up, so that its writes land
/// while the reindex runs.
const RENAME_PAUSE: Duration = Duration::from_millis(25);
/// Reindexes under writes; each gives a few renames the chance to fall between the load's
/// read of the database and the alias swap.
const REINDEX_ROUNDS: usize = 6;

/// The pipeline with the API and the search-indexer on `index`, the index built once (as
/// `tokoctl search reindex` does after an install) and the indexer's queue declared.
async fn pipeline_on(index: &TestIndex) -> (Pipeline, Search) {
    let settings = index.settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = Pipeline::start(&settings, Duration::ZERO).await;
    let pool = sqlx::PgPool::connect(&p.app.database.url).await.unwrap();
    let search = Search::from_config(
        &SearchConfig::from_reader(&Reader(&p.settings)).unwrap(),
        pool,
    )
    .unwrap();
    search.backend().reindex(&|_| {}).await.expect("reindex");
    p.spawn_consumer("search-indexer", SearchIndexer::new(search.clone()))
        .await;
    p.broker.wait_for_queues("search-indexer").await;
    (p, search)
}

/// The total of a search through the API.
async fn total(p: &Pipeline, q: &str) -> i64 {
    let body = p
        .app
        .anonymous()
        .get("/api/v1/search")
        .query(&[("q", q)])
        .expect(200)
        .await;
    body["total"].as_i64().unwrap()
}

/// Waits until a search for `q` finds `expected` products; returns how long that took.
async fn visible(p: &Pipeline, q: &str, expected: i64) -> Duration {
    let since = Instant::now();
    eventually(
        &format!("search {q:?} to find {expected}"),
        VISIBLE_WITHIN,
        || async { (total(p, q).await == expected).then_some(()) },
    )
    .await;
    since.elapsed()
}

async fn patch_product(p: &Pipeline, product: Uuid, body: &Value) {
    p.app
        .with_token(&p.admin_token)
        .patch(&format!("/api/v1/admin/products/{product}"), body)
        .expect(200)
        .await;
}

#[tokio::test]
async fn a_product_change_is_searchable_within_seconds() {
    let Some(index) = TestIndex::from_env() else {
        return;
    };
    let (p, _search) = pipeline_on(&index).await;
    assert_eq!(total(&p, "novel").await, 1, "the reindex found the novel");
    let novel: Uuid = sqlx::query_scalar("select product_id from products where name = 'Novel'")
        .fetch_one(&p.app.db)
        .await
        .unwrap();

    patch_product(&p, novel, &json!({"name": "Novel Zamrud Khatulistiwa"})).await;
    let renamed = visible(&p, "zamrud", 1).await;

    let category: Uuid =
        sqlx::query_scalar("select category_id from products where product_id = $1")
            .bind(novel)
            .fetch_one(&p.app.db)
            .await
            .unwrap();
    let resp = p
        .app
        .with_token(&p.admin_token)
        .post(
            "/api/v1/admin/products",
            &json!({
                "name": "Kamus Nusantara", "category_id": category, "status": "active",
                "variants": [{ "sku": "KAMUS", "price": 120_000, "stock_on_hand": 3 }]
            }),
        )
        .await;
    assert_eq!(resp.status(), 201, "create a product");
    let created = visible(&p, "kamus", 1).await;

    patch_product(&p, novel, &json!({"status": "archived"})).await;
    let archived = visible(&p, "zamrud", 0).await;
    eprintln!(
        "visible in search after: rename {renamed:?}, create {created:?}, archive {archived:?}"
    );
}

/// Product id -> name, of every active product: in the database, and in the index.
type Names = BTreeMap<String, String>;

async fn active_in_database(p: &Pipeline) -> Names {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select product_id::text, name from products where status = 'active' order by 1",
    )
    .fetch_all(&p.app.db)
    .await
    .unwrap();
    rows.into_iter().collect()
}

async fn in_index(index: &TestIndex) -> Names {
    index
        .documents()
        .await
        .into_iter()
        .map(|(id, source)| (id, source["name"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The products on which `index` disagrees with the database.
fn differences(database: &Names, index: &Names) -> Vec<String> {
    let mut ids: Vec<&String> = database.keys().chain(index.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter(|id| database.get(*id) != index.get(*id))
        .map(|id| {
            format!(
                "{id}: database {:?}, index {:?}",
                database.get(id),
                index.get(id)
            )
        })
        .collect()
}

/// Waits until the index holds exactly the database's active products under their current
/// names, or fails listing the products that differ. A lost update never shows up: nothing
/// writes that product again.
async fn wait_until_index_matches_database(p: &Pipeline, index: &TestIndex, search: &Search) {
    let database = active_in_database(p).await;
    eventually(
        "the index to match the database",
        Duration::from_secs(20),
        || async {
            search.backend().refresh().await.expect("refresh");
            let differ = differences(&database, &in_index(index).await);
            if differ.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} products differ between the database and the index, e.g. {:?}",
                    differ.len(),
                    &differ[..differ.len().min(5)]
                ))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_reindex_under_concurrent_writes_loses_no_update() {
    let Some(index) = TestIndex::from_env() else {
        return;
    };
    let (p, search) = pipeline_on(&index).await;
    // A bulk seed writes no events: a reindex brings its products in, as after `tokoctl
    // catalog seed`.
    p.app.state.catalog.seed(300, 7, |_| {}).await.unwrap();
    search.backend().reindex(&|_| {}).await.expect("reindex");
    wait_until_index_matches_database(&p, &index, &search).await;
    let products: Vec<Uuid> =
        sqlx::query_scalar("select product_id from products where status = 'active' order by 1")
            .fetch_all(&p.app.db)
            .await
            .unwrap();

    // Each round renames products one after another, each for the first and only time,
    // through the API, for exactly as long as one reindex runs. A rename that the indexer
    // writes only into the index the swap then retires is lost for good: no later event and
    // no later reindex brings it back, so the check after each round sees it.
    let mut renamed = 0;
    for round in 0..REINDEX_ROUNDS {
        let reindexing = AtomicBool::new(true);
        let writer = async {
            let mut done = 0;
            for &product in &products[renamed..] {
                if !reindexing.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("Produk Ubahan {round}-{done}");
                patch_product(&p, product, &json!({ "name": name })).await;
                done += 1;
                tokio::time::sleep(RENAME_PAUSE).await;
            }
            done
        };
        let reindex = async {
            let started = Instant::now();
            search.backend().reindex(&|_| {}).await.expect("reindex");
            reindexing.store(false, Ordering::SeqCst);
            started.elapsed()
        };
        let (done, took) = tokio::join!(writer, reindex);
        eprintln!("round {round}: {done} renames during a reindex of {took:?}");
        assert!(done > 0, "round {round}: no rename overlapped the reindex");
        assert!(
            renamed + done < products.len(),
            "the catalog is too small for the rounds"
        );
        renamed += done;
        wait_until_index_matches_database(&p, &index, &search).await;
    }
}
