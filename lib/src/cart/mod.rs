//! Carts: one open cart per customer (created lazily), guest carts addressed by a token, and
//! the merge of a guest cart into the customer's cart at login.
//!
//! Lines, totals, availability and discounts are always computed here from current prices,
//! stock and promotions; clients never send prices. A cart holds at most one promotion code
//! (kept even while it does not apply, with the reason shown). `store` holds the SQL.

mod settings;
mod store;

pub use self::settings::CartConfig;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    catalog::{CategoryId, ProductId, Sku, VariantId},
    promotions::{
        self,
        rules::{Applied, BasketLine, NotApplied},
    },
    validation::ValidationErrors,
};

/// Who a cart belongs to: a signed-in customer or the holder of a guest token.
#[derive(Debug, Clone)]
pub enum CartOwner {
    Customer(Uuid),
    Guest { token: String },
}

/// One line of a cart, priced now.
#[derive(Debug, Clone)]
pub struct CartLine {
    pub id: Uuid,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub product_slug: String,
    pub category_id: Option<CategoryId>,
    pub brand: Option<String>,
    pub sku: Sku,
    pub options: BTreeMap<String, String>,
    pub image_url: Option<String>,
    pub quantity: i32,
    /// The current price of the variant.
    pub unit_price: i64,
    /// The price the customer last saw, when it differs from the current one.
    pub previous_unit_price: Option<i64>,
    pub line_total: i64,
    pub available: i32,
    /// The product is active (an archived or draft product cannot be bought).
    pub purchasable: bool,
    /// What promotions take off this line.
    pub discount: i64,
    /// One unit's weight.
    pub weight_grams: i32,
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub lines: Vec<CartLine>,
    pub item_count: i64,
    pub subtotal: i64,
    /// The lines' weight (units × their variants' `weight_grams`).
    pub weight_grams: i64,
    pub updated_at: DateTime<Utc>,
    pub promotion_code: Option<String>,
    /// The discount the customer last saw (checkout refuses a changed one).
    pub seen_discount: i64,
    /// The promotions that apply, in the order they applied.
    pub promotions: Vec<Applied>,
    /// The cart's code when it does not apply, and why.
    pub rejected_code: Option<(String, NotApplied)>,
    /// The promotions' discount on the lines.
    pub discount_total: i64,
    /// The items' tax after their discounts (shipping's is known at checkout): included in
    /// the prices, or to be added.
    pub tax_total: i64,
    pub prices_include_tax: bool,
}

impl Cart {
    fn basket(&self) -> Vec<BasketLine> {
        self.lines
            .iter()
            .map(|l| BasketLine {
                variant_id: l.variant_id.as_uuid(),
                product_id: l.product_id.as_uuid(),
                category_id: l.category_id.map(|id| id.as_uuid()),
                brand: l.brand.clone(),
                unit_price: l.unit_price,
                quantity: l.quantity,
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("cart not found")]
    CartNotFound,
    #[error("cart item not found")]
    ItemNotFound,
    #[error("this product is not available for sale")]
    VariantUnavailable,
    #[error("only {available} available")]
    InsufficientStock { available: i32 },
    #[error("a cart holds at most {0} different items")]
    TooManyLines(i64),
    #[error("no promotion has this code")]
    UnknownCode,
    #[error("the cart holds no such code")]
    CodeNotInCart,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The cart service.
#[derive(Clone)]
pub struct Carts {
    db: PgPool,
    config: CartConfig,
}

/// A new guest cart and the token that addresses it (shown once).
pub struct GuestCart {
    pub token: String,
    pub cart: Cart,
}

impl Carts {
    pub fn new(db: PgPool, config: CartConfig) -> Self {
        Self { db, config }
    }

    /// Creates a guest cart.
    pub async fn create_guest(&self) -> Result<GuestCart, CartError> {
        let token = crate::auth::tokens::new_refresh_token();
        let cart_id = store::insert_guest(&self.db, &token.hash).await?;
        let cart = self.show(cart_id).await?;
        Ok(GuestCart {
            token: token.value,
            cart,
        })
    }

    /// The owner's open cart; a customer's is created on first use.
    pub async fn get(&self, owner: &CartOwner) -> Result<Cart, CartError> {
        let cart_id = self.resolve(owner).await?;
        self.load(cart_id).await
    }

    pub async fn add_item(
        &self,
        owner: &CartOwner,
        variant_id: VariantId,
        quantity: i32,
    ) -> Result<Cart, CartError> {
        let variant_id = variant_id.as_uuid();
        self.check_quantity(quantity, 1)?;
        let cart_id = self.resolve(owner).await?;
        let mut tx = self.db.begin().await?;
        store::lock_cart(&mut tx, cart_id).await?;
        let variant = store::variant_for_sale(&mut tx, variant_id)
            .await?
            .ok_or_else(|| ValidationErrors::single("variant_id", "no such variant"))?;
        if !variant.active {
            return Err(CartError::VariantUnavailable);
        }
        let existing = store::line_quantity(&mut tx, cart_id, variant_id).await?;
        if existing.is_none() && store::line_count(&mut tx, cart_id).await? >= self.config.max_lines
        {
            return Err(CartError::TooManyLines(self.config.max_lines));
        }
        let total = existing.unwrap_or(0) + quantity;
        self.check_quantity(total, 1)?;
        if total > variant.available {
            return Err(CartError::InsufficientStock {
                available: variant.available.max(0),
            });
        }
        store::upsert_line(&mut tx, cart_id, variant_id, total, variant.price).await?;
        tx.commit().await?;
        self.show(cart_id).await
    }

    /// Sets a line's quantity; 0 removes it.
    pub async fn set_quantity(
        &self,
        owner: &CartOwner,
        item_id: Uuid,
        quantity: i32,
    ) -> Result<Cart, CartError> {
        self.check_quantity(quantity, 0)?;
        let cart_id = self.resolve(owner).await?;
        if quantity == 0 {
            return self.remove_item(owner, item_id).await;
        }
        let mut tx = self.db.begin().await?;
        let variant_id = store::line_variant(&mut tx, cart_id, item_id)
            .await?
            .ok_or(CartError::ItemNotFound)?;
        let variant = store::variant_for_sale(&mut tx, variant_id)
            .await?
            .ok_or(CartError::VariantUnavailable)?;
        if !variant.active {
            return Err(CartError::VariantUnavailable);
        }
        if quantity > variant.available {
            return Err(CartError::InsufficientStock {
                available: variant.available.max(0),
            });
        }
        store::update_quantity(&mut tx, item_id, quantity, variant.price).await?;
        tx.commit().await?;
        self.show(cart_id).await
    }

    pub async fn remove_item(&self, owner: &CartOwner, item_id: Uuid) -> Result<Cart, CartError> {
        let cart_id = self.resolve(owner).await?;
        if !store::delete_line(&self.db, cart_id, item_id).await? {
            return Err(CartError::ItemNotFound);
        }
        self.show(cart_id).await
    }

    /// Empties the cart.
    pub async fn clear(&self, owner: &CartOwner) -> Result<Cart, CartError> {
        let cart_id = self.resolve(owner).await?;
        store::delete_lines(&self.db, cart_id).await?;
        self.show(cart_id).await
    }

    /// Puts a promotion code on the cart (replacing its code). A code no promotion has is
    /// refused; a known one is kept even when it does not apply yet, with the reason shown.
    pub async fn apply_code(&self, owner: &CartOwner, code: &str) -> Result<Cart, CartError> {
        let cart_id = self.resolve(owner).await?;
        let mut conn = self.db.acquire().await?;
        let code = promotions::canonical_code(&mut conn, code.trim())
            .await?
            .ok_or(CartError::UnknownCode)?;
        drop(conn);
        store::set_code(&self.db, cart_id, Some(&code)).await?;
        self.show(cart_id).await
    }

    /// Takes the code off the cart.
    pub async fn remove_code(&self, owner: &CartOwner, code: &str) -> Result<Cart, CartError> {
        let cart_id = self.resolve(owner).await?;
        let cart = self.load(cart_id).await?;
        if !cart
            .promotion_code
            .is_some_and(|c| c.eq_ignore_ascii_case(code.trim()))
        {
            return Err(CartError::CodeNotInCart);
        }
        store::set_code(&self.db, cart_id, None).await?;
        self.show(cart_id).await
    }

    /// Moves a guest cart's lines into the customer's open cart: quantities are summed and
    /// capped by availability and the per-line limit. Unknown or already merged tokens are
    /// ignored (the login itself must not fail because of a stale cart token).
    pub async fn merge_guest(&self, token: &str, user_id: Uuid) -> Result<(), CartError> {
        let Some(guest_id) =
            store::find_guest(&self.db, &crate::auth::tokens::hash_refresh_token(token)).await?
        else {
            return Ok(());
        };
        let target = self.resolve(&CartOwner::Customer(user_id)).await?;
        let mut tx = self.db.begin().await?;
        store::lock_cart(&mut tx, guest_id).await?;
        store::lock_cart(&mut tx, target).await?;
        for (variant_id, quantity) in store::lines_of(&mut tx, guest_id).await? {
            let Some(variant) = store::variant_for_sale(&mut tx, variant_id).await? else {
                continue;
            };
            if !variant.active || variant.available <= 0 {
                continue;
            }
            let existing = store::line_quantity(&mut tx, target, variant_id)
                .await?
                .unwrap_or(0);
            let merged = (existing + quantity)
                .min(variant.available)
                .min(self.config.max_line_quantity);
            if existing == 0 && store::line_count(&mut tx, target).await? >= self.config.max_lines {
                break;
            }
            store::upsert_line(&mut tx, target, variant_id, merged, variant.price).await?;
        }
        store::adopt_code(&mut tx, guest_id, target).await?;
        store::mark_merged(&mut tx, guest_id).await?;
        tx.commit().await?;
        Ok(())
    }

    fn check_quantity(&self, quantity: i32, min: i32) -> Result<(), CartError> {
        let max = self.config.max_line_quantity;
        if quantity < min || quantity > max {
            return Err(ValidationErrors::single(
                "quantity",
                format!("must be between {min} and {max}"),
            )
            .into());
        }
        Ok(())
    }

    async fn resolve(&self, owner: &CartOwner) -> Result<Uuid, CartError> {
        match owner {
            CartOwner::Customer(user_id) => Ok(store::open_cart_of(&self.db, *user_id).await?),
            CartOwner::Guest { token } => {
                store::find_guest(&self.db, &crate::auth::tokens::hash_refresh_token(token))
                    .await?
                    .ok_or(CartError::CartNotFound)
            }
        }
    }

    /// The cart priced now, with its promotions.
    async fn load(&self, cart_id: Uuid) -> Result<Cart, CartError> {
        let mut conn = self.db.acquire().await?;
        priced(&mut conn, cart_id, Some(&self.config.tax))
            .await?
            .ok_or(CartError::CartNotFound)
    }

    /// The cart after a change by its owner: what it shows now is what they have seen.
    async fn show(&self, cart_id: Uuid) -> Result<Cart, CartError> {
        let mut cart = self.load(cart_id).await?;
        if cart.seen_discount != cart.discount_total {
            store::remember_discount(&self.db, cart_id, cart.discount_total).await?;
            cart.seen_discount = cart.discount_total;
        }
        Ok(cart)
    }
}

/// A cart with current prices, what its promotions give and (with `tax`) its tax.
async fn priced(
    conn: &mut sqlx::PgConnection,
    cart_id: Uuid,
    tax: Option<&crate::tax::TaxConfig>,
) -> Result<Option<Cart>, sqlx::Error> {
    let Some(mut cart) = store::load(conn, cart_id).await? else {
        return Ok(None);
    };
    let outcome = promotions::evaluate(
        conn,
        &cart.basket(),
        cart.user_id,
        cart.promotion_code.as_deref(),
        None,
    )
    .await?;
    for (line, discount) in cart.lines.iter_mut().zip(&outcome.line_discounts) {
        line.discount = *discount;
    }
    cart.discount_total = outcome.lines_discount;
    cart.promotions = outcome.applied;
    cart.rejected_code = outcome.rejected_code;
    if let Some(tax) = tax {
        let products: Vec<Uuid> = cart.lines.iter().map(|l| l.product_id.as_uuid()).collect();
        let rates = crate::tax::rates_for_products(conn, tax, &products).await?;
        cart.prices_include_tax = tax.prices_include_tax;
        cart.tax_total = cart
            .lines
            .iter()
            .map(|l| {
                let base = l.unit_price * i64::from(l.quantity) - l.discount;
                crate::tax::tax_of(
                    base,
                    rates[&l.product_id.as_uuid()].rate_bp,
                    tax.prices_include_tax,
                )
            })
            .sum();
    }
    Ok(Some(cart))
}

/// After checkout refused a changed cart: the customer has now been shown the current prices
/// and discount (returned), and the next attempt may go through at those.
pub async fn acknowledge(db: &PgPool, user_id: Uuid) -> Result<i64, sqlx::Error> {
    let mut conn = db.acquire().await?;
    store::acknowledge_prices(&mut *conn, user_id).await?;
    let Some(cart_id) = store::open_cart_id(&mut *conn, user_id).await? else {
        return Ok(0);
    };
    let Some(cart) = priced(&mut conn, cart_id, None).await? else {
        return Ok(0);
    };
    store::remember_discount(&mut *conn, cart_id, cart.discount_total).await?;
    Ok(cart.discount_total)
}

/// Forgets a deleted customer's carts.
pub(crate) async fn forget_customer(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    store::delete_customer_carts(tx, user_id).await
}

/// What checkout needs of a customer's cart, read under lock inside its transaction.
pub use store::{checkout_lines, empty_cart_in, open_cart_parcel, CheckoutCart, CheckoutLine};
