//! The simulator's memory and operations: Snap orders, their payment attempts, and the
//! notification emitted for every status change.
//!
//! Every operation takes the store lock, applies a [`crate::state`] move, records the resulting
//! notification body and queues it before releasing the lock, so notifications are queued in
//! exactly the order the changes happened. HTTP handlers (Snap, Core API, control API) and Rust
//! callers (through [`crate::SimHandle::simulator`]) all go through these methods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::config::SimConfig;
use crate::notify::{DeliveryAttempt, NotificationTargets, Notifier};
use crate::record::{RecordContext, StatusRecord};
use crate::requests::ApiRequest;
use crate::snap::{SnapCancelError, SnapCreated, SnapRequest};
use crate::state::{FraudStatus, RefundRequest, Rejection, Transaction, TransactionStatus};
use crate::wib::{self, Timestamp};

/// Why an operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Snap: the order_id is taken and was not freed by a cancelled/expired pending payment.
    #[error("order_id is already used")]
    DuplicateOrderId,
    /// No Snap order with this order_id.
    #[error("no Snap transaction with order_id {0}")]
    UnknownOrder(String),
    /// No Core API transaction for this id (unknown, or no payment method chosen yet).
    #[error("Transaction doesn't exist.")]
    NoTransaction,
    /// The state machine refused the move.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// A control request that makes no sense in the current state (e.g. paying twice).
    #[error("{0}")]
    Conflict(String),
    /// A malformed request.
    #[error("{0}")]
    Invalid(String),
}

/// A status change the simulator can apply to an existing transaction.
#[derive(Debug, Clone)]
pub enum Action {
    /// Core API `/cancel` (also a simulator trigger).
    Cancel,
    /// Core API `/expire`, the simulator trigger, and the deadline passing.
    Expire,
    /// Core API `/approve`.
    Approve,
    /// Core API `/deny`: reject a challenged capture.
    DenyChallenge,
    /// Core API `/refund` (also a simulator trigger, like a dashboard refund).
    Refund(RefundRequest),
    /// Simulator: funds arrived (pending or accepted capture → settlement).
    Settle,
    /// Simulator: the bank or FDS rejects (pending, challenged capture, or settlement reversal).
    DenyByProvider,
}

impl Action {
    /// `status_code` and `status_message` of the Core API answer; `None` for simulator-only
    /// moves, which answer with the status-query view.
    fn core_response(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Cancel => Some(("200", "Success, transaction is canceled")),
            Self::Expire => Some(("407", "Success, transaction has expired")),
            Self::Approve => Some(("200", "Success, transaction is approved")),
            Self::DenyChallenge => Some(("200", "Success, transaction is denied")),
            Self::Refund(_) => Some(("200", "Success, refund request is approved")),
            Self::Settle | Self::DenyByProvider => None,
        }
    }
}

/// Where a "chosen" payment ends up (`/_sim/transactions/{order_id}/pay`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayOutcome {
    #[default]
    Settlement,
    CaptureAccept,
    CaptureChallenge,
    Deny,
    Pending,
}

/// The customer picking a method on the Snap page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Core `payment_type`. Default: `credit_card` for capture outcomes, else `bank_transfer`.
    #[serde(default)]
    pub payment_type: Option<String>,
    #[serde(default)]
    pub outcome: PayOutcome,
}

/// Everything the simulator knows about one Snap order (the control API's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub token: String,
    pub redirect_url: String,
    pub gross_amount: i64,
    pub created_at: String,
    pub finish_url: Option<String>,
    /// True for an order whose order_id was reused by a newer Snap request.
    pub superseded: bool,
    /// When the merchant closed the Snap session (`POST /snap/v1/transactions/{token}/cancel`).
    #[serde(default)]
    pub snap_canceled_at: Option<String>,
    /// The Snap request body as received.
    pub snap_request: Value,
    pub notification_targets: NotificationTargets,
    /// The current transaction as GET status shows it; `None` until a method is chosen.
    pub transaction: Option<StatusRecord>,
    /// Earlier (denied) payment attempts on the same Snap order.
    pub earlier_transactions: Vec<StatusRecord>,
    /// Every notification body emitted for this order, oldest first.
    pub notifications: Vec<StatusRecord>,
    /// Every HTTP request made to deliver them.
    pub delivery_attempts: Vec<DeliveryAttempt>,
}

struct Order {
    request: SnapRequest,
    raw_request: Value,
    targets: NotificationTargets,
    token: String,
    created_at: Timestamp,
    /// Payment attempts, oldest first; the last is the current transaction.
    attempts: Vec<Transaction>,
    notifications: Vec<StatusRecord>,
    superseded: bool,
    snap_canceled_at: Option<Timestamp>,
}

/// Position of a transaction in the store.
#[derive(Debug, Clone, Copy)]
struct Loc {
    order: usize,
    attempt: usize,
}

#[derive(Default)]
struct Store {
    /// Every order ever created, including superseded ones (their transactions stay queryable
    /// by transaction_id, as on Midtrans).
    orders: Vec<Order>,
    /// order_id → index of the order that currently owns it.
    active: HashMap<String, usize>,
    last_refund_id: u64,
}

impl Store {
    fn active_order(&self, order_id: &str) -> Result<usize, SimError> {
        self.active
            .get(order_id)
            .copied()
            .ok_or_else(|| SimError::UnknownOrder(order_id.to_owned()))
    }

    /// Finds a transaction by order_id (its current attempt) or by transaction_id.
    fn locate(&self, id: &str) -> Option<Loc> {
        if let Some(&order) = self.active.get(id) {
            if let Some(attempt) = self.orders[order].attempts.len().checked_sub(1) {
                return Some(Loc { order, attempt });
            }
        }
        let transaction_id = Uuid::parse_str(id).ok()?;
        self.orders.iter().enumerate().find_map(|(order, entry)| {
            entry
                .attempts
                .iter()
                .position(|txn| txn.transaction_id == transaction_id)
                .map(|attempt| Loc { order, attempt })
        })
    }
}

/// The simulator: configuration, store and notifier.
///
/// Its methods queue notifications with `tokio::spawn`, so call them from within a Tokio runtime
/// (any `#[tokio::test]` or handler is).
pub struct Simulator {
    config: SimConfig,
    public_url: String,
    store: Mutex<Store>,
    notifier: Arc<Notifier>,
    requests: Mutex<Vec<ApiRequest>>,
}

impl Simulator {
    pub(crate) fn new(config: SimConfig, public_url: String, notifier: Arc<Notifier>) -> Self {
        Self {
            config,
            public_url,
            store: Mutex::new(Store::default()),
            notifier,
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The server key clients must present.
    pub(crate) fn server_key(&self) -> &str {
        &self.config.server_key
    }

    /// Base URL used in Snap `redirect_url`s.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Notification sending, pausing and the delivery log.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub(crate) fn log_request(&self, request: ApiRequest) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    /// Every Snap and Core API request received, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // Operations validate before they mutate, so a poisoned store is still consistent.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ctx<'a>(&'a self, order: &'a Order) -> RecordContext<'a> {
        RecordContext {
            order_id: &order.request.order_id,
            merchant_id: &self.config.merchant_id,
            server_key: &self.config.server_key,
            custom_fields: &order.request.custom_fields,
        }
    }

    /// Records and queues the notification for the current state of one attempt.
    fn emit(&self, order: &mut Order, attempt: usize) {
        let record = StatusRecord::for_notification(self.ctx(order), &order.attempts[attempt]);
        tracing::info!(
            order.id = %record.order_id,
            transaction.id = %record.transaction_id,
            transaction.status = record.transaction_status.as_str(),
            "transaction status changed"
        );
        self.send(order, record);
    }

    fn send(&self, order: &mut Order, record: StatusRecord) {
        self.notifier.enqueue(&record, &order.targets);
        order.notifications.push(record);
    }

    /// Snap create. The order_id must be unused, or freed by a cancelled/expired pending payment.
    pub fn create_snap(
        &self,
        request: SnapRequest,
        raw_request: Value,
        targets: NotificationTargets,
    ) -> Result<SnapCreated, SimError> {
        let mut store = self.lock();
        if let Some(&existing) = store.active.get(&request.order_id) {
            let order = &mut store.orders[existing];
            let freed = order.attempts.last().is_some_and(|txn| txn.frees_order_id);
            if !freed {
                return Err(SimError::DuplicateOrderId);
            }
            order.superseded = true;
        }
        let token = Uuid::new_v4().to_string();
        let created = SnapCreated {
            redirect_url: self.redirect_url(&token),
            token: token.clone(),
        };
        tracing::info!(order.id = %request.order_id, "snap transaction created");
        let order_id = request.order_id.clone();
        store.orders.push(Order {
            request,
            raw_request,
            targets,
            token,
            created_at: wib::now(),
            attempts: Vec::new(),
            notifications: Vec::new(),
            superseded: false,
            snap_canceled_at: None,
        });
        let index = store.orders.len() - 1;
        store.active.insert(order_id, index);
        Ok(created)
    }

    fn redirect_url(&self, token: &str) -> String {
        format!("{}/snap/v3/redirection/{token}", self.public_url)
    }

    /// GET status by order_id or transaction_id.
    pub fn status(&self, id: &str) -> Result<StatusRecord, SimError> {
        let store = self.lock();
        let loc = store.locate(id).ok_or(SimError::NoTransaction)?;
        let order = &store.orders[loc.order];
        Ok(StatusRecord::for_status_query(
            self.ctx(order),
            &order.attempts[loc.attempt],
        ))
    }

    /// Applies `action` to the transaction `id` (order_id or transaction_id), notifies, and
    /// returns the answer body (the Core API's for merchant actions).
    pub fn apply(&self, id: &str, action: Action) -> Result<StatusRecord, SimError> {
        let now = wib::now();
        let mut store = self.lock();
        let loc = store.locate(id).ok_or(SimError::NoTransaction)?;
        let refund_id = store.last_refund_id + 1;
        let order = &mut store.orders[loc.order];
        let txn = &mut order.attempts[loc.attempt];
        let mut answered_refund = None;
        let mut changed = true;
        match &action {
            Action::Cancel => txn.cancel()?,
            Action::Expire => txn.expire()?,
            Action::Approve => txn.approve()?,
            Action::DenyChallenge => txn.deny_challenge()?,
            Action::Settle => txn.settle(now)?,
            Action::DenyByProvider => txn.deny_by_provider()?,
            Action::Refund(request) => {
                let (refund, new) = txn.refund(request.clone(), refund_id, now)?;
                answered_refund = Some((refund.refund_chargeback_id, refund.refund_key.clone()));
                // A retried refund key: the same refund again, nothing new to notify.
                changed = new;
            }
        }
        if changed {
            self.emit(order, loc.attempt);
        }
        if answered_refund.is_some() && changed {
            store.last_refund_id = refund_id;
            let order = &mut store.orders[loc.order];
            // Midtrans sends a second notification once the bank confirms (midtrans.md §4).
            if order.attempts[loc.attempt].confirm_refunds(now) {
                self.emit(order, loc.attempt);
            }
        }
        let order = &store.orders[loc.order];
        let txn = &order.attempts[loc.attempt];
        let mut answer = match action.core_response() {
            Some((code, message)) => StatusRecord::build(self.ctx(order), txn, code, message),
            None => StatusRecord::for_status_query(self.ctx(order), txn),
        };
        if let Some((refund_chargeback_id, refund_key)) = answered_refund {
            answer.refund_chargeback_id = Some(refund_chargeback_id);
            answer.refund_key = refund_key;
            // The answer to a refund carries no `refunds[]`: those come with the bank's
            // confirmation, in the later notification (midtrans.md §4).
            answer.refunds = None;
        }
        Ok(answer)
    }

    /// The customer chooses a method: creates the Core transaction (`pending`, notified), then
    /// moves it to `payment.outcome` (notified again unless the outcome is `pending`).
    pub fn pay(&self, order_id: &str, payment: Payment) -> Result<OrderView, SimError> {
        let now = wib::now();
        let mut store = self.lock();
        let index = store.active_order(order_id)?;
        let order = &mut store.orders[index];
        if order.snap_canceled_at.is_some() {
            return Err(SimError::Conflict(
                "the merchant canceled this Snap session: it can no longer be paid".into(),
            ));
        }
        if let Some(current) = order.attempts.last() {
            if !current.allows_new_attempt() {
                return Err(SimError::Conflict(format!(
                    "a payment method was already chosen (transaction is {}); use settle, expire, cancel, deny or refund",
                    current.status.as_str()
                )));
            }
        }
        let is_capture = matches!(
            payment.outcome,
            PayOutcome::CaptureAccept | PayOutcome::CaptureChallenge
        );
        let payment_type = match payment.payment_type.as_deref().map(str::trim) {
            None | Some("") if is_capture => "credit_card".to_owned(),
            None | Some("") => "bank_transfer".to_owned(),
            Some(kind) => kind.to_owned(),
        };
        if is_capture && payment_type != "credit_card" {
            return Err(SimError::Invalid(format!(
                "outcome {:?} needs payment_type credit_card, not {payment_type}",
                payment.outcome
            )));
        }
        if !order.request.offers(&payment_type) {
            return Err(SimError::Conflict(format!(
                "{payment_type} is not in this transaction's enabled_payments"
            )));
        }
        let deadline = order.request.deadline(now);
        if deadline <= now {
            return Err(SimError::Conflict(format!(
                "the payment deadline ({}) has passed",
                wib::format(&deadline)
            )));
        }
        let txn = Transaction::new(
            payment_type,
            order.request.gross_amount,
            now,
            Some(deadline),
        );
        order.attempts.push(txn);
        let attempt = order.attempts.len() - 1;
        self.emit(order, attempt);
        let txn = &mut order.attempts[attempt];
        let moved = match payment.outcome {
            PayOutcome::Pending => None,
            PayOutcome::Settlement => Some(txn.settle(now)),
            PayOutcome::CaptureAccept => Some(txn.capture(FraudStatus::Accept)),
            PayOutcome::CaptureChallenge => Some(txn.capture(FraudStatus::Challenge)),
            PayOutcome::Deny => Some(txn.deny_by_provider()),
        };
        if let Some(result) = moved {
            result?;
            self.emit(order, attempt);
        }
        Ok(self.view(order))
    }

    /// Re-sends a notification: the current state (`status: None`, a duplicate) or the latest
    /// earlier body with that `transaction_status` (a stale, out-of-order one, still validly
    /// signed because it is the body that was sent back then).
    pub fn renotify(
        &self,
        order_id: &str,
        status: Option<TransactionStatus>,
    ) -> Result<StatusRecord, SimError> {
        let mut store = self.lock();
        let index = store.active_order(order_id)?;
        let order = &mut store.orders[index];
        let attempt = order
            .attempts
            .len()
            .checked_sub(1)
            .ok_or(SimError::NoTransaction)?;
        let record = match status {
            None => StatusRecord::for_notification(self.ctx(order), &order.attempts[attempt]),
            Some(status) => order
                .notifications
                .iter()
                .rev()
                .find(|record| record.transaction_status == status)
                .cloned()
                .ok_or_else(|| {
                    SimError::Conflict(format!(
                        "no earlier notification with transaction_status {}",
                        status.as_str()
                    ))
                })?,
        };
        self.send(order, record.clone());
        Ok(record)
    }

    /// Expires every pending transaction whose deadline has passed; returns how many.
    pub fn expire_overdue(&self, now: Timestamp) -> usize {
        let mut store = self.lock();
        let Store { orders, active, .. } = &mut *store;
        let mut expired = 0;
        for &index in active.values() {
            let order = &mut orders[index];
            let Some(attempt) = order.attempts.len().checked_sub(1) else {
                continue;
            };
            let txn = &mut order.attempts[attempt];
            let overdue = txn.expiry_time.is_some_and(|deadline| deadline <= now);
            if overdue && txn.expire().is_ok() {
                self.emit(order, attempt);
                expired += 1;
            }
        }
        expired
    }

    /// The current order with this order_id.
    pub fn order(&self, order_id: &str) -> Result<OrderView, SimError> {
        let store = self.lock();
        let index = store.active_order(order_id)?;
        Ok(self.view(&store.orders[index]))
    }

    /// The order a Snap token belongs to.
    /// Closes a Snap session before any payment method was chosen; returns `canceled_at`
    /// (ISO 8601, UTC, as in the docs' sample).
    pub fn cancel_snap(&self, token: &str) -> Result<String, SnapCancelError> {
        let mut store = self.lock();
        let order = store
            .orders
            .iter_mut()
            .find(|order| order.token == token)
            .ok_or(SnapCancelError::NotFound)?;
        if order.snap_canceled_at.is_some() {
            return Err(SnapCancelError::AlreadyCanceled);
        }
        if !order.attempts.is_empty() {
            return Err(SnapCancelError::InProgress);
        }
        let now = wib::now();
        order.snap_canceled_at = Some(now);
        tracing::info!(order.id = %order.request.order_id, "snap session canceled");
        Ok(now
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    /// GET status/b2b: every transaction of the order (all payment attempts), oldest first.
    pub fn status_b2b(&self, id: &str) -> Result<Vec<StatusRecord>, SimError> {
        let store = self.lock();
        let loc = store.locate(id).ok_or(SimError::NoTransaction)?;
        let order = &store.orders[loc.order];
        Ok(order
            .attempts
            .iter()
            .map(|txn| StatusRecord::for_status_query(self.ctx(order), txn))
            .collect())
    }

    pub fn order_by_token(&self, token: &str) -> Option<OrderView> {
        let store = self.lock();
        let order = store.orders.iter().find(|order| order.token == token)?;
        Some(self.view(order))
    }

    /// Every order, oldest first, including superseded ones.
    pub fn orders(&self) -> Vec<OrderView> {
        let store = self.lock();
        store.orders.iter().map(|order| self.view(order)).collect()
    }

    /// Forgets all orders, the delivery log and pending retries; un-pauses notifications.
    pub fn reset(&self) {
        let mut store = self.lock();
        *store = Store::default();
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.notifier.reset();
        tracing::info!("simulator state reset");
    }

    fn view(&self, order: &Order) -> OrderView {
        let ctx = self.ctx(order);
        let (current, earlier) = match order.attempts.split_last() {
            Some((current, earlier)) => (Some(current), earlier),
            None => (None, &[][..]),
        };
        let transaction_ids: Vec<String> = order
            .attempts
            .iter()
            .map(|txn| txn.transaction_id.to_string())
            .collect();
        OrderView {
            order_id: order.request.order_id.clone(),
            token: order.token.clone(),
            redirect_url: self.redirect_url(&order.token),
            gross_amount: order.request.gross_amount,
            created_at: wib::format(&order.created_at),
            finish_url: order.request.finish_url.clone(),
            superseded: order.superseded,
            snap_canceled_at: order.snap_canceled_at.as_ref().map(wib::format),
            snap_request: order.raw_request.clone(),
            notification_targets: order.targets.clone(),
            transaction: current.map(|txn| StatusRecord::for_status_query(ctx, txn)),
            earlier_transactions: earlier
                .iter()
                .map(|txn| StatusRecord::for_status_query(ctx, txn))
                .collect(),
            notifications: order.notifications.clone(),
            delivery_attempts: self.notifier.attempts_for(&transaction_ids),
        }
    }
}
