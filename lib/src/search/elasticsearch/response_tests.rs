//! Parsing Elasticsearch responses (shapes as Elasticsearch 8/9 sends them).

use serde_json::json;

use super::*;

const BOUNDS: [i64; 2] = [50_000, 100_000];

fn search_response() -> Value {
    json!({
        "took": 3,
        "timed_out": false,
        "hits": {
            "total": { "value": 2, "relation": "eq" },
            "max_score": 13.5,
            "hits": [
                {
                    "_index": "toko-products-20261126083000000",
                    "_id": "00000000-0000-0000-0000-000000000001",
                    "_score": 13.5,
                    "_source": {
                        "product_id": "00000000-0000-0000-0000-000000000001", "slug": "kaos-polos-hitam",
                        "name": "Kaos Polos Hitam", "brand": "Uniqlo",
                        "category_id": "00000000-0000-0000-0000-000000000009", "status": "active",
                        "min_price": 89000, "max_price": 95000, "in_stock": true,
                        "image": { "url": "https://cdn.example.com/kaos.jpg", "alt_text": "", "position": 0 },
                        "created_at": "2026-11-26T08:30:00Z"
                    },
                    "highlight": {
                        "name": ["<mark>Kaos</mark> Polos Hitam"],
                        "description": ["<mark>Kaos</mark> katun &lt;premium&gt;"]
                    },
                    "sort": [13.5, 1, 1_795_000_000_000_u64, "00000000-0000-0000-0000-000000000001"]
                },
                {
                    "_index": "toko-products-20261126083000000",
                    "_id": "00000000-0000-0000-0000-000000000002",
                    "_score": 2.25,
                    "_source": {
                        "product_id": "00000000-0000-0000-0000-000000000002", "slug": "mug",
                        "name": "Mug <Kaos> & Co", "brand": null,
                        "category_id": "00000000-0000-0000-0000-000000000008", "status": "active",
                        "min_price": 120000, "max_price": 120000, "in_stock": false, "image": null,
                        "created_at": "2026-11-25T08:30:00Z"
                    }
                }
            ]
        },
        "aggregations": {
            "categories": { "buckets": [
                { "key": "00000000-0000-0000-0000-000000000009", "doc_count": 1 },
                { "key": "00000000-0000-0000-0000-000000000008", "doc_count": 1 }
            ] },
            "brands": { "buckets": [
                { "key": "uniqlo", "doc_count": 1, "display": { "buckets": [{ "key": "Uniqlo", "doc_count": 1 }] } }
            ] },
            "price_ranges": { "buckets": [
                { "key": "*-50000", "to": 50000.0, "doc_count": 0 },
                { "key": "50000-100000", "from": 50000.0, "to": 100000.0, "doc_count": 1 },
                { "key": "100000-*", "from": 100000.0, "doc_count": 1 }
            ] }
        }
    })
}

#[test]
fn hits_totals_and_facets_are_read() {
    let parsed = search(&search_response(), &BOUNDS).unwrap();
    assert_eq!(parsed.total, 2);
    assert_eq!(parsed.hits.len(), 2);
    let first = &parsed.hits[0];
    assert_eq!(
        (first.product.slug.as_str(), first.score),
        ("kaos-polos-hitam", 13.5)
    );
    assert_eq!(first.highlight.name, "<mark>Kaos</mark> Polos Hitam");
    assert_eq!(
        first.highlight.snippet.as_deref(),
        Some("<mark>Kaos</mark> katun &lt;premium&gt;")
    );
    assert_eq!(
        first.product.image.as_ref().unwrap().url,
        "https://cdn.example.com/kaos.jpg"
    );
    // Without a name highlight the name is escaped like highlighted text would be.
    assert_eq!(parsed.hits[1].highlight.name, "Mug &lt;Kaos&gt; &amp; Co");
    assert_eq!(parsed.hits[1].highlight.snippet, None);

    assert_eq!(parsed.categories.len(), 2);
    assert_eq!(parsed.categories[0].value, Uuid::from_u128(9));
    assert_eq!(
        parsed.brands,
        vec![FacetCount {
            value: "Uniqlo".to_owned(),
            count: 1
        }]
    );
    let ranges: Vec<(String, i64)> = parsed
        .price_ranges
        .iter()
        .map(|r| (r.value.key(), r.count))
        .collect();
    assert_eq!(
        ranges,
        vec![("50000-100000".to_owned(), 1), ("100000-*".to_owned(), 1)],
        "empty ranges are left out"
    );
}

#[test]
fn a_malformed_response_is_an_error_not_an_empty_result() {
    let mut body = search_response();
    body["aggregations"]
        .as_object_mut()
        .unwrap()
        .remove("brands");
    assert!(matches!(
        search(&body, &BOUNDS),
        Err(SearchError::UnexpectedResponse { .. })
    ));
    assert!(search(&json!({ "hits": {} }), &BOUNDS).is_err());
}

#[test]
fn bulk_failures_ignore_deletes_of_missing_documents() {
    let body = json!({
        "errors": true,
        "items": [
            { "index": { "_id": "a", "status": 201, "result": "created" } },
            { "delete": { "_id": "b", "status": 404, "result": "not_found" } },
            { "index": { "_id": "c", "status": 400, "error": { "type": "strict_dynamic_mapping_exception", "reason": "x" } } }
        ]
    });
    let (failed, total, first) = bulk_failures(&body);
    assert_eq!((failed, total), (1, 3));
    assert!(first.unwrap().contains("strict_dynamic_mapping_exception"));
    assert_eq!(
        bulk_failures(&json!({ "errors": false, "items": [] })),
        (0, 0, None)
    );
}

#[test]
fn alias_targets_are_the_index_names() {
    let body = json!({
        "toko-products-2": { "aliases": { "toko-products": {} } },
        "toko-products-1": { "aliases": { "toko-products": {} } }
    });
    assert_eq!(
        alias_targets(&body),
        vec!["toko-products-1", "toko-products-2"]
    );
}
