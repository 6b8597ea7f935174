//! SQL for the `promotions`, `promotion_redemptions` and `promotion_line_discounts` tables.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{
    rules::{Effect, Eligibility, Rule, Targets},
    OrderPromotion, Promotion, UsageOrder,
};

#[derive(sqlx::FromRow)]
struct PromotionRow {
    promotion_id: Uuid,
    name: String,
    code: Option<String>,
    effect: String,
    percent: Option<i32>,
    amount: Option<i64>,
    max_discount: Option<i64>,
    product_ids: Vec<Uuid>,
    category_ids: Vec<Uuid>,
    brands: Vec<String>,
    shipping_methods: Vec<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    min_subtotal: i64,
    eligibility: String,
    usage_limit: Option<i32>,
    per_customer_limit: Option<i32>,
    redemption_count: i32,
    stackable: bool,
    priority: i32,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PromotionRow {
    fn into_promotion(self) -> Result<Promotion, sqlx::Error> {
        let corrupt = |what: &str| {
            sqlx::Error::Decode(format!("promotion {}: {what}", self.promotion_id).into())
        };
        let effect = match (self.effect.as_str(), self.percent, self.amount) {
            ("order_percent", Some(percent), _) => Effect::OrderPercent {
                percent,
                max_discount: self.max_discount,
            },
            ("lines_percent", Some(percent), _) => Effect::LinesPercent {
                percent,
                max_discount: self.max_discount,
            },
            ("order_fixed", _, Some(amount)) => Effect::OrderFixed { amount },
            ("lines_fixed", _, Some(amount)) => Effect::LinesFixed { amount },
            ("free_shipping", _, _) => Effect::FreeShipping {
                methods: self.shipping_methods.clone(),
            },
            _ => return Err(corrupt("unknown effect")),
        };
        let eligibility =
            Eligibility::parse(&self.eligibility).ok_or_else(|| corrupt("unknown eligibility"))?;
        Ok(Promotion {
            rule: Rule {
                id: self.promotion_id,
                name: self.name,
                code: self.code,
                effect,
                targets: Targets {
                    product_ids: self.product_ids,
                    category_ids: self.category_ids,
                    brands: self.brands,
                },
                starts_at: self.starts_at,
                ends_at: self.ends_at,
                min_subtotal: self.min_subtotal,
                eligibility,
                usage_limit: self.usage_limit,
                per_customer_limit: self.per_customer_limit,
                redemption_count: self.redemption_count,
                stackable: self.stackable,
                priority: self.priority,
                enabled: self.enabled,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn promotions(rows: Vec<PromotionRow>) -> Result<Vec<Promotion>, sqlx::Error> {
    rows.into_iter().map(PromotionRow::into_promotion).collect()
}

pub(super) async fn get(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Promotion>, sqlx::Error> {
    sqlx::query_as!(
        PromotionRow,
        "select promotion_id, name, code, effect, percent, amount, max_discount, product_ids,
                category_ids, brands, shipping_methods, starts_at, ends_at, min_subtotal, eligibility,
                usage_limit, per_customer_limit, redemption_count, stackable, priority, enabled,
                created_at, updated_at
         from promotions where promotion_id = $1",
        id,
    )
        .fetch_optional(db)
        .await?
        .map(PromotionRow::into_promotion)
        .transpose()
}

/// The promotion a code names (ignoring case), enabled or not.
pub(super) async fn by_code(
    db: impl PgExecutor<'_>,
    code: &str,
) -> Result<Option<Promotion>, sqlx::Error> {
    sqlx::query_as!(
        PromotionRow,
        "select promotion_id, name, code, effect, percent, amount, max_discount, product_ids,
                category_ids, brands, shipping_methods, starts_at, ends_at, min_subtotal, eligibility,
                usage_limit, per_customer_limit, redemption_count, stackable, priority, enabled,
                created_at, updated_at
         from promotions where lower(code) = lower($1)",
        code,
    )
        .fetch_optional(db)
        .await?
        .map(PromotionRow::into_promotion)
        .transpose()
}

/// Enabled automatic promotions whose window contains `now`.
pub(super) async fn automatic(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<Promotion>, sqlx::Error> {
    promotions(
        sqlx::query_as!(
            PromotionRow,
            "select promotion_id, name, code, effect, percent, amount, max_discount, product_ids,
                category_ids, brands, shipping_methods, starts_at, ends_at, min_subtotal, eligibility,
                usage_limit, per_customer_limit, redemption_count, stackable, priority, enabled,
                created_at, updated_at
             from promotions
             where code is null and enabled
               and (starts_at is null or starts_at <= $1) and (ends_at is null or ends_at > $1)
             order by priority, promotion_id",
            now,
        )
        .fetch_all(db)
        .await?,
    )
}

/// Newest first; `before` is the last id of the previous page.
pub(super) async fn list(
    db: impl PgExecutor<'_>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Promotion>, sqlx::Error> {
    promotions(
        sqlx::query_as!(
            PromotionRow,
            "select promotion_id, name, code, effect, percent, amount, max_discount, product_ids,
                category_ids, brands, shipping_methods, starts_at, ends_at, min_subtotal, eligibility,
                usage_limit, per_customer_limit, redemption_count, stackable, priority, enabled,
                created_at, updated_at
             from promotions where ($1::uuid is null or promotion_id < $1)
             order by promotion_id desc limit $2",
            before,
            limit,
        )
        .fetch_all(db)
        .await?,
    )
}

/// Writes a promotion (insert, or update of everything but its count).
pub(super) async fn save(
    db: impl PgExecutor<'_>,
    rule: &Rule,
    insert: bool,
) -> Result<bool, sqlx::Error> {
    let (percent, amount, max_discount, methods) = match &rule.effect {
        Effect::OrderPercent {
            percent,
            max_discount,
        }
        | Effect::LinesPercent {
            percent,
            max_discount,
        } => (Some(*percent), None, *max_discount, Vec::new()),
        Effect::OrderFixed { amount } | Effect::LinesFixed { amount } => {
            (None, Some(*amount), None, Vec::new())
        }
        Effect::FreeShipping { methods } => (None, None, None, methods.clone()),
    };
    let result = if insert {
        sqlx::query!(
            "insert into promotions (promotion_id, name, code, effect, percent, amount, max_discount, product_ids,
                 category_ids, brands, shipping_methods, starts_at, ends_at, min_subtotal, eligibility, usage_limit,
                 per_customer_limit, stackable, priority, enabled)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            rule.id,
            &rule.name,
            rule.code.as_deref(),
            rule.effect.name(),
            percent,
            amount,
            max_discount,
            &rule.targets.product_ids,
            &rule.targets.category_ids,
            &rule.targets.brands,
            &methods,
            rule.starts_at,
            rule.ends_at,
            rule.min_subtotal,
            rule.eligibility.as_str(),
            rule.usage_limit,
            rule.per_customer_limit,
            rule.stackable,
            rule.priority,
            rule.enabled,
        )
        .execute(db)
        .await?
    } else {
        sqlx::query!(
            "update promotions set name = $2, code = $3, effect = $4, percent = $5, amount = $6, max_discount = $7,
                 product_ids = $8, category_ids = $9, brands = $10, shipping_methods = $11, starts_at = $12,
                 ends_at = $13, min_subtotal = $14, eligibility = $15, usage_limit = $16, per_customer_limit = $17,
                 stackable = $18, priority = $19, enabled = $20,
                 redemption_count = (select count(*) from promotion_redemptions r
                                      where r.promotion_id = $1 and r.released_at is null)
             where promotion_id = $1",
            rule.id,
            &rule.name,
            rule.code.as_deref(),
            rule.effect.name(),
            percent,
            amount,
            max_discount,
            &rule.targets.product_ids,
            &rule.targets.category_ids,
            &rule.targets.brands,
            &methods,
            rule.starts_at,
            rule.ends_at,
            rule.min_subtotal,
            rule.eligibility.as_str(),
            rule.usage_limit,
            rule.per_customer_limit,
            rule.stackable,
            rule.priority,
            rule.enabled,
        )
        .execute(db)
        .await?
    };
    Ok(result.rows_affected() == 1)
}

pub(super) async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!("delete from promotions where promotion_id = $1", id,)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Whether any order ever redeemed the promotion (released redemptions included).
pub(super) async fn ever_redeemed(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from promotion_redemptions where promotion_id = $1) as "exists!""#,
        id,
    )
    .fetch_one(db)
    .await
}

/// Which of `ids` are not categories.
pub(super) async fn unknown_categories(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id!" from unnest($1::uuid[]) as t(id)
         where not exists (select 1 from categories c where c.category_id = t.id)"#,
        ids,
    )
    .fetch_all(db)
    .await
}

/// Which of `ids` are not products.
pub(super) async fn unknown_products(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id!" from unnest($1::uuid[]) as t(id)
         where not exists (select 1 from products p where p.product_id = t.id)"#,
        ids,
    )
    .fetch_all(db)
    .await
}

/// `ids` and every category below them.
pub(super) async fn with_descendants(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with recursive tree(category_id) as (
             select category_id from categories where category_id = any($1)
             union
             select c.category_id from categories c join tree t on c.parent_id = t.category_id
         )
         select category_id as "category_id!" from tree"#,
        ids,
    )
    .fetch_all(db)
    .await
}

/// The customer's redemptions that count, per promotion among `ids`.
pub(super) async fn customer_redemptions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select promotion_id, count(*) as "count!" from promotion_redemptions
           where user_id = $1 and promotion_id = any($2) and released_at is null
           group by promotion_id"#,
        user_id,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.promotion_id, r.count))
        .collect())
}

/// Counts one redemption, guarded: `None` when the promotion is disabled, outside its window
/// or at its limit; otherwise its per-customer limit. Takes the promotion's row lock until the
/// transaction ends.
pub(super) async fn count_redemption(
    tx: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
    limited: bool,
) -> Result<Option<Option<i32>>, sqlx::Error> {
    if limited {
        // Counted on the row, whose lock (held to the commit) makes the limits exact.
        return sqlx::query_scalar!(
            "update promotions set redemption_count = redemption_count + 1
                 where promotion_id = $1 and enabled
                   and (starts_at is null or starts_at <= $2) and (ends_at is null or ends_at > $2)
                   and (usage_limit is null or redemption_count < usage_limit)
                 returning per_customer_limit",
            id,
            now,
        )
        .fetch_optional(tx)
        .await;
    }
    // Unlimited: nothing to count, so concurrent checkouts only share the row (which keeps
    // staff from changing its limits until they commit) and never queue on it.
    let still_unlimited = sqlx::query_scalar!(
        r#"select usage_limit is null and per_customer_limit is null as "unlimited!"
           from promotions
           where promotion_id = $1 and enabled
             and (starts_at is null or starts_at <= $2) and (ends_at is null or ends_at > $2)
           for share"#,
        id,
        now,
    )
    .fetch_optional(tx)
    .await?;
    // Limited since it was evaluated: refused like an ended promotion (the cart shows it again).
    Ok(still_unlimited.filter(|unlimited| *unlimited).map(|_| None))
}

/// Locks a promotion for a change of its terms (waiting for checkouts redeeming it).
pub(super) async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        "select 1 as one from promotions where promotion_id = $1 for update",
        id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(found.is_some())
}

/// Redemptions that count (by orders that were not cancelled or expired unpaid).
pub(super) async fn live_redemptions(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*)::int4 as "count!" from promotion_redemptions
           where promotion_id = $1 and released_at is null"#,
        id,
    )
    .fetch_one(db)
    .await
}

pub(super) struct NewRedemption<'a> {
    pub promotion_id: Uuid,
    pub order_id: Uuid,
    pub order_number: &'a str,
    pub user_id: Uuid,
    pub code: Option<&'a str>,
    pub name: &'a str,
    pub position: i32,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    /// (order line, amount) for every line the promotion discounted.
    pub lines: Vec<(Uuid, i64)>,
}

pub(super) async fn insert_redemption(
    tx: &mut PgConnection,
    r: &NewRedemption<'_>,
) -> Result<(), sqlx::Error> {
    let (line_ids, amounts): (Vec<Uuid>, Vec<i64>) = r.lines.iter().copied().unzip();
    sqlx::query!(
        "with redemption as (
             insert into promotion_redemptions (promotion_id, order_id, order_number, user_id, code, name,
                                                position, lines_discount, shipping_discount)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             returning order_id, promotion_id
         )
         insert into promotion_line_discounts (order_id, promotion_id, order_line_id, amount)
         select redemption.order_id, redemption.promotion_id, line, amount
         from redemption, unnest($10::uuid[], $11::int8[]) as t(line, amount)",
        r.promotion_id,
        r.order_id,
        r.order_number,
        r.user_id,
        r.code,
        r.name,
        r.position,
        r.lines_discount,
        r.shipping_discount,
        &line_ids,
        &amounts,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Marks the order's redemptions released and gives their counts back; the released ones.
pub(super) async fn release(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<OrderPromotion>, sqlx::Error> {
    let released: Vec<OrderPromotion> = sqlx::query_as!(
        OrderPromotion,
        "update promotion_redemptions set released_at = now()
         where order_id = $1 and released_at is null
         returning promotion_id, code, name, lines_discount, shipping_discount, released_at",
        order_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = released.iter().map(|p| p.promotion_id).collect();
    sqlx::query!(
        "update promotions set redemption_count = redemption_count - 1
         where promotion_id = any($1) and (usage_limit is not null or per_customer_limit is not null)",
        &ids,
    )
    .execute(tx)
    .await?;
    Ok(released)
}

/// What the order received, in the order the promotions applied.
pub(super) async fn of_order(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> Result<Vec<OrderPromotion>, sqlx::Error> {
    sqlx::query_as!(
        OrderPromotion,
        "select promotion_id, code, name, lines_discount, shipping_discount, released_at
         from promotion_redemptions where order_id = $1 order by position",
        order_id,
    )
    .fetch_all(db)
    .await
}

/// Redemptions of a promotion, newest first; `before` is the last order id of the previous
/// page.
pub(super) async fn usage_orders(
    db: impl PgExecutor<'_>,
    promotion_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<UsageOrder>, sqlx::Error> {
    sqlx::query_as!(
        UsageOrder,
        "select order_id, order_number, user_id, code, lines_discount, shipping_discount, created_at as redeemed_at, released_at
         from promotion_redemptions
         where promotion_id = $1 and ($2::uuid is null or order_id < $2)
         order by order_id desc limit $3",
        promotion_id,
        before,
        limit,
    )
    .fetch_all(db)
    .await
}

/// (counting redemptions, released ones, discount on lines, discount on shipping) of the
/// counting ones.
pub(super) async fn usage_totals(
    db: impl PgExecutor<'_>,
    promotion_id: Uuid,
) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) filter (where released_at is null) as "counting!",
                  count(*) filter (where released_at is not null) as "released!",
                  coalesce(sum(lines_discount) filter (where released_at is null), 0)::int8
                    as "lines_discount!",
                  coalesce(sum(shipping_discount) filter (where released_at is null), 0)::int8
                    as "shipping_discount!"
           from promotion_redemptions where promotion_id = $1"#,
        promotion_id,
    )
    .fetch_one(db)
    .await?;
    Ok((
        row.counting,
        row.released,
        row.lines_discount,
        row.shipping_discount,
    ))
}
