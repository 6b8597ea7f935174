//! SQL for the `carts` and `cart_items` tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgPool};
use uuid::Uuid;

use super::{Cart, CartLine};
use crate::catalog::{CategoryId, ProductId, Sku, VariantId};

pub(super) async fn insert_guest(db: &PgPool, token_hash: &[u8]) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into carts (cart_id, token_hash) values ($1, $2) returning cart_id",
        Uuid::now_v7(),
        token_hash,
    )
    .fetch_one(db)
    .await
}

/// The customer's open cart, created if missing. The partial unique index makes concurrent
/// first calls converge on one cart.
pub(super) async fn open_cart_of(db: &PgPool, user_id: Uuid) -> Result<Uuid, sqlx::Error> {
    loop {
        let existing: Option<Uuid> = sqlx::query_scalar!(
            "select cart_id from carts where user_id = $1 and status = 'open'",
            user_id,
        )
        .fetch_optional(db)
        .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let created: Option<Uuid> = sqlx::query_scalar!(
            "insert into carts (cart_id, user_id) values ($1, $2)
             on conflict (user_id) where status = 'open' and user_id is not null do nothing
             returning cart_id",
            Uuid::now_v7(),
            user_id,
        )
        .fetch_optional(db)
        .await?;
        if let Some(id) = created {
            return Ok(id);
        }
        // Lost the race to a concurrent creation: read the winner's cart.
    }
}

pub(super) async fn find_guest(
    db: &PgPool,
    token_hash: &[u8],
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select cart_id from carts where token_hash = $1 and status = 'open'",
        token_hash,
    )
    .fetch_optional(db)
    .await
}

/// Serialises changes to one cart (two tabs adding the same item must not both insert).
pub(super) async fn lock_cart(tx: &mut PgConnection, cart_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select 1 as one from carts where cart_id = $1 for update",
        cart_id
    )
    .fetch_optional(tx)
    .await
    .map(|_| ())
}

pub(super) struct VariantForSale {
    pub price: i64,
    pub available: i32,
    pub active: bool,
}

pub(super) async fn variant_for_sale(
    tx: &mut PgConnection,
    variant_id: Uuid,
) -> Result<Option<VariantForSale>, sqlx::Error> {
    sqlx::query_as!(
        VariantForSale,
        r#"select v.price, v.stock_on_hand - v.stock_reserved as "available!",
                  p.status = 'active' as "active!"
           from variants v join products p on p.product_id = v.product_id where v.variant_id = $1"#,
        variant_id,
    )
    .fetch_optional(tx)
    .await
}

pub(super) async fn line_quantity(
    tx: &mut PgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "select quantity from cart_items where cart_id = $1 and variant_id = $2",
        cart_id,
        variant_id,
    )
    .fetch_optional(tx)
    .await
}

pub(super) async fn line_count(tx: &mut PgConnection, cart_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from cart_items where cart_id = $1"#,
        cart_id,
    )
    .fetch_one(tx)
    .await
}

pub(super) async fn upsert_line(
    tx: &mut PgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
    unit_price: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into cart_items (cart_item_id, cart_id, variant_id, quantity, unit_price) values ($1, $2, $3, $4, $5)
         on conflict on constraint cart_items_cart_variant_key
         do update set quantity = excluded.quantity, unit_price = excluded.unit_price",
        Uuid::now_v7(),
        cart_id,
        variant_id,
        quantity,
        unit_price,
    )
    .execute(&mut *tx)
    .await?;
    touch(tx, cart_id).await
}

async fn touch(tx: &mut PgConnection, cart_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update carts set updated_at = now() where cart_id = $1",
        cart_id,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

pub(super) async fn line_variant(
    tx: &mut PgConnection,
    cart_id: Uuid,
    item_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select variant_id from cart_items where cart_item_id = $1 and cart_id = $2 for update",
        item_id,
        cart_id,
    )
    .fetch_optional(tx)
    .await
}

pub(super) async fn update_quantity(
    tx: &mut PgConnection,
    item_id: Uuid,
    quantity: i32,
    unit_price: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update cart_items set quantity = $2, unit_price = $3 where cart_item_id = $1",
        item_id,
        quantity,
        unit_price,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

pub(super) async fn delete_line(
    db: &PgPool,
    cart_id: Uuid,
    item_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "delete from cart_items where cart_item_id = $1 and cart_id = $2",
        item_id,
        cart_id,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn delete_lines(db: &PgPool, cart_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from cart_items where cart_id = $1", cart_id,)
        .execute(db)
        .await
        .map(|_| ())
}

pub(super) async fn lines_of(
    tx: &mut PgConnection,
    cart_id: Uuid,
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select variant_id, quantity from cart_items where cart_id = $1 order by cart_item_id",
        cart_id,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.variant_id, r.quantity))
        .collect())
}

pub(super) async fn mark_merged(tx: &mut PgConnection, cart_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update carts set status = 'merged' where cart_id = $1",
        cart_id,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct LineRow {
    cart_item_id: Uuid,
    variant_id: Uuid,
    product_id: Uuid,
    product_name: String,
    product_slug: String,
    category_id: Option<Uuid>,
    brand: Option<String>,
    sku: Sku,
    options: Json<BTreeMap<String, String>>,
    image_url: Option<String>,
    quantity: i32,
    seen_price: i64,
    price: i64,
    available: i32,
    active: bool,
    weight_grams: i32,
}

#[derive(sqlx::FromRow)]
struct CartHeader {
    user_id: Option<Uuid>,
    updated_at: DateTime<Utc>,
    promotion_code: Option<String>,
    seen_discount: i64,
}

pub(super) async fn load(
    conn: &mut PgConnection,
    cart_id: Uuid,
) -> Result<Option<Cart>, sqlx::Error> {
    let header: Option<CartHeader> = sqlx::query_as!(
        CartHeader,
        "select user_id, updated_at, promotion_code, seen_discount from carts where cart_id = $1",
        cart_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(CartHeader {
        user_id,
        updated_at,
        promotion_code,
        seen_discount,
    }) = header
    else {
        return Ok(None);
    };
    let rows = sqlx::query_as!(
        LineRow,
        r#"select ci.cart_item_id, ci.variant_id, p.product_id, p.name as product_name,
                  p.slug as product_slug, p.category_id as "category_id?", p.brand, v.sku as "sku: Sku",
                  v.options as "options: Json<BTreeMap<String, String>>",
                  p.images -> 0 ->> 'url' as image_url, ci.quantity, ci.unit_price as seen_price,
                  v.price, v.stock_on_hand - v.stock_reserved as "available!",
                  p.status = 'active' as "active!", v.weight_grams
           from cart_items ci
           join variants v on v.variant_id = ci.variant_id
           join products p on p.product_id = v.product_id
           where ci.cart_id = $1
           order by ci.cart_item_id"#,
        cart_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let lines: Vec<CartLine> = rows
        .into_iter()
        .map(|r| CartLine {
            id: r.cart_item_id,
            variant_id: r.variant_id.into(),
            product_id: r.product_id.into(),
            product_name: r.product_name,
            product_slug: r.product_slug,
            category_id: r.category_id.map(Into::into),
            brand: r.brand,
            sku: r.sku,
            options: r.options.0,
            image_url: r.image_url,
            quantity: r.quantity,
            unit_price: r.price,
            previous_unit_price: (r.seen_price != r.price).then_some(r.seen_price),
            line_total: r.price * i64::from(r.quantity),
            available: r.available.max(0),
            purchasable: r.active,
            discount: 0,
            weight_grams: r.weight_grams,
        })
        .collect();
    Ok(Some(Cart {
        id: cart_id,
        user_id,
        item_count: lines.iter().map(|l| i64::from(l.quantity)).sum(),
        subtotal: lines.iter().map(|l| l.line_total).sum(),
        weight_grams: lines
            .iter()
            .map(|l| i64::from(l.weight_grams) * i64::from(l.quantity))
            .sum(),
        lines,
        updated_at,
        promotion_code,
        seen_discount,
        promotions: Vec::new(),
        rejected_code: None,
        discount_total: 0,
        tax_total: 0,
        prices_include_tax: true,
    }))
}

/// A cart line as checkout sees it, with the variant row locked.
#[derive(Debug, Clone)]
pub struct CheckoutLine {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub category_id: Option<CategoryId>,
    pub brand: Option<String>,
    pub product_name: String,
    pub sku: Sku,
    pub options: BTreeMap<String, String>,
    pub quantity: i32,
    pub seen_price: i64,
    pub price: i64,
    pub available: i32,
    pub active: bool,
    pub weight_grams: i32,
}

/// The customer's open cart as checkout sees it.
#[derive(Debug, Clone)]
pub struct CheckoutCart {
    pub id: Uuid,
    pub lines: Vec<CheckoutLine>,
    pub promotion_code: Option<String>,
    /// The discount on the lines the customer last saw.
    pub seen_discount: i64,
}

/// The customer's open cart and its lines, locking the cart and then the variants in id
/// order (one global order, so concurrent checkouts cannot deadlock).
pub async fn checkout_lines(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<CheckoutCart>, sqlx::Error> {
    let cart = sqlx::query!(
        "select cart_id, promotion_code, seen_discount from carts
         where user_id = $1 and status = 'open' for update",
        user_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((cart_id, promotion_code, seen_discount)) =
        cart.map(|c| (c.cart_id, c.promotion_code, c.seen_discount))
    else {
        return Ok(None);
    };
    sqlx::query!(
        "select 1 as one from variants
         where variant_id in (select variant_id from cart_items where cart_id = $1)
         order by variant_id for update",
        cart_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let rows = sqlx::query_as!(
        LineRow,
        r#"select ci.cart_item_id, ci.variant_id, p.product_id, p.name as product_name,
                  p.slug as product_slug, p.category_id as "category_id?", p.brand, v.sku as "sku: Sku",
                  v.options as "options: Json<BTreeMap<String, String>>",
                  p.images -> 0 ->> 'url' as image_url, ci.quantity, ci.unit_price as seen_price,
                  v.price, v.stock_on_hand - v.stock_reserved as "available!",
                  p.status = 'active' as "active!", v.weight_grams
           from cart_items ci
           join variants v on v.variant_id = ci.variant_id
           join products p on p.product_id = v.product_id
           where ci.cart_id = $1
           order by ci.cart_item_id"#,
        cart_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let lines = rows
        .into_iter()
        .map(|r| CheckoutLine {
            variant_id: r.variant_id.into(),
            product_id: r.product_id.into(),
            category_id: r.category_id.map(Into::into),
            brand: r.brand,
            product_name: r.product_name,
            sku: r.sku,
            options: r.options.0,
            quantity: r.quantity,
            seen_price: r.seen_price,
            price: r.price,
            available: r.available,
            active: r.active,
            weight_grams: r.weight_grams,
        })
        .collect();
    Ok(Some(CheckoutCart {
        id: cart_id,
        lines,
        promotion_code,
        seen_discount,
    }))
}

/// Empties the cart after checkout; its code was used (or did not apply) and goes too.
pub async fn empty_cart_in(tx: &mut PgConnection, cart_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from cart_items where cart_id = $1", cart_id,)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "update carts set promotion_code = null, seen_discount = 0 where cart_id = $1",
        cart_id,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

pub(super) async fn set_code(
    db: &PgPool,
    cart_id: Uuid,
    code: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update carts set promotion_code = $2 where cart_id = $1",
        cart_id,
        code,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Records the discount the customer is being shown.
pub(super) async fn remember_discount(
    db: impl sqlx::PgExecutor<'_>,
    cart_id: Uuid,
    discount: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update carts set seen_discount = $2 where cart_id = $1 and seen_discount <> $2",
        cart_id,
        discount,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// The customer's open cart, if any.
pub(super) async fn open_cart_id(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select cart_id from carts where user_id = $1 and status = 'open'",
        user_id,
    )
    .fetch_optional(db)
    .await
}

/// Carries a guest cart's code into the customer's cart when it holds none.
pub(super) async fn adopt_code(
    tx: &mut PgConnection,
    from: Uuid,
    to: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update carts t set promotion_code = f.promotion_code from carts f
         where t.cart_id = $2 and f.cart_id = $1 and t.promotion_code is null",
        from,
        to,
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Records that the customer has now seen the current prices (after a price-change refusal).
pub(super) async fn acknowledge_prices(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update cart_items ci set unit_price = v.price
         from variants v, carts c
         where v.variant_id = ci.variant_id and c.cart_id = ci.cart_id
           and c.user_id = $1 and c.status = 'open' and ci.unit_price <> v.price",
        user_id,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// The weight and subtotal (at current prices) of the customer's open cart, read without
/// locks; `None` when it holds nothing.
pub async fn open_cart_parcel(
    db: &sqlx::PgPool,
    user_id: Uuid,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) as "lines!",
                  coalesce(sum(v.weight_grams::int8 * ci.quantity), 0)::int8 as "weight!",
                  coalesce(sum(v.price * ci.quantity), 0)::int8 as "subtotal!"
           from carts c
           join cart_items ci on ci.cart_id = c.cart_id
           join variants v on v.variant_id = ci.variant_id
           where c.user_id = $1 and c.status = 'open'"#,
        user_id,
    )
    .fetch_one(db)
    .await?;
    Ok((row.lines > 0).then_some((row.weight, row.subtotal)))
}

/// Deletes the customer's carts (their items go with them).
pub(super) async fn delete_customer_carts(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from carts where user_id = $1", user_id)
        .execute(tx)
        .await?;
    Ok(())
}
