//! The search statement: one round trip for hits, total and facets.
//!
//! `matched` is the filtered, matching set with just the columns the rest needs. One
//! `GROUPING SETS` aggregation over it yields every facet and the total in a single pass; the
//! page is sorted from it, and only the page's rows are joined back for summaries and
//! `ts_headline` (the expensive part of highlighting). Hits and facets come back as JSON so
//! the one row carries them all.

use serde::Deserialize;
use sqlx::{types::Json, PgPool, Postgres, QueryBuilder};

use crate::{
    catalog::listing,
    search::{
        postgres::tsquery::Composed, CategoryValue, FacetCount, Facets, Highlight, PriceRange,
        SearchHit, SearchQuery, SearchSort, FACET_SIZE,
    },
};

/// ts_rank_cd weights for D, C, B, A: description (C) counts a fifth of the name (A).
const RANK_WEIGHTS: &str = "'{0.1, 0.2, 0.4, 1.0}'::float4[]";

/// Relevance: 1 when every required clause matches in the name alone (`in_name`), plus the
/// cover-density rank scaled into [0, 1) (normalization 32), so a name match always outranks
/// matches found only in the brand, category or description.
fn score(q: &mut QueryBuilder<Postgres>, text: &Composed, in_name: &str) {
    q.push("(p.search_vector @@ ")
        .push_bind(in_name.to_owned())
        .push("::tsquery)::int + ts_rank_cd(")
        .push(RANK_WEIGHTS)
        .push(", p.search_vector, ")
        .push_bind(text.matches.clone())
        .push("::tsquery, 32)");
}

/// The page order; relevance without anything to rank by is newest first. Column names only,
/// so the same order applies to `matched`, `page` and the final hits.
fn order_by(sort: SearchSort, ranked: bool) -> &'static str {
    match sort {
        SearchSort::Relevance if ranked => {
            "score desc, in_stock desc, created_at desc, product_id desc"
        }
        SearchSort::Relevance | SearchSort::Newest => "created_at desc, product_id desc",
        SearchSort::PriceAsc => "min_price asc, product_id asc",
        SearchSort::PriceDesc => "min_price desc, product_id desc",
    }
}

/// Highlighting options: HTML-escaped input (see `search_html_escape`), `<mark>` around
/// matches, a short fragment of the description.
const NAME_HEADLINE: &str = "'HighlightAll=true, StartSel=<mark>, StopSel=</mark>'";
const SNIPPET_HEADLINE: &str =
    "'StartSel=<mark>, StopSel=</mark>, MinWords=15, MaxWords=35, MaxFragments=1'";
/// Without a text query the snippet is the description's first words (as a headline that
/// matched nothing would show).
const SNIPPET_WORDS: &str =
    "substring(search_html_escape(nullif(p.description, '')) from '^\\s*((?:\\S+\\s+){0,34}\\S+)')";

/// Every facet and the total in one `GROUPING SETS` pass over `matched`, then the top values.
const FACETS: &str = "
     counts as (
         select case grouping(category_id, brand, price_bucket)
                    when 3 then 'category' when 5 then 'brand' when 6 then 'price' else 'total' end as facet,
                category_id, brand, price_bucket, count(*) as n
         from matched
         group by grouping sets ((category_id), (brand), (price_bucket), ())
     ),
     facet_values as (
         select 'category' as facet, c.category_id::text as value, cat.slug, cat.name, c.n
         from counts c join categories cat on cat.category_id = c.category_id
         where c.facet = 'category'
         union all
         -- Brands count case-insensitively, as the brand filter matches; lower() runs once
         -- per distinct spelling rather than once per product.
         select 'brand', min(brand), null, null, sum(n)::int8
         from counts where facet = 'brand' and brand is not null group by lower(brand)
         union all
         select 'price', price_bucket::text, null, null, n from counts where facet = 'price'
     ),
     facets as (
         select *, row_number() over (partition by facet order by n desc, coalesce(name, value)) as rank
         from facet_values
     )";

/// The statement for `query`; `text` is the composed text query, `None` to list all.
///
/// With a text query `matched` is materialized: it is a bitmap scan of the text index that
/// both the facets and the page read. Without one it is inlined instead, so the facets come
/// from an index-only scan of `products_search_facets_idx` and the page from an index in the
/// requested order, neither touching the wide product rows.
pub fn build(
    query: &SearchQuery,
    text: Option<&Composed>,
    price_bounds: &[i64],
) -> QueryBuilder<Postgres> {
    // What relevance ranks by: the text query and its name part, when it has required clauses.
    let ranked = text.and_then(|t| Some((t, t.in_name.as_deref()?)));
    let order = order_by(query.sort, ranked.is_some());
    let mut q = QueryBuilder::new(match text {
        Some(_) => "with matched as materialized (",
        None => "with matched as not materialized (",
    });
    // `row_id` (the row's ctid) joins the page back to its rows without index lookups; it is
    // stable within the statement's snapshot.
    q.push("select p.ctid as row_id, p.product_id, p.category_id, p.brand, p.min_price, p.in_stock, p.created_at, ")
        .push("width_bucket(p.min_price, ")
        .push_bind(price_bounds.to_vec())
        .push("::int8[]) as price_bucket, ");
    // Scores are only needed to sort by relevance; other sorts score the page alone.
    match ranked {
        Some((text, in_name)) if query.sort == SearchSort::Relevance => {
            score(&mut q, text, in_name)
        }
        _ => {
            q.push("0::float4");
        }
    }
    q.push(" as score from products p where p.status = 'active'");
    listing::push_filter(&mut q, &query.filter);
    if let Some(text) = text {
        q.push(" and p.search_vector @@ ")
            .push_bind(text.matches.clone())
            .push("::tsquery");
    }
    q.push("),").push(FACETS);
    // A plain ORDER BY with LIMIT, so the planner keeps only the page (top-N heapsort).
    q.push(", page as (select row_id, product_id, in_stock, created_at, min_price, score from matched order by ")
        .push(order)
        .push(" limit ")
        .push_bind(query.size)
        .push(" offset ")
        .push_bind(query.offset())
        .push(")");
    q.push(
        "select coalesce((select n from counts where facet = 'total'), 0) as total,
                coalesce((select json_agg(json_build_object('facet', facet, 'value', value, 'slug', slug,
                                                            'name', name, 'count', n)
                                          order by facet, case when facet = 'price' then value::int end, rank)
                          from facets where facet = 'price' or rank <= ",
    )
    .push_bind(FACET_SIZE as i64)
    .push("), '[]') as facets, coalesce((select json_agg(h order by ")
    .push(order)
    .push(") from (select ")
    .push(listing::SUMMARY_COLUMNS)
    .push(", ");
    match ranked {
        Some((text, in_name)) if query.sort != SearchSort::Relevance => {
            score(&mut q, text, in_name)
        }
        _ => {
            q.push("g.score");
        }
    }
    q.push(" as score, ");
    match text {
        Some(text) => {
            headline(&mut q, &text.matches, "p.name", NAME_HEADLINE);
            q.push(" as name_html, ");
            headline(
                &mut q,
                &text.matches,
                "nullif(p.description, '')",
                SNIPPET_HEADLINE,
            );
        }
        None => {
            q.push("search_html_escape(p.name) as name_html, ")
                .push(SNIPPET_WORDS);
        }
    }
    q.push(" as snippet_html from page g join products p on p.ctid = g.row_id) h), '[]') as hits");
    q
}

/// `ts_headline` of an HTML-escaped column.
fn headline(q: &mut QueryBuilder<Postgres>, tsquery: &str, column: &str, options: &str) {
    q.push(format!(
        "ts_headline('toko_search', search_html_escape({column}), "
    ))
    .push_bind(tsquery.to_owned())
    .push(format!("::tsquery, {options})"));
}

#[derive(sqlx::FromRow)]
pub struct ResultRow {
    pub total: i64,
    pub facets: Json<Vec<FacetRow>>,
    pub hits: Json<Vec<HitRow>>,
}

#[derive(Deserialize)]
pub struct FacetRow {
    facet: String,
    value: String,
    slug: Option<String>,
    name: Option<String>,
    count: i64,
}

/// A hit: the summary columns plus score and highlights.
#[derive(Deserialize)]
pub struct HitRow {
    #[serde(flatten)]
    summary: listing::SummaryRow,
    score: f64,
    name_html: String,
    snippet_html: Option<String>,
}

impl From<HitRow> for SearchHit {
    fn from(r: HitRow) -> Self {
        Self {
            product: r.summary.into(),
            score: r.score,
            highlight: Highlight {
                name: r.name_html,
                snippet: r.snippet_html,
            },
        }
    }
}

/// Facet rows into facets; price buckets are `width_bucket` numbers (0 below the first bound).
pub fn facets(rows: Vec<FacetRow>, price_bounds: &[i64]) -> Facets {
    let ranges = PriceRange::all(price_bounds);
    let mut facets = Facets::default();
    for row in rows {
        match row.facet.as_str() {
            "category" => {
                if let Ok(id) = row.value.parse() {
                    facets.categories.push(FacetCount {
                        value: CategoryValue {
                            id,
                            slug: row.slug.unwrap_or_default(),
                            name: row.name.unwrap_or_default(),
                        },
                        count: row.count,
                    });
                }
            }
            "brand" => facets.brands.push(FacetCount {
                value: row.value,
                count: row.count,
            }),
            "price" => {
                if let Some(range) = row.value.parse::<usize>().ok().and_then(|b| ranges.get(b)) {
                    facets.price_ranges.push(FacetCount {
                        value: *range,
                        count: row.count,
                    });
                }
            }
            _ => {}
        }
    }
    facets
}

pub async fn run(
    db: &PgPool,
    query: &SearchQuery,
    text: Option<&Composed>,
    price_bounds: &[i64],
) -> Result<ResultRow, sqlx::Error> {
    build(query, text, price_bounds)
        .build_query_as::<ResultRow>()
        .fetch_one(db)
        .await
}
