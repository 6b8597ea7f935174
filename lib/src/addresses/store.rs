//! The `addresses` table.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Address, AddressDraft, SavedAddress};

struct Row {
    address_id: Uuid,
    label: Option<String>,
    recipient_name: String,
    phone: String,
    line1: String,
    line2: Option<String>,
    city: String,
    province: Option<String>,
    postal_code: String,
    country_code: String,
    is_default: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Row> for SavedAddress {
    fn from(r: Row) -> Self {
        Self {
            id: r.address_id,
            label: r.label,
            address: Address {
                recipient_name: r.recipient_name,
                phone: r.phone,
                line1: r.line1,
                line2: r.line2,
                city: r.city,
                province: r.province,
                postal_code: r.postal_code,
                country_code: r.country_code,
            },
            is_default: r.is_default,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(super) async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<SavedAddress>, sqlx::Error> {
    select(db, user_id, None, false).await
}

pub(super) async fn find(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<SavedAddress>, sqlx::Error> {
    Ok(select(conn, user_id, Some(id), false).await?.pop())
}

pub(super) async fn default_address(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<SavedAddress>, sqlx::Error> {
    Ok(select(conn, user_id, None, true).await?.pop())
}

/// The customer's addresses, oldest first: all, the one with `id`, or the default one.
async fn select(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Option<Uuid>,
    only_default: bool,
) -> Result<Vec<SavedAddress>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        "select address_id, label, recipient_name, phone, line1, line2, city, province, postal_code,
                country_code, is_default, created_at, updated_at
         from addresses
         where user_id = $1 and ($2::uuid is null or address_id = $2) and (is_default or not $3)
         order by address_id",
        user_id,
        id,
        only_default,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Locks the customer's row (serializing writes to their book) and counts their addresses;
/// `None` when there is no such customer.
pub(super) async fn lock_book(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    if !crate::auth::store::lock_account(&mut *tx, user_id).await? {
        return Ok(None);
    }
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from addresses where user_id = $1"#,
        user_id
    )
    .fetch_one(tx)
    .await?;
    Ok(Some(count))
}

pub(super) async fn clear_default(tx: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update addresses set is_default = false, updated_at = now()
         where user_id = $1 and is_default",
        user_id
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub(super) async fn insert(
    tx: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    draft: &AddressDraft,
    is_default: bool,
) -> Result<(), sqlx::Error> {
    let a = &draft.address;
    sqlx::query!(
        "insert into addresses (address_id, user_id, label, recipient_name, phone, line1, line2, city,
                                province, postal_code, country_code, is_default)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        id,
        user_id,
        draft.label,
        a.recipient_name,
        a.phone,
        a.line1,
        a.line2,
        a.city,
        a.province,
        a.postal_code,
        a.country_code,
        is_default,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// `false` when the customer has no such address.
pub(super) async fn update(
    tx: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    draft: &AddressDraft,
) -> Result<bool, sqlx::Error> {
    let a = &draft.address;
    let updated = sqlx::query!(
        "update addresses
         set label = $3, recipient_name = $4, phone = $5, line1 = $6, line2 = $7, city = $8,
             province = $9, postal_code = $10, country_code = $11, is_default = $12,
             updated_at = now()
         where user_id = $1 and address_id = $2",
        user_id,
        id,
        draft.label,
        a.recipient_name,
        a.phone,
        a.line1,
        a.line2,
        a.city,
        a.province,
        a.postal_code,
        a.country_code,
        draft.is_default,
    )
    .execute(tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub(super) async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query!(
        "delete from addresses where user_id = $1 and address_id = $2",
        user_id,
        id
    )
    .execute(db)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

pub(super) async fn delete_all(tx: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from addresses where user_id = $1", user_id)
        .execute(tx)
        .await?;
    Ok(())
}
