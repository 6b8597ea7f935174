//! Promotions: discount codes customers enter and automatic promotions, what they give a
//! basket (`rules`, a pure function), and their redemptions by orders.
//!
//! The cart shows what its promotions give ([`Promotions::quote`]); checkout asks again in its
//! transaction and then [`redeem`]s: each redemption is counted by a guarded increment of the
//! promotion's row (like stock, the guard decides, so a limit holds under any concurrency)
//! and recorded with the discount it gave each order line. An unpaid order that is cancelled
//! or expires [`release`]s its redemptions. `store` holds the SQL.

pub mod audit;
pub mod rules;
mod store;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use self::rules::{BasketLine, Effect, Eligibility, Outcome, Rule, Shipping, Shopper, Targets};
use crate::{
    events::{Event, Payload},
    outbox,
    validation::ValidationErrors,
};

/// A promotion as staff manage it.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub rule: Rule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The kinds of effect (see [`Effect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    OrderPercent,
    OrderFixed,
    LinesPercent,
    LinesFixed,
    FreeShipping,
}

/// A promotion to create, as submitted.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    /// Absent for an automatic promotion.
    pub code: Option<String>,
    pub effect: EffectKind,
    pub percent: Option<i32>,
    pub amount: Option<i64>,
    pub max_discount: Option<i64>,
    pub targets: Targets,
    pub shipping_methods: Vec<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub min_subtotal: i64,
    pub eligibility: Eligibility,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub stackable: bool,
    pub priority: i32,
    pub enabled: bool,
}

/// Changes to a promotion; absent fields stay. What a promotion gives (code, effect, targets)
/// does not change: create another promotion instead.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub ends_at: Option<Option<DateTime<Utc>>>,
    pub min_subtotal: Option<i64>,
    pub eligibility: Option<Eligibility>,
    pub usage_limit: Option<Option<i32>>,
    pub per_customer_limit: Option<Option<i32>>,
    pub stackable: Option<bool>,
    pub priority: Option<i32>,
}

/// What an order received from one promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, sqlx::FromRow)]
pub struct OrderPromotion {
    pub promotion_id: Uuid,
    pub code: Option<String>,
    pub name: String,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    /// When the unpaid order was cancelled or expired and the redemption stopped counting.
    pub released_at: Option<DateTime<Utc>>,
}

/// One order's redemption, for the usage report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageOrder {
    pub order_id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub code: Option<String>,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    #[sqlx(rename = "created_at")]
    pub redeemed_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

/// How much a promotion was used.
#[derive(Debug, Clone)]
pub struct Usage {
    /// Redemptions that count (orders not cancelled or expired unpaid).
    pub redemptions: i64,
    pub released: i64,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    pub orders: Vec<UsageOrder>,
}

/// `promotion.redeemed` and `promotion.released`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RedemptionEvent {
    pub promotion_id: Uuid,
    pub code: Option<String>,
    pub name: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub user_id: Uuid,
    pub currency: String,
    /// Minor units taken off the order's lines.
    pub lines_discount: i64,
    /// Minor units taken off its shipping.
    pub shipping_discount: i64,
}

impl Payload for RedemptionEvent {
    fn aggregate_id(&self) -> Uuid {
        self.promotion_id
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("promotion not found")]
    NotFound,
    #[error("another promotion already uses this code")]
    DuplicateCode,
    #[error("the promotion has been redeemed; disable it instead")]
    InUse,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The promotion service (staff management and quotes).
#[derive(Clone)]
pub struct Promotions {
    db: PgPool,
    /// Shipping method codes free shipping may name.
    shipping_methods: Vec<String>,
}

impl Promotions {
    pub fn new(db: PgPool, shipping_methods: Vec<String>) -> Self {
        Self {
            db,
            shipping_methods,
        }
    }

    pub async fn create(&self, draft: Draft) -> Result<Promotion, PromotionError> {
        let rule = self.validate(Uuid::now_v7(), draft).await?;
        match store::save(&self.db, &rule, true).await {
            Err(e) if crate::db::violated_constraint(&e) == Some("promotions_code_key") => {
                Err(PromotionError::DuplicateCode)
            }
            result => {
                result?;
                self.get(rule.id).await
            }
        }
    }

    pub async fn get(&self, id: Uuid) -> Result<Promotion, PromotionError> {
        let promotion = store::get(&self.db, id)
            .await?
            .ok_or(PromotionError::NotFound)?;
        self.with_live_count(promotion).await
    }

    /// The stored count is kept only while a promotion has a limit (unlimited ones are never
    /// counted on their row, so checkouts do not queue on it); otherwise it is counted here.
    async fn with_live_count(&self, mut promotion: Promotion) -> Result<Promotion, PromotionError> {
        let rule = &mut promotion.rule;
        if rule.usage_limit.is_none() && rule.per_customer_limit.is_none() {
            rule.redemption_count = store::live_redemptions(&self.db, rule.id).await?;
        }
        Ok(promotion)
    }

    pub async fn list(
        &self,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Promotion>, PromotionError> {
        let mut promotions = Vec::new();
        for promotion in store::list(&self.db, before, limit).await? {
            promotions.push(self.with_live_count(promotion).await?);
        }
        Ok(promotions)
    }

    pub async fn update(&self, id: Uuid, patch: Patch) -> Result<Promotion, PromotionError> {
        let mut rule = self.get(id).await?.rule;
        let mut errors = ValidationErrors::new();
        if let Some(name) = patch.name {
            rule.name = name;
        }
        rule.enabled = patch.enabled.unwrap_or(rule.enabled);
        rule.starts_at = patch.starts_at.unwrap_or(rule.starts_at);
        rule.ends_at = patch.ends_at.unwrap_or(rule.ends_at);
        rule.min_subtotal = patch.min_subtotal.unwrap_or(rule.min_subtotal);
        rule.eligibility = patch.eligibility.unwrap_or(rule.eligibility);
        rule.usage_limit = patch.usage_limit.unwrap_or(rule.usage_limit);
        rule.per_customer_limit = patch.per_customer_limit.unwrap_or(rule.per_customer_limit);
        rule.stackable = patch.stackable.unwrap_or(rule.stackable);
        rule.priority = patch.priority.unwrap_or(rule.priority);
        check_terms(&rule, &mut errors);
        errors.check(
            rule.usage_limit
                .is_none_or(|limit| limit >= rule.redemption_count),
            "usage_limit",
            format!(
                "must be at least the redemptions so far ({})",
                rule.redemption_count
            ),
        );
        errors.finish()?;
        // Under the row lock (after the checkouts redeeming it) the count is taken afresh and
        // guarded in SQL against the new limit.
        let mut tx = self.db.begin().await?;
        if !store::lock(&mut tx, id).await? {
            return Err(PromotionError::NotFound);
        }
        let saved = store::save(&mut *tx, &rule, false).await;
        if saved.is_ok() {
            tx.commit().await?;
        }
        match saved {
            Err(e) if crate::db::violated_constraint(&e) == Some("promotions_limits_check") => Err(
                ValidationErrors::single("usage_limit", "must be at least the redemptions so far")
                    .into(),
            ),
            Ok(false) => Err(PromotionError::NotFound),
            result => {
                result?;
                self.get(id).await
            }
        }
    }

    /// Deletes a promotion no order ever redeemed.
    pub async fn delete(&self, id: Uuid) -> Result<(), PromotionError> {
        if store::ever_redeemed(&self.db, id).await? {
            return Err(PromotionError::InUse);
        }
        match store::delete(&self.db, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PromotionError::NotFound),
            // Redeemed between the check and the delete.
            Err(e) if crate::db::violated_constraint(&e).is_some() => Err(PromotionError::InUse),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn usage(
        &self,
        id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Usage, PromotionError> {
        self.get(id).await?;
        let (redemptions, released, lines_discount, shipping_discount) =
            store::usage_totals(&self.db, id).await?;
        Ok(Usage {
            redemptions,
            released,
            lines_discount,
            shipping_discount,
            orders: store::usage_orders(&self.db, id, before, limit).await?,
        })
    }

    async fn validate(&self, id: Uuid, draft: Draft) -> Result<Rule, PromotionError> {
        let mut errors = ValidationErrors::new();
        let positive_percent = |errors: &mut ValidationErrors| {
            errors.check(
                draft.percent.is_some_and(|p| (1..=100).contains(&p)),
                "percent",
                "must be between 1 and 100 for a percentage effect",
            );
        };
        let positive_amount = |errors: &mut ValidationErrors| {
            errors.check(
                draft.amount.is_some_and(|a| (1..=MAX_AMOUNT).contains(&a)),
                "amount",
                format!("must be between 1 and {MAX_AMOUNT} minor units for a fixed effect"),
            );
        };
        let effect = match draft.effect {
            EffectKind::OrderPercent | EffectKind::LinesPercent => {
                positive_percent(&mut errors);
                errors.check(
                    draft.amount.is_none(),
                    "amount",
                    "must be absent for a percentage effect",
                );
                let percent = draft.percent.unwrap_or(0);
                let max_discount = draft.max_discount;
                if draft.effect == EffectKind::OrderPercent {
                    Effect::OrderPercent {
                        percent,
                        max_discount,
                    }
                } else {
                    Effect::LinesPercent {
                        percent,
                        max_discount,
                    }
                }
            }
            EffectKind::OrderFixed | EffectKind::LinesFixed => {
                positive_amount(&mut errors);
                errors.check(
                    draft.percent.is_none(),
                    "percent",
                    "must be absent for a fixed effect",
                );
                errors.check(
                    draft.max_discount.is_none(),
                    "max_discount",
                    "applies only to percentage effects",
                );
                let amount = draft.amount.unwrap_or(0);
                if draft.effect == EffectKind::OrderFixed {
                    Effect::OrderFixed { amount }
                } else {
                    Effect::LinesFixed { amount }
                }
            }
            EffectKind::FreeShipping => {
                for (field, present) in [
                    ("percent", draft.percent.is_some()),
                    ("amount", draft.amount.is_some()),
                    ("max_discount", draft.max_discount.is_some()),
                ] {
                    errors.check(!present, field, "must be absent for free shipping");
                }
                for (i, method) in draft.shipping_methods.iter().enumerate() {
                    errors.check(
                        self.shipping_methods.contains(method),
                        format!("shipping_methods[{i}]"),
                        format!("must be one of: {}", self.shipping_methods.join(", ")),
                    );
                }
                Effect::FreeShipping {
                    methods: draft.shipping_methods.clone(),
                }
            }
        };
        if let Some(max) = draft.max_discount {
            errors.check(
                (1..=MAX_AMOUNT).contains(&max),
                "max_discount",
                format!("must be between 1 and {MAX_AMOUNT}"),
            );
        }
        let targets_lines = matches!(
            draft.effect,
            EffectKind::LinesPercent | EffectKind::LinesFixed
        );
        let targets = &draft.targets;
        let has_targets = !(targets.product_ids.is_empty()
            && targets.category_ids.is_empty()
            && targets.brands.is_empty());
        if targets_lines {
            errors.check(
                has_targets,
                "product_ids",
                "a line effect needs product_ids, category_ids or brands",
            );
        } else {
            errors.check(
                !has_targets,
                "product_ids",
                "product_ids, category_ids and brands apply only to line effects",
            );
        }
        if draft.effect != EffectKind::FreeShipping {
            errors.check(
                draft.shipping_methods.is_empty(),
                "shipping_methods",
                "applies only to free shipping",
            );
        }
        for (i, id) in store::unknown_products(&self.db, &targets.product_ids)
            .await?
            .iter()
            .enumerate()
        {
            errors.add(
                format!("product_ids[{i}]"),
                format!("no such product: {id}"),
            );
        }
        for (i, id) in store::unknown_categories(&self.db, &targets.category_ids)
            .await?
            .iter()
            .enumerate()
        {
            errors.add(
                format!("category_ids[{i}]"),
                format!("no such category: {id}"),
            );
        }
        for (i, brand) in targets.brands.iter().enumerate() {
            errors.length(&format!("brands[{i}]"), brand.trim(), 1, 100);
        }
        if let Some(code) = &draft.code {
            errors.check(
                (3..=40).contains(&code.len())
                    && code
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "code",
                "must be 3-40 letters, digits, '-' or '_'",
            );
        }
        let rule = Rule {
            id,
            name: draft.name.trim().to_owned(),
            code: draft.code,
            effect,
            targets: Targets {
                product_ids: targets.product_ids.clone(),
                category_ids: targets.category_ids.clone(),
                brands: targets.brands.iter().map(|b| b.trim().to_owned()).collect(),
            },
            starts_at: draft.starts_at,
            ends_at: draft.ends_at,
            min_subtotal: draft.min_subtotal,
            eligibility: draft.eligibility,
            usage_limit: draft.usage_limit,
            per_customer_limit: draft.per_customer_limit,
            redemption_count: 0,
            stackable: draft.stackable,
            priority: draft.priority,
            enabled: draft.enabled,
        };
        check_terms(&rule, &mut errors);
        errors.finish()?;
        Ok(rule)
    }
}

/// The largest amount a promotion may name (minor units): far above any real order, small
/// enough that no discount arithmetic can overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// The terms staff may change later: name, window, minimum, limits.
fn check_terms(rule: &Rule, errors: &mut ValidationErrors) {
    errors.length("name", &rule.name, 1, 200);
    errors.check(
        match (rule.starts_at, rule.ends_at) {
            (Some(start), Some(end)) => start < end,
            _ => true,
        },
        "ends_at",
        "must be after starts_at",
    );
    errors.check(
        (0..=MAX_AMOUNT).contains(&rule.min_subtotal),
        "min_subtotal",
        format!("must be between 0 and {MAX_AMOUNT}"),
    );
    errors.check(
        rule.usage_limit.is_none_or(|l| l > 0),
        "usage_limit",
        "must be positive",
    );
    errors.check(
        rule.per_customer_limit.is_none_or(|l| l > 0),
        "per_customer_limit",
        "must be positive",
    );
}

/// What promotions give `lines` (bought by `user_id`, a guest when `None`) with `code` and
/// `shipping` (absent in the cart), read now without locks. Checkout counts the redemptions
/// afterwards with [`redeem`], whose guard has the last word on limits.
pub async fn evaluate(
    conn: &mut PgConnection,
    lines: &[BasketLine],
    user_id: Option<Uuid>,
    code: Option<&str>,
    shipping: Option<&Shipping>,
) -> Result<Outcome, sqlx::Error> {
    let now = Utc::now();
    let mut automatic: Vec<Rule> = store::automatic(&mut *conn, now)
        .await?
        .into_iter()
        .map(|p| p.rule)
        .collect();
    let mut code_rule = match code {
        Some(code) => store::by_code(&mut *conn, code).await?.map(|p| p.rule),
        None => None,
    };
    if lines.is_empty() || (automatic.is_empty() && code.is_none()) {
        return Ok(Outcome {
            line_discounts: vec![0; lines.len()],
            ..Outcome::default()
        });
    }
    for rule in automatic.iter_mut().chain(code_rule.as_mut()) {
        if !rule.targets.category_ids.is_empty() {
            rule.targets.category_ids =
                store::with_descendants(&mut *conn, &rule.targets.category_ids).await?;
        }
    }
    let mut shopper = Shopper {
        user_id,
        ..Shopper::default()
    };
    if let Some(user_id) = user_id {
        // Only what some rule asks about is read.
        let rules = || automatic.iter().chain(code_rule.as_ref());
        let limited: Vec<Uuid> = rules()
            .filter(|r| r.per_customer_limit.is_some())
            .map(|r| r.id)
            .collect();
        if !limited.is_empty() {
            shopper.redemptions = store::customer_redemptions(&mut *conn, user_id, &limited)
                .await?
                .into_iter()
                .collect::<HashMap<_, _>>();
        }
        if rules().any(|r| r.eligibility == Eligibility::FirstOrder) {
            shopper.has_ordered = crate::orders::has_ordered(&mut *conn, user_id).await?;
        }
    }
    let code = code.map(|text| (text, code_rule.as_ref()));
    Ok(rules::evaluate(
        lines, shipping, &shopper, code, &automatic, now,
    ))
}

/// The code as staff wrote it, when a promotion has `code` (ignoring case).
pub async fn canonical_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<String>, sqlx::Error> {
    Ok(store::by_code(conn, code).await?.and_then(|p| p.rule.code))
}

/// The order being redeemed for.
pub struct RedeemingOrder<'a> {
    pub order_id: Uuid,
    pub order_number: &'a str,
    pub user_id: Uuid,
    pub currency: &'a str,
    /// The order's line ids, in basket order.
    pub line_ids: &'a [Uuid],
}

/// A promotion the outcome applied could not be counted (limit reached, disabled or ended
/// since the quote): the checkout's discount changed.
#[derive(Debug, thiserror::Error)]
#[error("promotion {0} can no longer be redeemed")]
pub struct NotRedeemable(pub Uuid);

/// Counts and records the outcome's promotions for an order, in the checkout transaction,
/// and writes `promotion.redeemed` for each.
pub async fn redeem(
    tx: &mut PgConnection,
    order: &RedeemingOrder<'_>,
    outcome: &Outcome,
) -> Result<Result<(), NotRedeemable>, sqlx::Error> {
    let now = Utc::now();
    for (position, applied) in outcome.applied.iter().enumerate() {
        let Some(per_customer_limit) =
            store::count_redemption(tx, applied.promotion_id, now, applied.limited).await?
        else {
            return Ok(Err(NotRedeemable(applied.promotion_id)));
        };
        // The row lock taken by the count serialises this customer's redemptions too.
        if let Some(limit) = per_customer_limit {
            let used =
                store::customer_redemptions(&mut *tx, order.user_id, &[applied.promotion_id])
                    .await?
                    .first()
                    .map_or(0, |(_, n)| *n);
            if used >= i64::from(limit) {
                return Ok(Err(NotRedeemable(applied.promotion_id)));
            }
        }
        let lines = order
            .line_ids
            .iter()
            .zip(&applied.line_discounts)
            .filter(|(_, amount)| **amount > 0)
            .map(|(id, amount)| (*id, *amount))
            .collect();
        store::insert_redemption(
            tx,
            &store::NewRedemption {
                promotion_id: applied.promotion_id,
                order_id: order.order_id,
                order_number: order.order_number,
                user_id: order.user_id,
                code: applied.code.as_deref(),
                name: &applied.name,
                position: position as i32,
                lines_discount: applied.lines_discount,
                shipping_discount: applied.shipping_discount,
                lines,
            },
        )
        .await?;
        let event = RedemptionEvent {
            promotion_id: applied.promotion_id,
            code: applied.code.clone(),
            name: applied.name.clone(),
            order_id: order.order_id,
            order_number: order.order_number.to_owned(),
            user_id: order.user_id,
            currency: order.currency.to_owned(),
            lines_discount: applied.lines_discount,
            shipping_discount: applied.shipping_discount,
        };
        outbox::enqueue(tx, Event::PromotionRedeemed(event)).await?;
    }
    Ok(Ok(()))
}

/// Gives back the redemptions of an unpaid order that was cancelled or expired, writing
/// `promotion.released` for each (in the transition's transaction).
pub async fn release(
    tx: &mut PgConnection,
    order: &crate::orders::Order,
) -> Result<(), sqlx::Error> {
    for released in store::release(tx, order.id.into()).await? {
        let event = RedemptionEvent {
            promotion_id: released.promotion_id,
            code: released.code,
            name: released.name,
            order_id: order.id.into(),
            order_number: order.number.clone().into(),
            user_id: order.user_id,
            currency: order.currency.clone(),
            lines_discount: released.lines_discount,
            shipping_discount: released.shipping_discount,
        };
        outbox::enqueue(tx, Event::PromotionReleased(event)).await?;
    }
    Ok(())
}

/// What an order received, in the order the promotions applied.
pub async fn of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<OrderPromotion>, sqlx::Error> {
    store::of_order(conn, order_id).await
}
