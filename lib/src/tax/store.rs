//! SQL for `tax_classes` and `product_tax_classes`.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{TaxClass, STANDARD};

pub(super) async fn classes(
    db: &PgPool,
    standard_rate_bp: i32,
) -> Result<Vec<TaxClass>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select c.code, c.name, c.rate_bp,
                  case when c.code = $1
                       then (select count(*) from products) - (select count(*) from product_tax_classes)
                       else (select count(*) from product_tax_classes p where p.tax_class = c.code) end
                    as "products!"
           from tax_classes c order by c.code = $1 desc, c.code"#,
        STANDARD,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TaxClass {
            code: r.code,
            name: r.name,
            rate_bp: r.rate_bp.unwrap_or(standard_rate_bp),
            products: r.products,
        })
        .collect())
}

pub(super) async fn insert_class(
    db: &PgPool,
    code: &str,
    name: &str,
    rate_bp: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into tax_classes (code, name, rate_bp) values ($1, $2, $3)",
        code,
        name,
        rate_bp,
    )
    .execute(db)
    .await
    .map(|_| ())
}

pub(super) async fn update_class(
    db: &PgPool,
    code: &str,
    name: Option<&str>,
    rate_bp: Option<i32>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update tax_classes set name = coalesce($2, name), rate_bp = coalesce($3, rate_bp) where code = $1",
        code,
        name,
        rate_bp,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn delete_class(db: &PgPool, code: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("delete from tax_classes where code = $1", code,)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// `false` when the product does not exist.
pub(super) async fn set_product_class(
    db: &PgPool,
    product_id: Uuid,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let exists: bool = sqlx::query_scalar!(
        r#"select exists (select 1 from products where product_id = $1) as "exists!""#,
        product_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        return Ok(false);
    }
    if code == STANDARD {
        sqlx::query!(
            "delete from product_tax_classes where product_id = $1",
            product_id,
        )
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query!(
            "insert into product_tax_classes (product_id, tax_class) values ($1, $2)
             on conflict (product_id) do update set tax_class = excluded.tax_class",
            product_id,
            code,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn product_class(
    db: &PgPool,
    product_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select coalesce(t.tax_class, $2) as "class!" from products p
         left join product_tax_classes t using (product_id) where p.product_id = $1"#,
        product_id,
        STANDARD,
    )
    .fetch_optional(db)
    .await
}

/// The products among `ids` in a class other than standard, with its rate.
pub(super) async fn classes_of_products(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.product_id, c.code, coalesce(c.rate_bp, 0) as "rate_bp!"
           from product_tax_classes p join tax_classes c on c.code = p.tax_class
           where p.product_id = any($1)"#,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.product_id, (r.code, r.rate_bp)))
        .collect())
}
