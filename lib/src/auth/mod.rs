//! User accounts: registration, login, refresh-token rotation with reuse detection, profile
//! and password changes, roles.
//!
//! [`AuthService`] holds the use cases; `store` the SQL; `tokens` JWT and refresh tokens;
//! `password` the policy and hashing; `throttle` the failed-login limits.

pub mod email;
pub mod password;
pub mod resets;
mod roles;
mod sessions;
mod settings;
pub mod staff;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod verification;

use std::{net::IpAddr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

pub use self::{
    email::Email,
    roles::{Permission, Role},
    settings::AuthConfig,
};
use self::{
    throttle::Attempt,
    tokens::{AccessTokens, IssuedAccessToken},
};
use crate::{
    db,
    events::{Event, Payload},
    validation::ValidationErrors,
};

/// A new customer account (the notifier sends the welcome email).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    /// The verification link the welcome email carries (its token is derived, never sent).
    #[serde(default)]
    pub verification_id: Option<Uuid>,
}

impl Payload for UserRegistered {
    fn aggregate_id(&self) -> Uuid {
        self.user_id
    }
}

/// A customer deleted their account: their personal data is gone from toko (orders keep no
/// name, email or street), and systems that copied it should forget it too.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserDeleted {
    pub user_id: Uuid,
    pub deleted_at: DateTime<Utc>,
}

impl Payload for UserDeleted {
    fn aggregate_id(&self) -> Uuid {
        self.user_id
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    /// The session (refresh-token family) of the access token.
    pub session_id: Option<Uuid>,
}

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        self.role.can(permission)
    }
}

/// A user as the rest of the system sees it (never with the password hash).
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while staff have disabled the account: it cannot sign in.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// An access token plus the refresh token that renews it.
pub struct TokenPair {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("too many failed logins")]
    TooManyAttempts { retry_after: Duration },
    #[error("the refresh token is invalid, expired or already used")]
    InvalidRefreshToken,
    #[error("user not found")]
    UserNotFound,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("staff cannot disable their own account")]
    CannotDisableSelf,
    #[error("staff cannot change their own role")]
    CannotChangeOwnRole,
    #[error("the account is a customer's: staff roles come with an invite")]
    NotStaff,
    #[error("only the owner manages staff accounts")]
    StaffOnlyByOwner,
    #[error("no pending invite has this id")]
    InviteNotFound,
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Hashing(#[from] password::HashError),
}

/// A new account's details, parsed: [`Registration::parse`] reports every bad field at once.
pub struct Registration {
    pub email: Email,
    pub password: String,
    pub name: String,
}

impl Registration {
    pub fn parse(email: &str, password: String, name: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let address = Email::parse_field(&mut errors, "email", email);
        let name = name.trim().to_owned();
        validate_name(&mut errors, &name);
        if let Err(policy) = password::check_policy(&password, &email::normalise(email)) {
            errors.0.extend(policy.0);
        }
        errors.finish()?;
        Ok(Self {
            email: address.expect("no errors, so the address parsed"),
            password,
            name,
        })
    }
}

/// A password change by the signed-in user.
pub struct PasswordChange<'a> {
    pub current: String,
    pub new: String,
    /// The session that stays signed in (by default the caller's access token's).
    pub keep_refresh_token: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub client_ip: Option<IpAddr>,
}

fn validate_name(errors: &mut ValidationErrors, name: &str) {
    errors.length("name", name.trim(), 1, 100);
}

/// The use cases of accounts and sessions.
#[derive(Clone)]
pub struct AuthService {
    db: PgPool,
    config: Arc<AuthConfig>,
    access: AccessTokens,
    /// A real hash verified when the email is unknown, so both failures take the same time.
    dummy_hash: Arc<str>,
    sessions: sessions::SessionCache,
    /// When this process last pruned ended throttle windows.
    throttle_pruned: Arc<std::sync::Mutex<std::time::Instant>>,
}

impl AuthService {
    pub async fn new(db: PgPool, config: AuthConfig) -> Result<Self, AuthError> {
        let dummy_hash = password::hash("toko-timing-equaliser".into()).await?;
        Ok(Self {
            db,
            access: AccessTokens::new(&config),
            config: Arc::new(config),
            dummy_hash: dummy_hash.into(),
            sessions: sessions::SessionCache::default(),
            throttle_pruned: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
        })
    }

    /// Checks an access token's signature and claims only; `None` when they are not valid.
    /// Enough to pick a rate-limit bucket, not to grant access: see [`Self::authenticate`].
    pub fn verify_signature(&self, token: &str) -> Option<Principal> {
        self.access.verify(token).map(|(principal, _)| principal)
    }

    /// The principal of an access token that is valid and still current: its session has not
    /// been revoked (logout, password change, log out everywhere) and its user exists. The
    /// role is the user's current one.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let Some((principal, Some(session_id))) = self.access.verify(token) else {
            return Ok(None);
        };
        let user_id = principal.user_id;
        let state = match self.sessions.get(session_id) {
            Some(state) => state,
            None => {
                let state = store::live_session_role(&self.db, user_id, session_id)
                    .await?
                    .map(|role| Role::from_db(&role));
                self.sessions.put(session_id, user_id, state);
                state
            }
        };
        Ok(state.map(|role| Principal {
            user_id,
            role,
            session_id: Some(session_id),
        }))
    }

    /// Ends every session of the user: refresh tokens revoked, access tokens void.
    pub async fn end_all_sessions(&self, user_id: Uuid) -> Result<(), AuthError> {
        let revoked = store::revoke_other_families(&self.db, user_id, None).await?;
        self.sessions.forget_user(user_id);
        tracing::info!(user.id = %user_id, revoked, "all sessions ended");
        Ok(())
    }

    /// Disables an account (every session ends at once, sign-in is refused) or enables it again
    /// (it signs in afresh: ended sessions stay ended). Staff cannot disable themselves, so a
    /// shop cannot lose its last administrator this way.
    pub async fn set_disabled(
        &self,
        actor: Principal,
        user_id: Uuid,
        disabled: bool,
    ) -> Result<User, AuthError> {
        if disabled && actor.user_id == user_id {
            return Err(AuthError::CannotDisableSelf);
        }
        let target = store::find_user(&self.db, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if Role::from_db(&target.role).is_staff() && !actor.can(Permission::Staff) {
            return Err(AuthError::StaffOnlyByOwner);
        }
        let mut tx = self.db.begin().await?;
        let row = store::set_disabled(&mut *tx, user_id, disabled)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if disabled {
            store::revoke_other_families(&mut *tx, user_id, None).await?;
        }
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        tracing::info!(user.id = %user_id, actor.id = %actor.user_id, disabled, "account access changed");
        Ok(row.into_user())
    }

    pub async fn register(&self, input: Registration) -> Result<(User, TokenPair), AuthError> {
        let Registration {
            email,
            password,
            name,
        } = input;
        let hash = password::hash(password).await?;
        let mut tx = self.db.begin().await?;
        let user = match store::insert_user(&mut *tx, email.as_str(), &name, &hash, Role::Customer)
            .await
        {
            Ok(row) => row.into_user(),
            Err(e) if db::violated_constraint(&e) == Some("users_email_key") => {
                return Err(AuthError::EmailTaken)
            }
            Err(e) => return Err(e.into()),
        };
        let pair = self.start_family(&mut tx, &user).await?;
        let (verification_id, _) = self.new_verification(&mut tx, user.id, &user.email).await?;
        let registered = UserRegistered {
            user_id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            verification_id: Some(verification_id),
        };
        crate::outbox::enqueue(&mut tx, Event::UserRegistered(registered)).await?;
        tx.commit().await?;
        tracing::info!(user.id = %user.id, "user registered");
        Ok((user, pair))
    }

    pub async fn login(&self, input: LoginInput) -> Result<(User, TokenPair), AuthError> {
        let email = email::normalise(&input.email);
        let mut errors = ValidationErrors::new();
        email::check_lookup_length(&mut errors, &email);
        password::check_length(&mut errors, "password", &input.password);
        errors.finish()?;
        let attempt = Attempt::new(&self.config, &email, input.client_ip);
        self.admit(&attempt).await?;

        let row = store::find_user_by_email(&self.db, &email).await?;
        let stored_hash = row
            .as_ref()
            .map_or_else(|| self.dummy_hash.to_string(), |r| r.password_hash.clone());
        let valid = password::verify(input.password, stored_hash).await;
        let Some(row) = row.filter(|_| valid) else {
            return Err(AuthError::InvalidCredentials);
        };
        throttle::succeeded(&self.db, &attempt).await?;
        // Said only to whoever knows the password, so it tells an attacker nothing new.
        if row.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }

        let user = row.into_user();
        let mut tx = self.db.begin().await?;
        let pair = self.start_family(&mut tx, &user).await?;
        tx.commit().await?;
        Ok((user, pair))
    }

    /// Rotates a refresh token. A token that was already used revokes its whole family: either
    /// the client raced itself or the token was stolen, and we cannot tell which.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        let hash = tokens::hash_refresh_token(refresh_token);
        let mut tx = self.db.begin().await?;
        let Some((family_id, user_id)) = store::consume_refresh_token(&mut *tx, &hash).await?
        else {
            if let Some((family_id, was_used)) = store::family_of(&mut *tx, &hash).await? {
                if was_used {
                    let revoked = store::revoke_family(&mut *tx, family_id).await?;
                    tx.commit().await?;
                    self.sessions.forget_session(family_id);
                    tracing::warn!(refresh.family_id = %family_id, revoked, "refresh token reuse detected; family revoked");
                }
            }
            return Err(AuthError::InvalidRefreshToken);
        };
        let user = store::find_user(&mut *tx, user_id)
            .await?
            .ok_or(AuthError::InvalidRefreshToken)?
            .into_user();
        let pair = self.issue_in_family(&mut tx, &user, family_id).await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Revokes the session (family) of a refresh token. Unknown tokens are ignored so logout
    /// never reveals whether a token existed.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        let hash = tokens::hash_refresh_token(refresh_token);
        if let Some((family_id, _)) = store::family_of(&self.db, &hash).await? {
            store::revoke_family(&self.db, family_id).await?;
            self.sessions.forget_session(family_id);
        }
        Ok(())
    }

    pub async fn me(&self, user_id: Uuid) -> Result<User, AuthError> {
        store::find_user(&self.db, user_id)
            .await?
            .map(store::UserRow::into_user)
            .ok_or(AuthError::UserNotFound)
    }

    pub async fn update_name(&self, user_id: Uuid, name: &str) -> Result<User, AuthError> {
        let name = name.trim();
        let mut errors = ValidationErrors::new();
        validate_name(&mut errors, name);
        errors.finish()?;
        store::update_name(&self.db, user_id, name)
            .await?
            .map(store::UserRow::into_user)
            .ok_or(AuthError::UserNotFound)
    }

    /// Changes the password after checking the current one, and signs out every other session
    /// (their refresh and access tokens stop working at once). The caller's session stays.
    pub async fn change_password(
        &self,
        caller: Principal,
        change: PasswordChange<'_>,
    ) -> Result<(), AuthError> {
        let user_id = caller.user_id;
        let PasswordChange {
            current,
            new,
            keep_refresh_token,
            client_ip,
        } = change;
        let row = store::find_user(&self.db, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let mut errors = ValidationErrors::new();
        password::check_length(&mut errors, "current_password", &current);
        if let Err(policy) = password::check_policy(&new, &row.email) {
            errors.0.extend(policy.0);
        }
        errors.finish()?;
        self.check_current_password(&row, current, client_ip)
            .await?;
        let hash = password::hash(new).await?;
        let mut tx = self.db.begin().await?;
        let keep = match keep_refresh_token {
            Some(token) => store::family_of(&mut *tx, &tokens::hash_refresh_token(token))
                .await?
                .map(|(family, _)| family),
            None => caller.session_id,
        };
        store::update_password_hash(&mut *tx, user_id, &hash).await?;
        let revoked = store::revoke_other_families(&mut *tx, user_id, keep).await?;
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        tracing::info!(user.id = %user_id, revoked, "password changed; other sessions revoked");
        Ok(())
    }

    /// Asks the signed-in user for their password again before a step that cannot be undone
    /// (account deletion). Refused as `current_password` when wrong.
    pub async fn confirm_password(
        &self,
        user_id: Uuid,
        current: String,
        client_ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let row = store::find_user(&self.db, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let mut errors = ValidationErrors::new();
        password::check_length(&mut errors, "current_password", &current);
        errors.finish()?;
        self.check_current_password(&row, current, client_ip).await
    }

    /// The current password is a guess like a login's: same counters, same limits.
    async fn check_current_password(
        &self,
        row: &store::UserRow,
        current: String,
        client_ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let attempt = Attempt::new(&self.config, &row.email, client_ip);
        self.admit(&attempt).await?;
        if !password::verify(current, row.password_hash.clone()).await {
            return Err(AuthError::WrongCurrentPassword);
        }
        throttle::succeeded(&self.db, &attempt).await?;
        Ok(())
    }

    /// The most one refund by `role` may give back (`None`: no limit). Order managers refund
    /// up to `ORDER_MANAGER_REFUND_LIMIT`; the owner and administrators without limit.
    pub fn refund_limit(&self, role: Role) -> Option<i64> {
        (role == Role::OrderManager).then_some(self.config.order_manager_refund_limit)
    }

    /// Makes this process forget the user's sessions at once (after they were revoked in the
    /// database).
    pub(crate) fn forget_sessions(&self, user_id: Uuid) {
        self.sessions.forget_user(user_id);
    }

    async fn admit(&self, attempt: &Attempt) -> Result<(), AuthError> {
        let window = self.config.login_window;
        let prune_due = {
            let mut last = self
                .throttle_pruned
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.elapsed() >= window;
            if due {
                *last = std::time::Instant::now();
            }
            due
        };
        if prune_due {
            let pruned = throttle::prune(&self.db, window).await?;
            tracing::debug!(pruned, "ended login throttle windows pruned");
        }
        match throttle::admit(&self.db, attempt, window).await? {
            Some(retry_after) => Err(AuthError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    /// Users for the admin list, newest first; `before` is the last id of the previous page.
    pub async fn list_users(
        &self,
        email_contains: Option<&str>,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<User>, AuthError> {
        let email = email_contains
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        let rows = store::list_users(&self.db, email.as_deref(), before, limit).await?;
        Ok(rows.into_iter().map(store::UserRow::into_user).collect())
    }

    /// Creates or promotes an owner (used by `tokoctl create-admin`, for the first one).
    pub async fn create_admin(&self, owner: Registration) -> Result<User, AuthError> {
        let hash = password::hash(owner.password).await?;
        Ok(
            store::upsert_admin(&self.db, owner.email.as_str(), &owner.name, &hash)
                .await?
                .into_user(),
        )
    }

    async fn start_family(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
    ) -> Result<TokenPair, AuthError> {
        self.issue_in_family(tx, user, Uuid::now_v7()).await
    }

    async fn issue_in_family(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        family_id: Uuid,
    ) -> Result<TokenPair, AuthError> {
        let refresh = tokens::new_refresh_token();
        let refresh_expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.refresh_token_ttl).unwrap_or_default();
        store::insert_refresh_token(
            &mut *tx,
            family_id,
            user.id,
            &refresh.hash,
            refresh_expires_at,
        )
        .await?;
        let IssuedAccessToken { token, expires_at } =
            self.access.issue(user.id, user.role, family_id);
        Ok(TokenPair {
            access_token: token,
            access_expires_at: expires_at,
            refresh_token: refresh.value,
            refresh_expires_at,
        })
    }
}
