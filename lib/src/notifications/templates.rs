//! The emails toko sends, as plain text and HTML (pure functions; unit-tested).

use crate::{
    fulfilment::ShipmentEvent,
    orders::{events::OrderEvent as Order, OrderStatus},
    returns::{ReturnEvent, ReturnStatus},
    webhooks::EndpointDisabled,
};

/// Shop details that appear in every email.
#[derive(Debug, Clone)]
pub struct Shop {
    pub name: String,
    /// Base URL of the storefront, for links.
    pub url: String,
}

/// One email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// One address, or several separated by commas.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `Rp 4.015.000` for IDR; `USD 12.50`-style for currencies with minor units.
pub fn money(amount: i64, currency: &str) -> String {
    let minor_digits = match currency {
        "IDR" | "JPY" | "KRW" | "VND" => 0,
        _ => 2,
    };
    let (whole, fraction) = if minor_digits == 0 {
        (amount.abs(), None)
    } else {
        (amount.abs() / 100, Some(amount.abs() % 100))
    };
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    let prefix = if currency == "IDR" {
        "Rp".to_owned()
    } else {
        currency.to_owned()
    };
    match fraction {
        Some(f) => format!("{sign}{prefix} {grouped},{f:02}"),
        None => format!("{sign}{prefix} {grouped}"),
    }
}

/// Escapes text for HTML bodies (names and addresses come from customers).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_page(shop: &Shop, title: &str, paragraphs: &[String], table: Option<String>) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect();
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#222\">\
         <h2>{title}</h2>{body}{table}<p style=\"color:#777\">{shop} &middot; <a href=\"{url}\">{url}</a></p></body></html>",
        title = escape(title),
        table = table.unwrap_or_default(),
        shop = escape(&shop.name),
        url = escape(&shop.url),
    )
}

fn text_page(shop: &Shop, paragraphs: &[String], table: Option<String>) -> String {
    let mut text = paragraphs.join("\n\n");
    if let Some(table) = table {
        text.push_str("\n\n");
        text.push_str(&table);
    }
    text.push_str(&format!("\n\n-- \n{}\n{}\n", shop.name, shop.url));
    text
}

/// The rows under the items: discounts, shipping, tax and the total.
fn summary(order: &Order) -> Vec<(String, String)> {
    let money = |amount: i64| money(amount, &order.currency);
    let mut rows = Vec::new();
    if order.discount_total > 0 {
        rows.push(("Discount".to_owned(), money(-order.discount_total)));
    }
    rows.push((
        format!("Shipping ({})", order.shipping_method),
        money(order.shipping_fee - order.shipping_discount),
    ));
    if order.tax_total > 0 {
        let label = if order.prices_include_tax {
            "Tax (included)"
        } else {
            "Tax"
        };
        rows.push((label.to_owned(), money(order.tax_total)));
    }
    rows.push(("Total".to_owned(), money(order.grand_total)));
    rows
}

fn lines_text(order: &Order) -> String {
    let mut out: Vec<String> = order
        .lines
        .iter()
        .map(|l| {
            format!(
                "{} x {} ({}) {}",
                l.quantity,
                l.product_name,
                l.sku,
                money(l.line_total, &order.currency)
            )
        })
        .collect();
    out.extend(
        summary(order)
            .into_iter()
            .map(|(label, amount)| format!("{label}: {amount}")),
    );
    out.join("\n")
}

fn lines_html(order: &Order) -> String {
    let rows: String = order
        .lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{} ({})</td><td style=\"text-align:right\">{}</td></tr>",
                l.quantity,
                escape(&l.product_name),
                escape(l.sku.as_str()),
                money(l.line_total, &order.currency)
            )
        })
        .collect();
    let totals: String = summary(order)
        .into_iter()
        .map(|(label, amount)| {
            let (open, close) = if label == "Total" { ("<b>", "</b>") } else { ("", "") };
            format!(
                "<tr><td></td><td>{open}{}{close}</td><td style=\"text-align:right\">{open}{amount}{close}</td></tr>",
                escape(&label)
            )
        })
        .collect();
    format!("<table cellpadding=\"4\">{rows}{totals}</table>")
}

fn email(
    shop: &Shop,
    to: &str,
    subject: String,
    paragraphs: Vec<String>,
    order: Option<&Order>,
) -> Email {
    Email {
        to: to.to_owned(),
        text: text_page(shop, &paragraphs, order.map(lines_text)),
        html: html_page(shop, &subject, &paragraphs, order.map(lines_html)),
        subject,
    }
}

/// The welcome email, with the address's verification link when there is one.
pub fn welcome(shop: &Shop, email_address: &str, name: &str, token: Option<&str>) -> Email {
    let mut paragraphs = vec![
        format!("Hi {name},"),
        format!("Your {} account is ready. Happy shopping!", shop.name),
    ];
    if let Some(token) = token {
        paragraphs.push(format!(
            "Please confirm this is your address: {}",
            verification_link(shop, token)
        ));
    }
    email(
        shop,
        email_address,
        format!("Welcome to {}", shop.name),
        paragraphs,
        None,
    )
}

fn verification_link(shop: &Shop, token: &str) -> String {
    format!(
        "{}/verify-email?token={token}",
        shop.url.trim_end_matches('/')
    )
}

/// A new verification link, asked for by the customer.
pub fn verify_email(
    shop: &Shop,
    request: &crate::auth::verification::VerificationRequested,
    token: &str,
) -> Email {
    email(
        shop,
        &request.email,
        format!("Confirm your email address for {}", shop.name),
        vec![
            format!("Hi {},", request.name),
            format!(
                "Please confirm this is your address before {} (UTC): {}",
                request.expires_at.format("%Y-%m-%d %H:%M"),
                verification_link(shop, token)
            ),
        ],
        None,
    )
}

pub fn order_confirmation(shop: &Shop, order: &Order) -> Email {
    email(
        shop,
        &order.customer_email,
        format!("Order {} received", order.order_number),
        vec![
            format!("Hi {},", order.customer_name),
            format!(
                "Thank you for your order {}. Please complete the payment of {} before {} (UTC); after that the order expires.",
                order.order_number,
                money(order.grand_total, &order.currency),
                order.payment_due_at.format("%Y-%m-%d %H:%M")
            ),
        ],
        Some(order),
    )
}

pub fn payment_received(shop: &Shop, order: &Order) -> Email {
    email(
        shop,
        &order.customer_email,
        format!("Payment received for order {}", order.order_number),
        vec![
            format!("Hi {},", order.customer_name),
            format!(
                "We received your payment of {} for order {}. We will let you know when it ships.",
                money(order.grand_total, &order.currency),
                order.order_number
            ),
        ],
        Some(order),
    )
}

pub fn shipment_sent(shop: &Shop, shipped: &ShipmentEvent) -> Email {
    let (order, shipment) = (&shipped.order, &shipped.shipment);
    let more_to_come = order.status == OrderStatus::PartiallyShipped;
    let whole_order = order.lines.iter().map(|l| l.shipped_quantity).sum::<i32>()
        == shipment.lines.iter().map(|l| l.quantity).sum::<i32>();
    let (subject, what) = match (more_to_come, whole_order) {
        (true, _) => (
            format!("Part of order {} has shipped", order.order_number),
            "Part of your order",
        ),
        (false, true) => (
            format!("Order {} has shipped", order.order_number),
            "Your order",
        ),
        (false, false) => (
            format!("Order {} has shipped", order.order_number),
            "The rest of your order",
        ),
    };
    let mut paragraphs = vec![
        format!("Hi {},", order.customer_name),
        format!(
            "{what} {} is on its way with {}. Tracking number: {}.",
            order.order_number, shipment.carrier, shipment.tracking_number
        ),
        "In this parcel:".to_owned(),
    ];
    paragraphs.extend(
        shipment
            .lines
            .iter()
            .map(|l| format!("{} x {} ({})", l.quantity, l.product_name, l.sku)),
    );
    if more_to_come {
        paragraphs.push("We will email you again when the rest ships.".to_owned());
    }
    email(shop, &order.customer_email, subject, paragraphs, None)
}

pub fn order_closed(shop: &Shop, order: &Order, expired: bool) -> Email {
    let (subject, why) = if expired {
        (
            format!("Order {} expired", order.order_number),
            "the payment was not completed in time",
        )
    } else {
        (
            format!("Order {} cancelled", order.order_number),
            "it was cancelled",
        )
    };
    let mut paragraphs = vec![
        format!("Hi {},", order.customer_name),
        format!("Your order {} is closed because {why}.", order.order_number),
    ];
    if order.refunded_amount > 0 {
        paragraphs.push(format!(
            "{} is being refunded to you.",
            money(order.refunded_amount, &order.currency)
        ));
    }
    email(
        shop,
        &order.customer_email,
        subject,
        paragraphs,
        Some(order),
    )
}

/// A payment exception for the shop's staff (`to`: the admins' addresses, comma-separated).
pub fn payment_exception(
    shop: &Shop,
    to: &str,
    order_number: &str,
    kind: &str,
    detail: &str,
    action: &str,
) -> Email {
    email(
        shop,
        to,
        format!("Payment exception on order {order_number}: {kind}"),
        vec![
            format!("A payment of order {order_number} needs a person ({kind})."),
            detail.to_owned(),
            format!("What to do: {action}."),
            "The open exceptions are listed at GET /api/v1/admin/payment-exceptions and by `tokoctl payments exceptions`.".to_owned(),
        ],
        None,
    )
}

/// A webhook endpoint disabled after failing too long, for the shop's staff.
pub fn webhook_endpoint_disabled(shop: &Shop, to: &str, e: &EndpointDisabled) -> Email {
    let id = e.endpoint_id;
    email(
        shop,
        to,
        format!("Webhook endpoint disabled: {}", e.url),
        vec![
            format!(
                "toko stopped sending events to {} because {}.",
                e.url, e.reason
            ),
            format!(
                "Failed deliveries are kept. Once the endpoint answers again, enable it \
                 (PATCH /api/v1/admin/webhooks/{id} with enabled: true) and send them again \
                 (POST /api/v1/admin/webhooks/{id}/redeliver)."
            ),
        ],
        None,
    )
}

pub fn refund_issued(shop: &Shop, order: &Order) -> Email {
    email(
        shop,
        &order.customer_email,
        format!("Refund for order {}", order.order_number),
        vec![
            format!("Hi {},", order.customer_name),
            format!(
                "We refunded {} of order {} (total refunded: {} of {}).",
                money(order.refunded_amount, &order.currency),
                order.order_number,
                money(order.refunded_amount, &order.currency),
                money(order.grand_total, &order.currency)
            ),
        ],
        None,
    )
}

/// A password reset link (the token is in the link only).
pub fn password_reset(
    shop: &Shop,
    request: &crate::auth::resets::PasswordResetRequested,
    token: &str,
) -> Email {
    let link = format!(
        "{}/reset-password?token={token}",
        shop.url.trim_end_matches('/')
    );
    email(
        shop,
        &request.email,
        format!("Reset your {} password", shop.name),
        vec![
            format!("Hi {},", request.name),
            format!(
                "Someone (hopefully you) asked to reset the password of your {} account. Choose a new password here before {} (UTC): {link}",
                shop.name,
                request.expires_at.format("%Y-%m-%d %H:%M")
            ),
            "The link works once. If you did not ask for it, ignore this email: your password stays as it is.".to_owned(),
        ],
        None,
    )
}

/// An invitation to join the staff, with its link.
pub fn staff_invite(shop: &Shop, invite: &crate::auth::staff::StaffInvited, token: &str) -> Email {
    let link = format!(
        "{}/staff/accept-invite?token={token}",
        shop.url.trim_end_matches('/')
    );
    let role = invite.role.replace('_', " ");
    email(
        shop,
        &invite.email,
        format!("You are invited to run {}", shop.name),
        vec![
            format!("Hi {},", invite.name),
            format!(
                "You are invited to join the staff of {} as {role}. Choose your password here before {} (UTC) to create your account: {link}",
                shop.name,
                invite.expires_at.format("%Y-%m-%d %H:%M")
            ),
            "The link works once. If you did not expect it, ignore this email.".to_owned(),
        ],
        None,
    )
}

/// A return moved a step: what happens next, in the customer's words.
pub fn return_update(shop: &Shop, e: &ReturnEvent) -> Email {
    let r = &e.details;
    let units: i32 = r.lines.iter().map(|l| l.quantity).sum();
    let (subject, what) = match r.status {
        ReturnStatus::Requested => (
            format!("Return {} requested", r.number),
            format!(
                "We received your request to return {units} item(s) of order {}. We will let you know once we have looked at it.",
                r.order_number
            ),
        ),
        ReturnStatus::Approved => (
            format!("Return {} approved", r.number),
            format!(
                "Your return of {units} item(s) of order {} is approved: please send the items back, with the return number {} on the parcel.",
                r.order_number, r.number
            ),
        ),
        ReturnStatus::Rejected => (
            format!("Return {} declined", r.number),
            format!(
                "We cannot accept your return of order {}: {}.",
                r.order_number,
                r.decision_note.as_deref().unwrap_or("no reason given")
            ),
        ),
        ReturnStatus::Received => (
            format!("Return {} received", r.number),
            format!(
                "The items you sent back from order {} arrived. Your refund follows shortly.",
                r.order_number
            ),
        ),
        ReturnStatus::Refunded => (
            format!("Return {} refunded", r.number),
            format!(
                "We refunded {} for your return of order {}.",
                money(r.refund_amount.unwrap_or(0), &r.currency),
                r.order_number
            ),
        ),
    };
    let mut paragraphs = vec![format!("Hi {},", e.customer_name), what];
    paragraphs.extend(
        r.lines
            .iter()
            .map(|l| format!("{} x {} ({})", l.quantity, l.product_name, l.sku)),
    );
    email(shop, &e.customer_email, subject, paragraphs, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_in_minor_units() {
        assert_eq!(money(4_015_000, "IDR"), "Rp 4.015.000");
        assert_eq!(money(999, "IDR"), "Rp 999");
        assert_eq!(money(123_456, "USD"), "USD 1.234,56");
        assert_eq!(money(0, "IDR"), "Rp 0");
    }

    #[test]
    fn html_escapes_customer_text() {
        let shop = Shop {
            name: "toko".into(),
            url: "https://shop.example".into(),
        };
        let mail = welcome(&shop, "a@b.co", "<script>alert(1)</script>", None);
        assert!(!mail.html.contains("<script>"));
        assert!(mail.text.contains("<script>"), "plain text stays as typed");
        assert_eq!(mail.subject, "Welcome to toko");
    }
}
