//! `search-indexer`: keeps search documents current from product, variant, stock and category
//! events (see `toko::search::indexer`).

use toko::{
    config::{ProcessEnv, Reader, SearchConfig},
    search::{indexer::SearchIndexer, Search},
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("search-indexer", |worker| {
        let config = SearchConfig::from_reader(&Reader(&ProcessEnv))?;
        let search = Search::from_config(&config, worker.pool.clone())?;
        worker.consume(SearchIndexer::new(search))?;
        Ok(())
    })
    .await
}
