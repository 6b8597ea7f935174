//! The Snap payment page, `GET /snap/v3/redirection/{token}`: a tiny HTML page so a person
//! trying the quick-start can "pay" in a browser.
//!
//! Its buttons are plain HTML forms posting to the control API; after an action the browser is
//! sent to the shop's finish URL with `order_id`, `status_code` and `transaction_status`
//! appended, as Midtrans does, or back to this page when there is none.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Html, Path, Redirect};
use poem::{handler, IntoResponse, Response};

use crate::record::status_query_code;
use crate::sim::{OrderView, Simulator};
use crate::state::TransactionStatus;

/// `GET /snap/v3/redirection/{token}`.
#[handler]
pub fn show(sim: Data<&Arc<Simulator>>, Path(token): Path<String>) -> Response {
    match sim.order_by_token(&token) {
        Some(order) => Html(render(&order)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(layout(
                "Unknown payment",
                "<p>This payment page does not exist (or the simulator was reset).</p>",
            )),
        )
            .into_response(),
    }
}

/// Where the browser goes after a form on the page was handled.
pub(crate) fn after_form(order: &OrderView) -> Response {
    let back = order.redirect_url.clone();
    let Some(finish) = order.finish_url.as_deref() else {
        return Redirect::see_other(back).into_response();
    };
    let target = match (url::Url::parse(finish), &order.transaction) {
        (Ok(mut url), Some(txn)) => {
            url.query_pairs_mut()
                .append_pair("order_id", &order.order_id)
                .append_pair("status_code", status_query_code(txn.transaction_status))
                .append_pair("transaction_status", txn.transaction_status.as_str());
            url.to_string()
        }
        _ => back,
    };
    Redirect::see_other(target).into_response()
}

fn render(order: &OrderView) -> String {
    let order_id = escape(&order.order_id);
    let action = |name: &str| format!("/_sim/transactions/{order_id}/{name}");
    let mut html = format!(
        "<h1>Order {order_id}</h1><p>Amount: <strong>Rp {}</strong> (IDR {})</p>",
        thousands(order.gross_amount),
        order.gross_amount
    );
    let status = order.transaction.as_ref().map(|txn| txn.transaction_status);
    match &order.transaction {
        Some(txn) => html.push_str(&format!(
            "<p>Status: <strong>{}</strong> ({}{})</p>",
            txn.transaction_status.as_str(),
            escape(&txn.payment_type),
            txn.fraud_status
                .map(|fraud| format!(", fraud {fraud:?}").to_lowercase())
                .unwrap_or_default()
        )),
        None => html.push_str("<p>No payment method chosen yet.</p>"),
    }
    if order.superseded {
        html.push_str("<p>This payment session was replaced by a newer one.</p>");
    } else if matches!(status, None | Some(TransactionStatus::Deny)) {
        html.push_str(&format!(
            r#"<form method="post" action="{pay}">
<label>Method <select name="payment_type">
<option value="bank_transfer">Bank transfer (virtual account)</option>
<option value="gopay">GoPay</option><option value="qris">QRIS</option>
<option value="cstore">Indomaret / Alfamart</option><option value="credit_card">Credit card</option>
</select></label>
<button name="outcome" value="settlement">Pay now</button>
<button name="outcome" value="pending">Choose, pay later</button>
<button name="outcome" value="deny">Decline</button>
</form>
<form method="post" action="{pay}"><input type="hidden" name="payment_type" value="credit_card">
Card: <button name="outcome" value="capture_accept">Accepted</button>
<button name="outcome" value="capture_challenge">Challenged by fraud check</button>
</form>"#,
            pay = action("pay")
        ));
    } else if status == Some(TransactionStatus::Pending) {
        for (name, label) in [
            ("settle", "Pay now"),
            ("expire", "Let it expire"),
            ("cancel", "Cancel"),
        ] {
            html.push_str(&format!(
                r#"<form method="post" action="{}" style="display:inline"><button>{label}</button></form> "#,
                action(name)
            ));
        }
    }
    if let Some(finish) = &order.finish_url {
        html.push_str(&format!(
            r#"<p><a href="{}">Back to the shop</a></p>"#,
            escape(finish)
        ));
    }
    layout(&format!("Pay {order_id}"), &html)
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · Midtrans simulator</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}form{{margin:1rem 0}}button{{margin:.2rem}}</style>
</head><body>{body}<hr><p><small>Served by midtrans-sim. Nothing is charged.</small></p></body></html>"#
    )
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `150000` → `150.000` (Indonesian digit grouping).
fn thousands(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push('.');
        }
        out.push(digit);
    }
    if amount < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(150_000), "150.000");
        assert_eq!(thousands(1_000_000), "1.000.000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(-1_500), "-1.500");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
