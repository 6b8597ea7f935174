//! The public product list: active products, filtered, in one of four whitelisted orders,
//! with keyset (cursor) pagination that stays stable when sort keys tie (the product id breaks
//! ties). Each order has its own index; the ORDER BY and cursor predicates are fixed strings
//! chosen by the enum, never built from input.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{types::Json, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Catalog, CatalogError, Image, ProductStatus, ProductSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

#[derive(Debug, Default, Clone)]
pub struct ProductFilter {
    /// The category and its descendants (resolved by the caller).
    pub category_ids: Option<Vec<Uuid>>,
    pub brand: Option<String>,
    /// Bounds on the product's lowest variant price ("from" price), inclusive.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
}

impl ProductSort {
    /// The page's key columns: the id and what this order sorts by, the others null, so the
    /// order's index (which carries only its own keys and the filter columns) answers alone.
    fn key_columns(self, prefix: &str) -> String {
        let (created_at, min_price, name) = match self {
            ProductSort::Newest => (true, false, false),
            ProductSort::PriceAsc | ProductSort::PriceDesc => (true, true, false),
            ProductSort::Name => (false, false, true),
        };
        let column = |wanted: bool, name: &str, kind: &str| {
            if wanted {
                format!("{prefix}{name}")
            } else {
                format!("null::{kind} as {name}")
            }
        };
        format!(
            "{prefix}product_id, {}, {}, {}",
            column(created_at, "created_at", "timestamptz"),
            column(min_price, "min_price", "int8"),
            column(name, "name", "text"),
        )
    }

    /// The ORDER BY list over the sort-key columns, with `prefix` (`""` or `"g."`) on each.
    fn order_by(self, prefix: &str) -> String {
        let keys: &[(&str, &str)] = match self {
            ProductSort::Newest => &[("created_at", "desc"), ("product_id", "desc")],
            ProductSort::PriceAsc => &[("min_price", "asc"), ("product_id", "asc")],
            ProductSort::PriceDesc => &[("min_price", "desc"), ("product_id", "desc")],
            ProductSort::Name => &[("name", "asc"), ("product_id", "asc")],
        };
        keys.iter()
            .map(|(column, direction)| format!("{prefix}{column} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where a page starts: the sort it belongs to and the last row's keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Cursor {
    s: ProductSort,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    id: Uuid,
}

impl Cursor {
    fn after(sort: ProductSort, last: &ProductSummary) -> Self {
        Self {
            s: sort,
            t: (sort == ProductSort::Newest).then_some(last.created_at),
            p: matches!(sort, ProductSort::PriceAsc | ProductSort::PriceDesc)
                .then_some(last.min_price),
            n: (sort == ProductSort::Name).then(|| last.name.clone()),
            id: last.id.as_uuid(),
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serializes"))
    }

    fn decode(value: &str, sort: ProductSort) -> Result<Self, CatalogError> {
        let invalid = || CatalogError::InvalidCursor;
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let complete = match sort {
            ProductSort::Newest => cursor.t.is_some(),
            ProductSort::PriceAsc | ProductSort::PriceDesc => cursor.p.is_some(),
            ProductSort::Name => cursor.n.is_some(),
        };
        // A cursor is client input: keys the database cannot compare (text with NUL, a
        // timestamp outside its range) are refused here rather than failing the query.
        let storable = cursor.n.as_deref().is_none_or(|n| !n.contains('\0'))
            && cursor
                .t
                .is_none_or(|t| (1..=9999).contains(&chrono::Datelike::year(&t)));
        if cursor.s != sort || !complete || !storable {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

#[derive(Debug, Clone)]
pub struct ProductPage {
    pub items: Vec<ProductSummary>,
    pub next_cursor: Option<String>,
}

pub(crate) const SUMMARY_COLUMNS: &str =
    "p.product_id, p.slug, p.name, p.brand, p.category_id, p.status, \
     p.min_price, p.max_price, p.in_stock, p.images -> 0 as image, p.created_at";

/// A product summary as read from the database, or from JSON with the same field names (a
/// search engine's stored document).
#[derive(sqlx::FromRow, Deserialize)]
pub(crate) struct SummaryRow {
    pub(crate) product_id: Uuid,
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) brand: Option<String>,
    pub(crate) category_id: Uuid,
    pub(crate) status: String,
    pub(crate) min_price: i64,
    pub(crate) max_price: i64,
    pub(crate) in_stock: bool,
    pub(crate) image: Option<Json<Image>>,
    pub(crate) created_at: DateTime<Utc>,
}

impl From<SummaryRow> for ProductSummary {
    fn from(r: SummaryRow) -> Self {
        Self {
            id: r.product_id.into(),
            slug: r.slug,
            name: r.name,
            brand: r.brand,
            category_id: r.category_id.into(),
            status: ProductStatus::from_db(&r.status),
            min_price: r.min_price,
            max_price: r.max_price,
            in_stock: r.in_stock,
            image: r.image.map(|j| j.0),
            created_at: r.created_at,
        }
    }
}

/// Appends `filter` as ` and ...` conditions on `products p` (the product list and search
/// filter alike).
pub(crate) fn push_filter(q: &mut QueryBuilder<Postgres>, filter: &ProductFilter) {
    push_filter_as(q, filter, Conditions::Indexable);
}

/// How [`push_filter_as`] writes the price and brand conditions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conditions {
    Indexable,
    /// Price (and, within a category, brand) as expressions no index matches (`+ 0`,
    /// `|| ''`): the planner then walks the page order's index, checking them on its tuples,
    /// instead of range-scanning and sorting a set it misjudges as small.
    Checked {
        brand_too: bool,
    },
}

fn push_filter_as(q: &mut QueryBuilder<Postgres>, filter: &ProductFilter, how: Conditions) {
    let (price, brand) = match how {
        Conditions::Indexable => ("p.min_price", "lower(p.brand)"),
        Conditions::Checked { brand_too: false } => ("(p.min_price + 0)", "lower(p.brand)"),
        Conditions::Checked { brand_too: true } => ("(p.min_price + 0)", "(lower(p.brand) || '')"),
    };
    if let Some(ids) = &filter.category_ids {
        q.push(" and p.category_id = any(")
            .push_bind(ids.clone())
            .push(")");
    }
    if let Some(value) = &filter.brand {
        q.push(format!(" and {brand} = lower("))
            .push_bind(value.clone())
            .push(")");
    }
    if let Some(min) = filter.min_price {
        q.push(format!(" and {price} >= ")).push_bind(min);
    }
    if let Some(max) = filter.max_price {
        q.push(format!(" and {price} <= ")).push_bind(max);
    }
    if let Some(in_stock) = filter.in_stock {
        q.push(" and p.in_stock = ").push_bind(in_stock);
    }
}

/// A narrowing filter matched by at most this many products (per category scanned) is read
/// whole from a price index and sorted, rather than found by walking the page order's index.
const SPARSE_MATCHES: i64 = 500;

/// One page (plus one row) of sort keys of matching products, in `sort` order; with
/// `category`, of that one category (an SQL expression) only.
///
/// The order's index finds a page quickly when matches are dense, and walks far when they are
/// sparse: a price range outside a category's prices, or a brand the category does not carry,
/// walks the whole category to find nothing. For those filters the first
/// [`SPARSE_MATCHES`] + 1 matches are read from a price index first (index-only and bounded);
/// when that is all of them they are sorted for the page, otherwise the order's index is
/// walked. One-time filters run exactly one of the two branches.
fn push_page_keys(
    q: &mut QueryBuilder<Postgres>,
    filter: &ProductFilter,
    sort: ProductSort,
    cursor: Option<&Cursor>,
    limit: i64,
    category: Option<&str>,
) {
    let keys = Keys {
        filter,
        sort,
        cursor,
        category,
    };
    let by_price = matches!(sort, ProductSort::PriceAsc | ProductSort::PriceDesc);
    let ranged = filter.min_price.is_some() || filter.max_price.is_some();
    let brand_in_category = filter.brand.is_some() && category.is_some();
    if by_price || !(ranged || brand_in_category) {
        keys.push(q, sort, Conditions::Indexable);
        push_order(q, sort, limit + 1);
        return;
    }
    // The probe reads the price index's columns only; sorting the sparse rows by name reads
    // the names of those few rows.
    q.push("with sparse as materialized (");
    keys.push(q, ProductSort::PriceAsc, Conditions::Indexable);
    push_order(q, ProductSort::PriceAsc, SPARSE_MATCHES + 1);
    q.push(")");
    let sparse_rows = match sort {
        ProductSort::Name => "select s.product_id, s.created_at, s.min_price, p.name from sparse s join products p using (product_id)",
        _ => "select s.product_id, s.created_at, s.min_price, null::text as name from sparse s",
    };
    q.push(format!(
        " ({sparse_rows} where (select count(*) from sparse) <= {SPARSE_MATCHES} order by {} limit ",
        sort.order_by("")
    ))
    .push_bind(limit + 1)
    .push(") union all (");
    // Dense: walk the order's index (the planner, misjudging the range, would rather
    // range-scan a price index and sort every match).
    let checked = Conditions::Checked {
        brand_too: brand_in_category,
    };
    keys.push(q, sort, checked);
    q.push(format!(
        " and (select count(*) from sparse) > {SPARSE_MATCHES}"
    ));
    push_order(q, sort, limit + 1);
    q.push(")");
}

fn push_order(q: &mut QueryBuilder<Postgres>, sort: ProductSort, limit: i64) {
    q.push(" order by ")
        .push(sort.order_by("p."))
        .push(" limit ")
        .push_bind(limit);
}

/// What a page's keys are selected by: the filter, the page's order and where it starts.
struct Keys<'a> {
    filter: &'a ProductFilter,
    sort: ProductSort,
    cursor: Option<&'a Cursor>,
    category: Option<&'a str>,
}

impl Keys<'_> {
    /// `select <the key columns of columns_of> from products p where <filters and cursor>`.
    fn push(&self, q: &mut QueryBuilder<Postgres>, columns_of: ProductSort, how: Conditions) {
        let Keys {
            filter,
            sort,
            cursor,
            category,
        } = *self;
        let columns = columns_of.key_columns("p.");
        q.push(format!(
            "select {columns} from products p where p.status = 'active'"
        ));
        match category {
            Some(category) => {
                q.push(format!(" and p.category_id = {category}"));
                let rest = ProductFilter {
                    category_ids: None,
                    ..filter.clone()
                };
                push_filter_as(q, &rest, how);
            }
            None => push_filter_as(q, filter, how),
        }
        if let Some(c) = cursor {
            match sort {
                ProductSort::Newest => q
                    .push(" and (p.created_at, p.product_id) < (")
                    .push_bind(c.t),
                ProductSort::PriceAsc => q
                    .push(" and (p.min_price, p.product_id) > (")
                    .push_bind(c.p),
                ProductSort::PriceDesc => q
                    .push(" and (p.min_price, p.product_id) < (")
                    .push_bind(c.p),
                ProductSort::Name => q
                    .push(" and (p.name, p.product_id) > (")
                    .push_bind(c.n.clone()),
            };
            q.push(", ").push_bind(c.id).push(")");
        }
    }
}

impl Catalog {
    pub async fn list_products(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<ProductPage, CatalogError> {
        let key = format!("{filter:?}|{sort:?}|{cursor:?}|{limit}");
        self.reads
            .listings
            .get_or_try(key, || self.query_products(filter, sort, cursor, limit))
            .await
    }

    async fn query_products(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<ProductPage, CatalogError> {
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;
        let order = sort.order_by("");
        // The page's ids come from index-only scans (every sort index includes the filter
        // columns, so filtering never visits the wide product rows); only the page's rows are
        // read in full. A category filter scans each category's own ordered index for one
        // page and merges them, instead of walking a global order past other categories.
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new("with page as (");
        match &filter.category_ids {
            Some(ids) => {
                q.push("select m.* from unnest(")
                    .push_bind(ids.clone())
                    .push("::uuid[]) c(id) cross join lateral (");
                push_page_keys(&mut q, filter, sort, cursor.as_ref(), limit, Some("c.id"));
                q.push(") m");
            }
            None => {
                q.push("select m.* from (");
                push_page_keys(&mut q, filter, sort, cursor.as_ref(), limit, None);
                q.push(") m");
            }
        }
        q.push(" order by ")
            .push(order)
            .push(" limit ")
            .push_bind(limit + 1);
        q.push(format!(
            ") select {SUMMARY_COLUMNS} from page g join products p on p.product_id = g.product_id order by {}",
            sort.order_by("g.")
        ));

        let rows: Vec<SummaryRow> = q.build_query_as().fetch_all(&self.db).await?;
        let mut items: Vec<ProductSummary> = rows.into_iter().map(Into::into).collect();
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|last| Cursor::after(sort, last).encode())
        } else {
            None
        };
        Ok(ProductPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_sort() {
        let c = Cursor {
            s: ProductSort::PriceAsc,
            t: None,
            p: Some(1000),
            n: None,
            id: Uuid::nil(),
        };
        let encoded = c.encode();
        assert_eq!(Cursor::decode(&encoded, ProductSort::PriceAsc).unwrap(), c);
        assert!(Cursor::decode(&encoded, ProductSort::Name).is_err());
        assert!(Cursor::decode("garbage!", ProductSort::Newest).is_err());
    }
}
