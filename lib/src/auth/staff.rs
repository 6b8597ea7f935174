//! Staff accounts: the owner invites people by email with a role, changes roles and disables
//! staff. An invite's link token is derived from its id with the server's key
//! ([`invite_token`]), like a password reset's: the API keeps only its hash and the notifier
//! derives it again for the email. Accepting the invite (once, before it expires) creates the
//! account with its role, its address verified, and signs it in.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    password, resets::link_token, store, tokens, AuthError, AuthService, Email, Principal, Role,
    TokenPair, User,
};
use crate::{
    config::Secret,
    db,
    events::{Event, Payload},
    validation::ValidationErrors,
};

/// Someone was invited to join the staff (the notifier emails the link; no token in here).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct StaffInvited {
    pub invite_id: Uuid,
    pub email: String,
    pub name: String,
    /// The role the account will have (`admin`, `catalog_manager`, ...).
    pub role: String,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl Payload for StaffInvited {
    fn aggregate_id(&self) -> Uuid {
        self.invite_id
    }
}

/// The token of an invite's link (see [`super::resets::reset_token`]).
pub fn invite_token(key: &Secret, invite_id: Uuid) -> String {
    link_token(key, b"toko staff invite ", invite_id)
}

/// An invitation as staff see it.
#[derive(Debug, Clone)]
pub struct StaffInvite {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl AuthService {
    /// Invites `email` to join the staff as `role`; the notifier sends the link. Refused for
    /// an address that already has an account.
    pub async fn invite_staff(
        &self,
        actor: Principal,
        email: &str,
        name: &str,
        role: Role,
    ) -> Result<StaffInvite, AuthError> {
        let name = name.trim().to_owned();
        let mut errors = ValidationErrors::new();
        let email = Email::parse_field(&mut errors, "email", email);
        super::validate_name(&mut errors, &name);
        errors.check(
            role.is_staff(),
            "role",
            "must be a staff role: owner, admin, catalog_manager, order_manager or support",
        );
        errors.finish()?;
        let email = email.expect("no errors, so the address parsed");
        if store::find_user_by_email(&self.db, email.as_str())
            .await?
            .is_some()
        {
            return Err(AuthError::EmailTaken);
        }
        let invite = StaffInvite {
            id: Uuid::now_v7(),
            email: email.into_string(),
            name,
            role,
            invited_by: actor.user_id,
            expires_at: Utc::now()
                + chrono::Duration::from_std(self.config.staff_invite_ttl).unwrap_or_default(),
        };
        let token = invite_token(&self.config.jwt_secret, invite.id);
        let mut tx = self.db.begin().await?;
        insert_invite(&mut tx, &invite, &tokens::hash_refresh_token(&token)).await?;
        let event = StaffInvited {
            invite_id: invite.id,
            email: invite.email.clone(),
            name: invite.name.clone(),
            role: role.as_db().to_owned(),
            invited_by: actor.user_id,
            expires_at: invite.expires_at,
        };
        crate::outbox::enqueue(&mut tx, Event::StaffInvited(event)).await?;
        tx.commit().await?;
        tracing::info!(invite.id = %invite.id, actor.id = %actor.user_id, role = role.as_db(), "staff invited");
        Ok(invite)
    }

    /// Accepts an invite with the new account's password: creates the staff account and
    /// signs it in.
    pub async fn accept_invite(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(User, TokenPair), AuthError> {
        let mut tx = self.db.begin().await?;
        let invite = take_invite(&mut tx, &tokens::hash_refresh_token(token)).await?;
        let mut errors = ValidationErrors::new();
        errors.check(
            invite.is_some(),
            "token",
            "is invalid, expired or already used: ask the shop owner for a new invite",
        );
        let email = invite
            .as_ref()
            .map(|i| i.email.as_str())
            .unwrap_or_default();
        if let Err(policy) = password::check_policy(new_password, email) {
            for e in policy.0 {
                errors.add("new_password", e.message);
            }
        }
        errors.finish()?;
        let invite = invite.expect("checked above");
        let hash = password::hash(new_password.to_owned()).await?;
        let row =
            match store::insert_user(&mut *tx, &invite.email, &invite.name, &hash, invite.role)
                .await
            {
                Ok(row) => row,
                Err(e) if db::violated_constraint(&e) == Some("users_email_key") => {
                    return Err(AuthError::EmailTaken)
                }
                Err(e) => return Err(e.into()),
            };
        // The link reached the address: it is verified.
        store::mark_email_verified(&mut *tx, row.user_id).await?;
        set_invite_user(&mut tx, invite.id, row.user_id).await?;
        let user = row.into_user();
        let pair = self.start_family(&mut tx, &user).await?;
        tx.commit().await?;
        tracing::info!(user.id = %user.id, invite.id = %invite.id, "staff invite accepted");
        Ok((user, pair))
    }

    /// Gives a staff account another staff role (only the owner's permission allows it; not
    /// one's own, so the shop keeps its owner). Takes effect on the account's next request.
    pub async fn change_role(
        &self,
        actor: Principal,
        user_id: Uuid,
        role: Role,
    ) -> Result<User, AuthError> {
        if actor.user_id == user_id {
            return Err(AuthError::CannotChangeOwnRole);
        }
        let mut errors = ValidationErrors::new();
        errors.check(
            role.is_staff(),
            "role",
            "must be a staff role: owner, admin, catalog_manager, order_manager or support",
        );
        errors.finish()?;
        let target = store::find_user(&self.db, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if !Role::from_db(&target.role).is_staff() {
            return Err(AuthError::NotStaff);
        }
        let row = store::set_role(&self.db, user_id, role)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        self.sessions.forget_user(user_id);
        tracing::info!(user.id = %user_id, actor.id = %actor.user_id, role = role.as_db(), "staff role changed");
        Ok(row.into_user())
    }
}

impl AuthService {
    /// Invites not accepted yet (expired ones included, with their time), newest first.
    pub async fn pending_invites(&self) -> Result<Vec<StaffInvite>, AuthError> {
        let rows = sqlx::query_as!(
            InviteRow,
            "select invite_id, email, name, role, invited_by, expires_at from staff_invites
             where accepted_at is null and revoked_at is null order by invite_id desc limit 200",
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Withdraws an invite not accepted yet: its link stops working.
    pub async fn revoke_invite(&self, actor: Principal, invite_id: Uuid) -> Result<(), AuthError> {
        let revoked = sqlx::query!(
            "update staff_invites set revoked_at = now()
             where invite_id = $1 and accepted_at is null and revoked_at is null",
            invite_id,
        )
        .execute(&self.db)
        .await?;
        if revoked.rows_affected() == 0 {
            return Err(AuthError::InviteNotFound);
        }
        tracing::info!(invite.id = %invite_id, actor.id = %actor.user_id, "staff invite revoked");
        Ok(())
    }
}

async fn insert_invite(
    tx: &mut PgConnection,
    invite: &StaffInvite,
    token_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into staff_invites (invite_id, email, name, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
        invite.id,
        invite.email,
        invite.name,
        invite.role.as_db(),
        token_hash,
        invite.invited_by,
        invite.expires_at,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Uses the open, unexpired invite with this token hash.
async fn take_invite(
    tx: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<StaffInvite>, sqlx::Error> {
    let row = sqlx::query_as!(
        InviteRow,
        "update staff_invites set accepted_at = now()
         where token_hash = $1 and accepted_at is null and revoked_at is null
           and expires_at > now()
         returning invite_id, email, name, role, invited_by, expires_at",
        token_hash,
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(Into::into))
}

struct InviteRow {
    invite_id: Uuid,
    email: String,
    name: String,
    role: String,
    invited_by: Uuid,
    expires_at: DateTime<Utc>,
}

impl From<InviteRow> for StaffInvite {
    fn from(r: InviteRow) -> Self {
        Self {
            id: r.invite_id,
            email: r.email,
            name: r.name,
            role: Role::from_db(&r.role),
            invited_by: r.invited_by,
            expires_at: r.expires_at,
        }
    }
}

async fn set_invite_user(
    tx: &mut PgConnection,
    invite_id: Uuid,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update staff_invites set user_id = $2 where invite_id = $1",
        invite_id,
        user_id,
    )
    .execute(tx)
    .await?;
    Ok(())
}
