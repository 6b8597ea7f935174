//! Password reset by email: a request gives the same answer whether or not the address has an
//! account; for an account it records a single-use request (at most
//! `PASSWORD_RESETS_PER_HOUR` per account) and writes `user.password_reset_requested`. The
//! link's token is derived from the request id with the server's key ([`reset_token`]): the
//! API keeps only its hash, the notifier derives it again to write the email, so the token is
//! never stored, logged or published. Using it sets the new password and ends every session.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{email, password, store, tokens, AuthError, AuthService};
use crate::{
    config::Secret,
    events::{Event, Payload},
    validation::ValidationErrors,
};

/// A customer asked for a password reset link (the payload carries no token).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PasswordResetRequested {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

impl Payload for PasswordResetRequested {
    fn aggregate_id(&self) -> Uuid {
        self.user_id
    }
}

/// The token of a reset request's link: 256 bits derived from its id with `key`
/// (`JWT_SECRET`), so the API and the notifier agree without sharing it any other way.
pub fn reset_token(key: &Secret, request_id: Uuid) -> String {
    link_token(key, b"toko password reset ", request_id)
}

/// A link's token: HMAC-SHA256 of the link's id under `key`, with a `purpose` label so that
/// links of one kind are never tokens of another.
pub(super) fn link_token(key: &Secret, purpose: &[u8], id: Uuid) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key size");
    mac.update(purpose);
    mac.update(id.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl AuthService {
    /// Sends a reset link to the account of `email`, if there is one (and it is enabled, and
    /// under its hourly limit). Says nothing either way.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AuthError> {
        let email = email::normalise(email);
        let mut errors = ValidationErrors::new();
        email::check_lookup_length(&mut errors, &email);
        errors.finish()?;
        let Some(user) = store::find_user_by_email(&self.db, &email).await? else {
            return Ok(());
        };
        if user.disabled_at.is_some() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        // The user's row serialises their requests, so the hourly limit holds under concurrency.
        lock_user(&mut tx, user.user_id).await?;
        if recent_requests(&mut *tx, user.user_id).await? >= self.config.password_resets_per_hour {
            tracing::info!(user.id = %user.user_id, "password reset request over the hourly limit ignored");
            return Ok(());
        }
        let request_id = Uuid::now_v7();
        let token = reset_token(&self.config.jwt_secret, request_id);
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.password_reset_ttl).unwrap_or_default();
        insert_request(
            &mut *tx,
            request_id,
            user.user_id,
            &tokens::hash_refresh_token(&token),
            expires_at,
        )
        .await?;
        let event = PasswordResetRequested {
            request_id,
            user_id: user.user_id,
            email: user.email.clone(),
            name: user.name.clone(),
            expires_at,
        };
        crate::outbox::enqueue(&mut tx, Event::UserPasswordResetRequested(event)).await?;
        tx.commit().await?;
        tracing::info!(user.id = %user.user_id, reset.request = %request_id, "password reset requested");
        Ok(())
    }

    /// Sets a new password with a reset link's token (once, before it expires) and ends every
    /// session of the account; every other open link of the account stops working too.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), AuthError> {
        let mut tx = self.db.begin().await?;
        let user = match take_request(&mut tx, &tokens::hash_refresh_token(token)).await? {
            Some(user_id) => store::find_user(&mut *tx, user_id)
                .await?
                .filter(|u| u.disabled_at.is_none()),
            None => None,
        };
        let mut errors = ValidationErrors::new();
        errors.check(
            user.is_some(),
            "token",
            "is invalid, expired or already used: ask for a new link",
        );
        let email = user.as_ref().map(|u| u.email.as_str()).unwrap_or_default();
        if let Err(policy) = password::check_policy(new_password, email) {
            for e in policy.0 {
                errors.add("new_password", e.message);
            }
        }
        errors.finish()?;
        let user_id = user.map(|u| u.user_id).unwrap_or_default();
        let hash = password::hash(new_password.to_owned()).await?;
        store::update_password_hash(&mut *tx, user_id, &hash).await?;
        let revoked = store::revoke_other_families(&mut *tx, user_id, None).await?;
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        tracing::info!(user.id = %user_id, revoked, "password reset; every session ended");
        Ok(())
    }
}

pub(super) async fn lock_user(tx: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select 1 as one from users where user_id = $1 for update",
        user_id
    )
    .fetch_optional(tx)
    .await
    .map(|_| ())
}

async fn recent_requests(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from password_resets
         where user_id = $1 and created_at > now() - interval '1 hour'"#,
        user_id,
    )
    .fetch_one(db)
    .await
}

async fn insert_request(
    db: impl PgExecutor<'_>,
    request_id: Uuid,
    user_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into password_resets (request_id, user_id, token_hash, expires_at) values ($1, $2, $3, $4)",
        request_id,
        user_id,
        token_hash,
        expires_at,
    )
    .execute(db)
    .await
    .map(|_| ())
}

/// Uses the open, unexpired request with this token hash, closing every open request of its
/// account; its user, or `None`.
async fn take_request(
    tx: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<Uuid>, sqlx::Error> {
    let user_id: Option<Uuid> = sqlx::query_scalar!(
        "update password_resets set used_at = now()
         where token_hash = $1 and used_at is null and expires_at > now()
         returning user_id",
        token_hash,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(user_id) = user_id {
        sqlx::query!(
            "update password_resets set used_at = now() where user_id = $1 and used_at is null",
            user_id,
        )
        .execute(tx)
        .await?;
    }
    Ok(user_id)
}
