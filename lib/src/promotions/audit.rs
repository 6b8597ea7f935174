//! Promotion consistency rules for `tokoctl audit` (read only): redemption counts match the
//! orders that redeemed, and every discount on an order is allocated to its lines exactly.

use sqlx::PgConnection;

use crate::consistency::{Check, Progress};

#[derive(sqlx::FromRow)]
struct Count {
    promotion_id: uuid::Uuid,
    name: String,
    stored: i32,
    counting: i64,
    /// Whether the promotion has a limit (only then is its count kept on its row).
    limited: bool,
    /// Redemptions whose release does not match their order (released while the order
    /// stands, or counting for an order cancelled or expired unpaid).
    misreleased: i64,
}

#[derive(sqlx::FromRow)]
struct OrderDiscount {
    order_number: String,
    discount_total: i64,
    shipping_discount: i64,
    lines_discount: i64,
    redeemed_lines: i64,
    redeemed_shipping: i64,
    misallocated_lines: i64,
}

pub async fn check_promotions(
    tx: &mut PgConnection,
    progress: Progress<'_>,
) -> Result<Vec<Check>, sqlx::Error> {
    let counts: Vec<Count> = sqlx::query_as!(
        Count,
        r#"select p.promotion_id, p.name, p.redemption_count as stored,
                (p.usage_limit is not null or p.per_customer_limit is not null) as "limited!",
                count(r.order_id) filter (where r.released_at is null) as "counting!",
                count(r.order_id) filter (where (r.released_at is not null)
                    <> (o.status in ('cancelled', 'expired') and o.paid_at is null)) as "misreleased!"
         from promotions p
         left join promotion_redemptions r on r.promotion_id = p.promotion_id
         left join orders o on o.order_id = r.order_id
         group by p.promotion_id order by p.promotion_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut count_check = Check::new(
        "promotions.redemptions_counted",
        "a limited promotion's redemption count is the number of its redemptions by orders that stand (unlimited ones are counted when read), and only unpaid orders cancelled or expired have released theirs",
    );
    for c in &counts {
        count_check.expect(
            (!c.limited || c.stored as i64 == c.counting) && c.misreleased == 0,
            || {
                format!(
                    "{} ({}): count {}, counting redemptions {}, wrongly released or kept {}",
                    c.name, c.promotion_id, c.stored, c.counting, c.misreleased
                )
            },
        );
    }
    progress("promotions", counts.len() as u64, counts.len() as u64);

    let orders: Vec<OrderDiscount> = sqlx::query_as!(
        OrderDiscount,
        r#"select o.order_number, o.discount_total, o.shipping_discount,
                (select coalesce(sum(l.discount), 0) from order_lines l where l.order_id = o.order_id)::int8 as "lines_discount!",
                (select coalesce(sum(r.lines_discount), 0) from promotion_redemptions r where r.order_id = o.order_id)::int8 as "redeemed_lines!",
                (select coalesce(sum(r.shipping_discount), 0) from promotion_redemptions r where r.order_id = o.order_id)::int8 as "redeemed_shipping!",
                (select count(*) from order_lines l
                 where l.order_id = o.order_id
                   and l.discount <> (select coalesce(sum(d.amount), 0) from promotion_line_discounts d
                                      where d.order_line_id = l.order_line_id)) as "misallocated_lines!"
         from orders o
         where o.discount_total > 0 or o.shipping_discount > 0
            or exists (select 1 from promotion_redemptions r where r.order_id = o.order_id)
         order by o.order_id"#,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut allocation_check = Check::new(
        "promotions.discounts_allocated",
        "an order's discount is the sum of its lines' discounts and of its redemptions, its shipping discount the sum of its redemptions', and each line's discount the sum of its allocations",
    );
    for o in &orders {
        allocation_check.expect(
            o.discount_total == o.lines_discount
                && o.discount_total == o.redeemed_lines
                && o.shipping_discount == o.redeemed_shipping
                && o.misallocated_lines == 0,
            || {
                format!(
                    "{}: discount {} (lines {}, redemptions {}), shipping discount {} (redemptions {}), lines misallocated {}",
                    o.order_number,
                    o.discount_total,
                    o.lines_discount,
                    o.redeemed_lines,
                    o.shipping_discount,
                    o.redeemed_shipping,
                    o.misallocated_lines
                )
            },
        );
    }
    progress(
        "discounted orders",
        orders.len() as u64,
        orders.len() as u64,
    );
    Ok(vec![count_check, allocation_check])
}
