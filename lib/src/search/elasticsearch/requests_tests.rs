//! The exact JSON the Elasticsearch backend sends (no cluster is needed to pin it).

use chrono::{TimeZone, Utc};
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

use super::*;
use crate::catalog::{listing::ProductFilter, Image};

const BOUNDS: [i64; 2] = [50_000, 100_000];

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn doc() -> SearchDocument {
    SearchDocument {
        product_id: id(1),
        slug: "kaos-polos-hitam".into(),
        name: "Kaos Polos Hitam".into(),
        description: "Katun combed 30s.".into(),
        brand: Some("Uniqlo".into()),
        category_id: id(9),
        category_name: "Kaos".into(),
        status: "active".into(),
        min_price: 89_000,
        max_price: 95_000,
        in_stock: true,
        image: Some(Json(Image {
            url: "https://cdn.example.com/kaos.jpg".into(),
            alt_text: "Kaos".into(),
            position: 0,
        })),
        created_at: Utc.with_ymd_and_hms(2026, 11, 26, 8, 30, 0).unwrap(),
    }
}

fn query(q: &str, filter: ProductFilter, sort: SearchSort) -> SearchQuery {
    SearchQuery::new(q, filter, sort, 2, 10).unwrap()
}

#[test]
fn the_template_maps_every_document_field() {
    let template = index_template("toko-products");
    assert_eq!(template["index_patterns"], json!(["toko-products-*"]));
    assert_eq!(
        template["template"]["settings"]["analysis"],
        json!({
            "analyzer": { "toko_text": { "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"] } }
        })
    );
    let mappings = &template["template"]["mappings"];
    assert_eq!(mappings["dynamic"], "strict");
    assert_eq!(
        mappings["properties"]["name"],
        json!({ "type": "search_as_you_type", "analyzer": "toko_text" })
    );
    assert_eq!(
        mappings["properties"]["brand_key"],
        json!({ "type": "keyword" }),
        "a plain keyword: facets and filters must not depend on a normalizer"
    );
    // A strict mapping refuses unknown fields: every field of a document must be mapped.
    let properties = mappings["properties"].as_object().unwrap();
    for field in document(&doc()).as_object().unwrap().keys() {
        assert!(properties.contains_key(field), "{field} is not mapped");
    }
    assert_eq!(
        properties.len(),
        document(&doc()).as_object().unwrap().len()
    );
}

#[test]
fn documents_and_bulk_lines() {
    assert_eq!(
        bulk_index_lines(&[doc()]),
        vec![
            json!({ "index": { "_id": "00000000-0000-0000-0000-000000000001" } }),
            json!({
                "product_id": "00000000-0000-0000-0000-000000000001",
                "slug": "kaos-polos-hitam",
                "name": "Kaos Polos Hitam",
                "description": "Katun combed 30s.",
                "brand": "Uniqlo",
                "brand_key": "uniqlo",
                "category_id": "00000000-0000-0000-0000-000000000009",
                "category_name": "Kaos",
                "status": "active",
                "min_price": 89_000,
                "max_price": 95_000,
                "in_stock": true,
                "image": { "url": "https://cdn.example.com/kaos.jpg", "alt_text": "Kaos", "position": 0 },
                "created_at": "2026-11-26T08:30:00Z"
            }),
        ]
    );
    assert_eq!(
        bulk_delete_lines(&[id(2), id(3)]),
        vec![
            json!({ "delete": { "_id": "00000000-0000-0000-0000-000000000002" } }),
            json!({ "delete": { "_id": "00000000-0000-0000-0000-000000000003" } }),
        ]
    );
}

#[test]
fn the_alias_moves_in_one_atomic_request() {
    assert_eq!(
        alias_swap(
            "toko-products",
            "toko-products-20261126083000000",
            &["toko-products-20261001000000000".into()]
        ),
        json!({ "actions": [
            { "remove": { "index": "toko-products-20261001000000000", "alias": "toko-products" } },
            { "add": { "index": "toko-products-20261126083000000", "alias": "toko-products" } }
        ] })
    );
    assert_eq!(
        alias_swap("toko-products", "toko-products-1", &[]),
        json!({ "actions": [{ "add": { "index": "toko-products-1", "alias": "toko-products" } }] })
    );
    assert_eq!(
        loading_settings(),
        json!({ "index": { "refresh_interval": "-1" } })
    );
    assert_eq!(
        serving_settings(),
        json!({ "index": { "refresh_interval": null } })
    );
}

#[test]
fn a_full_query_becomes_a_bool_query_with_filters_facets_and_highlights() {
    let filter = ProductFilter {
        category_ids: Some(vec![id(9)]),
        brand: Some("Uniqlo".into()),
        min_price: Some(10_000),
        max_price: None,
        in_stock: Some(true),
    };
    let body = search_body(
        &query(
            r#"kaos "polos hitam" -merah uniqlo or erig"#,
            filter,
            SearchSort::Relevance,
        ),
        &BOUNDS,
    );
    let fields = json!(["name^3", "brand^2", "category_name^2", "description"]);
    let fuzzy = |q: &str, fields: &serde_json::Value| json!({ "multi_match": { "query": q, "fields": fields, "operator": "and", "fuzziness": "AUTO" } });
    let prefixed = |q: &str, fields: &serde_json::Value, prefix_fields: serde_json::Value| {
        json!({ "bool": { "should": [
            fuzzy(q, fields),
            { "multi_match": { "query": q, "type": "bool_prefix", "fields": prefix_fields } }
        ], "minimum_should_match": 1 } })
    };
    let name = json!(["name"]);
    assert_eq!(
        body,
        json!({
            "from": 10,
            "size": 10,
            "track_total_hits": true,
            "track_scores": true,
            "query": { "bool": {
                "filter": [
                    { "term": { "status": "active" } },
                    { "terms": { "category_id": ["00000000-0000-0000-0000-000000000009"] } },
                    { "term": { "brand_key": "uniqlo" } },
                    { "range": { "min_price": { "gte": 10_000 } } },
                    { "term": { "in_stock": true } }
                ],
                "must": [
                    fuzzy("kaos", &fields),
                    { "multi_match": { "query": "polos hitam", "type": "phrase", "fields": fields } },
                    { "bool": { "should": [
                        fuzzy("uniqlo", &fields),
                        prefixed("erig", &fields, json!(["name", "name._2gram", "name._3gram", "brand", "category_name"]))
                    ], "minimum_should_match": 1 } }
                ],
                "should": [{ "bool": { "boost": 10.0, "must": [
                    fuzzy("kaos", &name),
                    { "multi_match": { "query": "polos hitam", "type": "phrase", "fields": name } },
                    { "bool": { "should": [
                        fuzzy("uniqlo", &name),
                        prefixed("erig", &name, json!(["name", "name._2gram", "name._3gram"]))
                    ], "minimum_should_match": 1 } }
                ] } }],
                "must_not": [fuzzy("merah", &fields)]
            } },
            "sort": [{ "_score": "desc" }, { "in_stock": "desc" }, { "created_at": "desc" }, { "product_id": "desc" }],
            "_source": ["product_id", "slug", "name", "brand", "category_id", "status", "min_price", "max_price",
                        "in_stock", "image", "created_at"],
            "aggs": {
                "categories": { "terms": { "field": "category_id", "size": 20, "order": [{ "_count": "desc" }, { "_key": "asc" }] } },
                "brands": {
                    "terms": { "field": "brand_key", "size": 20, "order": [{ "_count": "desc" }, { "_key": "asc" }] },
                    "aggs": { "display": { "terms": { "field": "brand.keyword", "size": 1 } } }
                },
                "price_ranges": { "range": { "field": "min_price", "ranges": [
                    { "key": "*-50000", "to": 50_000 },
                    { "key": "50000-100000", "from": 50_000, "to": 100_000 },
                    { "key": "100000-*", "from": 100_000 }
                ] } }
            },
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
    );
}

#[test]
fn an_empty_query_lists_everything_newest_first() {
    let body = search_body(
        &query("", ProductFilter::default(), SearchSort::Relevance),
        &BOUNDS,
    );
    assert_eq!(
        body["query"],
        json!({ "bool": { "filter": [{ "term": { "status": "active" } }] } })
    );
    assert_eq!(
        body["sort"],
        json!([{ "created_at": "desc" }, { "product_id": "desc" }])
    );
}

#[test]
fn exclusions_alone_keep_everything_else_and_sorts_are_explicit() {
    let body = search_body(
        &query("-merah", ProductFilter::default(), SearchSort::PriceAsc),
        &BOUNDS,
    );
    let bool_query = body["query"]["bool"].as_object().unwrap();
    assert!(!bool_query.contains_key("must") && !bool_query.contains_key("should"));
    assert_eq!(bool_query["must_not"][0]["multi_match"]["query"], "merah");
    assert_eq!(
        body["sort"],
        json!([{ "min_price": "asc" }, { "product_id": "asc" }])
    );
    let body = search_body(
        &query("-merah", ProductFilter::default(), SearchSort::Relevance),
        &BOUNDS,
    );
    assert_eq!(
        body["sort"],
        json!([{ "created_at": "desc" }, { "product_id": "desc" }]),
        "nothing to rank by"
    );
    let body = search_body(
        &query("x", ProductFilter::default(), SearchSort::PriceDesc),
        &BOUNDS,
    );
    assert_eq!(
        body["sort"],
        json!([{ "min_price": "desc" }, { "product_id": "desc" }])
    );
    // One letter is too short to expand as a prefix.
    assert_eq!(
        body["query"]["bool"]["must"][0]["multi_match"]["query"],
        "x"
    );
    let body = search_body(
        &query(
            "kaos",
            ProductFilter {
                max_price: Some(5),
                ..Default::default()
            },
            SearchSort::Newest,
        ),
        &BOUNDS,
    );
    assert_eq!(
        body["query"]["bool"]["filter"][1],
        json!({ "range": { "min_price": { "lte": 5 } } })
    );
    assert_eq!(
        body["sort"],
        json!([{ "created_at": "desc" }, { "product_id": "desc" }])
    );
}
