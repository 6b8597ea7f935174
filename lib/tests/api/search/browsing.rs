//! What every search backend promises about browsing results: filters, facets over the
//! filtered result, sorts, pagination, and 400 problems for bad parameters.

use serde_json::Value;

use super::{name_set, names, sorted, Shop};

search_contract!(
    filters_narrow_the_result,
    facets_count_the_filtered_result,
    pages_partition_the_result,
    bad_parameters_are_invalid_parameter_problems,
    sorts_order_the_hits,
);

/// Query parameters, and the products expected for them.
type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

async fn filters_narrow_the_result(s: Shop) {
    let kaos = s.categories["kaos"].as_str();
    let cases: Vec<Case> = vec![
        (
            vec![("category", "fashion")],
            vec![
                "Kaos Grafis Hitam Putih",
                "Kaos Polos Hitam",
                "Kaos Polos Putih",
                "Sepatu Lari Ultraboost",
                "Sepatu Sneakers Kanvas",
            ],
        ),
        (
            vec![("category", kaos)],
            vec![
                "Kaos Grafis Hitam Putih",
                "Kaos Polos Hitam",
                "Kaos Polos Putih",
            ],
        ),
        (vec![("category", "no-such-category")], vec![]),
        (
            vec![("brand", "uniqlo")],
            vec!["Kaos Polos Hitam", "Kaos Polos Putih"],
        ),
        (
            vec![("min_price", "100000"), ("max_price", "3000000")],
            vec![
                "Casing iPhone 15 Silikon",
                "Kaos Grafis Hitam Putih",
                "Sepatu Lari Ultraboost",
                "Sepatu Sneakers Kanvas",
            ],
        ),
        (
            vec![("in_stock", "false")],
            vec!["Kaos Polos Putih", "Samsung Galaxy S24"],
        ),
        (
            vec![("q", "kaos"), ("in_stock", "true")],
            vec!["Kaos Grafis Hitam Putih", "Kaos Polos Hitam"],
        ),
        (
            vec![
                ("q", "iphone"),
                ("category", "elektronik"),
                ("max_price", "16000000"),
            ],
            vec!["Casing iPhone 15 Silikon", "Samsung Galaxy S24"],
        ),
    ];
    for (query, expected) in cases {
        let result = s.search(&query).await;
        assert_eq!(name_set(&result), sorted(&expected), "{query:?}");
        assert_eq!(result["total"], expected.len(), "{query:?}");
    }
}

pub fn facet(result: &Value, name: &str) -> Vec<(String, i64)> {
    let key = if name == "price_ranges" {
        "key"
    } else if name == "categories" {
        "slug"
    } else {
        "value"
    };
    result["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[key].as_str().unwrap().to_lowercase(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn facets_count_the_filtered_result(s: Shop) {
    let result = s.search(&[("q", "kaos"), ("size", "1")]).await;
    assert_eq!(result["total"], 3);
    assert_eq!(
        facet(&result, "categories"),
        vec![("kaos".into(), 3)],
        "over all matches, not the page"
    );
    assert_eq!(
        facet(&result, "brands"),
        vec![("uniqlo".into(), 2), ("erigo".into(), 1)],
        "brands count case-insensitively"
    );
    assert_eq!(
        facet(&result, "price_ranges"),
        vec![("50000-100000".into(), 2), ("100000-250000".into(), 1)]
    );
    let range = &result["facets"]["price_ranges"][0];
    assert_eq!(
        (range["from"].as_i64(), range["to"].as_i64()),
        (Some(50_000), Some(100_000))
    );

    let in_stock = s.search(&[("q", "kaos"), ("in_stock", "true")]).await;
    assert_eq!(
        facet(&in_stock, "brands"),
        vec![("erigo".into(), 1), ("uniqlo".into(), 1)]
    );

    let everything = s.search(&[("q", "")]).await;
    assert_eq!(everything["total"], 9);
    let categories = facet(&everything, "categories");
    assert_eq!(categories[0], ("kaos".into(), 3), "most frequent first");
    assert_eq!(categories.iter().map(|c| c.1).sum::<i64>(), 9);
    assert_eq!(
        facet(&everything, "brands")
            .iter()
            .map(|c| c.1)
            .sum::<i64>(),
        8,
        "the mug has no brand"
    );
    assert_eq!(
        facet(&everything, "price_ranges"),
        vec![
            ("*-50000".into(), 1),
            ("50000-100000".into(), 2),
            ("100000-250000".into(), 2),
            ("250000-500000".into(), 1),
            ("1000000-5000000".into(), 1),
            ("5000000-*".into(), 2),
        ],
        "price ranges in order, empty ones left out"
    );
    let category = &everything["facets"]["categories"][0];
    assert_eq!(
        (category["id"].as_str(), category["name"].as_str()),
        (Some(s.categories["kaos"].as_str()), Some("Kaos"))
    );
}

async fn pages_partition_the_result(s: Shop) {
    let mut seen = Vec::new();
    for page in 1..=3 {
        let page_str = page.to_string();
        let result = s
            .search(&[
                ("q", ""),
                ("size", "4"),
                ("page", &page_str),
                ("sort", "price_asc"),
            ])
            .await;
        assert_eq!(
            (
                result["total"].as_i64(),
                result["page"].as_i64(),
                result["size"].as_i64()
            ),
            (Some(9), Some(page), Some(4))
        );
        let prices: Vec<i64> = result["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["product"]["price_min"].as_i64().unwrap())
            .collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
        seen.extend(names(&result));
    }
    assert_eq!(seen.len(), 9);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 9, "no product on two pages: {seen:?}");
    let beyond = s.search(&[("page", "4"), ("size", "4")]).await;
    assert_eq!(
        (
            beyond["total"].as_i64(),
            beyond["hits"].as_array().unwrap().len()
        ),
        (Some(9), 0)
    );
    let default_size = s.search(&[]).await;
    assert_eq!(default_size["size"], 20);
}

async fn bad_parameters_are_invalid_parameter_problems(s: Shop) {
    let long = "a".repeat(201);
    for (query, field) in [
        (vec![("page", "0")], "page"),
        (vec![("size", "0")], "size"),
        (vec![("size", "101")], "size"),
        (vec![("page", "1001"), ("size", "10")], "page"),
        (vec![("sort", "popularity")], "sort"),
        (vec![("min_price", "-1")], "min_price"),
        (vec![("in_stock", "maybe")], "in_stock"),
        (vec![("q", long.as_str())], "q"),
    ] {
        let body = s
            .search_request(&query)
            .expect_problem(400, "invalid_parameter")
            .await;
        assert_eq!(body["errors"][0]["field"], field, "{query:?}: {body}");
    }
}

async fn sorts_order_the_hits(s: Shop) {
    let by = |sort: &'static str| {
        let s = &s;
        async move { names(&s.search(&[("q", "kaos"), ("sort", sort)]).await) }
    };
    assert_eq!(by("price_desc").await[0], "Kaos Grafis Hitam Putih");
    assert_eq!(by("price_asc").await[2], "Kaos Grafis Hitam Putih");
    assert_eq!(
        by("newest").await,
        vec![
            "Kaos Grafis Hitam Putih",
            "Kaos Polos Putih",
            "Kaos Polos Hitam"
        ]
    );
    let scored = s.search(&[("q", "kaos"), ("sort", "price_asc")]).await;
    assert!(
        scored["hits"][0]["score"].as_f64().unwrap() > 0.0,
        "scores come with every sort"
    );
}
