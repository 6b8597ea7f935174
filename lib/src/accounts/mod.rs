//! A customer's personal data as a whole: the copy they may download and the deletion they
//! may ask for (Indonesia's personal data protection law, UU PDP 27/2022, grants both).
//!
//! Deletion happens at once, in one transaction, each module emptying what it owns: the
//! account keeps its row (orders, refunds and redemptions point at it) without email, name or
//! password; orders keep their amounts, lines and the region they shipped to for accounting
//! but lose the name, email, phone, street and note; returns lose what the customer wrote;
//! the address book, carts, pending links and stored checkout responses go; every session
//! ends; `user.deleted` tells other systems to forget the customer too. While an order is
//! still on its way, or a return under way, deletion is refused: those need the address.
//!
//! Copies outside these rows remain: published outbox events until `OUTBOX_RETENTION`, the
//! bodies of outbound webhook deliveries already made (what the shop's own systems received;
//! `user.deleted` tells them to forget), and payment notifications as Midtrans sent them
//! (payment records, kept for `PAYMENT_NOTIFICATION_RETENTION`).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    addresses::{self, SavedAddress},
    auth::{self, AuthError, AuthService, Role, User, UserDeleted},
    cart,
    events::Event,
    idempotency, orders,
    orders::Order,
    outbox, returns,
    returns::Return,
};

/// Everything toko holds about a customer, as they may download it.
#[derive(Debug)]
pub struct AccountExport {
    pub exported_at: DateTime<Utc>,
    pub user: User,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub addresses: Vec<SavedAddress>,
    pub orders: Vec<Order>,
    pub returns: Vec<Return>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("orders still on their way ({}): the account can be deleted once they are delivered or cancelled", .0.join(", "))]
    OrdersOpen(Vec<String>),
    #[error("{0} returns are still under way: the account can be deleted once they are closed")]
    ReturnsOpen(i64),
    #[error("staff accounts are not deleted this way")]
    StaffAccount,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The account data service.
#[derive(Clone)]
pub struct Accounts {
    db: PgPool,
    auth: AuthService,
}

impl Accounts {
    pub fn new(db: PgPool, auth: AuthService) -> Self {
        Self { db, auth }
    }

    /// The customer's data: account, address book, orders and returns (as the customer sees
    /// them through the API).
    pub async fn export(&self, user_id: Uuid) -> Result<AccountExport, AccountError> {
        let user = self.auth.me(user_id).await?;
        let verification = self.auth.verification_status(user_id).await?;
        let addresses = addresses::of_customer(&self.db, user_id).await?;
        let orders = orders::of_customer(&self.db, user_id).await?;
        let mut conn = self.db.acquire().await?;
        let returns = returns::of_customer(&mut conn, user_id).await?;
        Ok(AccountExport {
            exported_at: Utc::now(),
            user,
            email_verified_at: verification.verified_at,
            addresses,
            orders,
            returns,
        })
    }

    /// Deletes the signed-in customer's account after checking their password again (see the
    /// module docs for what stays).
    pub async fn delete(
        &self,
        user_id: Uuid,
        current_password: String,
        client_ip: Option<IpAddr>,
    ) -> Result<(), AccountError> {
        self.auth
            .confirm_password(user_id, current_password, client_ip)
            .await?;
        let mut tx = self.db.begin().await?;
        // Checkout takes a key share lock on the account: an order is either placed before
        // this lock (and counted as open below) or refused after the commit.
        let role = auth::store::lock_for_deletion(&mut tx, user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if Role::from_db(&role) != Role::Customer {
            return Err(AccountError::StaffAccount);
        }
        let open = orders::open_order_numbers(&mut tx, user_id).await?;
        if !open.is_empty() {
            return Err(AccountError::OrdersOpen(open));
        }
        let returns_open = returns::open_count(&mut tx, user_id).await?;
        if returns_open > 0 {
            return Err(AccountError::ReturnsOpen(returns_open));
        }
        let anonymised = orders::anonymise_customer(&mut tx, user_id).await?;
        returns::anonymise_customer(&mut tx, user_id).await?;
        addresses::forget_customer(&mut tx, user_id).await?;
        cart::forget_customer(&mut tx, user_id).await?;
        for scope in ["checkout", "payment"] {
            idempotency::forget_scope(&mut tx, &format!("{scope}:{user_id}")).await?;
        }
        auth::store::erase(&mut tx, user_id).await?;
        let deleted = UserDeleted {
            user_id,
            deleted_at: Utc::now(),
        };
        outbox::enqueue(&mut tx, Event::UserDeleted(deleted)).await?;
        tx.commit().await?;
        self.auth.forget_sessions(user_id);
        tracing::info!(user.id = %user_id, orders.anonymised = anonymised, "account deleted");
        Ok(())
    }
}
