//! The OpenAPI document: served, complete enough for SDK generators, and equal to the committed
//! `openapi.json` (regenerate with `cargo run -p tokoctl -- openapi`).

use serde_json::Value;
use toko_testkit::TestApp;

#[tokio::test]
async fn the_served_spec_equals_the_committed_file() {
    let app = TestApp::spawn().await;
    let served = app
        .anonymous()
        .get("/api/openapi.json")
        .await
        .text()
        .await
        .unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))
            .expect("openapi.json is committed at the repository root");
    let served: Value = serde_json::from_str(&served).unwrap();
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert!(
        served == committed,
        "openapi.json is stale: run `cargo run -p tokoctl -- openapi` and commit the result"
    );
}

#[tokio::test]
async fn every_operation_has_an_id_a_tag_and_documented_errors() {
    let spec: Value = serde_json::from_str(&toko::http::spec_json()).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut ids = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.contains('_') && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id} is not verb_resource"
            );
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "429", "500"] {
                let content = &responses[status]["content"];
                assert!(
                    content.get("application/problem+json").is_some(),
                    "{id} does not document {status} as a problem"
                );
            }
            let secured = op.get("security").is_some();
            if path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/me") {
                assert!(secured, "{id} must declare bearer security");
                assert!(responses.contains_key("401"), "{id} must document 401");
            }
            if path.starts_with("/api/v1/admin") {
                assert!(responses.contains_key("403"), "{id} must document 403");
            }
        }
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn swagger_ui_is_served() {
    let app = TestApp::spawn().await;
    let resp = app.anonymous().get("/api/docs").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger"), "{html:.200}");
}
