//! Products: SQL and use cases for the `products` table (with their variants).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection};
use uuid::Uuid;

use super::{
    events, variants, variants::NewVariant, Catalog, CatalogError, CategoryId, CategoryKey,
    CategoryRef, Image, Locator, Product, ProductId, ProductStatus, ProductSummary,
};
use crate::{
    events::Event,
    validation::{is_slug, slugify, ValidationErrors},
};

pub struct NewProduct {
    pub name: String,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub brand: Option<String>,
    /// Required; `None` is reported with the other invalid fields.
    pub category: Option<CategoryKey>,
    pub status: Option<ProductStatus>,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<Image>,
    pub option_names: Vec<String>,
    pub variants: Vec<NewVariant>,
}

/// Changes to a product; `None` leaves a field unchanged, `brand: Some(None)` clears it.
#[derive(Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub brand: Option<Option<String>>,
    pub category: Option<CategoryKey>,
    pub status: Option<ProductStatus>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub images: Option<Vec<Image>>,
    pub option_names: Option<Vec<String>>,
}

/// Filters of the admin product list.
#[derive(Default)]
pub struct AdminProductFilter {
    pub status: Option<ProductStatus>,
    /// Part of the name, slug or a SKU.
    pub query: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    product_id: Uuid,
    slug: String,
    name: String,
    description: String,
    brand: Option<String>,
    category_id: Uuid,
    category_slug: String,
    category_name: String,
    status: String,
    attributes: Json<BTreeMap<String, String>>,
    images: Json<Vec<Image>>,
    option_names: Vec<String>,
    min_price: i64,
    max_price: i64,
    in_stock: bool,
    variants: Json<Vec<variants::VariantRow>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Self {
            id: r.product_id.into(),
            slug: r.slug,
            name: r.name,
            description: r.description,
            brand: r.brand,
            category: CategoryRef {
                id: r.category_id.into(),
                slug: r.category_slug,
                name: r.category_name,
            },
            status: ProductStatus::from_db(&r.status),
            attributes: r.attributes.0,
            images: r.images.0,
            option_names: r.option_names,
            min_price: r.min_price,
            max_price: r.max_price,
            in_stock: r.in_stock,
            variants: r.variants.0.into_iter().map(Into::into).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(crate) async fn load(
    db: &mut PgConnection,
    locator: &Locator<'_>,
) -> Result<Option<Product>, sqlx::Error> {
    // One round trip for a product, its category and its variants (the hot read of the API).
    let row = match locator {
        Locator::Id(id) => {
            sqlx::query_as!(
                ProductRow,
                r#"select p.product_id, p.slug, p.name, p.description, p.brand, p.category_id,
                    c.slug as category_slug, c.name as category_name, p.status,
                    p.attributes as "attributes: Json<BTreeMap<String, String>>",
                    p.images as "images: Json<Vec<Image>>",
                    p.option_names, p.min_price, p.max_price, p.in_stock, p.created_at, p.updated_at,
                    coalesce((select json_agg(v order by v.position, v.sku)
                              from (select variant_id, product_id, sku, options, price, compare_at_price,
                                           weight_grams, stock_on_hand, stock_reserved, position,
                                           created_at, updated_at
                                    from variants where product_id = p.product_id) v), '[]')
                      as "variants!: Json<Vec<variants::VariantRow>>"
             from products p join categories c on c.category_id = p.category_id
             where p.product_id = $1"#,
                id.as_uuid(),
            )
            .fetch_optional(db)
            .await?
        }
        Locator::Slug(slug) => {
            sqlx::query_as!(
                ProductRow,
                r#"select p.product_id, p.slug, p.name, p.description, p.brand, p.category_id,
                    c.slug as category_slug, c.name as category_name, p.status,
                    p.attributes as "attributes: Json<BTreeMap<String, String>>",
                    p.images as "images: Json<Vec<Image>>",
                    p.option_names, p.min_price, p.max_price, p.in_stock, p.created_at, p.updated_at,
                    coalesce((select json_agg(v order by v.position, v.sku)
                              from (select variant_id, product_id, sku, options, price, compare_at_price,
                                           weight_grams, stock_on_hand, stock_reserved, position,
                                           created_at, updated_at
                                    from variants where product_id = p.product_id) v), '[]')
                      as "variants!: Json<Vec<variants::VariantRow>>"
             from products p join categories c on c.category_id = p.category_id
             where p.slug = $1"#,
                slug,
            )
            .fetch_optional(db)
            .await?
        }
    };
    Ok(row.map(Into::into))
}

#[allow(clippy::too_many_arguments)] // one per field of the product form
fn validate_product_fields(
    errors: &mut ValidationErrors,
    name: Option<&str>,
    slug: Option<&str>,
    description: Option<&str>,
    brand: Option<&str>,
    attributes: Option<&BTreeMap<String, String>>,
    images: Option<&[Image]>,
    option_names: Option<&[String]>,
) {
    if let Some(name) = name {
        errors.length("name", name.trim(), 1, 200);
    }
    if let Some(slug) = slug {
        errors.check(
            is_slug(slug),
            "slug",
            "must be lowercase letters, digits and single dashes (max 120)",
        );
    }
    if let Some(description) = description {
        errors.length("description", description, 0, 20_000);
    }
    if let Some(brand) = brand {
        errors.length("brand", brand.trim(), 1, 100);
    }
    if let Some(attributes) = attributes {
        errors.check(
            attributes.len() <= 50,
            "attributes",
            "at most 50 attributes",
        );
        for (key, value) in attributes {
            let ok = (1..=50).contains(&key.trim().chars().count()) && value.chars().count() <= 500;
            errors.check(
                ok,
                format!("attributes.{key}"),
                "keys 1-50 characters, values at most 500",
            );
        }
    }
    if let Some(images) = images {
        errors.check(images.len() <= 20, "images", "at most 20 images");
        for (i, image) in images.iter().enumerate() {
            let valid_url = url::Url::parse(&image.url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && image.url.len() <= 2000);
            errors.check(
                valid_url,
                format!("images[{i}].url"),
                "must be an http(s) URL",
            );
            errors.check(
                image.alt_text.chars().count() <= 300,
                format!("images[{i}].alt_text"),
                "at most 300 characters",
            );
        }
    }
    if let Some(names) = option_names {
        errors.check(names.len() <= 5, "options", "at most 5 option names");
        let unique: HashSet<&str> = names.iter().map(String::as_str).collect();
        errors.check(
            unique.len() == names.len(),
            "options",
            "option names must be unique",
        );
        for (i, n) in names.iter().enumerate() {
            errors.check(
                (1..=50).contains(&n.trim().chars().count()),
                format!("options[{i}]"),
                "1-50 characters",
            );
        }
    }
}

fn validate_new(
    input: &NewProduct,
    slug: &str,
    category: Resolved,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    category.check(&mut errors);
    validate_product_fields(
        &mut errors,
        Some(&input.name),
        Some(slug),
        input.description.as_deref(),
        input.brand.as_deref(),
        Some(&input.attributes),
        Some(&input.images),
        Some(&input.option_names),
    );
    errors.check(
        (1..=100).contains(&input.variants.len()),
        "variants",
        "a product has between 1 and 100 variants",
    );
    if input.variants.len() > 1 && input.option_names.is_empty() {
        errors.add(
            "options",
            "several variants need option names to tell them apart",
        );
    }
    let mut skus = HashSet::new();
    for (i, v) in input.variants.iter().enumerate() {
        variants::validate_new(
            &mut errors,
            &format!("variants[{i}]"),
            v,
            &input.option_names,
        );
        errors.check(
            skus.insert(v.sku.as_str()),
            format!("variants[{i}].sku"),
            "duplicates another variant's SKU",
        );
    }
    errors.finish()
}

/// What a [`CategoryKey`] named.
#[derive(Clone, Copy)]
enum Resolved {
    NotGiven,
    Unknown { field: &'static str },
    Found(CategoryId),
}

impl Resolved {
    fn check(self, errors: &mut ValidationErrors) {
        match self {
            Self::NotGiven => errors.add("category", "is required: a category slug or id"),
            Self::Unknown { field } => errors.add(field, "no such category"),
            Self::Found(_) => {}
        }
    }

    fn id(self) -> Option<CategoryId> {
        match self {
            Self::Found(id) => Some(id),
            _ => None,
        }
    }
}

/// Looks a category up by id, slug or both.
async fn resolve_category(
    tx: &mut PgConnection,
    key: Option<&CategoryKey>,
) -> Result<Resolved, CatalogError> {
    let Some(key) = key.filter(|k| k.id.is_some() || k.slug.is_some()) else {
        return Ok(Resolved::NotGiven);
    };
    let id = super::categories::find_id(tx, key).await?;
    Ok(id.map_or(Resolved::Unknown { field: key.field }, Resolved::Found))
}

/// The category foreign key decides whether the category exists (no pre-check race).
fn category_error(error: sqlx::Error, slug: &str) -> CatalogError {
    if crate::db::violated_constraint(&error) == Some("products_category_id_fkey") {
        return ValidationErrors::single("category", "no such category").into();
    }
    CatalogError::from_constraint(error, slug, None)
}

impl Catalog {
    /// An active product for shoppers; drafts and archived products are not found.
    pub async fn public_product(&self, locator: Locator<'_>) -> Result<Product, CatalogError> {
        let key = format!("{locator:?}");
        self.reads
            .products
            .get_or_try(key, || async {
                let mut conn = self.db.acquire().await?;
                load(&mut conn, &locator)
                    .await?
                    .filter(|p| p.status == ProductStatus::Active)
                    .ok_or(CatalogError::NotFound("product"))
            })
            .await
    }

    /// Any product, for admins.
    pub async fn product(&self, locator: Locator<'_>) -> Result<Product, CatalogError> {
        let mut conn = self.db.acquire().await?;
        load(&mut conn, &locator)
            .await?
            .ok_or(CatalogError::NotFound("product"))
    }

    /// Creates a product with its variants in one transaction.
    pub async fn create_product(
        &self,
        input: NewProduct,
        actor: Option<Uuid>,
    ) -> Result<Product, CatalogError> {
        let mut tx = self.db.begin().await?;
        let product = create_in(&mut tx, input, actor).await?;
        tx.commit().await?;
        Ok(product)
    }

    pub async fn update_product(
        &self,
        product_id: ProductId,
        patch: ProductPatch,
    ) -> Result<Product, CatalogError> {
        let mut tx = self.db.begin().await?;
        let product = update_in(&mut tx, product_id, patch).await?;
        tx.commit().await?;
        Ok(product)
    }

    /// Deletes a product that was never ordered (order lines keep their variants alive).
    pub async fn delete_product(&self, product_id: ProductId) -> Result<(), CatalogError> {
        let mut tx = self.db.begin().await?;
        let product = load(&mut tx, &Locator::Id(product_id))
            .await?
            .ok_or(CatalogError::NotFound("product"))?;
        sqlx::query!(
            "delete from products where product_id = $1",
            product_id.as_uuid()
        )
        .execute(&mut *tx)
        .await
        .map_err(variants::ordered_conflict)?;
        events::product(&mut tx, Event::ProductDeleted, &product).await?;
        tx.commit().await?;
        Ok(())
    }

    /// All products for admins, newest first; `before` is the last id of the previous page.
    pub async fn admin_products(
        &self,
        filter: AdminProductFilter,
        before: Option<ProductId>,
        limit: i64,
    ) -> Result<Vec<ProductSummary>, CatalogError> {
        let query = filter
            .query
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let rows = sqlx::query_as!(
            super::listing::SummaryRow,
            r#"select p.product_id, p.slug, p.name, p.brand, p.category_id, p.status,
                      p.min_price, p.max_price, p.in_stock,
                      p.images -> 0 as "image: Json<Image>", p.created_at
             from products p
             where ($1::text is null or p.status = $1)
               and ($2::text is null or lower(p.name) like '%' || $2 || '%' or p.slug like '%' || $2 || '%'
                    or exists (select 1 from variants v where v.product_id = p.product_id and lower(v.sku) = $2))
               and ($3::uuid is null or p.product_id < $3)
             order by p.product_id desc
             limit $4"#,
            filter.status.map(ProductStatus::as_db),
            query,
            before.map(|id| id.as_uuid()),
            limit,
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Updates a product inside the caller's transaction.
pub(crate) async fn update_in(
    tx: &mut PgConnection,
    product_id: ProductId,
    patch: ProductPatch,
) -> Result<Product, CatalogError> {
    let mut errors = ValidationErrors::new();
    validate_product_fields(
        &mut errors,
        patch.name.as_deref(),
        patch.slug.as_deref(),
        patch.description.as_deref(),
        patch.brand.as_ref().and_then(|b| b.as_deref()),
        patch.attributes.as_ref(),
        patch.images.as_deref(),
        patch.option_names.as_deref(),
    );
    let category = match &patch.category {
        Some(key) => resolve_category(tx, Some(key)).await?,
        None => Resolved::NotGiven,
    };
    if patch.category.is_some() {
        category.check(&mut errors);
    }
    errors.finish()?;

    let before = load(tx, &Locator::Id(product_id))
        .await?
        .ok_or(CatalogError::NotFound("product"))?;
    if let Some(names) = &patch.option_names {
        // Renaming options must keep every variant consistent with the new names.
        let mut errors = ValidationErrors::new();
        for (i, v) in before.variants.iter().enumerate() {
            variants::validate_options(
                &mut errors,
                &format!("variants[{i}].options"),
                &v.options,
                names,
            );
        }
        if !errors.is_empty() {
            return Err(ValidationErrors::single("options", "every variant must have a value for exactly these option names; update the variants first").into());
        }
    }
    let slug = patch.slug.clone().unwrap_or_default();
    sqlx::query!(
        "update products set
             name = coalesce($2, name),
             slug = coalesce($3, slug),
             description = coalesce($4, description),
             brand = case when $5 then $6 else brand end,
             category_id = coalesce($7, category_id),
             status = coalesce($8, status),
             attributes = coalesce($9, attributes),
             images = coalesce($10, images),
             option_names = coalesce($11, option_names)
         where product_id = $1",
        product_id.as_uuid(),
        patch.name.as_deref().map(str::trim),
        patch.slug.as_deref(),
        patch.description.as_deref(),
        patch.brand.is_some(),
        patch.brand.flatten().map(|b| b.trim().to_owned()),
        category.id().map(|id| id.as_uuid()),
        patch.status.map(ProductStatus::as_db),
        patch.attributes.map(Json) as _,
        patch.images.map(Json) as _,
        patch.option_names.as_deref(),
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| category_error(e, &slug))?;
    let product = load(tx, &Locator::Id(product_id))
        .await?
        .ok_or(CatalogError::NotFound("product"))?;
    let event =
        if product.status == ProductStatus::Archived && before.status != ProductStatus::Archived {
            Event::ProductArchived
        } else {
            Event::ProductUpdated
        };
    events::product(tx, event, &product).await?;
    Ok(product)
}

/// Creates a product inside the caller's transaction (the API and the bulk import share it).
pub(crate) async fn create_in(
    tx: &mut PgConnection,
    input: NewProduct,
    actor: Option<Uuid>,
) -> Result<Product, CatalogError> {
    let explicit_slug = input.slug.is_some();
    let slug = input.slug.clone().unwrap_or_else(|| slugify(&input.name));
    let category = resolve_category(tx, input.category.as_ref()).await?;
    validate_new(&input, &slug, category)?;
    let slug = if explicit_slug {
        slug
    } else {
        free_slug(tx, &slug).await?
    };
    let product_id = ProductId::generate();
    sqlx::query!(
        "insert into products (product_id, slug, name, description, brand, category_id, status,
                               attributes, images, option_names)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        product_id.as_uuid(),
        &slug,
        input.name.trim(),
        input.description.as_deref().unwrap_or_default(),
        input.brand.as_deref().map(str::trim),
        category.id().map(|id| id.as_uuid()),
        input.status.unwrap_or(ProductStatus::Draft).as_db(),
        Json(&input.attributes) as _,
        Json(&input.images) as _,
        &input.option_names,
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| category_error(e, &slug))?;
    for (position, v) in input.variants.iter().enumerate() {
        variants::insert(tx, product_id.as_uuid(), v, position as i32, actor).await?;
    }
    let product = load(tx, &Locator::Id(product_id))
        .await?
        .ok_or(CatalogError::NotFound("product"))?;
    events::product(tx, Event::ProductCreated, &product).await?;
    Ok(product)
}

/// `base`, or `base-<random>` when a product already uses it (auto-generated slugs only; an
/// explicit slug that is taken is the client's conflict to resolve).
async fn free_slug(tx: &mut PgConnection, base: &str) -> Result<String, sqlx::Error> {
    let taken = sqlx::query_scalar!(
        r#"select exists(select 1 from products where slug = $1) as "taken!""#,
        base,
    )
    .fetch_one(&mut *tx)
    .await?;
    if !taken {
        return Ok(base.to_owned());
    }
    let suffix = &Uuid::new_v4().simple().to_string()[..6];
    Ok(format!(
        "{}-{suffix}",
        base.chars().take(110).collect::<String>()
    ))
}
