//! SQL for `shipping_zones` and `shipping_rates`.

use sqlx::{types::Json, PgPool};
use uuid::Uuid;

use super::{Rate, Zone, ZoneDraft};

struct ZoneRow {
    zone_id: Uuid,
    name: String,
    countries: Vec<String>,
    provinces: Vec<String>,
    postal_prefixes: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    rates: Json<Vec<Rate>>,
}

impl From<ZoneRow> for Zone {
    fn from(r: ZoneRow) -> Self {
        Zone {
            id: r.zone_id,
            name: r.name,
            countries: r.countries,
            provinces: r.provinces,
            postal_prefixes: r.postal_prefixes,
            rates: r.rates.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Every zone, or the one with `id`, oldest first, with their rates in order.
pub(super) async fn zones(db: &PgPool, id: Option<Uuid>) -> Result<Vec<Zone>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ZoneRow,
        r#"select z.zone_id, z.name, z.countries, z.provinces, z.postal_prefixes, z.created_at,
                  z.updated_at,
                  coalesce((select jsonb_agg(to_jsonb(r) order by r.position)
                            from shipping_rates r where r.zone_id = z.zone_id), '[]')
                    as "rates!: Json<Vec<Rate>>"
           from shipping_zones z
           where $1::uuid is null or z.zone_id = $1
           order by z.zone_id"#,
        id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Zone::from).collect())
}

/// The zones that ship to `country`; `None` when the store has no zone at all.
pub(super) async fn zones_in_country(
    db: &PgPool,
    country: &str,
) -> Result<Option<Vec<Zone>>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ZoneRow,
        r#"select z.zone_id, z.name, z.countries, z.provinces, z.postal_prefixes, z.created_at,
                  z.updated_at,
                  coalesce((select jsonb_agg(to_jsonb(r) order by r.position)
                            from shipping_rates r where r.zone_id = z.zone_id), '[]')
                    as "rates!: Json<Vec<Rate>>"
           from shipping_zones z
           where z.countries @> array[$1::text]
           order by z.zone_id"#,
        country,
    )
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        let any: bool =
            sqlx::query_scalar!(r#"select exists (select 1 from shipping_zones) as "any!""#)
                .fetch_one(db)
                .await?;
        if !any {
            return Ok(None);
        }
    }
    Ok(Some(rows.into_iter().map(Zone::from).collect()))
}

pub(super) async fn insert_zone(
    db: &PgPool,
    id: Uuid,
    draft: &ZoneDraft,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!(
        "insert into shipping_zones (zone_id, name, countries, provinces, postal_prefixes)
         values ($1, $2, $3, $4, $5)",
        id,
        draft.name,
        &draft.countries,
        &draft.provinces,
        &draft.postal_prefixes,
    )
    .execute(&mut *tx)
    .await?;
    insert_rates(&mut tx, id, &draft.rates).await?;
    tx.commit().await
}

/// `false` when the zone does not exist.
pub(super) async fn replace_zone(
    db: &PgPool,
    id: Uuid,
    draft: &ZoneDraft,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query!(
        "update shipping_zones set name = $2, countries = $3, provinces = $4, postal_prefixes = $5,
                updated_at = now()
         where zone_id = $1",
        id,
        draft.name,
        &draft.countries,
        &draft.provinces,
        &draft.postal_prefixes,
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query!("delete from shipping_rates where zone_id = $1", id)
        .execute(&mut *tx)
        .await?;
    insert_rates(&mut tx, id, &draft.rates).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn delete_zone(db: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("delete from shipping_zones where zone_id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn insert_rates(
    tx: &mut sqlx::PgConnection,
    zone_id: Uuid,
    rates: &[Rate],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = rates.iter().map(|_| Uuid::now_v7()).collect();
    let methods: Vec<&str> = rates.iter().map(|r| r.method.as_str()).collect();
    let min_weights: Vec<i64> = rates.iter().map(|r| r.min_weight_grams).collect();
    let max_weights: Vec<Option<i64>> = rates.iter().map(|r| r.max_weight_grams).collect();
    let min_subtotals: Vec<i64> = rates.iter().map(|r| r.min_subtotal).collect();
    let max_subtotals: Vec<Option<i64>> = rates.iter().map(|r| r.max_subtotal).collect();
    let fees: Vec<i64> = rates.iter().map(|r| r.fee).collect();
    let free_from: Vec<Option<i64>> = rates.iter().map(|r| r.free_from).collect();
    let min_days: Vec<Option<i32>> = rates.iter().map(|r| r.min_days).collect();
    let max_days: Vec<Option<i32>> = rates.iter().map(|r| r.max_days).collect();
    let positions: Vec<i32> = (0..rates.len() as i32).collect();
    sqlx::query!(
        "insert into shipping_rates (rate_id, zone_id, method, min_weight_grams, max_weight_grams,
                                     min_subtotal, max_subtotal, fee, free_from, min_days, max_days,
                                     position)
         select id, $1, m, minw, maxw, mins, maxs, f, ff, mind, maxd, pos
         from unnest($2::uuid[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
                     $8::int8[], $9::int8[], $10::int4[], $11::int4[], $12::int4[])
              as t(id, m, minw, maxw, mins, maxs, f, ff, mind, maxd, pos)",
        zone_id,
        &ids,
        &methods as _,
        &min_weights,
        &max_weights as _,
        &min_subtotals,
        &max_subtotals as _,
        &fees,
        &free_from as _,
        &min_days as _,
        &max_days as _,
        &positions,
    )
    .execute(tx)
    .await?;
    Ok(())
}
