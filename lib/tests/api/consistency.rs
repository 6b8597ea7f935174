//! `toko::consistency` (what `tokoctl audit` runs): a shop in every ordinary state passes every
//! check, and deliberately corrupted rows are reported by the check that owns the rule.

use serde_json::json;
use toko::consistency::{self, Check};
use toko_testkit::TestApp;

async fn audit(app: &TestApp) -> Vec<Check> {
    consistency::run(&app.db, &|_, _, _| {})
        .await
        .expect("audit runs")
}

fn failing(checks: &[Check]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.name)
        .collect()
}

fn violations<'a>(checks: &'a [Check], name: &str) -> &'a [String] {
    &checks
        .iter()
        .find(|c| c.name == name)
        .expect("check exists")
        .violations
}

#[tokio::test]
async fn a_consistent_shop_passes_and_corrupted_rows_are_reported() {
    let app = TestApp::builder().with_midtrans().spawn().await;
    let (_, variant) = app.admin_with_product("AUDIT-1", 150_000, 10).await;

    // One order waiting for payment, one paid, one cancelled before payment.
    let (_, pending) = app.checked_out(&variant, 2).await;
    let (_, paid) = app.checked_out(&variant, 1).await;
    let paid_number = paid["order"]["number"].as_str().unwrap();
    let paid_id = paid["order"]["id"].as_str().unwrap();
    app.pay(paid_id, paid_number, None).await;
    let (customer, cancelled) = app.checked_out(&variant, 3).await;
    let cancelled_id = cancelled["order"]["id"].as_str().unwrap();
    app.by(&customer)
        .post(&format!("/api/v1/orders/{cancelled_id}/cancel"), &json!({}))
        .expect(200)
        .await;

    let checks = audit(&app).await;
    assert_eq!(failing(&checks), Vec::<&str>::new(), "{checks:#?}");
    let checked: Vec<(&str, u64)> = checks.iter().map(|c| (c.name, c.checked)).collect();
    assert!(
        checked.contains(&("stock.ledger_matches_on_hand", 1)),
        "{checked:?}"
    );
    assert!(
        checked.contains(&("orders.status_reachable", 3)),
        "{checked:?}"
    );

    // Corrupt one rule of each kind, behind the application's back.
    let pending_id: uuid::Uuid = pending["order"]["id"].as_str().unwrap().parse().unwrap();
    let paid_id: uuid::Uuid = paid_id.parse().unwrap();
    sqlx::query("update variants set stock_reserved = stock_reserved + 1 where sku = 'AUDIT-1'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "update orders set subtotal = subtotal + 1, grand_total = grand_total + 1 where order_id = $1",
    )
    .bind(pending_id)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("delete from order_history where order_id = $1 and to_status = 'paid'")
        .bind(paid_id)
        .execute(&app.db)
        .await
        .unwrap();

    let checks = audit(&app).await;
    assert_eq!(
        failing(&checks),
        vec![
            "stock.reserved_matches_unpaid_orders",
            "orders.totals_match_lines",
            "orders.status_reachable",
        ],
        "{checks:#?}"
    );
    let reserved = violations(&checks, "stock.reserved_matches_unpaid_orders");
    assert_eq!(reserved, ["AUDIT-1: reserved 3, unpaid orders hold 2"]);
    let totals = violations(&checks, "orders.totals_match_lines");
    assert_eq!(totals.len(), 1);
    assert!(
        totals[0].starts_with(pending["order"]["number"].as_str().unwrap()),
        "{totals:?}"
    );
    let history = violations(&checks, "orders.status_reachable");
    assert_eq!(history.len(), 1);
    assert!(history[0].starts_with(paid_number), "{history:?}");
}
