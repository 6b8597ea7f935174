//! SQL for the `users` and `refresh_tokens` tables.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::{Role, User};

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl UserRow {
    pub fn into_user(self) -> User {
        User {
            id: self.user_id,
            email: self.email,
            name: self.name,
            role: Role::from_db(&self.role),
            created_at: self.created_at,
            updated_at: self.updated_at,
            disabled_at: self.disabled_at,
        }
    }
}

pub async fn insert_user(
    db: impl PgExecutor<'_>,
    email: &str,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "insert into users (user_id, email, name, password_hash, role)
         values ($1, $2, $3, $4, $5)
         returning user_id, email, name, password_hash, role, created_at, updated_at, disabled_at",
        Uuid::now_v7(),
        email,
        name,
        password_hash,
        role.as_db(),
    )
    .fetch_one(db)
    .await
}

pub async fn find_user_by_email(db: &PgPool, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "select user_id, email, name, password_hash, role, created_at, updated_at, disabled_at
         from users where email = $1",
        email,
    )
    .fetch_optional(db)
    .await
}

pub async fn find_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "select user_id, email, name, password_hash, role, created_at, updated_at, disabled_at
         from users where user_id = $1",
        user_id,
    )
    .fetch_optional(db)
    .await
}

pub async fn update_name(
    db: &PgPool,
    user_id: Uuid,
    name: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "update users set name = $2 where user_id = $1
         returning user_id, email, name, password_hash, role, created_at, updated_at, disabled_at",
        user_id,
        name,
    )
    .fetch_optional(db)
    .await
}

pub async fn update_password_hash(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set password_hash = $2 where user_id = $1",
        user_id,
        password_hash,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// The role of the user of a live session (a refresh-token family not revoked); `None` when
/// the session was revoked (logout, password change, reuse) or the user no longer exists or
/// is disabled.
pub async fn live_session_role(
    db: &PgPool,
    user_id: Uuid,
    family_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select u.role from users u
         where u.user_id = $1 and u.disabled_at is null
           and exists (select 1 from refresh_tokens r
                       where r.family_id = $2 and r.user_id = $1 and r.revoked_at is null)",
        user_id,
        family_id,
    )
    .fetch_optional(db)
    .await
}

/// The addresses of the owner and administrators, oldest first (staff notifications).
pub async fn admin_emails(db: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select email from users where role in ('owner', 'admin') and disabled_at is null order by created_at",
    )
    .fetch_all(db)
    .await
}

/// Disables (now, keeping an earlier time) or enables the account; `None` when it does not exist.
pub async fn set_disabled(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    disabled: bool,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "update users
         set disabled_at = case when $2 then coalesce(disabled_at, now()) end
         where user_id = $1 and deleted_at is null
         returning user_id, email, name, password_hash, role, created_at, updated_at, disabled_at",
        user_id,
        disabled,
    )
    .fetch_optional(db)
    .await
}

/// Creates the user as an owner, or promotes (and re-passwords) an existing account.
pub async fn upsert_admin(
    db: &PgPool,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "insert into users (user_id, email, name, password_hash, role)
         values ($1, $2, $3, $4, 'owner')
         on conflict on constraint users_email_key
         do update set role = 'owner', password_hash = excluded.password_hash
         returning user_id, email, name, password_hash, role, created_at, updated_at, disabled_at",
        Uuid::now_v7(),
        email,
        name,
        password_hash,
    )
    .fetch_one(db)
    .await
}

pub async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    family_id: Uuid,
    user_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into refresh_tokens (refresh_token_id, family_id, user_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        family_id,
        user_id,
        token_hash,
        expires_at,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Marks a live token used, atomically: of two concurrent refreshes with one token, exactly one
/// gets the row back. Returns (family, user) when the token was live.
pub async fn consume_refresh_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        "update refresh_tokens set used_at = now()
         where token_hash = $1 and used_at is null and revoked_at is null and expires_at > now()
         returning family_id, user_id",
        token_hash,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.family_id, r.user_id)))
}

/// What a token that could not be consumed was: unknown, or a known family (reuse).
pub async fn family_of(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select family_id, used_at is not null as "used!" from refresh_tokens where token_hash = $1"#,
        token_hash,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.family_id, r.used)))
}

pub async fn revoke_family(db: impl PgExecutor<'_>, family_id: Uuid) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null",
        family_id,
    )
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// Revokes every family of a user except `keep` (the session changing the password, if known).
pub async fn revoke_other_families(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update refresh_tokens set revoked_at = now()
         where user_id = $1 and revoked_at is null and ($2::uuid is null or family_id <> $2)",
        user_id,
        keep,
    )
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// A page of users, newest first (UUIDv7 ids sort by creation), optionally filtered by an
/// email substring.
pub async fn list_users(
    db: &PgPool,
    email_contains: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "select user_id, email, name, password_hash, role, created_at, updated_at, disabled_at
         from users
         where ($1::text is null or email like '%' || $1 || '%')
           and ($2::uuid is null or user_id < $2)
         order by user_id desc
         limit $3",
        email_contains,
        before,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Locks a live account for its deletion; its role, `None` when it does not exist (or is
/// deleted already).
pub async fn lock_for_deletion(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select role from users where user_id = $1 and deleted_at is null for update",
        user_id,
    )
    .fetch_optional(tx)
    .await
}

/// Serializes changes to what an account owns (its address book) with each other and with
/// the account's deletion; `false` when there is no live account.
pub async fn lock_account(tx: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let locked = sqlx::query_scalar!(
        "select user_id from users where user_id = $1 and deleted_at is null for no key update",
        user_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(locked.is_some())
}

/// The email and name orders copy, from a live account. Holds the row's key lock until the
/// transaction ends, so an order is never placed for an account being deleted.
pub async fn lock_customer(
    tx: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "select email, name from users where user_id = $1 and deleted_at is null for key share",
        user_id,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| (r.email, r.name)))
}

/// Empties the account of personal data and closes it: an address that reaches no one, no
/// name, no password, no links, no sessions. The row stays for what points at it.
pub async fn erase(tx: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users
         set email = 'deleted-' || user_id || '@deleted.invalid', name = '', password_hash = '',
             email_verified_at = null, disabled_at = coalesce(disabled_at, now()),
             deleted_at = now(), updated_at = now()
         where user_id = $1",
        user_id,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("delete from password_resets where user_id = $1", user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "delete from email_verifications where user_id = $1",
        user_id
    )
    .execute(&mut *tx)
    .await?;
    revoke_other_families(&mut *tx, user_id, None).await?;
    Ok(())
}

pub async fn mark_email_verified(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set email_verified_at = coalesce(email_verified_at, now()) where user_id = $1",
        user_id,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Sets a live account's role; `None` when there is none.
pub async fn set_role(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    role: Role,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "update users set role = $2
         where user_id = $1 and deleted_at is null
         returning user_id, email, name, password_hash, role, created_at, updated_at, disabled_at",
        user_id,
        role.as_db(),
    )
    .fetch_optional(db)
    .await
}
