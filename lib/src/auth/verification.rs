//! Email verification: registration records a verification link, which the welcome email
//! carries; customers may ask for a new one (`user.email_verification_requested`, at most
//! [`LINKS_PER_HOUR`] an hour). Tokens are derived like reset links
//! ([`super::resets::link_token`]), so only their hashes are stored and no event carries one.
//! Whether checkout requires a verified address is the orders' `CHECKOUT_REQUIRES_VERIFIED_EMAIL`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{resets, store, tokens, AuthError, AuthService};
use crate::{
    config::Secret,
    events::{Event, Payload},
    validation::ValidationErrors,
};

/// How long a verification link works.
pub const LINK_TTL: chrono::Duration = chrono::Duration::days(7);

/// Verification links sent per account per hour on request.
pub const LINKS_PER_HOUR: i64 = 3;

/// A customer asked for a new verification link (the payload carries no token).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct VerificationRequested {
    pub verification_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

impl Payload for VerificationRequested {
    fn aggregate_id(&self) -> Uuid {
        self.user_id
    }
}

/// The token of a verification link, derived from its id with `key` (`JWT_SECRET`).
pub fn verification_token(key: &Secret, verification_id: Uuid) -> String {
    resets::link_token(key, b"toko email verification ", verification_id)
}

/// Where an account's address stands.
#[derive(Debug, Clone)]
pub struct VerificationStatus {
    pub email: String,
    pub verified_at: Option<DateTime<Utc>>,
}

impl AuthService {
    /// Records a verification link for `email` in the caller's transaction; its id and expiry.
    pub(super) async fn new_verification(
        &self,
        tx: &mut PgConnection,
        user_id: Uuid,
        email: &str,
    ) -> Result<(Uuid, DateTime<Utc>), AuthError> {
        let id = Uuid::now_v7();
        let token = verification_token(&self.config.jwt_secret, id);
        let expires_at = Utc::now() + LINK_TTL;
        sqlx::query!(
            "insert into email_verifications (verification_id, user_id, email, token_hash, expires_at)
             values ($1, $2, $3, $4, $5)",
            id,
            user_id,
            email,
            tokens::hash_refresh_token(&token),
            expires_at,
        )
        .execute(tx)
        .await?;
        Ok((id, expires_at))
    }

    pub async fn verification_status(
        &self,
        user_id: Uuid,
    ) -> Result<VerificationStatus, AuthError> {
        let row = sqlx::query!(
            "select email, email_verified_at from users where user_id = $1",
            user_id,
        )
        .fetch_optional(&self.db)
        .await?;
        let (email, verified_at) = row
            .map(|r| (r.email, r.email_verified_at))
            .ok_or(AuthError::UserNotFound)?;
        Ok(VerificationStatus { email, verified_at })
    }

    /// Sends a new verification link (at most [`LINKS_PER_HOUR`] an hour; more requests are
    /// answered the same, without an email).
    pub async fn resend_verification(&self, user_id: Uuid) -> Result<(), AuthError> {
        let mut tx = self.db.begin().await?;
        resets::lock_user(&mut tx, user_id).await?;
        let user = store::find_user(&mut *tx, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if verified_at(&mut *tx, user_id).await?.is_some() {
            return Err(AuthError::EmailAlreadyVerified);
        }
        if recent_links(&mut *tx, user_id).await? >= LINKS_PER_HOUR {
            return Ok(());
        }
        let (verification_id, expires_at) =
            self.new_verification(&mut tx, user_id, &user.email).await?;
        let event = VerificationRequested {
            verification_id,
            user_id,
            email: user.email,
            name: user.name,
            expires_at,
        };
        crate::outbox::enqueue(&mut tx, Event::UserEmailVerificationRequested(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the address of a verification link verified (once, before it expires, and only
    /// while the account still has that address).
    pub async fn verify_email(&self, token: &str) -> Result<(), AuthError> {
        let verified: Option<Uuid> = sqlx::query_scalar!(
            "with used as (
                 update email_verifications v set used_at = now()
                 from users u
                 where v.token_hash = $1 and v.used_at is null and v.expires_at > now()
                   and u.user_id = v.user_id and u.email = v.email
                 returning v.user_id)
             update users set email_verified_at = coalesce(email_verified_at, now())
             where user_id = (select user_id from used)
             returning user_id",
            tokens::hash_refresh_token(token),
        )
        .fetch_optional(&self.db)
        .await?;
        match verified {
            Some(user_id) => {
                tracing::info!(user.id = %user_id, "email address verified");
                Ok(())
            }
            None => Err(ValidationErrors::single(
                "token",
                "is invalid, expired or already used: ask for a new link",
            )
            .into()),
        }
    }
}

/// When the user's address was verified.
pub async fn verified_at(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "select email_verified_at from users where user_id = $1",
        user_id,
    )
    .fetch_optional(db)
    .await
    .map(Option::flatten)
}

async fn recent_links(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from email_verifications
         where user_id = $1 and created_at > now() - interval '1 hour'"#,
        user_id,
    )
    .fetch_one(db)
    .await
}
