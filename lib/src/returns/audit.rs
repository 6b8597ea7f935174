//! Return consistency rules for `tokoctl audit` (read only): no line returns more than was
//! delivered, a refunded return's refund is in the ledger with its units, and every restocked
//! unit is a `return` stock movement.

use sqlx::PgConnection;

use crate::consistency::{Check, Progress};

#[derive(sqlx::FromRow)]
struct LineUnits {
    order_number: String,
    sku: String,
    quantity: i32,
    returned_quantity: i32,
    received: i64,
    promised: i64,
}

#[derive(sqlx::FromRow)]
struct RefundedReturn {
    number: String,
    refund_amount: i64,
    ledger_amount: Option<i64>,
    ledger_status: Option<String>,
    unit_mismatches: i64,
}

#[derive(sqlx::FromRow)]
struct Restock {
    order_number: String,
    sku: String,
    restocked: i64,
    moved: i64,
}

pub async fn check_returns(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let lines: Vec<LineUnits> = sqlx::query_as!(
        LineUnits,
        r#"select o.order_number, l.sku, l.quantity, l.returned_quantity,
                coalesce(sum(rl.quantity) filter (where r.status in ('received', 'refunded')), 0)::int8 as "received!",
                coalesce(sum(rl.quantity) filter (where r.status <> 'rejected'), 0)::int8 as "promised!"
         from order_lines l
         join orders o using (order_id)
         left join return_lines rl on rl.order_line_id = l.order_line_id
         left join returns r on r.return_id = rl.return_id
         where l.returned_quantity > 0 or rl.return_id is not null
         group by o.order_number, l.order_line_id
         order by o.order_number, l.sku"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut units = Check::new(
        "returns.returned_within_delivered",
        "a line's returned units are the units its received returns brought back, and its open and received returns never exceed what was bought",
    );
    for l in &lines {
        units.expect(
            i64::from(l.returned_quantity) == l.received && l.promised <= i64::from(l.quantity),
            || {
                format!(
                    "order {} line {}: bought {}, returned {}, received by returns {}, in returns {}",
                    l.order_number, l.sku, l.quantity, l.returned_quantity, l.received, l.promised
                )
            },
        );
    }
    progress("returns", lines.len() as u64, lines.len() as u64);

    let refunded: Vec<RefundedReturn> = sqlx::query_as!(
        RefundedReturn,
        r#"select r.number, r.refund_amount as "refund_amount!", f.amount as "ledger_amount?",
                f.status as "ledger_status?",
                ((select count(*) from (select order_line_id, quantity from return_lines where return_id = r.return_id
                                        except
                                        select order_line_id, quantity from refund_lines where refund_id = f.refund_id) a)
                 + (select count(*) from (select order_line_id, quantity from refund_lines where refund_id = f.refund_id
                                          except
                                          select order_line_id, quantity from return_lines where return_id = r.return_id) b)
                )::int8 as "unit_mismatches!"
         from returns r left join refunds f on f.refund_key = r.refund_key
         where r.status = 'refunded' order by r.number"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut refunds = Check::new(
        "returns.refunds_in_ledger",
        "a refunded return's refund succeeded in the refunds ledger with its amount, for exactly the return's units",
    );
    for r in &refunded {
        refunds.expect(
            r.ledger_amount == Some(r.refund_amount)
                && r.ledger_status.as_deref() == Some("succeeded")
                && r.unit_mismatches == 0,
            || {
                format!(
                    "return {}: refunded {}, ledger {:?} ({:?}), {} lines differ",
                    r.number, r.refund_amount, r.ledger_amount, r.ledger_status, r.unit_mismatches
                )
            },
        );
    }

    let restocks: Vec<Restock> = sqlx::query_as!(
        Restock,
        r#"with restocked as (
             select r.order_id, l.variant_id, sum(rl.quantity)::int8 as units
             from return_lines rl join returns r using (return_id)
             join order_lines l on l.order_line_id = rl.order_line_id
             where rl.disposition = 'restock' group by 1, 2),
         moved as (
             select order_id, variant_id, sum(on_hand_delta)::int8 as units
             from stock_movements where kind = 'return' group by 1, 2)
         select o.order_number, v.sku, coalesce(x.units, 0)::int8 as "restocked!",
                coalesce(m.units, 0)::int8 as "moved!"
         from restocked x full join moved m using (order_id, variant_id)
         join orders o using (order_id) join variants v using (variant_id)
         order by o.order_number, v.sku"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut movements = Check::new(
        "returns.restocks_match_movements",
        "the units returns put back into stock are the `return` stock movements of their orders, variant by variant",
    );
    for r in &restocks {
        movements.expect(r.restocked == r.moved, || {
            format!(
                "order {} {}: restocked by returns {}, return movements {}",
                r.order_number, r.sku, r.restocked, r.moved
            )
        });
    }
    Ok(vec![units, refunds, movements])
}
