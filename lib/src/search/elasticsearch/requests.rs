//! Every body the Elasticsearch backend sends, as pure functions (unit tests pin the JSON).
//!
//! Text is analyzed like PostgreSQL's `toko_search` configuration: the standard tokenizer,
//! lowercase and ASCII folding, no stemming (names mix Indonesian and English). The name is a
//! `search_as_you_type` field, whose shingle and edge n-gram subfields make prefix queries on
//! the word being typed cheap.

use serde_json::{json, Value};

use super::super::{
    documents::SearchDocument,
    syntax::{Clause, ParsedQuery},
    PriceRange, SearchQuery, SearchSort, FACET_SIZE,
};

/// Fields a word may match, with boosts: the name counts most, as in PostgreSQL's weights.
const TEXT_FIELDS: [&str; 4] = ["name^3", "brand^2", "category_name^2", "description"];
/// Fields the word being typed is matched against as a prefix (not the description, where
/// prefixes mostly find noise; PostgreSQL restricts `:*` the same way).
const PREFIX_FIELDS: [&str; 5] = [
    "name",
    "name._2gram",
    "name._3gram",
    "brand",
    "category_name",
];
const NAME_FIELDS: [&str; 1] = ["name"];
const NAME_PREFIX_FIELDS: [&str; 3] = ["name", "name._2gram", "name._3gram"];
/// A product matching every required clause in its name alone gets this much on top, so a
/// name match outranks description matches (PostgreSQL adds 1 to a rank below 1).
const NAME_MATCH_BOOST: f64 = 10.0;
/// Shorter prefixes would match a large part of the catalog on every keystroke.
const MIN_PREFIX_CHARS: usize = 2;

const SOURCE_FIELDS: [&str; 11] = [
    "product_id",
    "slug",
    "name",
    "brand",
    "category_id",
    "status",
    "min_price",
    "max_price",
    "in_stock",
    "image",
    "created_at",
];

/// The form in which brands compare: lower-cased, as PostgreSQL's `lower(brand)` in the
/// product list's filter and the brand facet. Indexed as a plain keyword field of its own
/// rather than through a keyword normalizer, so filter terms and facet buckets carry the
/// same value on every engine (normalizers are not applied to aggregation keys everywhere).
pub fn brand_key(brand: &str) -> String {
    brand.to_lowercase()
}

/// The composable index template for `<alias>-*`: analysis settings and a strict mapping.
pub fn index_template(alias: &str) -> Value {
    json!({
        "index_patterns": [format!("{alias}-*")],
        "priority": 200,
        "_meta": { "description": "toko products, see lib/src/search/elasticsearch/requests.rs" },
        "template": {
            "settings": {
                "number_of_shards": 1,
                "analysis": {
                    "analyzer": {
                        "toko_text": { "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"] }
                    }
                }
            },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "product_id": { "type": "keyword" },
                    "slug": { "type": "keyword", "index": false },
                    "name": { "type": "search_as_you_type", "analyzer": "toko_text" },
                    "description": { "type": "text", "analyzer": "toko_text" },
                    "brand": {
                        "type": "text",
                        "analyzer": "toko_text",
                        "fields": { "keyword": { "type": "keyword" } }
                    },
                    "brand_key": { "type": "keyword" },
                    "category_id": { "type": "keyword" },
                    "category_name": { "type": "text", "analyzer": "toko_text" },
                    "status": { "type": "keyword" },
                    "min_price": { "type": "long" },
                    "max_price": { "type": "long" },
                    "in_stock": { "type": "boolean" },
                    "image": { "type": "object", "enabled": false },
                    "created_at": { "type": "date" }
                }
            }
        }
    })
}

/// While a new index is bulk-loaded nobody reads it: skip refreshes until it is complete.
pub fn loading_settings() -> Value {
    json!({ "index": { "refresh_interval": "-1" } })
}

/// Back to the default refresh interval once loaded.
pub fn serving_settings() -> Value {
    json!({ "index": { "refresh_interval": null } })
}

/// Points `alias` at `new_index` and away from `old_indices` in one atomic step.
pub fn alias_swap(alias: &str, new_index: &str, old_indices: &[String]) -> Value {
    let mut actions: Vec<Value> = old_indices
        .iter()
        .map(|old| json!({ "remove": { "index": old, "alias": alias } }))
        .collect();
    actions.push(json!({ "add": { "index": new_index, "alias": alias } }));
    json!({ "actions": actions })
}

pub fn document(doc: &SearchDocument) -> Value {
    json!({
        "product_id": doc.product_id,
        "slug": doc.slug,
        "name": doc.name,
        "description": doc.description,
        "brand": doc.brand,
        "brand_key": doc.brand.as_deref().map(brand_key),
        "category_id": doc.category_id,
        "category_name": doc.category_name,
        "status": doc.status,
        "min_price": doc.min_price,
        "max_price": doc.max_price,
        "in_stock": doc.in_stock,
        "image": doc.image.as_ref().map(|i| &i.0),
        "created_at": doc.created_at,
    })
}

/// Bulk lines (action, then source) indexing `docs` under their product ids.
pub fn bulk_index_lines(docs: &[SearchDocument]) -> Vec<Value> {
    docs.iter()
        .flat_map(|doc| [json!({ "index": { "_id": doc.product_id } }), document(doc)])
        .collect()
}

/// Bulk lines deleting these product ids.
pub fn bulk_delete_lines(ids: &[uuid::Uuid]) -> Vec<Value> {
    ids.iter()
        .map(|id| json!({ "delete": { "_id": id } }))
        .collect()
}

/// One clause as a query on `fields` (or, for the word being typed, also as a prefix on
/// `prefix_fields`). Words tolerate typos (`fuzziness: AUTO`); phrases match exactly.
fn clause_query(clause: &Clause, fields: &[&str], prefix_fields: Option<&[&str]>) -> Value {
    match clause {
        Clause::Phrase(text) => {
            json!({ "multi_match": { "query": text, "type": "phrase", "fields": fields } })
        }
        Clause::Word(text) => {
            let word = json!({ "multi_match": {
                "query": text, "fields": fields, "operator": "and", "fuzziness": "AUTO"
            } });
            match prefix_fields {
                Some(prefix_fields) if text.chars().count() >= MIN_PREFIX_CHARS => {
                    json!({ "bool": {
                    "should": [
                        word,
                        { "multi_match": { "query": text, "type": "bool_prefix", "fields": prefix_fields } }
                    ],
                    "minimum_should_match": 1
                } })
                }
                _ => word,
            }
        }
    }
}

/// The required clauses on `fields`: one query per group (`a or b` as a `should`).
fn required_queries(parsed: &ParsedQuery, fields: &[&str], prefix_fields: &[&str]) -> Vec<Value> {
    parsed
        .required
        .iter()
        .map(|group| {
            let mut alternatives: Vec<Value> = group
                .iter()
                .map(|clause| {
                    clause_query(
                        clause,
                        fields,
                        parsed.is_prefix(clause).then_some(prefix_fields),
                    )
                })
                .collect();
            match alternatives.len() {
                1 => alternatives.remove(0),
                _ => json!({ "bool": { "should": alternatives, "minimum_should_match": 1 } }),
            }
        })
        .collect()
}

fn filters(query: &SearchQuery) -> Vec<Value> {
    let f = &query.filter;
    let mut filters = vec![json!({ "term": { "status": "active" } })];
    if let Some(ids) = &f.category_ids {
        filters.push(json!({ "terms": { "category_id": ids } }));
    }
    if let Some(brand) = &f.brand {
        filters.push(json!({ "term": { "brand_key": brand_key(brand) } }));
    }
    if f.min_price.is_some() || f.max_price.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(min) = f.min_price {
            range.insert("gte".into(), min.into());
        }
        if let Some(max) = f.max_price {
            range.insert("lte".into(), max.into());
        }
        filters.push(json!({ "range": { "min_price": range } }));
    }
    if let Some(in_stock) = f.in_stock {
        filters.push(json!({ "term": { "in_stock": in_stock } }));
    }
    filters
}

/// The hit order (as PostgreSQL's): relevance without anything to rank by (no text, or
/// exclusions only) is newest first.
fn sort(sort: SearchSort, ranked: bool) -> Value {
    match sort {
        SearchSort::Relevance if ranked => {
            json!([{ "_score": "desc" }, { "in_stock": "desc" }, { "created_at": "desc" }, { "product_id": "desc" }])
        }
        SearchSort::Relevance | SearchSort::Newest => {
            json!([{ "created_at": "desc" }, { "product_id": "desc" }])
        }
        SearchSort::PriceAsc => json!([{ "min_price": "asc" }, { "product_id": "asc" }]),
        SearchSort::PriceDesc => json!([{ "min_price": "desc" }, { "product_id": "desc" }]),
    }
}

fn aggregations(price_bounds: &[i64]) -> Value {
    let order = json!([{ "_count": "desc" }, { "_key": "asc" }]);
    let ranges: Vec<Value> = PriceRange::all(price_bounds)
        .iter()
        .map(|r| {
            let mut range = json!({ "key": r.key() });
            if let Some(from) = r.from {
                range["from"] = from.into();
            }
            if let Some(to) = r.to {
                range["to"] = to.into();
            }
            range
        })
        .collect();
    json!({
        "categories": { "terms": { "field": "category_id", "size": FACET_SIZE, "order": order } },
        "brands": {
            "terms": { "field": "brand_key", "size": FACET_SIZE, "order": order },
            // How the brand is spelled, for display (the bucket key is the lower-cased form).
            "aggs": { "display": { "terms": { "field": "brand.keyword", "size": 1 } } }
        },
        "price_ranges": { "range": { "field": "min_price", "ranges": ranges } }
    })
}

/// The `_search` body: the parsed query as a `bool` (required clauses in `must`, exclusions
/// in `must_not`, filters as `filter` clauses that do not score), facets as aggregations,
/// HTML-encoded highlights and an exact total.
pub fn search_body(query: &SearchQuery, price_bounds: &[i64]) -> Value {
    let parsed = &query.parsed;
    let must = required_queries(parsed, &TEXT_FIELDS, &PREFIX_FIELDS);
    let must_not: Vec<Value> = parsed
        .excluded
        .iter()
        .map(|c| clause_query(c, &TEXT_FIELDS, None))
        .collect();
    let mut boolean = json!({ "filter": filters(query) });
    if !must.is_empty() {
        boolean["must"] = must.into();
        let name_only = required_queries(parsed, &NAME_FIELDS, &NAME_PREFIX_FIELDS);
        boolean["should"] = json!([{ "bool": { "must": name_only, "boost": NAME_MATCH_BOOST } }]);
    }
    if !must_not.is_empty() {
        boolean["must_not"] = must_not.into();
    }
    json!({
        "from": query.offset(),
        "size": query.size,
        "track_total_hits": true,
        // Scores are reported with every sort, not only relevance.
        "track_scores": true,
        "query": { "bool": boolean },
        "sort": sort(query.sort, !parsed.required.is_empty()),
        "_source": SOURCE_FIELDS,
        "aggs": aggregations(price_bounds),
        "highlight": {
            "encoder": "html",
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "fields": {
                "name": { "number_of_fragments": 0 },
                "description": { "fragment_size": 200, "number_of_fragments": 1, "no_match_size": 200 }
            }
        }
    })
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
