//! Reading Elasticsearch's answers: search hits and aggregations, bulk item failures, alias
//! targets. Pure functions over the JSON, tested against recorded response shapes.

use serde_json::Value;
use uuid::Uuid;

use super::super::{FacetCount, Highlight, PriceRange, SearchError, SearchHit};
use crate::catalog::{listing::SummaryRow, ProductSummary};

/// A search response, before category facet values get their names from the database.
#[derive(Debug)]
pub struct ParsedSearch {
    pub hits: Vec<SearchHit>,
    pub total: i64,
    pub categories: Vec<FacetCount<Uuid>>,
    pub brands: Vec<FacetCount<String>>,
    pub price_ranges: Vec<FacetCount<PriceRange>>,
}

fn unexpected(reason: impl Into<String>) -> SearchError {
    SearchError::UnexpectedResponse {
        operation: "search",
        reason: reason.into(),
    }
}

/// Escapes text for HTML, as the `html` highlight encoder does for highlighted fields.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn hit(raw: &Value) -> Result<SearchHit, SearchError> {
    let source: SummaryRow = serde_json::from_value(raw["_source"].clone())
        .map_err(|e| unexpected(format!("hit _source: {e}")))?;
    let product: ProductSummary = source.into();
    let first = |field: &str| raw["highlight"][field][0].as_str().map(str::to_owned);
    let highlight = Highlight {
        // No name fragment means the name did not match: show it whole, escaped alike.
        name: first("name").unwrap_or_else(|| escape_html(&product.name)),
        snippet: first("description").filter(|s| !s.is_empty()),
    };
    Ok(SearchHit {
        score: raw["_score"].as_f64().unwrap_or(0.0),
        highlight,
        product,
    })
}

fn buckets<'a>(body: &'a Value, aggregation: &str) -> Result<&'a Vec<Value>, SearchError> {
    body["aggregations"][aggregation]["buckets"]
        .as_array()
        .ok_or_else(|| unexpected(format!("no {aggregation} aggregation")))
}

fn count(bucket: &Value) -> i64 {
    bucket["doc_count"].as_i64().unwrap_or(0)
}

pub fn search(body: &Value, price_bounds: &[i64]) -> Result<ParsedSearch, SearchError> {
    let total = body["hits"]["total"]["value"]
        .as_i64()
        .ok_or_else(|| unexpected("no hits.total.value"))?;
    let hits = body["hits"]["hits"]
        .as_array()
        .ok_or_else(|| unexpected("no hits.hits"))?
        .iter()
        .map(hit)
        .collect::<Result<_, _>>()?;
    let categories = buckets(body, "categories")?
        .iter()
        .filter_map(|b| {
            Some(FacetCount {
                value: b["key"].as_str()?.parse().ok()?,
                count: count(b),
            })
        })
        .collect();
    let brands = buckets(body, "brands")?
        .iter()
        .filter_map(|b| {
            let display = b["display"]["buckets"][0]["key"]
                .as_str()
                .or(b["key"].as_str())?;
            Some(FacetCount {
                value: display.to_owned(),
                count: count(b),
            })
        })
        .collect();
    let ranges = PriceRange::all(price_bounds);
    // Range aggregations list every range; only those with products are facet values.
    let price_ranges = buckets(body, "price_ranges")?
        .iter()
        .filter(|b| count(b) > 0)
        .filter_map(|b| {
            let range = ranges
                .iter()
                .find(|r| b["key"].as_str() == Some(r.key().as_str()))?;
            Some(FacetCount {
                value: *range,
                count: count(b),
            })
        })
        .collect();
    Ok(ParsedSearch {
        hits,
        total,
        categories,
        brands,
        price_ranges,
    })
}

/// The failed items of a bulk response: `(count, operations, first reason)`. Deleting a
/// document that is not there is no failure.
pub fn bulk_failures(body: &Value) -> (usize, usize, Option<String>) {
    let items = body["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut failed = 0;
    let mut first = None;
    for item in items {
        let Some((action, result)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let status = result["status"].as_u64().unwrap_or(0);
        if (200..300).contains(&status) || (action == "delete" && status == 404) {
            continue;
        }
        failed += 1;
        first.get_or_insert_with(|| {
            format!("{action} {}: {status} {}", result["_id"], result["error"])
        });
    }
    (failed, items.len(), first)
}

/// The indices an alias points at, from `GET _alias/<alias>`.
pub fn alias_targets(body: &Value) -> Vec<String> {
    let mut targets: Vec<String> = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    targets.sort();
    targets
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
