//! `/api/v1/categories` and `/api/v1/products`: what shoppers browse.

use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    OpenApi,
};

use super::{
    catalog_dto::{
        CategoryDetailOut, CategoryNodeOut, CategoryTreeOut, ProductOut, ProductPageOut,
        ProductSortDto, ProductSummaryOut,
    },
    ApiTags,
};
use crate::{
    catalog::{listing::ProductFilter, Locator},
    error_set,
    http::{caching::Cached, problem::ApiResult, AppState},
};

error_set!(ReadErrors: 404);
error_set!(ListErrors: );

/// Shared caches may keep catalog reads briefly; the ETag makes revalidation cheap.
const CATALOG_CACHE: &str = "public, max-age=30";

pub struct CatalogApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Catalog")]
impl CatalogApi {
    /// List categories
    ///
    /// The whole category tree, siblings ordered by position.
    #[oai(path = "/categories", method = "get", operation_id = "list_categories")]
    async fn list_categories(
        &self,
        state: poem::web::Data<&AppState>,
    ) -> ApiResult<Json<CategoryTreeOut>, ListErrors> {
        let tree = state.catalog.category_tree().await?;
        Ok(Json(CategoryTreeOut {
            items: tree.into_iter().map(CategoryNodeOut::from).collect(),
        }))
    }

    /// Get a category
    ///
    /// By id or slug, with its ancestors and direct children.
    #[oai(
        path = "/categories/:id_or_slug",
        method = "get",
        operation_id = "get_category"
    )]
    async fn get_category(
        &self,
        state: poem::web::Data<&AppState>,
        /// The category's id or slug.
        #[oai(validator(max_length = 120))]
        id_or_slug: Path<String>,
    ) -> ApiResult<Json<CategoryDetailOut>, ReadErrors> {
        let detail = state
            .catalog
            .category(Locator::parse(&id_or_slug.0))
            .await?;
        Ok(Json(detail.into()))
    }

    /// List products
    ///
    /// Active products only. `min_price`/`max_price` bound the product's lowest variant price.
    /// Pages with `next_cursor`; the cursor belongs to the sort it was issued for.
    #[oai(path = "/products", method = "get", operation_id = "list_products")]
    #[allow(clippy::too_many_arguments)]
    async fn list_products(
        &self,
        state: poem::web::Data<&AppState>,
        /// A category id or slug; its descendants are included.
        #[oai(validator(max_length = 120))]
        category: Query<Option<String>>,
        /// Exact brand (case-insensitive).
        #[oai(validator(max_length = 100))]
        brand: Query<Option<String>>,
        /// Lowest price, in minor units.
        #[oai(validator(minimum(value = "0")))]
        min_price: Query<Option<i64>>,
        /// Highest price, in minor units.
        #[oai(validator(minimum(value = "0")))]
        max_price: Query<Option<i64>>,
        /// Only products with at least one variant available (true) or none (false).
        in_stock: Query<Option<bool>>,
        /// Order of the list (default `newest`).
        sort: Query<Option<ProductSortDto>>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// `next_cursor` of the previous page.
        #[oai(validator(max_length = 1024))]
        cursor: Query<Option<String>>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<Cached<ProductPageOut>, ListErrors> {
        let filter = ProductFilter {
            category_ids: state.catalog.category_filter(category.0.as_deref()).await?,
            brand: brand.0,
            min_price: min_price.0,
            max_price: max_price.0,
            in_stock: in_stock.0,
        };
        let page = state
            .catalog
            .list_products(
                &filter,
                sort.0.unwrap_or_default().into(),
                cursor.0.as_deref(),
                limit.0,
            )
            .await?;
        let currency = &state.catalog.currency;
        let out = ProductPageOut {
            items: page
                .items
                .into_iter()
                .map(|p| ProductSummaryOut::new(p, currency))
                .collect(),
            next_cursor: page.next_cursor,
        };
        Ok(Cached::new(&out, if_none_match.0.as_deref(), CATALOG_CACHE))
    }

    /// Get a product
    ///
    /// By id or slug, with variants and their availability. Drafts and archived products are
    /// not found.
    #[oai(
        path = "/products/:id_or_slug",
        method = "get",
        operation_id = "get_product"
    )]
    async fn get_product(
        &self,
        state: poem::web::Data<&AppState>,
        /// The product's id or slug.
        #[oai(validator(max_length = 120))]
        id_or_slug: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<Cached<ProductOut>, ReadErrors> {
        let product = state
            .catalog
            .public_product(Locator::parse(&id_or_slug.0))
            .await?;
        let out = ProductOut::new(product, &state.catalog.currency, false);
        Ok(Cached::new(&out, if_none_match.0.as_deref(), CATALOG_CACHE))
    }
}

pub(super) fn default_limit() -> i64 {
    20
}
