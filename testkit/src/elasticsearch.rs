//! A search index of a test's own on the Elasticsearch-compatible server named by
//! `ELASTICSEARCH_URL`: a unique alias (toko builds `<alias>-<timestamp>` indices behind it),
//! removed with its indices and index template when the test ends, passed or not.
//!
//! `scripts/test.sh` starts osmem-server (an in-memory emulator of the OpenSearch API) for the
//! whole run and exports the variable; pointing it at a real cluster runs the same specs there
//! (`ELASTICSEARCH_USERNAME` / `ELASTICSEARCH_PASSWORD` are passed on when set).

use serde_json::Value;

pub struct TestIndex {
    /// The server, without a trailing slash.
    pub url: String,
    /// What toko is configured with as `ELASTICSEARCH_INDEX`.
    pub alias: String,
    credentials: Option<(String, String)>,
}

impl TestIndex {
    /// A fresh alias on the server, or `None` (with a note) when `ELASTICSEARCH_URL` is unset.
    /// Under CI (`CI` set) a missing server fails the test instead: there the Elasticsearch
    /// specs must run, never be skipped.
    pub fn from_env() -> Option<Self> {
        let Ok(url) = std::env::var("ELASTICSEARCH_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "ELASTICSEARCH_URL is unset under CI: scripts/test.sh starts osmem-server and sets it"
            );
            eprintln!("skipped: no Elasticsearch (set ELASTICSEARCH_URL, or run scripts/test.sh)");
            return None;
        };
        let credentials = match (
            std::env::var("ELASTICSEARCH_USERNAME"),
            std::env::var("ELASTICSEARCH_PASSWORD"),
        ) {
            (Ok(user), Ok(password)) => Some((user, password)),
            _ => None,
        };
        Some(Self {
            url: url.trim_end_matches('/').to_owned(),
            alias: format!("toko-test-{}", uuid::Uuid::new_v4().simple()),
            credentials,
        })
    }

    /// The settings that put toko (the API or a worker) on this index.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![
            ("SEARCH_BACKEND", "elasticsearch".to_owned()),
            ("ELASTICSEARCH_URL", self.url.clone()),
            ("ELASTICSEARCH_INDEX", self.alias.clone()),
        ];
        if let Some((user, password)) = &self.credentials {
            settings.push(("ELASTICSEARCH_USERNAME", user.clone()));
            settings.push(("ELASTICSEARCH_PASSWORD", password.clone()));
        }
        settings
    }

    /// A request to the server with the test's credentials.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let request = client.request(method, format!("{}/{path}", self.url));
        match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Every document behind the alias (`_source` by `_id`), read straight from the server.
    pub async fn documents(&self) -> Vec<(String, Value)> {
        let client = reqwest::Client::new();
        let body: Value = self
            .request(
                &client,
                reqwest::Method::POST,
                &format!("{}/_search", self.alias),
            )
            .json(&serde_json::json!({ "size": 10_000, "query": { "match_all": {} } }))
            .send()
            .await
            .expect("search the test index")
            .error_for_status()
            .expect("search the test index")
            .json()
            .await
            .expect("search response");
        body["hits"]["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|hit| {
                (
                    hit["_id"].as_str().expect("_id").to_owned(),
                    hit["_source"].clone(),
                )
            })
            .collect()
    }

    async fn remove(&self) -> Result<(), reqwest::Error> {
        let client = reqwest::Client::new();
        let targets: Value = self
            .request(
                &client,
                reqwest::Method::GET,
                &format!("_alias/{}", self.alias),
            )
            .send()
            .await?
            .json()
            .await?;
        for index in targets.as_object().into_iter().flat_map(|o| o.keys()) {
            self.request(&client, reqwest::Method::DELETE, index)
                .send()
                .await?
                .error_for_status()?;
        }
        self.request(
            &client,
            reqwest::Method::DELETE,
            &format!("_index_template/{}", self.alias),
        )
        .send()
        .await?;
        Ok(())
    }
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        // Drop cannot await and the test's runtime may be shutting down: use a thread.
        let this = &*self;
        let removed = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime.block_on(this.remove()).ok()
                })
                .join()
        });
        if !matches!(removed, Ok(Some(()))) {
            eprintln!(
                "could not remove Elasticsearch index {} (delete {}-* by hand)",
                self.alias, self.alias
            );
        }
    }
}
