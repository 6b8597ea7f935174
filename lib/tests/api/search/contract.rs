//! What every search backend promises about matching: relevance (name over description),
//! typo tolerance, prefixes, phrases, exclusions and alternatives, hidden drafts and archived
//! products, HTML-safe highlights with folded accents.

use super::{browsing::facet, name_set, names, sorted, Shop};

search_contract!(
    name_matches_outrank_description_matches,
    typos_are_tolerated,
    the_word_being_typed_matches_as_a_prefix,
    phrases_exclusions_and_alternatives,
    drafts_and_archived_products_never_appear,
    highlights_are_html_safe_and_accents_fold,
    any_text_is_a_valid_query,
);

async fn name_matches_outrank_description_matches(s: Shop) {
    let result = s.search(&[("q", "iphone")]).await;
    let hits = names(&result);
    assert_eq!(hits.len(), 3, "{result}");
    assert_eq!(
        sorted(&[&hits[0], &hits[1]]),
        sorted(&["Apple iPhone 15 Pro", "Casing iPhone 15 Silikon"])
    );
    assert_eq!(
        hits[2], "Samsung Galaxy S24",
        "a description match ranks below name matches"
    );
    assert_eq!(result["total"], 3);
    let scores: Vec<f64> = result["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(scores[1] > scores[2], "{scores:?}");

    let first = &result["hits"][0];
    assert!(
        first["highlight"]["name"]
            .as_str()
            .unwrap()
            .contains("<mark>iPhone</mark>"),
        "{first}"
    );
    assert_eq!(first["product"]["currency"], "IDR");
    let samsung = &result["hits"][2]["highlight"];
    assert!(
        samsung["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>iPhone</mark>"),
        "{samsung}"
    );
    assert!(result["took_ms"].is_u64());
}

async fn typos_are_tolerated(s: Shop) {
    let result = s.search(&[("q", "iphnoe")]).await;
    let hits = names(&result);
    assert!(hits.len() >= 2, "{result}");
    assert_eq!(
        sorted(&[&hits[0], &hits[1]]),
        sorted(&["Apple iPhone 15 Pro", "Casing iPhone 15 Silikon"])
    );
    assert!(
        result["hits"][0]["highlight"]["name"]
            .as_str()
            .unwrap()
            .contains("<mark>iPhone</mark>"),
        "{result}"
    );

    let result = s.search(&[("q", "kaos polso ")]).await;
    assert_eq!(
        name_set(&result),
        sorted(&["Kaos Polos Hitam", "Kaos Polos Putih"])
    );
    let result = s.search(&[("q", "spatu")]).await;
    assert_eq!(
        name_set(&result),
        sorted(&["Sepatu Lari Ultraboost", "Sepatu Sneakers Kanvas"])
    );
}

async fn the_word_being_typed_matches_as_a_prefix(s: Shop) {
    assert_eq!(
        names(&s.search(&[("q", "ultrab")]).await),
        vec!["Sepatu Lari Ultraboost"]
    );
    assert_eq!(
        names(&s.search(&[("q", "sepatu sne")]).await),
        vec!["Sepatu Sneakers Kanvas"]
    );
    assert_eq!(
        name_set(&s.search(&[("q", "iph")]).await),
        sorted(&["Apple iPhone 15 Pro", "Casing iPhone 15 Silikon"])
    );
    let finished = s.search(&[("q", "ultrab ")]).await;
    assert_eq!(finished["total"], 0, "a space ends the word: {finished}");
}

async fn phrases_exclusions_and_alternatives(s: Shop) {
    assert_eq!(
        names(&s.search(&[("q", r#""polos hitam""#)]).await),
        vec!["Kaos Polos Hitam"]
    );
    assert_eq!(
        names(&s.search(&[("q", "kaos -putih")]).await),
        vec!["Kaos Polos Hitam"]
    );
    assert_eq!(
        name_set(&s.search(&[("q", r#"kaos -"polos putih""#)]).await),
        sorted(&["Kaos Grafis Hitam Putih", "Kaos Polos Hitam"])
    );
    assert_eq!(
        name_set(&s.search(&[("q", "hitam or ultraboost ")]).await),
        sorted(&[
            "Kaos Grafis Hitam Putih",
            "Kaos Polos Hitam",
            "Sepatu Lari Ultraboost"
        ])
    );
    let excluded_only = s.search(&[("q", "-kaos")]).await;
    assert_eq!(excluded_only["total"], 6, "everything but the excluded");
}

async fn drafts_and_archived_products_never_appear(s: Shop) {
    for q in ["rahasia", "arsip", "iphone draft"] {
        assert_eq!(s.search(&[("q", q)]).await["total"], 0, "{q}");
    }
    assert_eq!(s.search(&[("q", "")]).await["total"], 9);

    // Archiving and deleting through the API, then the indexer's call for each event.
    let hitam = &s.products["Kaos Polos Hitam"];
    s.admin_patch(
        &format!("/api/v1/admin/products/{hitam}"),
        &serde_json::json!({"status": "archived"}),
    )
    .await;
    let kanvas = s.products["Sepatu Sneakers Kanvas"].clone();
    s.app
        .by(&s.admin)
        .delete(&format!("/api/v1/admin/products/{kanvas}"))
        .expect(204)
        .await;
    s.index(&["Kaos Polos Hitam", "Sepatu Sneakers Kanvas"])
        .await;

    let kaos = s.search(&[("q", "kaos")]).await;
    assert_eq!(
        name_set(&kaos),
        sorted(&["Kaos Grafis Hitam Putih", "Kaos Polos Putih"])
    );
    assert_eq!(
        facet(&kaos, "brands"),
        vec![("erigo".into(), 1), ("uniqlo".into(), 1)]
    );
    assert_eq!(s.search(&[("q", "sneakers")]).await["total"], 0);
    assert_eq!(s.search(&[("q", "")]).await["total"], 7);
}

async fn highlights_are_html_safe_and_accents_fold(s: Shop) {
    let result = s.search(&[("q", "cafe")]).await;
    assert_eq!(names(&result), vec!["Mug Café Keramik"]);
    let highlight = &result["hits"][0]["highlight"];
    assert!(
        highlight["name"]
            .as_str()
            .unwrap()
            .contains("<mark>Café</mark>"),
        "{highlight}"
    );
    let snippet = highlight["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("&lt;b&gt;") && !snippet.contains("<b>"),
        "{snippet}"
    );
    assert!(snippet.contains("&amp;"), "{snippet}");

    let listed = s.search(&[("q", ""), ("category", "dapur")]).await;
    let snippet = listed["hits"][0]["highlight"]["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with("Mug &lt;b&gt;350"),
        "without a query the snippet is the description's start: {snippet}"
    );
}

async fn any_text_is_a_valid_query(s: Shop) {
    // Query-syntax characters of either engine, quoting, SQL, markup, odd Unicode.
    for q in [
        "'",
        "''",
        "\\",
        "\"",
        "-",
        "--",
        "- -",
        "\"\"",
        "or",
        "OR or",
        "a:*",
        "kaos:*AB",
        "!kaos",
        "(((",
        ")",
        "&|!<->",
        "kaos & sepatu",
        "kaos | sepatu",
        "x <-> y",
        "1:A",
        "'; drop table products; --",
        "<script>",
        "*",
        "?",
        "~2",
        "kaos^5",
        "name:kaos",
        "ÄÖÜ ß",
        "🙂 kaos",
        "\u{7}",
        "a\tb\nc",
        "  ",
        "iphone-15-pro",
        "\"kaos -polos\"",
        "-\"\"",
        "kaos \"unterminated",
    ] {
        let resp = s.search_request(&[("q", q)]).await;
        assert_eq!(
            resp.status(),
            200,
            "{q:?}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    // NUL is the one exception, refused for every parameter of the API (PostgreSQL text
    // cannot hold it): a 400 naming the parameter, never a 500.
    let resp = s.search_request(&[("q", "kaos\u{0}")]).await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["status"].as_i64(), body["errors"][0]["field"].as_str()),
        (Some(400), Some("q")),
        "{body}"
    );
}
