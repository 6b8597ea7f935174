//! `/api/v1/admin/{categories,products,variants,inventory}`: catalog management (role admin).

use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, OpenApi,
};
use uuid::Uuid;

use super::{
    catalog::default_limit,
    catalog_dto::{
        AdjustmentIn, AdjustmentOut, CategoryIn, CategoryOut, CategoryPatchIn, MovementOut,
        MovementPageOut, ProductIn, ProductOut, ProductPageOut, ProductPatchIn, ProductStatusDto,
        ProductSummaryOut, VariantIn, VariantOut, VariantPatchIn,
    },
    ApiTags,
};
use crate::{
    auth::Permission,
    catalog::{
        categories::NewCategory,
        inventory::Adjustment,
        products::{AdminProductFilter, NewProduct},
        CategoryId, CategoryKey, Locator, ProductId, VariantId,
    },
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    idempotency::IdempotencyKey,
};

error_set!(AdminRead: 401, 403, 404);
error_set!(AdminList: 401, 403);
error_set!(AdminWrite: 401, 403, 404, 409, 413, 415, 422);
error_set!(AdminDelete: 401, 403, 404, 409);

#[derive(ApiResponse)]
pub enum CreatedCategory {
    #[oai(status = 201)]
    Created(Json<CategoryOut>),
}

#[derive(ApiResponse)]
pub enum CreatedProduct {
    #[oai(status = 201)]
    Created(Json<ProductOut>),
}

#[derive(ApiResponse)]
pub enum CreatedVariant {
    #[oai(status = 201)]
    Created(Json<VariantOut>),
}

#[derive(ApiResponse)]
pub enum CreatedAdjustment {
    #[oai(status = 201)]
    Created(Json<AdjustmentOut>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

pub struct AdminCatalogApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminCatalogApi {
    /// Create a category
    #[oai(
        path = "/categories",
        method = "post",
        operation_id = "create_category"
    )]
    async fn create_category(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<CategoryIn>,
    ) -> ApiResult<CreatedCategory, AdminWrite> {
        auth.require(Permission::CatalogWrite)?;
        let CategoryIn {
            name,
            slug,
            parent,
            parent_id,
            description,
            position,
        } = body.0;
        let category = state
            .catalog
            .create_category(NewCategory {
                name,
                slug,
                parent: CategoryKey::from_fields(
                    ("parent", parent.as_deref()),
                    ("parent_id", parent_id.map(Into::into)),
                ),
                description,
                position,
            })
            .await?;
        Ok(CreatedCategory::Created(Json(category.into())))
    }

    /// Update a category
    #[oai(
        path = "/categories/:category_id",
        method = "patch",
        operation_id = "update_category"
    )]
    async fn update_category(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        category_id: Path<CategoryId>,
        body: JsonBody<CategoryPatchIn>,
    ) -> ApiResult<Json<CategoryOut>, AdminWrite> {
        auth.require(Permission::CatalogWrite)?;
        let category = state
            .catalog
            .update_category(category_id.0, body.0.into())
            .await?;
        Ok(Json(category.into()))
    }

    /// Delete a category
    ///
    /// Only empty leaves: a category with products or child categories is a 409.
    #[oai(
        path = "/categories/:category_id",
        method = "delete",
        operation_id = "delete_category"
    )]
    async fn delete_category(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        category_id: Path<CategoryId>,
    ) -> ApiResult<Deleted, AdminDelete> {
        auth.require(Permission::CatalogWrite)?;
        state.catalog.delete_category(category_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Create a product with its variants
    #[oai(path = "/products", method = "post", operation_id = "create_product")]
    async fn create_product(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<ProductIn>,
    ) -> ApiResult<CreatedProduct, AdminWrite> {
        let admin = auth.require(Permission::CatalogWrite)?;
        let p = body.0;
        let input = NewProduct {
            name: p.name,
            slug: p.slug,
            description: p.description,
            brand: p.brand,
            category: CategoryKey::from_fields(
                ("category", p.category.as_deref()),
                ("category_id", p.category_id.map(Into::into)),
            ),
            status: p.status.map(Into::into),
            attributes: p.attributes.unwrap_or_default(),
            images: p
                .images
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            option_names: p.options.unwrap_or_default(),
            variants: p.variants.into_iter().map(VariantIn::into).collect(),
        };
        let product = state
            .catalog
            .create_product(input, Some(admin.user_id))
            .await?;
        Ok(CreatedProduct::Created(Json(ProductOut::new(
            product,
            &state.catalog.currency,
            true,
        ))))
    }

    /// List products (all statuses)
    ///
    /// Newest first; `q` matches part of the name or slug, or a whole SKU.
    #[oai(
        path = "/products",
        method = "get",
        operation_id = "list_admin_products"
    )]
    async fn list_products(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        status: Query<Option<ProductStatusDto>>,
        #[oai(validator(max_length = 200))] q: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        cursor: Query<Option<ProductId>>,
    ) -> ApiResult<Json<ProductPageOut>, AdminList> {
        auth.require(Permission::CatalogRead)?;
        let filter = AdminProductFilter {
            status: status.0.map(Into::into),
            query: q.0,
        };
        let items = state
            .catalog
            .admin_products(filter, cursor.0, limit.0)
            .await?;
        let next_cursor = (items.len() as i64 == limit.0)
            .then(|| items.last().map(|p| p.id.to_string()))
            .flatten();
        let currency = &state.catalog.currency;
        Ok(Json(ProductPageOut {
            items: items
                .into_iter()
                .map(|p| ProductSummaryOut::new(p, currency))
                .collect(),
            next_cursor,
        }))
    }

    /// Get a product (any status), with stock levels
    #[oai(
        path = "/products/:product_id",
        method = "get",
        operation_id = "get_admin_product"
    )]
    async fn get_product(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<ProductId>,
    ) -> ApiResult<Json<ProductOut>, AdminRead> {
        auth.require(Permission::CatalogRead)?;
        let product = state.catalog.product(Locator::Id(product_id.0)).await?;
        Ok(Json(ProductOut::new(
            product,
            &state.catalog.currency,
            true,
        )))
    }

    /// Update a product
    #[oai(
        path = "/products/:product_id",
        method = "patch",
        operation_id = "update_product"
    )]
    async fn update_product(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<ProductId>,
        body: JsonBody<ProductPatchIn>,
    ) -> ApiResult<Json<ProductOut>, AdminWrite> {
        auth.require(Permission::CatalogWrite)?;
        let product = state
            .catalog
            .update_product(product_id.0, body.0.into())
            .await?;
        Ok(Json(ProductOut::new(
            product,
            &state.catalog.currency,
            true,
        )))
    }

    /// Delete a product
    ///
    /// Refused with 409 once any of its variants was ordered: archive it instead.
    #[oai(
        path = "/products/:product_id",
        method = "delete",
        operation_id = "delete_product"
    )]
    async fn delete_product(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<ProductId>,
    ) -> ApiResult<Deleted, AdminDelete> {
        auth.require(Permission::CatalogWrite)?;
        state.catalog.delete_product(product_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Add a variant to a product
    #[oai(
        path = "/products/:product_id/variants",
        method = "post",
        operation_id = "create_variant"
    )]
    async fn create_variant(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<ProductId>,
        body: JsonBody<VariantIn>,
    ) -> ApiResult<CreatedVariant, AdminWrite> {
        let admin = auth.require(Permission::CatalogWrite)?;
        let variant = state
            .catalog
            .add_variant(product_id.0, body.0.into(), Some(admin.user_id))
            .await?;
        Ok(CreatedVariant::Created(Json(VariantOut::admin(
            variant,
            &state.catalog.currency,
        ))))
    }

    /// Update a variant
    #[oai(
        path = "/variants/:variant_id",
        method = "patch",
        operation_id = "update_variant"
    )]
    async fn update_variant(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        variant_id: Path<VariantId>,
        body: JsonBody<VariantPatchIn>,
    ) -> ApiResult<Json<VariantOut>, AdminWrite> {
        auth.require(Permission::CatalogWrite)?;
        let variant = state
            .catalog
            .update_variant(variant_id.0, body.0.into())
            .await?;
        Ok(Json(VariantOut::admin(variant, &state.catalog.currency)))
    }

    /// Delete a variant
    ///
    /// Refused with 409 for a product's last variant or a variant that was ordered.
    #[oai(
        path = "/variants/:variant_id",
        method = "delete",
        operation_id = "delete_variant"
    )]
    async fn delete_variant(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        variant_id: Path<VariantId>,
    ) -> ApiResult<Deleted, AdminDelete> {
        auth.require(Permission::CatalogWrite)?;
        state.catalog.delete_variant(variant_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Adjust stock
    ///
    /// Adds `delta` to the SKU's stock on hand atomically and appends a ledger entry; on hand
    /// may never drop below what unpaid orders reserve (409). With an `Idempotency-Key`, a
    /// retry returns the original result for 24 hours instead of adjusting twice.
    #[oai(
        path = "/inventory/adjustments",
        method = "post",
        operation_id = "create_inventory_adjustment"
    )]
    async fn adjust(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        /// Makes retries of one adjustment return its first result.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<AdjustmentIn>,
    ) -> ApiResult<CreatedAdjustment, AdminWrite> {
        let admin = auth.require(Permission::StockWrite)?;
        let key = idempotency_key
            .0
            .map(|k| IdempotencyKey::new(format!("adjustment:{}", admin.user_id), &k, &body.0))
            .transpose()
            .map_err(crate::catalog::CatalogError::from)?;
        let AdjustmentIn { sku, delta, reason } = body.0;
        let receipt = state
            .catalog
            .adjust_stock(
                Adjustment { sku, delta, reason },
                Some(admin.user_id),
                key.as_ref(),
            )
            .await?;
        Ok(CreatedAdjustment::Created(Json(AdjustmentOut {
            variant: VariantOut::admin(receipt.variant, &state.catalog.currency),
            movement: receipt.movement.into(),
        })))
    }

    /// List stock movements of a SKU
    ///
    /// The append-only ledger, newest first.
    #[oai(
        path = "/inventory/:sku/movements",
        method = "get",
        operation_id = "list_inventory_movements"
    )]
    async fn movements(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        #[oai(validator(max_length = 64))] sku: Path<String>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<MovementPageOut>, AdminRead> {
        auth.require(Permission::CatalogRead)?;
        let items = state.catalog.movements(&sku.0, cursor.0, limit.0).await?;
        let next_cursor = (items.len() as i64 == limit.0)
            .then(|| items.last().map(|m| m.movement_id.to_string()))
            .flatten();
        Ok(Json(MovementPageOut {
            items: items.into_iter().map(MovementOut::from).collect(),
            next_cursor,
        }))
    }
}
