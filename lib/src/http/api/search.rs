//! `GET /api/v1/search`: full-text product search with filters and facets.

use poem_openapi::{param::Query, payload::Json, OpenApi};

use super::{
    search_dto::{SearchResultOut, SearchSortDto},
    ApiTags,
};
use crate::{
    catalog::listing::ProductFilter,
    error_set,
    http::{problem::ApiResult, AppState},
    search::SearchQuery,
};

error_set!(SearchErrors: );

pub struct SearchApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Search")]
impl SearchApi {
    /// Search products
    ///
    /// Active products matching `q` in web-search syntax: every word is required, `"quoted
    /// phrases"` match as phrases, `-word` or `-"a phrase"` excludes, `a or b` accepts either.
    /// Words tolerate typos (one edit from 3 letters, two from 6), and the last word matches
    /// as a prefix while it is being typed (when no space follows it). Name matches rank above
    /// brand, category and description matches. An empty `q` lists every product, newest
    /// first, with the filters and facets still applied. Filters mean what they mean in
    /// `GET /api/v1/products`; facets count every matching product, not only this page.
    #[oai(path = "/search", method = "get", operation_id = "search_products")]
    #[allow(clippy::too_many_arguments)]
    async fn search_products(
        &self,
        state: poem::web::Data<&AppState>,
        /// What to look for (at most 200 characters).
        #[oai(default, validator(max_length = 200))]
        q: Query<String>,
        /// A category id or slug; its descendants are included.
        #[oai(validator(max_length = 120))]
        category: Query<Option<String>>,
        /// Exact brand (case-insensitive).
        #[oai(validator(max_length = 100))]
        brand: Query<Option<String>>,
        /// Lowest price (of the product's cheapest variant), in minor units.
        #[oai(validator(minimum(value = "0")))]
        min_price: Query<Option<i64>>,
        /// Highest price (of the product's cheapest variant), in minor units.
        #[oai(validator(minimum(value = "0")))]
        max_price: Query<Option<i64>>,
        /// Only products with at least one variant available (true) or none (false).
        in_stock: Query<Option<bool>>,
        /// Order of the hits (default `relevance`).
        sort: Query<Option<SearchSortDto>>,
        /// Page number, from 1 (at most the first 10,000 results can be paged through).
        #[oai(default = "first_page", validator(minimum(value = "1")))]
        page: Query<i64>,
        /// Hits per page, 1 to 100.
        #[oai(
            default = "default_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        size: Query<i64>,
    ) -> ApiResult<Json<SearchResultOut>, SearchErrors> {
        let filter = ProductFilter {
            category_ids: state.catalog.category_filter(category.0.as_deref()).await?,
            brand: brand.0,
            min_price: min_price.0,
            max_price: max_price.0,
            in_stock: in_stock.0,
        };
        let query = SearchQuery::new(
            &q.0,
            filter,
            sort.0.unwrap_or_default().into(),
            page.0,
            size.0,
        )?;
        let result = state.search.search(&query).await?;
        Ok(Json(SearchResultOut::new(
            result,
            query.page,
            query.size,
            &state.catalog.currency,
        )))
    }
}

fn first_page() -> i64 {
    1
}

fn default_size() -> i64 {
    20
}
