//! What a search asks for and what it answers, shared by every backend.

use uuid::Uuid;

use super::{syntax, SearchError};
use crate::catalog::{listing::ProductFilter, ProductSummary};

/// Results past this position are not served (Elasticsearch's default `max_result_window`,
/// kept for PostgreSQL too so both backends accept the same requests).
pub const MAX_RESULT_WINDOW: i64 = 10_000;

/// At most this many values per facet (the most frequent); price ranges are all listed.
pub const FACET_SIZE: usize = 20;

/// Longest accepted `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Order of the hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchSort {
    /// Best match first; with an empty `q`, newest first.
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

/// A validated search request.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// `q` as typed.
    pub text: String,
    pub parsed: syntax::ParsedQuery,
    /// The same filters as the product list (category subtree, brand, price, stock).
    pub filter: ProductFilter,
    pub sort: SearchSort,
    /// 1-based.
    pub page: i64,
    pub size: i64,
}

impl SearchQuery {
    /// What makes two queries ask the same (`parsed` follows from `text`).
    pub fn cache_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}|{}",
            self.text, self.filter, self.sort, self.page, self.size
        )
    }

    /// Checks the bounds the HTTP layer cannot express on its own (the result window).
    pub fn new(
        text: &str,
        filter: ProductFilter,
        sort: SearchSort,
        page: i64,
        size: i64,
    ) -> Result<Self, SearchError> {
        let invalid = |name, message: String| Err(SearchError::InvalidParameter { name, message });
        if text.chars().count() > MAX_QUERY_CHARS {
            return invalid("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
        }
        if page < 1 {
            return invalid("page", "must be at least 1".into());
        }
        if !(1..=100).contains(&size) {
            return invalid("size", "must be between 1 and 100".into());
        }
        if page.saturating_mul(size) > MAX_RESULT_WINDOW {
            return invalid("page", format!("only the first {MAX_RESULT_WINDOW} results can be paged through; refine the query"));
        }
        Ok(Self {
            text: text.to_owned(),
            parsed: syntax::parse(text),
            filter,
            sort,
            page,
            size,
        })
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.size
    }
}

/// What a result's highlights show: HTML-escaped text with matches wrapped in `<mark>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Highlight {
    /// The whole name.
    pub name: String,
    /// A fragment of the description around the matches (its beginning when only other
    /// fields matched); `None` without a description.
    pub snippet: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub product: ProductSummary,
    /// Relevance as the backend computes it: comparable within one response only.
    pub score: f64,
    pub highlight: Highlight,
}

/// A facet value and how many matching products have it.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetCount<K> {
    pub value: K,
    pub count: i64,
}

/// A category facet value.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryValue {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

/// A price range of the product's lowest variant price: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl PriceRange {
    /// The ranges cut by `bounds` (ascending): below the first, between each pair, above the last.
    pub fn all(bounds: &[i64]) -> Vec<Self> {
        let mut edges: Vec<Option<i64>> = vec![None];
        edges.extend(bounds.iter().copied().map(Some));
        edges.push(None);
        edges
            .windows(2)
            .map(|w| Self {
                from: w[0],
                to: w[1],
            })
            .collect()
    }

    /// A stable name, `*-50000`, `50000-100000`, `5000000-*`.
    pub fn key(&self) -> String {
        let edge = |e: Option<i64>| e.map_or("*".to_owned(), |v| v.to_string());
        format!("{}-{}", edge(self.from), edge(self.to))
    }
}

/// Counts over every product matching the query and filters (not only the page shown). Only
/// values with at least one product are listed, most frequent first (price ranges in order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    pub categories: Vec<FacetCount<CategoryValue>>,
    pub brands: Vec<FacetCount<String>>,
    pub price_ranges: Vec<FacetCount<PriceRange>>,
}

#[derive(Debug, Clone)]
pub struct SearchResult {
    pub hits: Vec<SearchHit>,
    /// Every matching product, not only this page.
    pub total: i64,
    pub facets: Facets,
    /// Time spent answering, in milliseconds.
    pub took_ms: u64,
}

/// How far a reindex has got.
#[derive(Debug, Clone, Copy)]
pub struct ReindexProgress {
    pub done: u64,
    pub total: u64,
}

/// What a reindex did, for the operator.
#[derive(Debug, Clone)]
pub struct ReindexSummary {
    /// Products written to the new index (or whose search document was recomputed).
    pub documents: u64,
    /// Where they went: the new index, or the PostgreSQL column.
    pub target: String,
    /// Further facts worth printing (old indexes removed, catch-up, vocabulary size).
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_ranges_cover_every_price() {
        let ranges = PriceRange::all(&[50_000, 100_000]);
        let keys: Vec<String> = ranges.iter().map(PriceRange::key).collect();
        assert_eq!(keys, vec!["*-50000", "50000-100000", "100000-*"]);
    }

    #[test]
    fn the_result_window_is_bounded() {
        let query = |page, size| {
            SearchQuery::new(
                "",
                ProductFilter::default(),
                SearchSort::Relevance,
                page,
                size,
            )
        };
        assert!(query(1, 20).is_ok());
        assert_eq!(query(3, 20).unwrap().offset(), 40);
        assert!(query(500, 20).is_ok());
        assert!(matches!(
            query(501, 20),
            Err(SearchError::InvalidParameter { name: "page", .. })
        ));
        assert!(matches!(
            query(0, 20),
            Err(SearchError::InvalidParameter { name: "page", .. })
        ));
        assert!(matches!(
            query(1, 101),
            Err(SearchError::InvalidParameter { name: "size", .. })
        ));
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert!(SearchQuery::new(
            &long,
            ProductFilter::default(),
            SearchSort::Relevance,
            1,
            20
        )
        .is_err());
    }
}
