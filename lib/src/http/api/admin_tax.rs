//! `/api/v1/admin/tax-classes` and a product's tax class.

use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{admin_catalog::Deleted, ApiTags};
use crate::{
    auth::Permission,
    error_set,
    http::{problem::ApiResult, AppState, BearerAuth, JsonBody},
    tax::TaxClass,
};

error_set!(TaxRead: 401, 403);
error_set!(TaxClassWrite: 401, 403, 404, 409, 413, 415, 422);
error_set!(ProductTaxRead: 401, 403, 404);

/// A tax class.
#[derive(Debug, Object)]
pub struct TaxClassOut {
    pub code: String,
    pub name: String,
    /// Basis points: 1100 is 11%. The `standard` class's rate is the `TAX_STANDARD_RATE` setting.
    pub rate_bp: i32,
    /// Products in the class.
    pub products: i64,
}

impl From<TaxClass> for TaxClassOut {
    fn from(c: TaxClass) -> Self {
        Self {
            code: c.code,
            name: c.name,
            rate_bp: c.rate_bp,
            products: c.products,
        }
    }
}

/// The tax classes and how prices are taxed.
#[derive(Debug, Object)]
pub struct TaxSettingsOut {
    pub classes: Vec<TaxClassOut>,
    /// `TAX_PRICES_INCLUDE_TAX`: prices and fees include the tax (otherwise it is added).
    pub prices_include_tax: bool,
    /// `TAX_SHIPPING`: shipping is taxed at the standard rate.
    pub shipping_taxable: bool,
}

#[derive(Debug, Object, serde::Deserialize)]
pub struct TaxClassIn {
    /// 1-40 lowercase letters, digits, `-` or `_`.
    pub code: String,
    pub name: String,
    /// Basis points, 0 to 10000 (1100 is 11%).
    pub rate_bp: i32,
}

#[derive(Debug, Object, serde::Deserialize)]
pub struct TaxClassPatchIn {
    pub name: Option<String>,
    /// Orders keep the rate they were taxed at.
    pub rate_bp: Option<i32>,
}

/// A product's tax class.
#[derive(Debug, Object, serde::Deserialize)]
pub struct ProductTaxClassDto {
    /// A code from `GET /api/v1/admin/tax-classes` (`standard` unless set).
    pub tax_class: String,
}

#[derive(ApiResponse)]
pub enum CreatedTaxClass {
    #[oai(status = 201)]
    Created(Json<TaxClassOut>),
}

pub struct AdminTaxApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminTaxApi {
    /// List tax classes
    #[oai(
        path = "/tax-classes",
        method = "get",
        operation_id = "list_tax_classes"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
    ) -> ApiResult<Json<TaxSettingsOut>, TaxRead> {
        auth.require(Permission::Settings)?;
        let config = state.taxes.config();
        Ok(Json(TaxSettingsOut {
            classes: state
                .taxes
                .classes()
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
            prices_include_tax: config.prices_include_tax,
            shipping_taxable: config.shipping_taxable,
        }))
    }

    /// Create a tax class
    #[oai(
        path = "/tax-classes",
        method = "post",
        operation_id = "create_tax_class"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        body: JsonBody<TaxClassIn>,
    ) -> ApiResult<CreatedTaxClass, TaxClassWrite> {
        auth.require(Permission::Settings)?;
        let class = state
            .taxes
            .create_class(&body.0.code, &body.0.name, body.0.rate_bp)
            .await?;
        Ok(CreatedTaxClass::Created(Json(class.into())))
    }

    /// Rename a tax class or change its rate
    ///
    /// New orders are taxed at the new rate; placed orders keep theirs. The `standard` rate is
    /// the `TAX_STANDARD_RATE` setting (409 here).
    #[oai(
        path = "/tax-classes/:code",
        method = "patch",
        operation_id = "update_tax_class"
    )]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        code: Path<String>,
        body: JsonBody<TaxClassPatchIn>,
    ) -> ApiResult<Json<TaxClassOut>, TaxClassWrite> {
        auth.require(Permission::Settings)?;
        let class = state
            .taxes
            .update_class(&code.0, body.0.name.as_deref(), body.0.rate_bp)
            .await?;
        Ok(Json(class.into()))
    }

    /// Delete a tax class
    ///
    /// Only a class no product is in (409 otherwise); `standard` and `exempt` stay.
    #[oai(
        path = "/tax-classes/:code",
        method = "delete",
        operation_id = "delete_tax_class"
    )]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        code: Path<String>,
    ) -> ApiResult<Deleted, TaxClassWrite> {
        auth.require(Permission::Settings)?;
        state.taxes.delete_class(&code.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Get a product's tax class
    #[oai(
        path = "/products/:product_id/tax-class",
        method = "get",
        operation_id = "get_product_tax_class"
    )]
    async fn product_class(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<Uuid>,
    ) -> ApiResult<Json<ProductTaxClassDto>, ProductTaxRead> {
        auth.require(Permission::CatalogRead)?;
        let tax_class = state.taxes.product_class(product_id.0).await?;
        Ok(Json(ProductTaxClassDto { tax_class }))
    }

    /// Put a product in a tax class
    ///
    /// Its next orders are taxed at the class's rate.
    #[oai(
        path = "/products/:product_id/tax-class",
        method = "put",
        operation_id = "set_product_tax_class"
    )]
    async fn set_product_class(
        &self,
        state: poem::web::Data<&AppState>,
        auth: BearerAuth,
        product_id: Path<Uuid>,
        body: JsonBody<ProductTaxClassDto>,
    ) -> ApiResult<Json<ProductTaxClassDto>, TaxClassWrite> {
        auth.require(Permission::CatalogWrite)?;
        state
            .taxes
            .set_product_class(product_id.0, &body.0.tax_class)
            .await?;
        Ok(Json(body.0))
    }
}
