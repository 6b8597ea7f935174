//! Payments through Midtrans Snap: starting a payment for an order, verified webhooks, the
//! core "reconcile order X with Midtrans" function (used by webhooks and the payment poller),
//! refunds and cancellations.
//!
//! `midtrans` is the client and wire format; `mapping` turns Midtrans states into ours;
//! `reconcile` applies them to orders (reversals and late payments included); `refunds` gives
//! money back, through Midtrans where the method allows it or recorded when staff did it;
//! `closing` makes cancelled and expired orders unpayable; `exceptions` lists what needs a
//! person; `audit` checks it for `tokoctl audit`; `store` holds the SQL.

pub mod audit;
pub mod closing;
pub mod exceptions;
pub mod mapping;
pub mod midtrans;
pub mod poller;
pub mod reconcile;
pub mod refunds;
mod settings;
pub mod store;

pub use self::settings::{MidtransConfig, MidtransEnv};

use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use self::{
    midtrans::{MidtransClient, MidtransError},
    store::PaymentRow,
};
use crate::{
    idempotency::IdempotencyKey,
    orders::{Order, OrderError, OrderId, OrderStatus, Orders, PaymentStarter, PaymentSummary},
    validation::ValidationErrors,
};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("order not found")]
    OrderNotFound,
    #[error("a refund of {amount} is over your role's limit of {limit} per refund; ask an administrator")]
    OverRefundLimit { amount: i64, limit: i64 },
    #[error("this order has no payment yet")]
    NoPayment,
    #[error("the order is {0}: it cannot be paid")]
    NotPayable(OrderStatus),
    #[error("the order is {0}: it cannot be refunded")]
    NotRefundable(OrderStatus),
    #[error("Midtrans cannot refund {method} payments: refund the customer outside Midtrans and record it with POST /api/v1/admin/orders/{{id}}/manual-refunds (with \"cancel_order\": true to cancel the order)")]
    GatewayRefundUnsupported { method: String },
    #[error("Midtrans cannot partly refund {method} payments: refund the whole unrefunded amount, or refund outside Midtrans and record it with POST /api/v1/admin/orders/{{id}}/manual-refunds")]
    PartialRefundUnsupported { method: String },
    #[error("another refund of this order is still waiting for Midtrans' answer; retry it with its Idempotency-Key, or wait (it is sent again automatically)")]
    RefundInProgress,
    #[error("payment exception not found")]
    ExceptionNotFound,
    #[error("the payment exception is already resolved")]
    ExceptionResolved,
    #[error("payments are not configured (MIDTRANS_SERVER_KEY is unset)")]
    NotConfigured,
    #[error("the notification signature is invalid")]
    InvalidSignature,
    #[error("the notification is malformed: {0}")]
    MalformedNotification(String),
    #[error("no payment with this order id")]
    UnknownOrder,
    #[error("the payment provider refused: {0}")]
    Provider(String),
    #[error("the payment provider is unavailable; try again later")]
    ProviderUnavailable,
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Fulfilment(#[from] crate::fulfilment::FulfilmentError),
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl From<MidtransError> for PaymentError {
    fn from(error: MidtransError) -> Self {
        match error {
            MidtransError::Unavailable(_) => PaymentError::ProviderUnavailable,
            MidtransError::Refused { message, .. } => PaymentError::Provider(message),
            MidtransError::Malformed(m) => {
                PaymentError::Provider(format!("unreadable answer: {m}"))
            }
        }
    }
}

/// The payment service.
#[derive(Clone)]
pub struct Payments {
    db: PgPool,
    client: Option<MidtransClient>,
    finish_url: Option<String>,
    /// Orders without a payment starter: payments move orders, they never start payments.
    orders: Orders,
}

impl Payments {
    pub fn new(db: PgPool, config: Option<MidtransConfig>, orders: Orders) -> Self {
        if config.is_none() {
            tracing::warn!(
                "MIDTRANS_SERVER_KEY is unset: orders will report payments as unavailable"
            );
        }
        Self {
            db,
            finish_url: config.as_ref().and_then(|c| c.finish_url.clone()),
            client: config.map(MidtransClient::new),
            orders,
        }
    }

    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    fn client(&self) -> Result<&MidtransClient, PaymentError> {
        self.client.as_ref().ok_or(PaymentError::NotConfigured)
    }

    /// The current payment of a customer's own order.
    pub async fn payment_of(
        &self,
        user_id: Uuid,
        order_id: OrderId,
    ) -> Result<PaymentSummary, PaymentError> {
        let order_id = order_id.as_uuid();
        let order = self
            .orders
            .customer_order(user_id, order_id.into())
            .await
            .map_err(not_found)?;
        let row = store::latest_for_order(&self.db, order.id.into())
            .await?
            .ok_or(PaymentError::NoPayment)?;
        Ok(summary(&row))
    }

    /// (Re)starts the payment of a customer's unpaid order: reuses the live Snap session while
    /// it is valid, else opens a new one. Idempotent by itself; with an idempotency key the
    /// first answer is also replayed for 24 hours.
    pub async fn pay(
        &self,
        user_id: Uuid,
        order_id: OrderId,
        key: Option<&IdempotencyKey>,
    ) -> Result<PaymentSummary, PaymentError> {
        let order_id = order_id.as_uuid();
        match key {
            Some(key) => {
                key.run_once(&self.db, || self.pay_once(user_id, order_id))
                    .await
            }
            None => self.pay_once(user_id, order_id).await,
        }
    }

    async fn pay_once(
        &self,
        user_id: Uuid,
        order_id: Uuid,
    ) -> Result<PaymentSummary, PaymentError> {
        let order = self
            .orders
            .customer_order(user_id, order_id.into())
            .await
            .map_err(not_found)?;
        if order.status != OrderStatus::PendingPayment {
            return Err(PaymentError::NotPayable(order.status));
        }
        self.client()?;
        self.start(&order).await
    }

    /// Starts (or reuses) the Snap session of an unpaid order.
    async fn start(&self, order: &Order) -> Result<PaymentSummary, PaymentError> {
        let client = self.client()?;
        // A fresh session needs a fresh Midtrans order id; two attempts cover a first
        // session whose answer was lost (Midtrans then says the id is taken).
        for _ in 0..2 {
            if let Some(live) = store::latest_for_order(&self.db, order.id.into())
                .await?
                .filter(is_live)
            {
                let usable =
                    live.snap_token.is_some() && live.expires_at.is_some_and(|t| t > Utc::now());
                // Another request is creating the session right now (it has not failed yet).
                let in_flight = live.snap_token.is_none()
                    && live.last_error.is_none()
                    && (Utc::now() - live.created_at).num_seconds() < 30;
                if usable || live.status == "challenge" || in_flight {
                    return Ok(summary(&live));
                }
                store::retire(&self.db, live.payment_id, "failed").await?;
            }
            let sessions = store::session_count(&self.db, order.id.into()).await?;
            let provider_order_id = match sessions {
                0 => order.number.to_string(),
                n => format!("{}-{}", order.number, n + 1),
            };
            let Some(row) = store::open_live(
                &self.db,
                order.id.into(),
                &provider_order_id,
                order.grand_total,
                &order.currency,
            )
            .await?
            else {
                continue; // a concurrent request opened the live session; report it
            };
            let body =
                midtrans::snap::request(order, &provider_order_id, self.finish_url.as_deref());
            match client.create_snap(&body).await {
                Ok(snap) => {
                    store::record_snap(
                        &self.db,
                        row.payment_id,
                        &snap.token,
                        &snap.redirect_url,
                        order.payment_due_at,
                    )
                    .await?;
                    tracing::info!(order.id = %order.id, payment.provider_order_id = %provider_order_id, "snap transaction created");
                    return Ok(PaymentSummary {
                        status: "pending".into(),
                        snap_token: Some(snap.token),
                        redirect_url: Some(snap.redirect_url),
                        expires_at: Some(order.payment_due_at),
                    });
                }
                Err(MidtransError::Refused { code: 400, message })
                    if message.contains("sudah digunakan")
                        || message.contains("already been taken") =>
                {
                    store::retire(&self.db, row.payment_id, "failed").await?;
                }
                Err(error) => {
                    tracing::warn!(order.id = %order.id, error = %error, "could not create the snap transaction");
                    store::record_error(&self.db, row.payment_id, &error.to_string()).await?;
                    return Ok(PaymentSummary {
                        status: "unavailable".into(),
                        snap_token: None,
                        redirect_url: None,
                        expires_at: None,
                    });
                }
            }
        }
        Err(PaymentError::ProviderUnavailable)
    }
}

#[async_trait::async_trait]
impl PaymentStarter for Payments {
    async fn close_payment(&self, order: &Order) {
        closing::close_quietly(self, order).await
    }

    /// Checkout never fails because of Midtrans: any problem reports the payment unavailable.
    async fn start_payment(&self, order: &Order) -> PaymentSummary {
        match self.start(order).await {
            Ok(summary) => summary,
            Err(error) => {
                if !matches!(error, PaymentError::NotConfigured) {
                    tracing::warn!(order.id = %order.id, error = %error, "payment could not be started");
                }
                PaymentSummary {
                    status: "unavailable".into(),
                    snap_token: None,
                    redirect_url: None,
                    expires_at: None,
                }
            }
        }
    }
}

fn is_live(row: &PaymentRow) -> bool {
    matches!(row.status.as_str(), "unavailable" | "pending" | "challenge")
}

pub(crate) fn summary(row: &PaymentRow) -> PaymentSummary {
    PaymentSummary {
        status: row.status.clone(),
        snap_token: row.snap_token.clone(),
        redirect_url: row.redirect_url.clone(),
        expires_at: row.expires_at,
    }
}

fn not_found(error: OrderError) -> PaymentError {
    match error {
        OrderError::NotFound => PaymentError::OrderNotFound,
        other => PaymentError::Order(other),
    }
}
