//! What promotions give a basket: a pure function of the promotions, the basket and the
//! shopper, used alike by the cart (to show it) and by checkout (to charge it).
//!
//! The rules, in order:
//! 1. A promotion applies only when it is enabled, inside its window, eligible for the
//!    shopper, under its limits, the basket subtotal (before any discount) reaches its
//!    minimum, and (for line effects) some line matches.
//! 2. Applicable promotions apply by `priority` (lower first), the code before automatic
//!    promotions of the same priority, then by id. A non-stackable promotion applies only
//!    alone: after it nothing else applies, and it does not apply after another one.
//! 3. Each discount is computed on what is left of the lines after the earlier ones, so the
//!    discount never exceeds the amount it applies to.
//! 4. Percentages round down to the minor unit, then the cap applies. A discount on several
//!    lines is allocated in proportion to what is left of each line, by largest remainder
//!    (ties to the earlier line): the parts are whole minor units and sum exactly.
//! 5. Free shipping takes the whole shipping fee of a covered method; before a method is
//!    chosen (in the cart) it shows as applied with no amount yet.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a promotion does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `percent` off the order's lines, capped at `max_discount`.
    OrderPercent {
        percent: i32,
        max_discount: Option<i64>,
    },
    /// `amount` off the order's lines.
    OrderFixed { amount: i64 },
    /// `percent` off the matching lines, capped at `max_discount` in total.
    LinesPercent {
        percent: i32,
        max_discount: Option<i64>,
    },
    /// `amount` off each matching unit.
    LinesFixed { amount: i64 },
    /// The shipping fee of the listed methods (every method when empty).
    FreeShipping { methods: Vec<String> },
}

impl Effect {
    pub fn name(&self) -> &'static str {
        match self {
            Self::OrderPercent { .. } => "order_percent",
            Self::OrderFixed { .. } => "order_fixed",
            Self::LinesPercent { .. } => "lines_percent",
            Self::LinesFixed { .. } => "lines_fixed",
            Self::FreeShipping { .. } => "free_shipping",
        }
    }

    fn targets_lines(&self) -> bool {
        matches!(self, Self::LinesPercent { .. } | Self::LinesFixed { .. })
    }
}

/// Which lines a line effect applies to: a line matches when its product, its category (or
/// an ancestor of it) or its brand is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub product_ids: Vec<Uuid>,
    /// With every descendant already included.
    pub category_ids: Vec<Uuid>,
    /// Lower-cased.
    pub brands: Vec<String>,
}

impl Targets {
    fn matches(&self, line: &BasketLine) -> bool {
        self.product_ids.contains(&line.product_id)
            || line
                .category_id
                .is_some_and(|c| self.category_ids.contains(&c))
            || line
                .brand
                .as_deref()
                .is_some_and(|b| self.brands.iter().any(|t| t.eq_ignore_ascii_case(b)))
    }
}

/// Who may use a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    Everyone,
    SignedIn,
    /// Signed-in customers without an order (other than cancelled or expired ones).
    FirstOrder,
}

impl Eligibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::SignedIn => "signed_in",
            Self::FirstOrder => "first_order",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Everyone, Self::SignedIn, Self::FirstOrder]
            .into_iter()
            .find(|e| e.as_str() == value)
    }
}

/// A promotion as the rules need it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub effect: Effect,
    pub targets: Targets,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub min_subtotal: i64,
    pub eligibility: Eligibility,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub redemption_count: i32,
    pub stackable: bool,
    pub priority: i32,
    pub enabled: bool,
}

/// Why a code does not apply (a fixed list, shown to customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotApplied {
    Unknown,
    Disabled,
    NotStarted,
    Expired,
    MinimumNotMet,
    LimitReached,
    NotEligible,
    NothingMatches,
    /// Another promotion that does not combine applies.
    NotCombinable,
}

impl NotApplied {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Disabled => "disabled",
            Self::NotStarted => "not_started",
            Self::Expired => "expired",
            Self::MinimumNotMet => "minimum_not_met",
            Self::LimitReached => "limit_reached",
            Self::NotEligible => "not_eligible",
            Self::NothingMatches => "nothing_matches",
            Self::NotCombinable => "not_combinable",
        }
    }
}

/// One line of what is being bought.
#[derive(Debug, Clone)]
pub struct BasketLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub category_id: Option<Uuid>,
    pub brand: Option<String>,
    pub unit_price: i64,
    pub quantity: i32,
}

impl BasketLine {
    fn total(&self) -> i64 {
        self.unit_price * i64::from(self.quantity)
    }
}

/// The shopper, as far as eligibility and per-customer limits go.
#[derive(Debug, Clone, Default)]
pub struct Shopper {
    pub user_id: Option<Uuid>,
    pub has_ordered: bool,
    /// The shopper's redemptions that count, per promotion.
    pub redemptions: HashMap<Uuid, i64>,
}

/// The chosen shipping method and its fee (unknown in the cart).
#[derive(Debug, Clone)]
pub struct Shipping {
    pub method: String,
    pub fee: i64,
}

/// What one promotion gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub promotion_id: Uuid,
    pub name: String,
    pub code: Option<String>,
    /// Per basket line, in basket order (0 where it gave nothing).
    pub line_discounts: Vec<i64>,
    pub lines_discount: i64,
    pub shipping_discount: i64,
    /// Free shipping (its amount is known once a method is chosen).
    pub free_shipping: bool,
    /// The promotion had a total or per-customer limit when it was evaluated.
    pub limited: bool,
}

/// What all promotions give a basket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// In the order they applied.
    pub applied: Vec<Applied>,
    /// The code the basket holds, when it does not apply, and why.
    pub rejected_code: Option<(String, NotApplied)>,
    /// Per basket line, the sum over `applied`.
    pub line_discounts: Vec<i64>,
    pub lines_discount: i64,
    pub shipping_discount: i64,
}

/// Whether `rule` may apply to this basket at all (rule 1).
pub fn check(
    rule: &Rule,
    lines: &[BasketLine],
    shopper: &Shopper,
    now: DateTime<Utc>,
) -> Result<(), NotApplied> {
    if !rule.enabled {
        return Err(NotApplied::Disabled);
    }
    if rule.starts_at.is_some_and(|s| now < s) {
        return Err(NotApplied::NotStarted);
    }
    if rule.ends_at.is_some_and(|e| now >= e) {
        return Err(NotApplied::Expired);
    }
    let eligible = match rule.eligibility {
        Eligibility::Everyone => true,
        Eligibility::SignedIn => shopper.user_id.is_some(),
        Eligibility::FirstOrder => shopper.user_id.is_some() && !shopper.has_ordered,
    };
    if !eligible {
        return Err(NotApplied::NotEligible);
    }
    if rule
        .usage_limit
        .is_some_and(|limit| rule.redemption_count >= limit)
    {
        return Err(NotApplied::LimitReached);
    }
    if let Some(limit) = rule.per_customer_limit {
        let used = shopper.redemptions.get(&rule.id).copied().unwrap_or(0);
        if used >= i64::from(limit) {
            return Err(NotApplied::LimitReached);
        }
    }
    let subtotal: i64 = lines.iter().map(BasketLine::total).sum();
    if subtotal < rule.min_subtotal {
        return Err(NotApplied::MinimumNotMet);
    }
    if rule.effect.targets_lines() && !lines.iter().any(|l| rule.targets.matches(l)) {
        return Err(NotApplied::NothingMatches);
    }
    Ok(())
}

/// Applies `code_rule` (the basket's code: its text and the promotion it names, if any) and
/// the `automatic` promotions to the basket (see the module docs).
pub fn evaluate(
    lines: &[BasketLine],
    shipping: Option<&Shipping>,
    shopper: &Shopper,
    code: Option<(&str, Option<&Rule>)>,
    automatic: &[Rule],
    now: DateTime<Utc>,
) -> Outcome {
    let mut outcome = Outcome {
        line_discounts: vec![0; lines.len()],
        ..Outcome::default()
    };
    let mut candidates: Vec<(&Rule, bool)> = Vec::new();
    if let Some((text, rule)) = code {
        match rule.map(|r| (r, check(r, lines, shopper, now))) {
            None => outcome.rejected_code = Some((text.to_owned(), NotApplied::Unknown)),
            Some((_, Err(reason))) => outcome.rejected_code = Some((text.to_owned(), reason)),
            Some((rule, Ok(()))) => candidates.push((rule, true)),
        }
    }
    candidates.extend(
        automatic
            .iter()
            .filter(|r| r.code.is_none() && check(r, lines, shopper, now).is_ok())
            .map(|r| (r, false)),
    );
    candidates.sort_by_key(|(rule, is_code)| (rule.priority, !is_code, rule.id));

    let mut left: Vec<i64> = lines.iter().map(BasketLine::total).collect();
    let mut shipping_left = shipping.map_or(0, |s| s.fee);
    let mut exclusive = false;
    for (rule, is_code) in candidates {
        if exclusive || (!rule.stackable && !outcome.applied.is_empty()) {
            if is_code {
                outcome.rejected_code = Some((
                    rule.code.clone().unwrap_or_default(),
                    NotApplied::NotCombinable,
                ));
            }
            continue;
        }
        let (line_discounts, shipping_discount) = match &rule.effect {
            Effect::FreeShipping { methods } => {
                let covered = shipping
                    .map(|s| methods.is_empty() || methods.contains(&s.method))
                    .unwrap_or(true);
                if !covered {
                    if is_code {
                        outcome.rejected_code = Some((
                            rule.code.clone().unwrap_or_default(),
                            NotApplied::NothingMatches,
                        ));
                    }
                    continue;
                }
                (vec![0; lines.len()], shipping_left)
            }
            effect => (line_effect(effect, &rule.targets, lines, &left), 0),
        };
        for (left, d) in left.iter_mut().zip(&line_discounts) {
            *left -= d;
        }
        shipping_left -= shipping_discount;
        exclusive = !rule.stackable;
        outcome.applied.push(Applied {
            promotion_id: rule.id,
            name: rule.name.clone(),
            code: rule.code.clone(),
            lines_discount: line_discounts.iter().sum(),
            line_discounts,
            shipping_discount,
            free_shipping: matches!(rule.effect, Effect::FreeShipping { .. }),
            limited: rule.usage_limit.is_some() || rule.per_customer_limit.is_some(),
        });
    }
    for applied in &outcome.applied {
        for (total, d) in outcome
            .line_discounts
            .iter_mut()
            .zip(&applied.line_discounts)
        {
            *total += d;
        }
        outcome.lines_discount += applied.lines_discount;
        outcome.shipping_discount += applied.shipping_discount;
    }
    outcome
}

/// Per line, what a line or order effect takes from what is `left` of each line.
fn line_effect(effect: &Effect, targets: &Targets, lines: &[BasketLine], left: &[i64]) -> Vec<i64> {
    let whole_order = matches!(
        effect,
        Effect::OrderPercent { .. } | Effect::OrderFixed { .. }
    );
    let base: Vec<i64> = lines
        .iter()
        .zip(left)
        .map(|(line, left)| {
            if whole_order || targets.matches(line) {
                *left
            } else {
                0
            }
        })
        .collect();
    let base_total: i64 = base.iter().sum();
    match *effect {
        Effect::OrderPercent {
            percent,
            max_discount,
        }
        | Effect::LinesPercent {
            percent,
            max_discount,
        } => {
            let raw = (i128::from(base_total) * i128::from(percent) / 100) as i64;
            let total = max_discount.map_or(raw, |cap| raw.min(cap));
            allocate(total, &base)
        }
        Effect::OrderFixed { amount } => allocate(amount.min(base_total), &base),
        Effect::LinesFixed { amount } => lines
            .iter()
            .zip(&base)
            .map(|(line, base)| {
                if *base == 0 {
                    0
                } else {
                    amount.saturating_mul(i64::from(line.quantity)).min(*base)
                }
            })
            .collect(),
        Effect::FreeShipping { .. } => vec![0; lines.len()],
    }
}

/// Splits `total` (at most the sum of `weights`) in proportion to `weights`, in whole units
/// that sum exactly: each part is rounded down, and the units left over go to the largest
/// remainders (ties to the earlier part). No part exceeds its weight.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum == 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let total = i128::from(total).min(sum);
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = total * i128::from(*w);
        parts.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let mut short = (total - parts.iter().map(|p| i128::from(*p)).sum::<i128>()) as usize;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (remainder, i) in remainders {
        if short == 0 {
            break;
        }
        if remainder > 0 {
            parts[i] += 1;
            short -= 1;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 3, 0, 0).unwrap()
    }

    fn line(n: u128, price: i64, quantity: i32) -> BasketLine {
        BasketLine {
            variant_id: Uuid::from_u128(n),
            product_id: Uuid::from_u128(100 + n),
            category_id: Some(Uuid::from_u128(200 + n)),
            brand: Some(format!("Brand{n}")),
            unit_price: price,
            quantity,
        }
    }

    fn rule(n: u128, effect: Effect) -> Rule {
        Rule {
            id: Uuid::from_u128(1000 + n),
            name: format!("promo {n}"),
            code: None,
            effect,
            targets: Targets::default(),
            starts_at: None,
            ends_at: None,
            min_subtotal: 0,
            eligibility: Eligibility::Everyone,
            usage_limit: None,
            per_customer_limit: None,
            redemption_count: 0,
            stackable: true,
            priority: 0,
            enabled: true,
        }
    }

    fn auto(lines: &[BasketLine], rules: &[Rule]) -> Outcome {
        evaluate(lines, None, &Shopper::default(), None, rules, now())
    }

    #[test]
    fn allocation_sums_exactly_and_never_exceeds_a_weight() {
        assert_eq!(allocate(100, &[100, 100, 100]), vec![34, 33, 33]);
        assert_eq!(
            allocate(100, &[1, 1, 1]),
            vec![1, 1, 1],
            "never more than the weights"
        );
        assert_eq!(allocate(10, &[3, 3, 4]), vec![3, 3, 4]);
        assert_eq!(allocate(7, &[1, 0, 1]), vec![1, 0, 1]);
        assert_eq!(allocate(0, &[5, 5]), vec![0, 0]);
        for total in 0..200 {
            let weights = [17, 1, 0, 99, 3];
            let parts = allocate(total, &weights);
            assert_eq!(parts.iter().sum::<i64>(), total.min(120));
            assert!(parts.iter().zip(&weights).all(|(p, w)| p <= w));
        }
    }

    #[test]
    fn a_percentage_off_the_order_rounds_down_and_respects_the_cap() {
        let lines = [line(1, 33_333, 1), line(2, 10_001, 2)];
        let ten = rule(
            1,
            Effect::OrderPercent {
                percent: 10,
                max_discount: None,
            },
        );
        let outcome = auto(&lines, std::slice::from_ref(&ten));
        // 10% of 53,335 is 5,333.5: rounds down.
        assert_eq!(outcome.lines_discount, 5_333);
        assert_eq!(outcome.line_discounts.iter().sum::<i64>(), 5_333);
        let capped = rule(
            2,
            Effect::OrderPercent {
                percent: 50,
                max_discount: Some(1_000),
            },
        );
        assert_eq!(auto(&lines, &[capped]).lines_discount, 1_000);
    }

    #[test]
    fn a_fixed_amount_never_exceeds_what_it_applies_to() {
        let lines = [line(1, 5_000, 1)];
        let outcome = auto(&lines, &[rule(1, Effect::OrderFixed { amount: 20_000 })]);
        assert_eq!(outcome.lines_discount, 5_000);
        assert_eq!(outcome.line_discounts, vec![5_000]);
    }

    #[test]
    fn line_effects_touch_only_matching_lines() {
        let lines = [line(1, 10_000, 2), line(2, 20_000, 1), line(3, 30_000, 1)];
        let mut by_product = rule(1, Effect::LinesFixed { amount: 1_500 });
        by_product.targets.product_ids = vec![Uuid::from_u128(101)];
        assert_eq!(
            auto(&lines, &[by_product]).line_discounts,
            vec![3_000, 0, 0]
        );
        let mut by_category = rule(
            2,
            Effect::LinesPercent {
                percent: 25,
                max_discount: None,
            },
        );
        by_category.targets.category_ids = vec![Uuid::from_u128(202)];
        assert_eq!(
            auto(&lines, &[by_category]).line_discounts,
            vec![0, 5_000, 0]
        );
        let mut by_brand = rule(
            3,
            Effect::LinesPercent {
                percent: 10,
                max_discount: None,
            },
        );
        by_brand.targets.brands = vec!["brand3".into()];
        assert_eq!(auto(&lines, &[by_brand]).line_discounts, vec![0, 0, 3_000]);
        let mut nothing = rule(4, Effect::LinesFixed { amount: 1 });
        nothing.targets.brands = vec!["other".into()];
        assert_eq!(
            check(&nothing, &lines, &Shopper::default(), now()),
            Err(NotApplied::NothingMatches)
        );
    }

    #[test]
    fn later_promotions_apply_to_what_is_left() {
        let lines = [line(1, 10_000, 1)];
        let mut first = rule(1, Effect::OrderFixed { amount: 8_000 });
        first.priority = 1;
        let mut second = rule(
            2,
            Effect::OrderPercent {
                percent: 50,
                max_discount: None,
            },
        );
        second.priority = 2;
        let outcome = auto(&lines, &[second, first]);
        assert_eq!(outcome.applied.len(), 2);
        assert_eq!(outcome.applied[0].lines_discount, 8_000);
        assert_eq!(outcome.applied[1].lines_discount, 1_000);
        assert_eq!(outcome.lines_discount, 9_000);
    }

    #[test]
    fn a_non_stackable_promotion_applies_alone() {
        let lines = [line(1, 10_000, 1)];
        let mut exclusive = rule(1, Effect::OrderFixed { amount: 1_000 });
        exclusive.stackable = false;
        exclusive.code = Some("SOLO".into());
        let mut earlier = rule(2, Effect::OrderFixed { amount: 500 });
        earlier.priority = -1;
        let outcome = evaluate(
            &lines,
            None,
            &Shopper::default(),
            Some(("solo", Some(&exclusive))),
            &[earlier],
            now(),
        );
        assert_eq!(outcome.lines_discount, 500);
        assert_eq!(
            outcome.rejected_code,
            Some(("SOLO".into(), NotApplied::NotCombinable))
        );
    }

    #[test]
    fn conditions_say_why_a_code_does_not_apply() {
        let lines = [line(1, 10_000, 1)];
        let shopper = Shopper::default();
        let mut r = rule(1, Effect::OrderFixed { amount: 1 });
        r.starts_at = Some(now() + chrono::Duration::hours(1));
        assert_eq!(
            check(&r, &lines, &shopper, now()),
            Err(NotApplied::NotStarted)
        );
        r.starts_at = None;
        r.ends_at = Some(now());
        assert_eq!(check(&r, &lines, &shopper, now()), Err(NotApplied::Expired));
        r.ends_at = None;
        r.min_subtotal = 10_001;
        assert_eq!(
            check(&r, &lines, &shopper, now()),
            Err(NotApplied::MinimumNotMet)
        );
        r.min_subtotal = 10_000;
        r.eligibility = Eligibility::SignedIn;
        assert_eq!(
            check(&r, &lines, &shopper, now()),
            Err(NotApplied::NotEligible)
        );
        let customer = Shopper {
            user_id: Some(Uuid::from_u128(7)),
            has_ordered: true,
            redemptions: HashMap::from([(r.id, 1)]),
        };
        assert_eq!(check(&r, &lines, &customer, now()), Ok(()));
        r.eligibility = Eligibility::FirstOrder;
        assert_eq!(
            check(&r, &lines, &customer, now()),
            Err(NotApplied::NotEligible)
        );
        r.eligibility = Eligibility::Everyone;
        r.per_customer_limit = Some(1);
        assert_eq!(
            check(&r, &lines, &customer, now()),
            Err(NotApplied::LimitReached)
        );
        r.per_customer_limit = None;
        r.usage_limit = Some(3);
        r.redemption_count = 3;
        assert_eq!(
            check(&r, &lines, &customer, now()),
            Err(NotApplied::LimitReached)
        );
        r.usage_limit = None;
        r.enabled = false;
        assert_eq!(
            check(&r, &lines, &customer, now()),
            Err(NotApplied::Disabled)
        );
        let unknown = evaluate(&lines, None, &shopper, Some(("NOPE", None)), &[], now());
        assert_eq!(
            unknown.rejected_code,
            Some(("NOPE".into(), NotApplied::Unknown))
        );
    }

    #[test]
    fn free_shipping_covers_only_its_methods() {
        let lines = [line(1, 10_000, 1)];
        let mut free = rule(
            1,
            Effect::FreeShipping {
                methods: vec!["standard".into()],
            },
        );
        free.code = Some("SHIPFREE".into());
        let code = Some(("SHIPFREE", Some(&free)));
        let shopper = Shopper::default();
        let standard = Shipping {
            method: "standard".into(),
            fee: 15_000,
        };
        let express = Shipping {
            method: "express".into(),
            fee: 30_000,
        };
        let outcome = evaluate(&lines, Some(&standard), &shopper, code, &[], now());
        assert_eq!(
            (outcome.shipping_discount, outcome.lines_discount),
            (15_000, 0)
        );
        let outcome = evaluate(&lines, Some(&express), &shopper, code, &[], now());
        assert_eq!(outcome.shipping_discount, 0);
        assert_eq!(
            outcome.rejected_code,
            Some(("SHIPFREE".into(), NotApplied::NothingMatches))
        );
        let in_cart = evaluate(&lines, None, &shopper, code, &[], now());
        assert_eq!(in_cart.applied.len(), 1);
    }
}
