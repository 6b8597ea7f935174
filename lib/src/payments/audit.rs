//! Payment consistency rules for `tokoctl audit` (read only): refunds staff made outside
//! Midtrans are recorded in full, every payment the bank reversed holds its order and is
//! listed for staff, and refunds by line stay within what each line bought and paid. (That manual refunds add up to the orders' refunded amounts is checked
//! with the other refunds by `orders.refunds_match`.)

use sqlx::PgConnection;

use crate::consistency::{Check, Progress};

#[derive(sqlx::FromRow)]
struct ManualRefund {
    order_number: String,
    refund_key: String,
    status: String,
    has_method: bool,
    has_reference: bool,
    recorded_by_admin: bool,
}

#[derive(sqlx::FromRow)]
struct RefundedLine {
    order_number: String,
    sku: String,
    quantity: i32,
    paid: i64,
    refunded_units: i64,
    refunded_amount: i64,
}

#[derive(sqlx::FromRow)]
struct Reversal {
    order_number: String,
    order_status: String,
    payment_reversed: bool,
    listed: bool,
}

pub async fn check_payments(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let manual: Vec<ManualRefund> = sqlx::query_as!(
        ManualRefund,
        r#"select o.order_number, r.refund_key, r.status,
                coalesce(r.method, '') <> '' as "has_method!",
                coalesce(r.reference, '') <> '' as "has_reference!",
                exists (select 1 from users u where u.user_id = r.recorded_by and u.role <> 'customer') as "recorded_by_admin!"
         from refunds r join orders o on o.order_id = r.order_id
         where r.kind = 'manual' order by r.refund_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut manual_check = Check::new(
        "payments.manual_refunds_recorded",
        "every refund made outside Midtrans is succeeded and names its method, its reference and the admin who recorded it",
    );
    for r in &manual {
        manual_check.expect(
            r.status == "succeeded" && r.has_method && r.has_reference && r.recorded_by_admin,
            || {
                format!(
                    "{} refund {}: status {}, method {}, reference {}, recorded by an admin {}",
                    r.order_number,
                    r.refund_key,
                    r.status,
                    r.has_method,
                    r.has_reference,
                    r.recorded_by_admin
                )
            },
        );
    }
    progress("manual refunds", manual.len() as u64, manual.len() as u64);

    let reversals: Vec<Reversal> = sqlx::query_as!(
        Reversal,
        r#"select o.order_number, o.status as order_status,
                exists (select 1 from payments p where p.order_id = o.order_id and p.status = 'reversed') as "payment_reversed!",
                exists (select 1 from payment_exceptions e where e.order_id = o.order_id and e.kind = 'reversal') as "listed!"
         from orders o
         where o.status = 'payment_reversed'
            or exists (select 1 from payments p where p.order_id = o.order_id and p.status = 'reversed')
         order by o.order_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut reversal_check = Check::new(
        "payments.reversals_held_and_listed",
        "an order held as payment_reversed has a payment the bank reversed, and every reversed payment is listed as a payment exception",
    );
    for r in &reversals {
        let held_for_a_reason = r.order_status != "payment_reversed" || r.payment_reversed;
        reversal_check.expect(held_for_a_reason && r.listed, || {
            format!(
                "{} ({}): reversed payment {}, listed as an exception {}",
                r.order_number, r.order_status, r.payment_reversed, r.listed
            )
        });
    }
    progress("reversals", reversals.len() as u64, reversals.len() as u64);

    let lines: Vec<RefundedLine> = sqlx::query_as!(
        RefundedLine,
        r#"select o.order_number, l.sku, l.quantity,
                l.line_total - l.discount + case when o.prices_include_tax then 0 else l.tax end as "paid!",
                sum(rl.quantity)::int8 as "refunded_units!", sum(rl.amount)::int8 as "refunded_amount!"
         from refund_lines rl
         join refunds r on r.refund_id = rl.refund_id and r.status <> 'failed'
         join order_lines l on l.order_line_id = rl.order_line_id
         join orders o on o.order_id = l.order_id
         group by o.order_id, o.order_number, o.prices_include_tax, l.order_line_id, l.sku, l.quantity, l.line_total, l.discount, l.tax
         order by o.order_id, l.order_line_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut lines_check = Check::new(
        "payments.refunded_lines_within_paid",
        "refunds by line give back at most the units bought and at most what was paid for the line after its discount (with its tax when it was added)",
    );
    for l in &lines {
        lines_check.expect(
            l.refunded_units <= i64::from(l.quantity) && l.refunded_amount <= l.paid,
            || {
                format!(
                    "{} {}: refunded {} of {} units, {} of {} paid",
                    l.order_number, l.sku, l.refunded_units, l.quantity, l.refunded_amount, l.paid
                )
            },
        );
    }
    progress("refunded lines", lines.len() as u64, lines.len() as u64);
    Ok(vec![manual_check, reversal_check, lines_check])
}
