//! Order consistency rules for `tokoctl audit` (read only): amounts add up, paid and refunded
//! amounts agree with payments and refunds, and every order reached its status through legal
//! transitions of the state machine (`status.rs`), as its history records them.

use sqlx::PgConnection;
use uuid::Uuid;

use super::OrderStatus;
use crate::consistency::{Check, Progress};

#[derive(sqlx::FromRow)]
struct OrderFacts {
    order_id: Uuid,
    order_number: String,
    status: String,
    subtotal: i64,
    shipping_fee: i64,
    discount_total: i64,
    shipping_discount: i64,
    grand_total: i64,
    prices_include_tax: bool,
    tax_total: i64,
    shipping_tax: i64,
    lines_tax: i64,
    refunded_amount: i64,
    paid: bool,
    line_count: i64,
    lines_total: i64,
    bad_lines: i64,
    settled_payment: bool,
    refunds_succeeded: i64,
    history_from: Vec<String>,
    history_to: Vec<String>,
}

/// The order rules over every order.
pub async fn check_orders(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let rows = sqlx::query_as!(
        OrderFacts,
        r#"select o.order_id, o.order_number, o.status, o.subtotal, o.shipping_fee, o.discount_total,
           o.shipping_discount, o.grand_total, o.prices_include_tax, o.tax_total, o.shipping_tax,
           coalesce((select sum(l.tax) from order_lines l where l.order_id = o.order_id), 0)::int8 as "lines_tax!",
           o.refunded_amount, o.paid_at is not null as "paid!",
           (select count(*) from order_lines l where l.order_id = o.order_id) as "line_count!",
           coalesce((select sum(l.line_total) from order_lines l where l.order_id = o.order_id), 0)::int8 as "lines_total!",
           (select count(*) from order_lines l
             where l.order_id = o.order_id and l.line_total <> l.unit_price * l.quantity) as "bad_lines!",
           exists (select 1 from payments p
                    where p.order_id = o.order_id and p.gross_amount = o.grand_total
                      and p.status in ('paid', 'partially_refunded', 'refunded')) as "settled_payment!",
           coalesce((select sum(r.amount) from refunds r
                      where r.order_id = o.order_id and r.status = 'succeeded'), 0)::int8 as "refunds_succeeded!",
           array(select coalesce(h.from_status, '') from order_history h
                  where h.order_id = o.order_id and h.kind = 'transition'
                  order by h.created_at, h.history_id) as "history_from!",
           array(select h.to_status from order_history h
                  where h.order_id = o.order_id and h.kind = 'transition'
                  order by h.created_at, h.history_id) as "history_to!"
    from orders o
    order by o.order_id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut totals = Check::new(
        "orders.totals_match_lines",
        "every order has lines, each line is unit price × quantity, the subtotal is their sum, the tax is the lines' taxes plus the shipping tax, and the grand total is subtotal - discount + shipping - shipping discount (+ tax when prices exclude it)",
    );
    let mut payments = Check::new(
        "orders.paid_matches_payments",
        "paid orders have paid_at and a settled payment of the grand total; unpaid ones have neither",
    );
    let mut refunds = Check::new(
        "orders.refunds_match",
        "the refunded amount is within the grand total, covers the succeeded refunds and agrees with the status",
    );
    let mut history = Check::new(
        "orders.status_reachable",
        "the history is a chain of legal transitions from pending_payment ending at the current status",
    );
    let total = rows.len() as u64;
    for (done, o) in rows.iter().enumerate() {
        let number = &o.order_number;
        totals.expect(
            o.line_count > 0
                && o.bad_lines == 0
                && o.subtotal == o.lines_total
                && o.tax_total == o.lines_tax + o.shipping_tax
                && o.grand_total
                    == o.subtotal - o.discount_total + o.shipping_fee - o.shipping_discount
                        + if o.prices_include_tax { 0 } else { o.tax_total },
            || {
                format!(
                    "{number}: {} lines ({} mispriced) summing to {}, subtotal {}, discount {}, shipping {}, shipping discount {}, tax {} (lines {}, shipping {}, {}), grand total {}",
                    o.line_count, o.bad_lines, o.lines_total, o.subtotal, o.discount_total,
                    o.shipping_fee, o.shipping_discount, o.tax_total, o.lines_tax, o.shipping_tax,
                    if o.prices_include_tax { "included" } else { "added" }, o.grand_total
                )
            },
        );
        let status = OrderStatus::parse(&o.status);
        payments.expect(paid_consistent(status, o), || {
            format!(
                "{number} ({}): paid_at {}, settled payment of {}: {}",
                o.status,
                if o.paid { "set" } else { "unset" },
                o.grand_total,
                if o.settled_payment { "yes" } else { "no" }
            )
        });
        refunds.expect(refunds_consistent(status, o), || {
            format!(
                "{number} ({}): refunded {} of {}, succeeded refunds {}",
                o.status, o.refunded_amount, o.grand_total, o.refunds_succeeded
            )
        });
        history.expect(
            reachable(&o.history_from, &o.history_to, status).is_ok(),
            || {
                let why = reachable(&o.history_from, &o.history_to, status).unwrap_err();
                format!("{number} ({}, order {}): {why}", o.status, o.order_id)
            },
        );
        progress("orders", done as u64 + 1, total);
    }
    Ok(vec![totals, payments, refunds, history])
}

fn paid_consistent(status: Option<OrderStatus>, o: &OrderFacts) -> bool {
    match status {
        Some(OrderStatus::PendingPayment | OrderStatus::Expired) => !o.paid,
        // Cancelled before payment (no paid_at) or after it (refunded at Midtrans).
        Some(OrderStatus::Cancelled) => true,
        // Paid once, then reversed by the bank: paid_at stays as the record of it.
        Some(OrderStatus::PaymentReversed) => o.paid,
        Some(s) if s.is_paid() || s == OrderStatus::Refunded => o.paid && o.settled_payment,
        _ => false,
    }
}

fn refunds_consistent(status: Option<OrderStatus>, o: &OrderFacts) -> bool {
    let within = (0..=o.grand_total).contains(&o.refunded_amount)
        && o.refunded_amount >= o.refunds_succeeded
        && (o.refunded_amount == 0 || o.paid);
    within
        && match status {
            Some(OrderStatus::Refunded) => o.refunded_amount == o.grand_total,
            Some(OrderStatus::PartiallyRefunded) => {
                o.refunded_amount > 0 && o.refunded_amount < o.grand_total
            }
            _ => true,
        }
}

/// Whether the recorded history (`from`, `to` pairs in order) is a legal path to `current`.
fn reachable(from: &[String], to: &[String], current: Option<OrderStatus>) -> Result<(), String> {
    let current = current.ok_or("unknown status")?;
    let mut at: Option<OrderStatus> = None;
    for (f, t) in from.iter().zip(to) {
        let next =
            OrderStatus::parse(t).ok_or_else(|| format!("unknown status {t:?} in history"))?;
        let recorded_from = if f.is_empty() {
            None
        } else {
            OrderStatus::parse(f)
        };
        if recorded_from != at {
            return Err(format!(
                "history jumps: {t} recorded from {f:?}, but the order was at {at:?}"
            ));
        }
        let legal = match at {
            None => next == OrderStatus::PendingPayment,
            Some(prev) => prev.can_become(next),
        };
        if !legal {
            return Err(format!("illegal transition {at:?} -> {t}"));
        }
        at = Some(next);
    }
    match at {
        Some(last) if last == current => Ok(()),
        Some(last) => Err(format!(
            "history ends at {}, order is {}",
            last.as_str(),
            current.as_str()
        )),
        None => Err("no history".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(steps: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        steps
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .unzip()
    }

    #[test]
    fn a_legal_history_reaches_the_current_status() {
        let (f, t) = path(&[
            ("", "pending_payment"),
            ("pending_payment", "paid"),
            ("paid", "processing"),
        ]);
        assert_eq!(reachable(&f, &t, Some(OrderStatus::Processing)), Ok(()));
    }

    #[test]
    fn skipped_steps_illegal_moves_and_wrong_endings_are_reported() {
        let (f, t) = path(&[("", "pending_payment"), ("pending_payment", "shipped")]);
        assert!(reachable(&f, &t, Some(OrderStatus::Shipped)).is_err());
        let (f, t) = path(&[("", "pending_payment"), ("paid", "processing")]);
        assert!(reachable(&f, &t, Some(OrderStatus::Processing)).is_err());
        let (f, t) = path(&[("", "pending_payment")]);
        assert!(reachable(&f, &t, Some(OrderStatus::Paid)).is_err());
        assert!(reachable(&[], &[], Some(OrderStatus::PendingPayment)).is_err());
    }
}
