//! Variants: the sellable units of a product (SKU, options, price, weight, stock levels).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{types::Json, PgConnection};
use uuid::Uuid;

use super::{events, inventory, Catalog, CatalogError, ProductId, Sku, Variant, VariantId};
use crate::{events::Event, validation::ValidationErrors};

/// Prices above this (in minor units) are refused as typos: 10^13 is ten trillion rupiah.
pub const MAX_PRICE: i64 = 10_000_000_000_000;
pub const MAX_STOCK: i32 = 100_000_000;

pub struct NewVariant {
    pub sku: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub weight_grams: Option<i32>,
    pub stock_on_hand: i32,
    pub options: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct VariantPatch {
    pub sku: Option<String>,
    pub price: Option<i64>,
    /// `Some(None)` removes the compare-at price.
    pub compare_at_price: Option<Option<i64>>,
    pub weight_grams: Option<i32>,
    pub options: Option<BTreeMap<String, String>>,
    pub position: Option<i32>,
}

/// A variant row as stored; `options` is JSON.
#[derive(Debug, sqlx::FromRow, Deserialize)]
pub(crate) struct VariantRow {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub sku: Sku,
    pub options: Json<BTreeMap<String, String>>,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub weight_grams: i32,
    pub stock_on_hand: i32,
    pub stock_reserved: i32,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<VariantRow> for Variant {
    fn from(r: VariantRow) -> Self {
        Self {
            id: r.variant_id.into(),
            product_id: r.product_id.into(),
            sku: r.sku,
            options: r.options.0,
            price: r.price,
            compare_at_price: r.compare_at_price,
            weight_grams: r.weight_grams,
            stock_on_hand: r.stock_on_hand,
            stock_reserved: r.stock_reserved,
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Checks one variant's fields; `prefix` names it in error paths (`variants[2]`).
pub(crate) fn validate_new(
    errors: &mut ValidationErrors,
    prefix: &str,
    v: &NewVariant,
    option_names: &[String],
) {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    Sku::parse_field(errors, &field("sku"), &v.sku);
    validate_money(errors, &field("price"), Some(v.price));
    validate_money(errors, &field("compare_at_price"), v.compare_at_price);
    errors.check(
        v.weight_grams.unwrap_or(0) >= 0,
        field("weight_grams"),
        "must be at least 0",
    );
    errors.check(
        (0..=MAX_STOCK).contains(&v.stock_on_hand),
        field("stock_on_hand"),
        format!("must be between 0 and {MAX_STOCK}"),
    );
    validate_options(errors, &field("options"), &v.options, option_names);
}

pub(crate) fn validate_money(errors: &mut ValidationErrors, field: &str, amount: Option<i64>) {
    if let Some(amount) = amount {
        errors.check(
            (0..=MAX_PRICE).contains(&amount),
            field,
            "must be between 0 and 10000000000000 (minor units)",
        );
    }
}

/// A variant names a value for exactly the product's option names.
pub(crate) fn validate_options(
    errors: &mut ValidationErrors,
    field: &str,
    options: &BTreeMap<String, String>,
    option_names: &[String],
) {
    let given: HashSet<&str> = options.keys().map(String::as_str).collect();
    let expected: HashSet<&str> = option_names.iter().map(String::as_str).collect();
    if given != expected {
        errors.add(
            field,
            if expected.is_empty() {
                "the product declares no options".to_owned()
            } else {
                format!("must give a value for each of: {}", option_names.join(", "))
            },
        );
    } else if options
        .values()
        .any(|v| v.trim().is_empty() || v.chars().count() > 100)
    {
        errors.add(field, "values must be 1-100 characters");
    }
}

pub(crate) fn duplicate_options(error: &sqlx::Error) -> bool {
    crate::db::violated_constraint(error) == Some("variants_product_options_key")
}

/// Inserts a variant and, when it starts with stock, the ledger's initial movement.
pub(crate) async fn insert(
    tx: &mut PgConnection,
    product_id: Uuid,
    v: &NewVariant,
    position: i32,
    actor: Option<Uuid>,
) -> Result<Variant, CatalogError> {
    let row = sqlx::query_as!(
        VariantRow,
        r#"insert into variants (variant_id, product_id, sku, options, price, compare_at_price, weight_grams,
                               stock_on_hand, position)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning variant_id, product_id, sku as "sku: Sku", options as "options: Json<BTreeMap<String, String>>",
                   price, compare_at_price, weight_grams, stock_on_hand, stock_reserved, position,
                   created_at, updated_at"#,
        Uuid::now_v7(),
        product_id,
        &v.sku,
        Json(&v.options) as _,
        v.price,
        v.compare_at_price,
        v.weight_grams.unwrap_or(0),
        v.stock_on_hand,
        position,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if duplicate_options(&e) {
            CatalogError::Validation(ValidationErrors::single("options", "another variant has the same options"))
        } else {
            CatalogError::from_constraint(e, "", Some(&v.sku))
        }
    })?;
    let variant: Variant = row.into();
    if variant.stock_on_hand > 0 {
        inventory::record(
            tx,
            &variant,
            "initial",
            variant.stock_on_hand,
            0,
            "initial stock",
            None,
            actor,
        )
        .await?;
    }
    Ok(variant)
}

async fn option_names_of(
    tx: &mut PgConnection,
    product_id: Uuid,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    sqlx::query_scalar!(
        "select option_names from products where product_id = $1 for update",
        product_id,
    )
    .fetch_optional(tx)
    .await
}

impl Catalog {
    pub async fn add_variant(
        &self,
        product_id: ProductId,
        input: NewVariant,
        actor: Option<Uuid>,
    ) -> Result<Variant, CatalogError> {
        let product_id = product_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let option_names = option_names_of(&mut tx, product_id)
            .await?
            .ok_or(CatalogError::NotFound("product"))?;
        let mut errors = ValidationErrors::new();
        validate_new(&mut errors, "", &input, &option_names);
        errors.finish()?;
        let position = sqlx::query_scalar!(
            r#"select coalesce(max(position) + 1, 0) as "position!" from variants where product_id = $1"#,
            product_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        let variant = insert(&mut tx, product_id, &input, position, actor).await?;
        events::variant(&mut tx, Event::VariantCreated, &variant).await?;
        if variant.stock_on_hand > 0 {
            events::stock(&mut tx, &variant, "initial").await?;
        }
        tx.commit().await?;
        Ok(variant)
    }

    pub async fn update_variant(
        &self,
        variant_id: VariantId,
        patch: VariantPatch,
    ) -> Result<Variant, CatalogError> {
        let mut tx = self.db.begin().await?;
        let variant = update_in(&mut tx, variant_id.as_uuid(), patch).await?;
        tx.commit().await?;
        Ok(variant)
    }

    /// Deletes a variant that was never ordered, unless it is the product's last one.
    pub async fn delete_variant(&self, variant_id: VariantId) -> Result<(), CatalogError> {
        let variant_id = variant_id.as_uuid();
        let mut tx = self.db.begin().await?;
        let row = sqlx::query_as!(
            VariantRow,
            r#"select variant_id, product_id, sku as "sku: Sku",
                      options as "options: Json<BTreeMap<String, String>>", price,
                      compare_at_price, weight_grams, stock_on_hand, stock_reserved, position,
                      created_at, updated_at
               from variants where variant_id = $1"#,
            variant_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CatalogError::NotFound("variant"))?;
        // Lock the product so two deletes cannot both see "one other variant left".
        option_names_of(&mut tx, row.product_id).await?;
        let siblings = sqlx::query_scalar!(
            r#"select count(*) as "count!" from variants where product_id = $1"#,
            row.product_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        if siblings <= 1 {
            return Err(CatalogError::LastVariant);
        }
        sqlx::query!("delete from variants where variant_id = $1", variant_id)
            .execute(&mut *tx)
            .await
            .map_err(ordered_conflict)?;
        events::variant(&mut tx, Event::VariantDeleted, &row.into()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Updates a variant inside the caller's transaction.
pub(crate) async fn update_in(
    tx: &mut PgConnection,
    variant_id: Uuid,
    patch: VariantPatch,
) -> Result<Variant, CatalogError> {
    let product_id = sqlx::query_scalar!(
        "select product_id from variants where variant_id = $1",
        variant_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(CatalogError::NotFound("variant"))?;
    let option_names = option_names_of(tx, product_id).await?.unwrap_or_default();
    let mut errors = ValidationErrors::new();
    if let Some(sku) = &patch.sku {
        Sku::parse_field(&mut errors, "sku", sku);
    }
    validate_money(&mut errors, "price", patch.price);
    validate_money(
        &mut errors,
        "compare_at_price",
        patch.compare_at_price.flatten(),
    );
    errors.check(
        patch.weight_grams.unwrap_or(0) >= 0,
        "weight_grams",
        "must be at least 0",
    );
    if let Some(options) = &patch.options {
        validate_options(&mut errors, "options", options, &option_names);
    }
    errors.finish()?;

    let sku = patch.sku.clone();
    let row = sqlx::query_as!(
        VariantRow,
        r#"update variants set
             sku = coalesce($2, sku),
             price = coalesce($3, price),
             compare_at_price = case when $4 then $5 else compare_at_price end,
             weight_grams = coalesce($6, weight_grams),
             options = coalesce($7, options),
             position = coalesce($8, position)
         where variant_id = $1
         returning variant_id, product_id, sku as "sku: Sku", options as "options: Json<BTreeMap<String, String>>",
                   price, compare_at_price, weight_grams, stock_on_hand, stock_reserved, position,
                   created_at, updated_at"#,
        variant_id,
        patch.sku,
        patch.price,
        patch.compare_at_price.is_some(),
        patch.compare_at_price.flatten(),
        patch.weight_grams,
        patch.options.map(Json) as _,
        patch.position,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if duplicate_options(&e) {
            CatalogError::Validation(ValidationErrors::single(
                "options",
                "another variant has the same options",
            ))
        } else {
            CatalogError::from_constraint(e, "", sku.as_deref())
        }
    })?;
    let variant: Variant = row.into();
    events::variant(tx, Event::VariantUpdated, &variant).await?;
    Ok(variant)
}

/// A delete blocked by an order line's foreign key means "this was sold: archive instead".
pub(crate) fn ordered_conflict(error: sqlx::Error) -> CatalogError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => CatalogError::OrderedProduct,
        _ => CatalogError::Database(error),
    }
}
