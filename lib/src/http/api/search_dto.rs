//! Response bodies of `GET /api/v1/search`.

use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::catalog_dto::ProductSummaryOut;
use crate::search::{
    FacetCount, Facets, Highlight, PriceRange, SearchHit, SearchResult, SearchSort,
};

/// Order of the hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
#[oai(rename_all = "snake_case")]
pub enum SearchSortDto {
    /// Best match first (newest first when `q` is empty).
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl From<SearchSortDto> for SearchSort {
    fn from(s: SearchSortDto) -> Self {
        match s {
            SearchSortDto::Relevance => Self::Relevance,
            SearchSortDto::PriceAsc => Self::PriceAsc,
            SearchSortDto::PriceDesc => Self::PriceDesc,
            SearchSortDto::Newest => Self::Newest,
        }
    }
}

/// Why a product matched, as HTML: the text is escaped and matches are wrapped in `<mark>`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct HighlightOut {
    /// The whole name.
    pub name: String,
    /// A fragment of the description around the matches (its beginning when only other
    /// fields matched); absent without a description.
    pub snippet: Option<String>,
}

/// A matching product.
#[derive(Debug, Clone, Object)]
pub struct SearchHitOut {
    pub product: ProductSummaryOut,
    /// Relevance; comparable within one response only.
    pub score: f64,
    pub highlight: HighlightOut,
}

/// A category and how many matching products it holds (directly).
#[derive(Debug, Clone, Object)]
pub struct CategoryFacetOut {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub count: i64,
}

/// A brand and how many matching products have it.
#[derive(Debug, Clone, Object)]
pub struct BrandFacetOut {
    pub value: String,
    pub count: i64,
}

/// A range of the lowest variant price (`from` inclusive, `to` exclusive, minor units) and
/// how many matching products fall in it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PriceRangeFacetOut {
    /// `from-to`, `*` for an open end, e.g. `50000-100000`.
    pub key: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub count: i64,
}

/// Counts over every matching product (all pages), with the filters applied. Only values
/// with products are listed: the 20 most frequent categories and brands, price ranges in
/// order.
#[derive(Debug, Clone, Object)]
pub struct FacetsOut {
    pub categories: Vec<CategoryFacetOut>,
    pub brands: Vec<BrandFacetOut>,
    pub price_ranges: Vec<PriceRangeFacetOut>,
}

/// One page of search results.
#[derive(Debug, Clone, Object)]
pub struct SearchResultOut {
    pub hits: Vec<SearchHitOut>,
    /// Every matching product, not only this page.
    pub total: i64,
    pub page: i64,
    pub size: i64,
    pub facets: FacetsOut,
    /// Time the search took on the server, in milliseconds.
    pub took_ms: u64,
}

impl From<Highlight> for HighlightOut {
    fn from(h: Highlight) -> Self {
        Self {
            name: h.name,
            snippet: h.snippet,
        }
    }
}

fn price_range(f: FacetCount<PriceRange>) -> PriceRangeFacetOut {
    PriceRangeFacetOut {
        key: f.value.key(),
        from: f.value.from,
        to: f.value.to,
        count: f.count,
    }
}

impl From<Facets> for FacetsOut {
    fn from(f: Facets) -> Self {
        Self {
            categories: f
                .categories
                .into_iter()
                .map(|c| CategoryFacetOut {
                    id: c.value.id,
                    slug: c.value.slug,
                    name: c.value.name,
                    count: c.count,
                })
                .collect(),
            brands: f
                .brands
                .into_iter()
                .map(|b| BrandFacetOut {
                    value: b.value,
                    count: b.count,
                })
                .collect(),
            price_ranges: f.price_ranges.into_iter().map(price_range).collect(),
        }
    }
}

impl SearchResultOut {
    pub fn new(result: SearchResult, page: i64, size: i64, currency: &str) -> Self {
        let hit = |h: SearchHit| SearchHitOut {
            product: ProductSummaryOut::new(h.product, currency),
            score: h.score,
            highlight: h.highlight.into(),
        };
        Self {
            hits: result.hits.into_iter().map(hit).collect(),
            total: result.total,
            page,
            size,
            facets: result.facets.into(),
            took_ms: result.took_ms,
        }
    }
}
