//! The audit log: each change staff make through the admin API is recorded once, with who,
//! when, the operation, and the resource before and after; secrets never reach it; refused
//! requests and reads leave nothing; entries cannot be changed; the log filters and pages.

use serde_json::{json, Value};
use toko_testkit::TestApp;

async fn log(app: &TestApp, token: &str, query: &str) -> Value {
    app.with_token(token)
        .get(&format!("/api/v1/admin/audit-log?{query}"))
        .expect(200)
        .await
}

#[tokio::test]
async fn a_change_is_recorded_with_who_what_before_and_after_and_without_secrets() {
    let app = TestApp::spawn().await;
    let owner = app.register_staff("owner").await;
    let admin = app.register_admin().await;
    let category = app.create_category_id(&admin, "Lamps", None).await;
    let product = app
        .create_product(
            &admin,
            &json!({"name": "Desk Lamp", "category_id": category, "status": "draft",
                    "variants": [{"sku": "LAMP-1", "price": 250000, "stock_on_hand": 4}]}),
        )
        .await;
    let id = product["id"].as_str().unwrap();
    app.by(&admin)
        .patch(
            &format!("/api/v1/admin/products/{id}"),
            &json!({"name": "Reading Lamp"}),
        )
        .expect(200)
        .await;
    // Refused and read-only requests change nothing and leave nothing.
    app.by(&admin)
        .patch(
            &format!("/api/v1/admin/products/{id}"),
            &json!({"name": ""}),
        )
        .expect_problem(422, "validation_failed")
        .await;
    app.by(&admin)
        .get(&format!("/api/v1/admin/products/{id}"))
        .expect(200)
        .await;

    let page = log(&app, &owner.access_token, &format!("resource_id={id}")).await;
    let entries = page["items"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["update_product", "create_product"],
        "newest first"
    );
    let update = &entries[0];
    assert_eq!(update["actor_id"], admin.id);
    assert_eq!(update["actor_role"], "admin");
    assert_eq!(update["resource_type"], "products");
    assert_eq!(update["request"], json!({"name": "Reading Lamp"}));
    assert_eq!(update["before"]["name"], "Desk Lamp");
    assert_eq!(update["after"]["name"], "Reading Lamp");
    assert!(entries[1]["before"].is_null(), "a creation has no before");

    // A webhook endpoint's secret is shown once to the caller, never kept in the log.
    let endpoint = app
        .by(&admin)
        .post(
            "/api/v1/admin/webhooks",
            &json!({"url": "https://hooks.example.com/erp"}),
        )
        .expect(201)
        .await;
    let secret = endpoint["secret"].as_str().unwrap();
    let entry = &log(&app, &owner.access_token, "action=create_webhook_endpoint").await["items"][0];
    assert_eq!(entry["after"]["secret"], "[redacted]");
    let leaks: i64 =
        sqlx::query_scalar("select count(*) from audit_log a where a::text like '%' || $1 || '%'")
            .bind(secret)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(leaks, 0);
}

#[tokio::test]
async fn the_log_pages_filters_by_actor_and_cannot_be_changed() {
    let app = TestApp::spawn().await;
    let owner = app.register_staff("owner").await;
    let admin = app.register_admin().await;
    for name in ["A", "B", "C"] {
        app.create_category_id(&admin, name, None).await;
    }
    app.create_category_id(&owner, "D", None).await;

    let first = log(
        &app,
        &owner.access_token,
        &format!("actor_id={}&limit=2", admin.id),
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = log(
        &app,
        &owner.access_token,
        &format!("actor_id={}&limit=2&cursor={cursor}", admin.id),
    )
    .await;
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|e| e["after"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["C", "B", "A"]);

    // A request may carry a number JSON parsers cannot hold; the log still reads.
    app.by(&admin)
        .patch(
            &format!(
                "/api/v1/admin/categories/{}",
                first["items"][0]["resource_id"].as_str().unwrap()
            ),
            &json!({"name": "C2", "ignored": 1.7976931348623157e308}),
        )
        .expect(200)
        .await;
    let newest = log(&app, &owner.access_token, "action=update_category").await;
    assert_eq!(newest["items"][0]["after"]["name"], "C2");

    let changed = sqlx::query("update audit_log set action = 'nothing happened'")
        .execute(&app.db)
        .await;
    assert!(changed.is_err(), "append-only");
    let deleted = sqlx::query("delete from audit_log").execute(&app.db).await;
    assert!(deleted.is_err(), "append-only");
}
