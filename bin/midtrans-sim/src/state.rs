//! The transaction state machine: every status change the simulator can make, and the rules that
//! refuse the others (midtrans.md §4 and §6).
//!
//! This is the only place that decides whether a move is allowed. The HTTP layers (Core API for
//! the merchant, `/_sim` for tests) call these methods and only translate the result, so the
//! Core API's 412/406/414 answers and the simulator's own triggers can never drift apart.
//!
//! Two kinds of moves exist, and the split is deliberate:
//! - merchant moves, reachable through the Core API: [`Transaction::cancel`],
//!   [`Transaction::expire`], [`Transaction::approve`], [`Transaction::deny_challenge`],
//!   [`Transaction::refund`];
//! - provider moves, which only Midtrans itself (or the bank, or the FDS) makes and which the
//!   simulator exposes as test triggers: [`Transaction::capture`], [`Transaction::settle`],
//!   [`Transaction::deny_by_provider`], [`Transaction::confirm_refunds`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::wib::Timestamp;

/// `transaction_status` values the simulator produces (midtrans.md §6). `authorize`, `failure` and
/// chargebacks are not reachable through Snap without extra features, so they are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    Pending,
    Capture,
    Settlement,
    Deny,
    Cancel,
    Expire,
    Refund,
    PartialRefund,
}

impl TransactionStatus {
    /// The wire spelling, e.g. `partial_refund`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Capture => "capture",
            Self::Settlement => "settlement",
            Self::Deny => "deny",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
            Self::Refund => "refund",
            Self::PartialRefund => "partial_refund",
        }
    }
}

/// `fraud_status` values (midtrans.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudStatus {
    Accept,
    Challenge,
    Deny,
}

/// Why a move was refused. Each maps to the Midtrans Core API `status_code` a merchant would get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 412: the current status does not allow this move.
    #[error("Merchant cannot modify the status of the transaction")]
    NotModifiable,
    /// 406: a refund with this `refund_key` was already made on the transaction.
    #[error("Duplicate refund ID")]
    DuplicateRefundKey,
    /// 414: the amount is not positive, not an integer, or more than what is left to refund.
    #[error("Refund amount is invalid")]
    InvalidRefundAmount,
    /// 412: Midtrans' refund API does not cover this payment type (virtual accounts, Mandiri
    /// bill, store payments: refunded outside Midtrans). The code is our choice; the rule is
    /// confirmed (midtrans.md §4).
    #[error("Refund is not available for this payment type; refund the customer outside Midtrans")]
    RefundNotSupported,
    /// 414: ShopeePay and OVO are refunded only in full.
    #[error("Partial refund is not available for this payment type")]
    PartialRefundNotSupported,
}

/// Payment types Midtrans' refund API accepts (midtrans.md §4).
pub const REFUNDABLE_PAYMENT_TYPES: [&str; 8] = [
    "credit_card",
    "gopay",
    "shopeepay",
    "dana",
    "ovo",
    "qris",
    "kredivo",
    "akulaku",
];

/// Payment types refunded only in full.
pub const FULL_REFUND_ONLY: [&str; 2] = ["shopeepay", "ovo"];

/// How long a refund_key identifies one refund: reusing it within this window is a retry.
const REFUND_KEY_RETRY_DAYS: i64 = 7;

impl Rejection {
    /// The Midtrans `status_code` for this refusal (a number; the body carries it as a string).
    pub fn status_code(self) -> u16 {
        match self {
            Self::NotModifiable => 412,
            Self::DuplicateRefundKey => 406,
            Self::InvalidRefundAmount => 414,
            Self::RefundNotSupported => 412,
            Self::PartialRefundNotSupported => 414,
        }
    }
}

/// One refund made on a transaction.
#[derive(Debug, Clone)]
pub struct Refund {
    pub refund_chargeback_id: u64,
    pub amount: i64,
    pub refund_key: Option<String>,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    /// Set by the second notification of a refund (midtrans.md §4: "the later one has
    /// `refunds[].bank_confirmed_at`").
    pub bank_confirmed_at: Option<Timestamp>,
}

/// What the merchant (or a test) asks to refund. Parsing of the wire body happens in the HTTP
/// layer; an amount that is not an integer never gets here (it is a 414 there).
#[derive(Debug, Clone, Default)]
pub struct RefundRequest {
    pub refund_key: Option<String>,
    /// `None` refunds everything that is left.
    pub amount: Option<i64>,
    pub reason: Option<String>,
}

/// A Core API transaction: created when the customer picks a payment method on the Snap page.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub transaction_id: Uuid,
    pub payment_type: String,
    pub gross_amount: i64,
    pub status: TransactionStatus,
    pub fraud_status: Option<FraudStatus>,
    pub transaction_time: Timestamp,
    pub settlement_time: Option<Timestamp>,
    pub expiry_time: Option<Timestamp>,
    pub refunds: Vec<Refund>,
    /// Set when a *pending* transaction is cancelled or expired: only then may the order_id be
    /// used again for a new Snap transaction (midtrans.md §4).
    pub frees_order_id: bool,
}

impl Transaction {
    /// A freshly chosen payment: `pending`, fraud check passed (as in the §5 example).
    pub fn new(
        payment_type: impl Into<String>,
        gross_amount: i64,
        now: Timestamp,
        expiry_time: Option<Timestamp>,
    ) -> Self {
        Self {
            transaction_id: Uuid::new_v4(),
            payment_type: payment_type.into(),
            gross_amount,
            status: TransactionStatus::Pending,
            fraud_status: Some(FraudStatus::Accept),
            transaction_time: now,
            settlement_time: None,
            expiry_time,
            refunds: Vec::new(),
            frees_order_id: false,
        }
    }

    /// Whether the same Snap order may start another payment attempt: after a deny the customer
    /// can try again (midtrans.md §6, Node README note).
    pub fn allows_new_attempt(&self) -> bool {
        self.status == TransactionStatus::Deny
    }

    /// Sum of all refunds so far.
    pub fn refunded_amount(&self) -> i64 {
        self.refunds.iter().map(|refund| refund.amount).sum()
    }

    fn is_challenged_capture(&self) -> bool {
        self.status == TransactionStatus::Capture
            && self.fraud_status == Some(FraudStatus::Challenge)
    }

    // ----- merchant moves (Core API) -----

    /// `POST /v2/{id}/cancel`: only before settlement (pending or capture).
    pub fn cancel(&mut self) -> Result<(), Rejection> {
        match self.status {
            TransactionStatus::Pending => self.frees_order_id = true,
            TransactionStatus::Capture => {}
            _ => return Err(Rejection::NotModifiable),
        }
        self.status = TransactionStatus::Cancel;
        Ok(())
    }

    /// `POST /v2/{id}/expire`, and the payment deadline passing: only while pending.
    pub fn expire(&mut self) -> Result<(), Rejection> {
        if self.status != TransactionStatus::Pending {
            return Err(Rejection::NotModifiable);
        }
        self.status = TransactionStatus::Expire;
        self.frees_order_id = true;
        Ok(())
    }

    /// `POST /v2/{id}/approve`: accept a card payment the FDS challenged.
    pub fn approve(&mut self) -> Result<(), Rejection> {
        if !self.is_challenged_capture() {
            return Err(Rejection::NotModifiable);
        }
        self.fraud_status = Some(FraudStatus::Accept);
        Ok(())
    }

    /// `POST /v2/{id}/deny`: reject a card payment the FDS challenged.
    pub fn deny_challenge(&mut self) -> Result<(), Rejection> {
        if !self.is_challenged_capture() {
            return Err(Rejection::NotModifiable);
        }
        self.status = TransactionStatus::Deny;
        self.fraud_status = Some(FraudStatus::Deny);
        Ok(())
    }

    /// `POST /v2/{id}/refund`. The refund key is checked first: a key reused within 7 days
    /// for the same amount is a retry of that refund (answered again, nothing new happens;
    /// the second value is `false`); reused for another amount, or later, it is a 406.
    pub fn refund(
        &mut self,
        request: RefundRequest,
        refund_chargeback_id: u64,
        now: Timestamp,
    ) -> Result<(&Refund, bool), Rejection> {
        if let Some(key) = &request.refund_key {
            if let Some(index) = self
                .refunds
                .iter()
                .position(|refund| refund.refund_key.as_deref() == Some(key))
            {
                let earlier = &self.refunds[index];
                let same_amount = request.amount.is_none_or(|amount| amount == earlier.amount);
                let recent =
                    now - earlier.created_at <= chrono::Duration::days(REFUND_KEY_RETRY_DAYS);
                if same_amount && recent {
                    return Ok((&self.refunds[index], false));
                }
                return Err(Rejection::DuplicateRefundKey);
            }
        }
        if !REFUNDABLE_PAYMENT_TYPES.contains(&self.payment_type.as_str()) {
            return Err(Rejection::RefundNotSupported);
        }
        if !matches!(
            self.status,
            TransactionStatus::Settlement | TransactionStatus::PartialRefund
        ) {
            return Err(Rejection::NotModifiable);
        }
        let remaining = self.gross_amount - self.refunded_amount();
        let amount = request.amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(Rejection::InvalidRefundAmount);
        }
        if amount != remaining && FULL_REFUND_ONLY.contains(&self.payment_type.as_str()) {
            return Err(Rejection::PartialRefundNotSupported);
        }
        self.status = if amount == remaining {
            TransactionStatus::Refund
        } else {
            TransactionStatus::PartialRefund
        };
        self.refunds.push(Refund {
            refund_chargeback_id,
            amount,
            refund_key: request.refund_key,
            reason: request.reason,
            created_at: now,
            bank_confirmed_at: None,
        });
        Ok((self.refunds.last().expect("a refund was just pushed"), true))
    }

    // ----- provider moves (simulator triggers) -----

    /// The card was charged: `pending` → `capture` with the FDS verdict (`accept` or `challenge`).
    pub fn capture(&mut self, fraud_status: FraudStatus) -> Result<(), Rejection> {
        if self.status != TransactionStatus::Pending || fraud_status == FraudStatus::Deny {
            return Err(Rejection::NotModifiable);
        }
        self.status = TransactionStatus::Capture;
        self.fraud_status = Some(fraud_status);
        Ok(())
    }

    /// Funds received: `pending` → `settlement` (VA, e-wallet, store), or an accepted `capture` →
    /// `settlement` (cards settle on their own). A challenged capture must be approved first.
    pub fn settle(&mut self, now: Timestamp) -> Result<(), Rejection> {
        let allowed = match self.status {
            TransactionStatus::Pending => true,
            TransactionStatus::Capture => self.fraud_status != Some(FraudStatus::Challenge),
            _ => false,
        };
        if !allowed {
            return Err(Rejection::NotModifiable);
        }
        self.status = TransactionStatus::Settlement;
        self.fraud_status = Some(FraudStatus::Accept);
        self.settlement_time = Some(now);
        Ok(())
    }

    /// Rejected by the bank or the FDS: a pending payment, a challenge nobody resolved, or a
    /// settlement reversed (Permata VA, Mandiri bill, Indomaret; midtrans.md §6).
    pub fn deny_by_provider(&mut self) -> Result<(), Rejection> {
        match self.status {
            TransactionStatus::Pending => self.fraud_status = Some(FraudStatus::Deny),
            TransactionStatus::Capture if self.is_challenged_capture() => {
                self.fraud_status = Some(FraudStatus::Deny)
            }
            // A reversal keeps the FDS verdict: the fraud check did pass.
            TransactionStatus::Settlement => {}
            _ => return Err(Rejection::NotModifiable),
        }
        self.status = TransactionStatus::Deny;
        Ok(())
    }

    /// The bank confirms pending refunds. Returns whether anything changed, so the caller knows
    /// whether the second refund notification is due.
    pub fn confirm_refunds(&mut self, now: Timestamp) -> bool {
        let mut changed = false;
        for refund in self
            .refunds
            .iter_mut()
            .filter(|refund| refund.bank_confirmed_at.is_none())
        {
            refund.bank_confirmed_at = Some(now);
            changed = true;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wib;
    use TransactionStatus::*;

    fn txn() -> Transaction {
        Transaction::new("credit_card", 150_000, wib::now(), None)
    }

    fn in_status(status: TransactionStatus, fraud: FraudStatus) -> Transaction {
        let mut txn = txn();
        txn.status = status;
        txn.fraud_status = Some(fraud);
        txn
    }

    fn settled() -> Transaction {
        let mut txn = txn();
        txn.settle(wib::now()).unwrap();
        txn
    }

    fn refund(amount: Option<i64>, key: Option<&str>) -> RefundRequest {
        RefundRequest {
            refund_key: key.map(str::to_owned),
            amount,
            reason: None,
        }
    }

    const ALL: [TransactionStatus; 8] = [
        Pending,
        Capture,
        Settlement,
        Deny,
        Cancel,
        Expire,
        Refund,
        PartialRefund,
    ];

    #[test]
    fn new_transaction_is_pending_and_accepted() {
        let txn = txn();
        assert_eq!(txn.status, Pending);
        assert_eq!(txn.fraud_status, Some(FraudStatus::Accept));
        assert!(!txn.frees_order_id);
    }

    #[test]
    fn cancel_allowed_only_before_settlement() {
        for status in ALL {
            let mut txn = in_status(status, FraudStatus::Accept);
            let result = txn.cancel();
            if matches!(status, Pending | Capture) {
                assert_eq!(result, Ok(()), "{status:?}");
                assert_eq!(txn.status, Cancel);
            } else {
                assert_eq!(result, Err(Rejection::NotModifiable), "{status:?}");
                assert_eq!(txn.status, status);
            }
        }
    }

    #[test]
    fn only_pending_cancel_or_expire_frees_the_order_id() {
        let mut pending = txn();
        pending.cancel().unwrap();
        assert!(pending.frees_order_id);

        let mut captured = in_status(Capture, FraudStatus::Accept);
        captured.cancel().unwrap();
        assert!(!captured.frees_order_id);

        let mut expiring = txn();
        expiring.expire().unwrap();
        assert!(expiring.frees_order_id);
        assert_eq!(expiring.status, Expire);
    }

    #[test]
    fn expire_only_from_pending() {
        for status in ALL.into_iter().filter(|status| *status != Pending) {
            let mut txn = in_status(status, FraudStatus::Accept);
            assert_eq!(txn.expire(), Err(Rejection::NotModifiable), "{status:?}");
        }
    }

    #[test]
    fn approve_and_deny_need_a_challenged_capture() {
        let mut challenged = in_status(Capture, FraudStatus::Challenge);
        challenged.approve().unwrap();
        assert_eq!(
            (challenged.status, challenged.fraud_status),
            (Capture, Some(FraudStatus::Accept))
        );
        // Once approved it is no longer challenged.
        assert_eq!(challenged.approve(), Err(Rejection::NotModifiable));
        assert_eq!(challenged.deny_challenge(), Err(Rejection::NotModifiable));

        let mut challenged = in_status(Capture, FraudStatus::Challenge);
        challenged.deny_challenge().unwrap();
        assert_eq!(
            (challenged.status, challenged.fraud_status),
            (Deny, Some(FraudStatus::Deny))
        );

        for status in ALL {
            let mut txn = in_status(status, FraudStatus::Accept);
            assert_eq!(txn.approve(), Err(Rejection::NotModifiable));
            assert_eq!(txn.deny_challenge(), Err(Rejection::NotModifiable));
        }
    }

    #[test]
    fn settle_from_pending_or_accepted_capture() {
        let mut pending = txn();
        pending.settle(wib::now()).unwrap();
        assert_eq!(pending.status, Settlement);
        assert!(pending.settlement_time.is_some());

        let mut captured = txn();
        captured.capture(FraudStatus::Accept).unwrap();
        captured.settle(wib::now()).unwrap();
        assert_eq!(captured.status, Settlement);

        let mut challenged = txn();
        challenged.capture(FraudStatus::Challenge).unwrap();
        assert_eq!(challenged.settle(wib::now()), Err(Rejection::NotModifiable));

        let mut cancelled = in_status(Cancel, FraudStatus::Accept);
        assert_eq!(cancelled.settle(wib::now()), Err(Rejection::NotModifiable));
    }

    #[test]
    fn capture_only_from_pending_and_never_as_deny() {
        assert_eq!(
            txn().capture(FraudStatus::Deny),
            Err(Rejection::NotModifiable)
        );
        assert_eq!(
            settled().capture(FraudStatus::Accept),
            Err(Rejection::NotModifiable)
        );
    }

    #[test]
    fn provider_deny_covers_pending_challenge_and_reversal() {
        let mut pending = txn();
        pending.deny_by_provider().unwrap();
        assert_eq!(pending.status, Deny);
        assert!(pending.allows_new_attempt());

        let mut challenged = in_status(Capture, FraudStatus::Challenge);
        challenged.deny_by_provider().unwrap();
        assert_eq!(challenged.fraud_status, Some(FraudStatus::Deny));

        let mut reversed = settled();
        reversed.deny_by_provider().unwrap();
        assert_eq!(
            (reversed.status, reversed.fraud_status),
            (Deny, Some(FraudStatus::Accept))
        );

        let mut captured = in_status(Capture, FraudStatus::Accept);
        assert_eq!(captured.deny_by_provider(), Err(Rejection::NotModifiable));
    }

    #[test]
    fn partial_then_full_refund() {
        let mut txn = settled();
        let first = txn.refund(refund(Some(50_000), Some("r1")), 1, wib::now());
        assert_eq!(first.map(|(r, new)| (r.amount, new)), Ok((50_000, true)));
        assert_eq!(txn.status, PartialRefund);
        assert_eq!(txn.refunded_amount(), 50_000);

        // No amount: the rest.
        let rest = txn.refund(refund(None, Some("r2")), 2, wib::now());
        assert_eq!(rest.map(|(r, new)| (r.amount, new)), Ok((100_000, true)));
        assert_eq!(txn.status, Refund);
        assert_eq!(txn.refunded_amount(), 150_000);
    }

    #[test]
    fn refund_rules() {
        // Not settled yet.
        assert_eq!(
            txn().refund(refund(None, None), 1, wib::now()).err(),
            Some(Rejection::NotModifiable)
        );
        // Amount must be positive and within what is left.
        for bad in [0, -1, 150_001] {
            assert_eq!(
                settled()
                    .refund(refund(Some(bad), None), 1, wib::now())
                    .err(),
                Some(Rejection::InvalidRefundAmount),
                "{bad}"
            );
        }
        // A reused key is a retry of the same refund, even once nothing is left to refund;
        // with another amount, or after 7 days, it is a duplicate.
        let mut txn = settled();
        let made = wib::now();
        txn.refund(refund(None, Some("k")), 1, made).unwrap();
        let retry = txn.refund(refund(Some(150_000), Some("k")), 2, made);
        assert_eq!(
            retry.map(|(r, new)| (r.refund_chargeback_id, new)),
            Ok((1, false))
        );
        assert_eq!(
            txn.refund(refund(Some(1), Some("k")), 2, made).err(),
            Some(Rejection::DuplicateRefundKey)
        );
        assert_eq!(
            txn.refund(refund(None, Some("k")), 2, made + chrono::Duration::days(8))
                .err(),
            Some(Rejection::DuplicateRefundKey)
        );
        assert_eq!(
            txn.refund(refund(Some(1), Some("other")), 2, wib::now())
                .err(),
            Some(Rejection::NotModifiable)
        );
        // A refused refund changes nothing.
        assert_eq!(txn.refunds.len(), 1);
    }

    #[test]
    fn refunds_only_for_the_documented_methods_and_shopeepay_ovo_only_in_full() {
        for method in ["bank_transfer", "echannel", "cstore", "permata"] {
            let mut txn = Transaction::new(method, 150_000, wib::now(), None);
            txn.settle(wib::now()).unwrap();
            assert_eq!(
                txn.refund(refund(None, None), 1, wib::now()).err(),
                Some(Rejection::RefundNotSupported),
                "{method}"
            );
        }
        for method in FULL_REFUND_ONLY {
            let mut txn = Transaction::new(method, 150_000, wib::now(), None);
            txn.settle(wib::now()).unwrap();
            assert_eq!(
                txn.refund(refund(Some(1_000), None), 1, wib::now()).err(),
                Some(Rejection::PartialRefundNotSupported),
                "{method}"
            );
            assert!(txn.refund(refund(None, None), 1, wib::now()).is_ok());
        }
    }

    #[test]
    fn refund_confirmation_happens_once() {
        let mut txn = settled();
        txn.refund(refund(Some(1_000), None), 1, wib::now())
            .unwrap();
        assert!(txn.confirm_refunds(wib::now()));
        assert!(!txn.confirm_refunds(wib::now()));
    }

    #[test]
    fn rejection_codes() {
        assert_eq!(Rejection::NotModifiable.status_code(), 412);
        assert_eq!(Rejection::DuplicateRefundKey.status_code(), 406);
        assert_eq!(Rejection::InvalidRefundAmount.status_code(), 414);
        assert_eq!(
            Rejection::NotModifiable.to_string(),
            "Merchant cannot modify the status of the transaction"
        );
    }
}
