//! Checkout: turns the customer's cart into an order, exactly once per idempotency key.
//!
//! In one transaction: claim the key, lock the cart and its variants (in id order), revalidate
//! every line's price and availability and the cart's discount, create the order with line
//! snapshots and discounts, reserve the stock (guarded in SQL), redeem the promotions (guarded
//! in SQL), empty the cart, and enter the order into the state machine (`lifecycle::enter`:
//! history and `order.created`). Payment starts after the
//! commit (never hold locks across a call to Midtrans), then the receipt is stored for replays.

use chrono::Utc;
use sqlx::{types::Json, PgConnection};
use uuid::Uuid;

use super::{
    lifecycle, store, Actor, Address, CheckoutReceipt, LineIssue, LineProblem, Order, OrderError,
    OrderNumber, Orders,
};
use crate::{
    addresses::{self, ShipTo},
    cart::{self, CheckoutLine},
    catalog::{
        inventory::{self, StockOp},
        VariantId,
    },
    idempotency::{Existing, IdempotencyKey},
    promotions::{
        self,
        rules::{BasketLine, Shipping},
        RedeemingOrder,
    },
    shipping::{Destination, Parcel, Quote},
    validation::ValidationErrors,
};

/// What the customer submits.
#[derive(Debug, Clone)]
pub struct CheckoutInput {
    /// Where to ship; with neither this nor `address_id`, the default saved address.
    pub shipping_address: Option<Address>,
    /// A saved address of the customer's (`addresses`).
    pub address_id: Option<Uuid>,
    pub shipping_method: String,
    pub note: Option<String>,
}

/// Every bad field of the input at once; the address to ship to when there is none.
fn validate(
    input: &CheckoutInput,
    ship_to: Result<Address, (&'static str, String)>,
    methods: &[crate::shipping::ShippingMethod],
) -> Result<Address, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let address = match ship_to {
        Ok(address) => {
            errors.nest("shipping_address", address.problems());
            Some(address)
        }
        Err((field, message)) => {
            errors.add(field, message);
            None
        }
    };
    errors.check(
        methods.iter().any(|m| m.code == input.shipping_method),
        "shipping_method",
        format!(
            "must be one of: {}",
            methods
                .iter()
                .map(|m| m.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if let Some(note) = &input.note {
        errors.length("note", note, 0, 500);
    }
    errors.finish()?;
    Ok(address.expect("an address when nothing is wrong"))
}

/// Problems that stop checkout, per line.
fn line_problems(lines: &[CheckoutLine]) -> Vec<LineProblem> {
    lines
        .iter()
        .filter_map(|l| {
            let issue = if !l.active {
                LineIssue::Unavailable
            } else if l.price != l.seen_price {
                LineIssue::PriceChanged
            } else if l.quantity > l.available {
                LineIssue::InsufficientStock
            } else {
                return None;
            };
            Some(LineProblem {
                variant_id: l.variant_id,
                sku: l.sku.clone(),
                requested: l.quantity,
                available: l.available.max(0),
                previous_unit_price: (l.price != l.seen_price).then_some(l.seen_price),
                unit_price: l.price,
                issue,
            })
        })
        .collect()
}

impl Orders {
    /// Places the customer's cart as an order (see the module docs). A repeated key with the
    /// same input returns the first receipt; with another input it is refused.
    pub async fn checkout(
        &self,
        user_id: Uuid,
        input: CheckoutInput,
        key: &IdempotencyKey,
    ) -> Result<CheckoutReceipt, OrderError> {
        // Who may check out, before what they sent.
        if self.config.require_verified_email
            && crate::auth::verification::verified_at(&self.db, user_id)
                .await?
                .is_none()
        {
            return Err(OrderError::EmailNotVerified);
        }
        let shipping = self
            .shipping
            .as_ref()
            .expect("the API server builds Orders with_shipping");
        let ship_to = self.ship_to(user_id, &input).await?;
        let address = validate(&input, ship_to, shipping.methods())?;
        let destination = Destination::new(
            &address.country_code,
            address.province.as_deref(),
            Some(&address.postal_code),
        );
        let mut attempts = 0;
        let order = loop {
            // Quoted before the transaction: no lock waits on a courier's answer. Its failure
            // counts only once the key is claimed (a replay returns the first receipt).
            let quoted = match cart::open_cart_parcel(&self.db, user_id).await? {
                Some((weight_grams, subtotal)) => {
                    let parcel = Parcel {
                        weight_grams,
                        subtotal,
                    };
                    Some(
                        shipping
                            .quote(
                                &destination,
                                &parcel,
                                &input.shipping_method,
                                "shipping_method",
                            )
                            .await
                            .map(|quote| (parcel, quote)),
                    )
                }
                None => None,
            };
            let mut tx = self.db.begin().await?;
            if key.try_claim(&mut tx).await? {
                let quoted = match quoted.transpose() {
                    Ok(quoted) => quoted,
                    Err(e) => {
                        tx.rollback().await?;
                        return Err(e.into());
                    }
                };
                let placed = self
                    .place(&mut tx, user_id, &input, &address, quoted.as_ref())
                    .await;
                let order = match placed {
                    Ok(order) => order,
                    Err(e) => {
                        tx.rollback().await?;
                        // The customer has now been shown the new prices and discount; the
                        // next attempt may go through at those.
                        return match e {
                            OrderError::CartChanged(_) => {
                                cart::acknowledge(&self.db, user_id).await?;
                                Err(e)
                            }
                            OrderError::DiscountChanged { previous, .. } => {
                                let current = cart::acknowledge(&self.db, user_id).await?;
                                Err(OrderError::DiscountChanged { previous, current })
                            }
                            // The cart changed between the quote and its lock: quote again.
                            OrderError::ParcelChanged if attempts < 3 => {
                                attempts += 1;
                                continue;
                            }
                            e => Err(e),
                        };
                    }
                };
                key.set_resource(&mut tx, order.id.into()).await?;
                tx.commit().await?;
                break order;
            }
            tx.rollback().await?;
            match key.await_existing::<CheckoutReceipt>(&self.db).await? {
                Existing::Completed(receipt) => return Ok(receipt),
                Existing::Vanished | Existing::Stale { resource_id: None } => continue,
                Existing::Stale {
                    resource_id: Some(order_id),
                } => {
                    let mut conn = self.db.acquire().await?;
                    break store::load(&mut conn, order_id)
                        .await?
                        .ok_or(OrderError::NotFound)?;
                }
            }
        };
        let payment = match &self.payments {
            Some(starter) => Some(starter.start_payment(&order).await),
            None => None,
        };
        let receipt = CheckoutReceipt { order, payment };
        key.complete(&self.db, &receipt).await?;
        Ok(receipt)
    }

    /// The address the input names: given, saved (by id) or the default saved one; else the
    /// field to blame.
    async fn ship_to(
        &self,
        user_id: Uuid,
        input: &CheckoutInput,
    ) -> Result<Result<Address, (&'static str, String)>, OrderError> {
        let saved = match (&input.shipping_address, input.address_id) {
            (Some(_), Some(_)) => {
                return Ok(Err((
                    "address_id",
                    "give either shipping_address or address_id, not both".into(),
                )))
            }
            (Some(address), None) => return Ok(Ok(address.clone())),
            (None, id) => {
                let mut conn = self.db.acquire().await?;
                addresses::ship_to(&mut conn, user_id, id).await
            }
        };
        Ok(match saved? {
            ShipTo::Address(address) => Ok(address),
            ShipTo::NoDefault => Err((
                "shipping_address",
                "required (or an address_id): the address book has no default address".into(),
            )),
            ShipTo::NotInBook => Err((
                "address_id",
                "is not an address in your address book".into(),
            )),
        })
    }

    async fn place(
        &self,
        tx: &mut PgConnection,
        user_id: Uuid,
        input: &CheckoutInput,
        address: &Address,
        quoted: Option<&(Parcel, Quote)>,
    ) -> Result<Order, OrderError> {
        // The account first, then the cart, as an account's deletion locks them: an order is
        // placed before the deletion or refused after it, never deadlocked.
        let (email, name) = crate::auth::store::lock_customer(tx, user_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        let cart = cart::checkout_lines(tx, user_id)
            .await?
            .ok_or(OrderError::CartEmpty)?;
        let lines = &cart.lines;
        if lines.is_empty() {
            return Err(OrderError::CartEmpty);
        }
        let problems = line_problems(lines);
        if problems
            .iter()
            .any(|p| p.issue != LineIssue::InsufficientStock)
        {
            return Err(OrderError::CartChanged(problems));
        }
        if !problems.is_empty() {
            return Err(OrderError::InsufficientStock(problems));
        }

        // The quote holds for the parcel it priced, which the locks now keep.
        let parcel = Parcel {
            weight_grams: lines
                .iter()
                .map(|l| i64::from(l.weight_grams) * i64::from(l.quantity))
                .sum(),
            subtotal: lines.iter().map(|l| l.price * i64::from(l.quantity)).sum(),
        };
        let quote = match quoted {
            Some((quoted_parcel, quote)) if *quoted_parcel == parcel => quote,
            _ => return Err(OrderError::ParcelChanged),
        };
        let basket = basket(lines);
        let shipping = Shipping {
            method: quote.method.clone(),
            fee: quote.fee,
        };
        let code = cart.promotion_code.as_deref();
        let outcome =
            promotions::evaluate(tx, &basket, Some(user_id), code, Some(&shipping)).await?;
        if outcome.lines_discount != cart.seen_discount {
            return Err(OrderError::DiscountChanged {
                previous: cart.seen_discount,
                current: outcome.lines_discount,
            });
        }
        let taxes = self.tax_lines(tx, lines, &outcome).await?;
        let subtotal = parcel.subtotal;
        let order_id = Uuid::now_v7();
        let due =
            Utc::now() + chrono::Duration::from_std(self.config.payment_ttl).unwrap_or_default();
        let tax = &self.config.tax;
        let shipping_tax_rate_bp = if tax.shipping_taxable {
            tax.standard_rate_bp
        } else {
            0
        };
        let shipping_tax = crate::tax::tax_of(
            quote.fee - outcome.shipping_discount,
            shipping_tax_rate_bp,
            tax.prices_include_tax,
        );
        let totals = Totals {
            subtotal,
            shipping_fee: quote.fee,
            discount_total: outcome.lines_discount,
            shipping_discount: outcome.shipping_discount,
            prices_include_tax: tax.prices_include_tax,
            shipping_tax,
            shipping_tax_rate_bp: if shipping_tax > 0 {
                shipping_tax_rate_bp
            } else {
                0
            },
            tax_total: taxes.iter().map(|t| t.2).sum::<i64>() + shipping_tax,
        };
        let number = insert_order(
            tx,
            order_id,
            user_id,
            &self.currency,
            input,
            address,
            &totals,
            &email,
            &name,
            due,
        )
        .await?;
        let line_ids = insert_lines(tx, order_id, lines, &outcome.line_discounts, &taxes).await?;

        let quantities: Vec<(VariantId, i32)> =
            lines.iter().map(|l| (l.variant_id, l.quantity)).collect();
        let refused =
            inventory::apply_to_order(tx, order_id, StockOp::Reserve, &quantities).await?;
        if !refused.is_empty() {
            // Unreachable while the variants stay locked, but the guard decides, not the check.
            let short = lines
                .iter()
                .filter(|l| refused.contains(&l.variant_id))
                .cloned()
                .collect::<Vec<_>>();
            return Err(OrderError::InsufficientStock(
                short
                    .iter()
                    .map(|l| LineProblem {
                        variant_id: l.variant_id,
                        sku: l.sku.clone(),
                        requested: l.quantity,
                        available: l.available.max(0),
                        previous_unit_price: None,
                        unit_price: l.price,
                        issue: LineIssue::InsufficientStock,
                    })
                    .collect(),
            ));
        }
        let redeeming = RedeemingOrder {
            order_id,
            order_number: number.as_str(),
            user_id,
            currency: &self.currency,
            line_ids: &line_ids,
        };
        cart::empty_cart_in(tx, cart.id).await?;
        // Last: counting a limited promotion holds its row lock until the commit.
        if promotions::redeem(tx, &redeeming, &outcome).await?.is_err() {
            // A limit was reached (or the promotion ended) since the quote above; the
            // current discount is filled in once the cart is shown again.
            return Err(OrderError::DiscountChanged {
                previous: cart.seen_discount,
                current: cart.seen_discount,
            });
        }
        lifecycle::enter(tx, order_id.into(), Actor::Customer(user_id)).await
    }
}

impl Orders {
    /// Each line's tax class, rate and tax (on what is paid for it after its discount).
    async fn tax_lines(
        &self,
        tx: &mut PgConnection,
        lines: &[CheckoutLine],
        outcome: &promotions::rules::Outcome,
    ) -> Result<Vec<(String, i32, i64)>, OrderError> {
        let products: Vec<Uuid> = lines.iter().map(|l| l.product_id.as_uuid()).collect();
        let rates = crate::tax::rates_for_products(tx, &self.config.tax, &products).await?;
        Ok(lines
            .iter()
            .zip(&outcome.line_discounts)
            .map(|(l, discount)| {
                let rate = &rates[&l.product_id.as_uuid()];
                let base = l.price * i64::from(l.quantity) - discount;
                let tax =
                    crate::tax::tax_of(base, rate.rate_bp, self.config.tax.prices_include_tax);
                (rate.class.clone(), rate.rate_bp, tax)
            })
            .collect())
    }
}

/// A cart's lines as promotions see them.
fn basket(lines: &[CheckoutLine]) -> Vec<BasketLine> {
    lines
        .iter()
        .map(|l| BasketLine {
            variant_id: l.variant_id.into(),
            product_id: l.product_id.into(),
            category_id: l.category_id.map(Into::into),
            brand: l.brand.clone(),
            unit_price: l.price,
            quantity: l.quantity,
        })
        .collect()
}

/// An order's amounts (minor units).
struct Totals {
    subtotal: i64,
    shipping_fee: i64,
    discount_total: i64,
    shipping_discount: i64,
    prices_include_tax: bool,
    shipping_tax: i64,
    shipping_tax_rate_bp: i32,
    tax_total: i64,
}

impl Totals {
    fn grand_total(&self) -> i64 {
        let added_tax = if self.prices_include_tax {
            0
        } else {
            self.tax_total
        };
        self.subtotal - self.discount_total + self.shipping_fee - self.shipping_discount + added_tax
    }
}

/// Inserts the order and returns its number.
#[allow(clippy::too_many_arguments)]
async fn insert_order(
    tx: &mut PgConnection,
    order_id: Uuid,
    user_id: Uuid,
    currency: &str,
    input: &CheckoutInput,
    address: &Address,
    totals: &Totals,
    email: &str,
    name: &str,
    payment_due_at: chrono::DateTime<Utc>,
) -> Result<OrderNumber, OrderError> {
    // A fresh number on the (astronomically rare) collision, inside a savepoint.
    for _ in 0..5 {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        let number = OrderNumber::generate();
        let result = sqlx::query!(
            "insert into orders (order_id, order_number, user_id, status, currency, subtotal, shipping_fee,
                                 discount_total, shipping_discount, grand_total, shipping_method,
                                 shipping_address, note, customer_email, customer_name, payment_due_at,
                                 prices_include_tax, shipping_tax, shipping_tax_rate_bp, tax_total)
             values ($1, $2, $3, 'pending_payment', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                     $16, $17, $18, $19)",
            order_id,
            number.as_str(),
            user_id,
            currency,
            totals.subtotal,
            totals.shipping_fee,
            totals.discount_total,
            totals.shipping_discount,
            totals.grand_total(),
            &input.shipping_method,
            Json(address) as _,
            input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()),
            email,
            name,
            payment_due_at,
            totals.prices_include_tax,
            totals.shipping_tax,
            totals.shipping_tax_rate_bp,
            totals.tax_total,
        )
        .execute(&mut *savepoint)
        .await;
        match result {
            Ok(_) => {
                savepoint.commit().await?;
                return Ok(number);
            }
            Err(e) if crate::db::violated_constraint(&e) == Some("orders_order_number_key") => {
                savepoint.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(OrderError::Database(sqlx::Error::Protocol(
        "could not allocate a unique order number".into(),
    )))
}

/// Inserts the order's lines (with their discounts, in cart order) and returns their ids.
async fn insert_lines(
    tx: &mut PgConnection,
    order_id: Uuid,
    lines: &[CheckoutLine],
    discounts: &[i64],
    taxes: &[(String, i32, i64)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tax_classes: Vec<&str> = taxes.iter().map(|t| t.0.as_str()).collect();
    let tax_rates: Vec<i32> = taxes.iter().map(|t| t.1).collect();
    let tax_amounts: Vec<i64> = taxes.iter().map(|t| t.2).collect();
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    let variant_ids: Vec<Uuid> = lines.iter().map(|l| l.variant_id.as_uuid()).collect();
    let product_ids: Vec<Uuid> = lines.iter().map(|l| l.product_id.as_uuid()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.product_name.as_str()).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let options: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::to_value(&l.options).expect("options serialize"))
        .collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.price).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let positions: Vec<i32> = (0..lines.len() as i32).collect();
    sqlx::query!(
        "insert into order_lines (order_line_id, order_id, variant_id, product_id, product_name, sku, variant_options,
                                  unit_price, quantity, line_total, position, discount, tax_class, tax_rate_bp, tax)
         select id, $1, v, p, n, s, o, price, q, price * q, pos, d, tc, tr, ta
         from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::jsonb[], $8::int8[], $9::int4[],
                     $10::int4[], $11::int8[], $12::text[], $13::int4[], $14::int8[])
              as t(id, v, p, n, s, o, price, q, pos, d, tc, tr, ta)",
        order_id,
        &ids,
        &variant_ids,
        &product_ids,
        &names as _,
        &skus as _,
        &options,
        &prices,
        &quantities,
        &positions,
        discounts,
        &tax_classes as _,
        &tax_rates,
        &tax_amounts,
    )
    .execute(tx)
    .await?;
    Ok(ids)
}
