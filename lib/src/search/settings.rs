//! Settings of product search (`SEARCH_*`, `ELASTICSEARCH_*`).

use crate::config::{ConfigError, Reader, Secret};

/// Settings of an Elasticsearch cluster (`SEARCH_BACKEND=elasticsearch`).
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    pub url: url::Url,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The alias queries and writes go to; indices are `<alias>-<timestamp>` behind it.
    pub index: String,
}

/// Which engine answers searches.
#[derive(Debug, Clone)]
pub enum SearchBackendConfig {
    Postgres,
    Elasticsearch(ElasticsearchConfig),
}

/// Settings of product search.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub backend: SearchBackendConfig,
    /// Ascending bounds of the price-range facet, in minor units of the store currency.
    pub price_ranges: Vec<i64>,
}

impl SearchConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let backend = match r
            .string("SEARCH_BACKEND", "postgres")
            .to_ascii_lowercase()
            .as_str()
        {
            "postgres" | "postgresql" => SearchBackendConfig::Postgres,
            "elasticsearch" => {
                SearchBackendConfig::Elasticsearch(ElasticsearchConfig::from_reader(r)?)
            }
            other => {
                return Err(ConfigError::Invalid {
                    name: "SEARCH_BACKEND",
                    reason: format!("expected postgres or elasticsearch, got {other:?}"),
                })
            }
        };
        let invalid_ranges = |reason: &str| ConfigError::Invalid {
            name: "SEARCH_PRICE_RANGES",
            reason: reason.to_owned(),
        };
        let price_ranges = r
            .string(
                "SEARCH_PRICE_RANGES",
                "50000,100000,250000,500000,1000000,5000000",
            )
            .split(',')
            .map(|v| v.trim().parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                invalid_ranges("expected comma-separated whole amounts, e.g. 50000,100000")
            })?;
        if price_ranges.is_empty()
            || price_ranges.len() > 20
            || price_ranges.iter().any(|&p| p <= 0)
        {
            return Err(invalid_ranges("expected 1 to 20 positive amounts"));
        }
        if !price_ranges.windows(2).all(|w| w[0] < w[1]) {
            return Err(invalid_ranges("amounts must be strictly ascending"));
        }
        Ok(Self {
            backend,
            price_ranges,
        })
    }
}

impl ElasticsearchConfig {
    fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let raw = r.required("ELASTICSEARCH_URL")?;
        let url = url::Url::parse(&raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(ConfigError::Invalid {
                name: "ELASTICSEARCH_URL",
                reason: "expected an http(s) URL such as http://127.0.0.1:9200".into(),
            })?;
        let username = r.optional("ELASTICSEARCH_USERNAME");
        let password = r.optional("ELASTICSEARCH_PASSWORD").map(Secret::new);
        if username.is_some() && password.is_none() {
            return Err(ConfigError::Missing("ELASTICSEARCH_PASSWORD"));
        }
        if password.is_some() && username.is_none() {
            return Err(ConfigError::Missing("ELASTICSEARCH_USERNAME"));
        }
        let index = r.string("ELASTICSEARCH_INDEX", "toko-products");
        // Elasticsearch's index naming rules (the alias's indices add `-<timestamp>`).
        let valid_index = !index.is_empty()
            && index.len() <= 200
            && !index.starts_with(['-', '_', '+', '.'])
            && index.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !valid_index {
            return Err(ConfigError::Invalid {
                name: "ELASTICSEARCH_INDEX",
                reason: "expected lowercase letters, digits, '-', '_' or '.', not starting with '-', '_' or '.'".into(),
            });
        }
        Ok(Self {
            url,
            username,
            password,
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn search_defaults_to_postgres_and_elasticsearch_needs_its_url() {
        let base = [
            ("DATABASE_URL", "postgres://localhost/toko"),
            ("JWT_SECRET", "x"),
        ];
        let config = crate::config::ApiConfig::from_source(&source(&base)).unwrap();
        assert!(matches!(
            config.search.backend,
            SearchBackendConfig::Postgres
        ));
        assert_eq!(config.search.price_ranges[0], 50_000);

        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            crate::config::ApiConfig::from_source(&source(&pairs))
        };
        let err = with(&[("SEARCH_BACKEND", "elasticsearch")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variable ELASTICSEARCH_URL"
        );
        let err = with(&[("SEARCH_BACKEND", "solr")]).unwrap_err();
        assert!(err.to_string().contains("SEARCH_BACKEND"), "{err}");
        let err = with(&[
            ("SEARCH_BACKEND", "elasticsearch"),
            ("ELASTICSEARCH_URL", "localhost:9200"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("ELASTICSEARCH_URL"), "{err}");
        let err = with(&[
            ("SEARCH_BACKEND", "elasticsearch"),
            ("ELASTICSEARCH_URL", "http://es:9200"),
            ("ELASTICSEARCH_USERNAME", "elastic"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variable ELASTICSEARCH_PASSWORD"
        );
        let err = with(&[
            ("SEARCH_BACKEND", "elasticsearch"),
            ("ELASTICSEARCH_URL", "http://es:9200"),
            ("ELASTICSEARCH_INDEX", "Products"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("ELASTICSEARCH_INDEX"), "{err}");
        let err = with(&[("SEARCH_PRICE_RANGES", "100,50")]).unwrap_err();
        assert!(err.to_string().contains("SEARCH_PRICE_RANGES"), "{err}");

        let config = with(&[
            ("SEARCH_BACKEND", "elasticsearch"),
            ("ELASTICSEARCH_URL", "https://es.internal:9200"),
            ("ELASTICSEARCH_USERNAME", "elastic"),
            ("ELASTICSEARCH_PASSWORD", "s3cret-value"),
        ])
        .unwrap();
        let SearchBackendConfig::Elasticsearch(es) = &config.search.backend else {
            panic!("elasticsearch expected")
        };
        assert_eq!(
            (es.url.as_str(), es.index.as_str()),
            ("https://es.internal:9200/", "toko-products")
        );
        assert!(
            !format!("{config:?}").contains("s3cret-value"),
            "the password never prints"
        );
    }
}
