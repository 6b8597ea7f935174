//! The JSON shapes of `/api/v1/admin/promotions`.

use chrono::{DateTime, Utc};
use poem_openapi::{types::MaybeUndefined, Enum, Object};
use uuid::Uuid;

use super::dto::nullable;

use crate::promotions::{
    rules::{Effect, Eligibility, Targets},
    Draft, EffectKind, Patch, Promotion, Usage, UsageOrder,
};

/// What a promotion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EffectDto {
    /// `percent` off the order's items, capped at `max_discount`.
    OrderPercent,
    /// `amount` off the order's items.
    OrderFixed,
    /// `percent` off the matching items, capped at `max_discount` in total.
    LinesPercent,
    /// `amount` off each matching unit.
    LinesFixed,
    /// The shipping fee of `shipping_methods` (every method when empty).
    FreeShipping,
}

impl From<EffectDto> for EffectKind {
    fn from(e: EffectDto) -> Self {
        match e {
            EffectDto::OrderPercent => Self::OrderPercent,
            EffectDto::OrderFixed => Self::OrderFixed,
            EffectDto::LinesPercent => Self::LinesPercent,
            EffectDto::LinesFixed => Self::LinesFixed,
            EffectDto::FreeShipping => Self::FreeShipping,
        }
    }
}

/// Who may use a promotion (`everyone` when absent from a new promotion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EligibilityDto {
    Everyone,
    /// Signed-in customers (not guest carts).
    SignedIn,
    /// Customers without an order other than cancelled or expired ones.
    FirstOrder,
}

impl From<EligibilityDto> for Eligibility {
    fn from(e: EligibilityDto) -> Self {
        match e {
            EligibilityDto::Everyone => Self::Everyone,
            EligibilityDto::SignedIn => Self::SignedIn,
            EligibilityDto::FirstOrder => Self::FirstOrder,
        }
    }
}

impl From<Eligibility> for EligibilityDto {
    fn from(e: Eligibility) -> Self {
        match e {
            Eligibility::Everyone => Self::Everyone,
            Eligibility::SignedIn => Self::SignedIn,
            Eligibility::FirstOrder => Self::FirstOrder,
        }
    }
}

/// A promotion to create. Amounts are minor units of the store currency.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct PromotionIn {
    /// Shown to customers (up to 200 characters).
    pub name: String,
    /// What customers type (3-40 letters, digits, `-`, `_`; unique ignoring case). Absent:
    /// an automatic promotion.
    pub code: Option<String>,
    pub effect: EffectDto,
    /// 1-100, for percentage effects.
    pub percent: Option<i32>,
    /// For fixed effects.
    pub amount: Option<i64>,
    /// Cap of a percentage discount.
    pub max_discount: Option<i64>,
    /// Line effects: the items they apply to (by product, category with its descendants, or
    /// brand ignoring case); at least one list is needed.
    pub product_ids: Option<Vec<Uuid>>,
    pub category_ids: Option<Vec<Uuid>>,
    pub brands: Option<Vec<String>>,
    /// Free shipping: the methods it covers (absent or empty: every method).
    pub shipping_methods: Option<Vec<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    /// Exclusive.
    pub ends_at: Option<DateTime<Utc>>,
    /// The cart subtotal (before discounts) needed; default 0.
    pub min_subtotal: Option<i64>,
    // Absent: `everyone`. (No doc comment: on an enum field it becomes an `allOf` that SDK
    // generators refuse.)
    pub eligibility: Option<EligibilityDto>,
    /// Total redemptions allowed (orders not cancelled or expired unpaid).
    pub usage_limit: Option<i32>,
    /// Redemptions allowed per customer.
    pub per_customer_limit: Option<i32>,
    /// Default true. A promotion that does not stack applies only alone.
    pub stackable: Option<bool>,
    /// Lower applies first; default 0.
    pub priority: Option<i32>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl From<PromotionIn> for Draft {
    fn from(body: PromotionIn) -> Self {
        Self {
            name: body.name,
            code: body.code,
            effect: body.effect.into(),
            percent: body.percent,
            amount: body.amount,
            max_discount: body.max_discount,
            targets: Targets {
                product_ids: body.product_ids.unwrap_or_default(),
                category_ids: body.category_ids.unwrap_or_default(),
                brands: body.brands.unwrap_or_default(),
            },
            shipping_methods: body.shipping_methods.unwrap_or_default(),
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            min_subtotal: body.min_subtotal.unwrap_or(0),
            eligibility: body.eligibility.map_or(Eligibility::Everyone, Into::into),
            usage_limit: body.usage_limit,
            per_customer_limit: body.per_customer_limit,
            stackable: body.stackable.unwrap_or(true),
            priority: body.priority.unwrap_or(0),
            enabled: body.enabled.unwrap_or(true),
        }
    }
}

/// Changes to a promotion; absent fields stay, `null` clears a window end or a limit. What
/// it gives (code, effect, amounts, targets) does not change: create another promotion.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct PromotionPatchIn {
    pub name: Option<String>,
    /// False disables the promotion (a redeemed promotion is disabled, not deleted).
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub starts_at: MaybeUndefined<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub ends_at: MaybeUndefined<DateTime<Utc>>,
    pub min_subtotal: Option<i64>,
    pub eligibility: Option<EligibilityDto>,
    #[serde(default, skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub usage_limit: MaybeUndefined<i32>,
    #[serde(default, skip_serializing_if = "MaybeUndefined::is_undefined")]
    pub per_customer_limit: MaybeUndefined<i32>,
    pub stackable: Option<bool>,
    pub priority: Option<i32>,
}

impl From<PromotionPatchIn> for Patch {
    fn from(body: PromotionPatchIn) -> Self {
        Self {
            name: body.name,
            enabled: body.enabled,
            starts_at: nullable(body.starts_at),
            ends_at: nullable(body.ends_at),
            min_subtotal: body.min_subtotal,
            eligibility: body.eligibility.map(Into::into),
            usage_limit: nullable(body.usage_limit),
            per_customer_limit: nullable(body.per_customer_limit),
            stackable: body.stackable,
            priority: body.priority,
        }
    }
}

/// A promotion.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PromotionOut {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub effect: EffectDto,
    pub percent: Option<i32>,
    pub amount: Option<i64>,
    pub max_discount: Option<i64>,
    pub product_ids: Vec<Uuid>,
    pub category_ids: Vec<Uuid>,
    pub brands: Vec<String>,
    pub shipping_methods: Vec<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub min_subtotal: i64,
    pub eligibility: EligibilityDto,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    /// Redemptions that count towards `usage_limit`.
    pub redemption_count: i32,
    pub stackable: bool,
    pub priority: i32,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Promotion> for PromotionOut {
    fn from(p: Promotion) -> Self {
        let rule = p.rule;
        let (effect, percent, amount, max_discount, shipping_methods) = match rule.effect {
            Effect::OrderPercent {
                percent,
                max_discount,
            } => (
                EffectDto::OrderPercent,
                Some(percent),
                None,
                max_discount,
                vec![],
            ),
            Effect::LinesPercent {
                percent,
                max_discount,
            } => (
                EffectDto::LinesPercent,
                Some(percent),
                None,
                max_discount,
                vec![],
            ),
            Effect::OrderFixed { amount } => {
                (EffectDto::OrderFixed, None, Some(amount), None, vec![])
            }
            Effect::LinesFixed { amount } => {
                (EffectDto::LinesFixed, None, Some(amount), None, vec![])
            }
            Effect::FreeShipping { methods } => {
                (EffectDto::FreeShipping, None, None, None, methods)
            }
        };
        Self {
            id: rule.id,
            name: rule.name,
            code: rule.code,
            effect,
            percent,
            amount,
            max_discount,
            product_ids: rule.targets.product_ids,
            category_ids: rule.targets.category_ids,
            brands: rule.targets.brands,
            shipping_methods,
            starts_at: rule.starts_at,
            ends_at: rule.ends_at,
            min_subtotal: rule.min_subtotal,
            eligibility: rule.eligibility.into(),
            usage_limit: rule.usage_limit,
            per_customer_limit: rule.per_customer_limit,
            redemption_count: rule.redemption_count,
            stackable: rule.stackable,
            priority: rule.priority,
            enabled: rule.enabled,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page of promotions, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PromotionPageOut {
    pub items: Vec<PromotionOut>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<Uuid>,
}

/// An order's redemption of a promotion.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PromotionRedemptionOut {
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: Uuid,
    pub code: Option<String>,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    pub redeemed_at: DateTime<Utc>,
    /// Set when the unpaid order was cancelled or expired.
    pub released_at: Option<DateTime<Utc>>,
}

impl From<UsageOrder> for PromotionRedemptionOut {
    fn from(o: UsageOrder) -> Self {
        Self {
            order_id: o.order_id,
            order_number: o.order_number,
            customer_id: o.user_id,
            code: o.code,
            lines_discount: o.lines_discount,
            shipping_discount: o.shipping_discount,
            redeemed_at: o.redeemed_at,
            released_at: o.released_at,
        }
    }
}

/// How much a promotion was used.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PromotionUsageOut {
    pub promotion_id: Uuid,
    /// Redemptions that count (orders not cancelled or expired unpaid).
    pub redemptions: i64,
    /// Redemptions given back by unpaid orders that were cancelled or expired.
    pub released: i64,
    /// Discount given on items by the counting redemptions.
    pub lines_discount: i64,
    /// Discount given on shipping by the counting redemptions.
    pub shipping_discount: i64,
    /// Redemptions newest first (one page).
    pub orders: Vec<PromotionRedemptionOut>,
    /// Pass as `cursor` for the next page of `orders`.
    pub next_cursor: Option<Uuid>,
}

impl PromotionUsageOut {
    pub fn new(promotion_id: Uuid, usage: Usage, limit: i64) -> Self {
        let next_cursor = (usage.orders.len() as i64 == limit)
            .then(|| usage.orders.last().map(|o| o.order_id))
            .flatten();
        Self {
            promotion_id,
            redemptions: usage.redemptions,
            released: usage.released,
            lines_discount: usage.lines_discount,
            shipping_discount: usage.shipping_discount,
            orders: usage.orders.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}
