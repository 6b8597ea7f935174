//! The JSON view of a transaction that Midtrans sends: GET status bodies, action responses and
//! notification bodies all share it (midtrans.md §4, §5), differing only in `status_code`,
//! `status_message` and therefore `signature_key`.
//!
//! Building all three from one function keeps the field formats identical everywhere: amounts as
//! `"150000.00"` strings, WIB times, and a signature computed from the very strings in the body.

use serde::{Deserialize, Serialize};

use crate::signature::{format_amount, signature_key};
use crate::state::{FraudStatus, Transaction, TransactionStatus};
use crate::wib;

/// `status_message` of every notification body.
pub const NOTIFICATION_MESSAGE: &str = "midtrans payment notification";
/// `status_message` of a successful GET status.
pub const STATUS_FOUND_MESSAGE: &str = "Success, transaction is found";

/// The `status_code` a notification carries for a status (midtrans.md §5 table).
pub fn notification_code(status: TransactionStatus) -> &'static str {
    use TransactionStatus::*;
    match status {
        Capture | Settlement | Refund | PartialRefund => "200",
        Pending => "201",
        Cancel | Expire | Deny => "202",
    }
}

/// The `status_code` a GET status answer carries (midtrans.md §4 and §7): like notifications,
/// except that an expired transaction answers `407` and a cancelled one `200`.
pub fn status_query_code(status: TransactionStatus) -> &'static str {
    use TransactionStatus::*;
    match status {
        Capture | Settlement | Refund | PartialRefund | Cancel => "200",
        Pending => "201",
        Deny => "202",
        Expire => "407",
    }
}

/// Order-level facts a record needs besides the transaction itself.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    pub order_id: &'a str,
    pub merchant_id: &'a str,
    pub server_key: &'a str,
    pub custom_fields: &'a [Option<String>; 3],
}

/// A virtual account number, as in `va_numbers[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaNumber {
    pub bank: String,
    pub va_number: String,
}

/// One entry of `refunds[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub refund_chargeback_id: u64,
    pub refund_amount: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_confirmed_at: Option<String>,
}

/// A Midtrans transaction body. Optional fields are omitted when absent, as Midtrans does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub status_code: String,
    pub status_message: String,
    pub transaction_id: String,
    pub order_id: String,
    pub merchant_id: String,
    pub gross_amount: String,
    pub currency: String,
    pub payment_type: String,
    pub transaction_time: String,
    pub transaction_status: TransactionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraud_status: Option<FraudStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    pub signature_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub va_numbers: Option<Vec<VaNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_field1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_field2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_field3: Option<String>,
    /// Cumulative, e.g. `"5000.00"`; present once a refund exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<RefundRecord>>,
    /// Only in the answer to a refund request: the refund just made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_chargeback_id: Option<u64>,
    /// Only in the answer to a refund request: the key it was made with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_key: Option<String>,
}

impl StatusRecord {
    /// Builds and signs the body for `txn` with the given `status_code` and `status_message`.
    pub fn build(
        ctx: RecordContext<'_>,
        txn: &Transaction,
        status_code: &str,
        status_message: &str,
    ) -> Self {
        let gross_amount = format_amount(txn.gross_amount);
        let signature_key = signature_key(ctx.order_id, status_code, &gross_amount, ctx.server_key);
        let is_card = txn.payment_type == "credit_card";
        let [custom_field1, custom_field2, custom_field3] = ctx.custom_fields.clone();
        // A refund is listed in `refunds[]` once the bank confirmed it (the later of its two
        // notifications); `refund_amount` counts it from the start.
        let refunds: Vec<RefundRecord> = txn
            .refunds
            .iter()
            .filter(|refund| refund.bank_confirmed_at.is_some())
            .map(|refund| RefundRecord {
                refund_chargeback_id: refund.refund_chargeback_id,
                refund_amount: format_amount(refund.amount),
                created_at: wib::format(&refund.created_at),
                reason: refund.reason.clone(),
                refund_key: refund.refund_key.clone(),
                bank_confirmed_at: refund.bank_confirmed_at.as_ref().map(wib::format),
            })
            .collect();
        Self {
            status_code: status_code.to_owned(),
            status_message: status_message.to_owned(),
            transaction_id: txn.transaction_id.to_string(),
            order_id: ctx.order_id.to_owned(),
            merchant_id: ctx.merchant_id.to_owned(),
            gross_amount,
            currency: "IDR".to_owned(),
            payment_type: txn.payment_type.clone(),
            transaction_time: wib::format(&txn.transaction_time),
            transaction_status: txn.status,
            fraud_status: txn.fraud_status,
            settlement_time: txn.settlement_time.as_ref().map(wib::format),
            expiry_time: txn.expiry_time.as_ref().map(wib::format),
            signature_key,
            va_numbers: (txn.payment_type == "bank_transfer").then(|| {
                vec![VaNumber {
                    bank: "bca".to_owned(),
                    va_number: va_number(txn),
                }]
            }),
            masked_card: is_card.then(|| "48111111-1114".to_owned()),
            card_type: is_card.then(|| "credit".to_owned()),
            bank: is_card.then(|| "bni".to_owned()),
            custom_field1,
            custom_field2,
            custom_field3,
            refund_amount: (!txn.refunds.is_empty()).then(|| format_amount(txn.refunded_amount())),
            refunds: (!refunds.is_empty()).then_some(refunds),
            refund_chargeback_id: None,
            refund_key: None,
        }
    }

    /// The GET status answer for `txn`.
    pub fn for_status_query(ctx: RecordContext<'_>, txn: &Transaction) -> Self {
        Self::build(
            ctx,
            txn,
            status_query_code(txn.status),
            STATUS_FOUND_MESSAGE,
        )
    }

    /// The notification body for the current state of `txn`.
    pub fn for_notification(ctx: RecordContext<'_>, txn: &Transaction) -> Self {
        Self::build(
            ctx,
            txn,
            notification_code(txn.status),
            NOTIFICATION_MESSAGE,
        )
    }
}

/// A stable, fake 11-digit BCA virtual account number derived from the transaction id, so the
/// same transaction always shows the same number.
fn va_number(txn: &Transaction) -> String {
    let digits = txn.transaction_id.as_u128() % 100_000_000_000;
    format!("{digits:011}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RefundRequest;

    const KEY: &str = "SB-Mid-server-abc123cde456";
    const NO_FIELDS: [Option<String>; 3] = [None, None, None];

    fn ctx() -> RecordContext<'static> {
        RecordContext {
            order_id: "ORDER-101",
            merchant_id: "G000000000",
            server_key: KEY,
            custom_fields: &NO_FIELDS,
        }
    }

    #[test]
    fn notification_codes_follow_the_table() {
        use TransactionStatus::*;
        for (status, code) in [
            (Capture, "200"),
            (Settlement, "200"),
            (Refund, "200"),
            (PartialRefund, "200"),
            (Pending, "201"),
            (Cancel, "202"),
            (Expire, "202"),
            (Deny, "202"),
        ] {
            assert_eq!(notification_code(status), code, "{status:?}");
        }
        assert_eq!(status_query_code(Expire), "407");
    }

    #[test]
    fn settled_record_matches_reference_vector_and_formats() {
        let mut txn = Transaction::new("credit_card", 10_000, wib::now(), None);
        txn.settle(wib::now()).unwrap();
        let record = StatusRecord::for_notification(ctx(), &txn);
        assert_eq!(record.gross_amount, "10000.00");
        assert_eq!(record.status_code, "200");
        assert_eq!(record.status_message, NOTIFICATION_MESSAGE);
        assert!(record.signature_key.starts_with("4ba1be6b9fb678f9"));
        assert!(record.settlement_time.is_some());
        assert_eq!(record.transaction_time.len(), "2024-05-01 10:02:11".len());
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["transaction_status"], "settlement");
        assert_eq!(json["fraud_status"], "accept");
        assert!(json.get("refunds").is_none());
        assert!(json.get("va_numbers").is_none());
    }

    #[test]
    fn refunds_are_listed_with_cumulative_amount() {
        let mut txn = Transaction::new("gopay", 150_000, wib::now(), None);
        txn.settle(wib::now()).unwrap();
        for (n, key) in ["a", "b"].into_iter().enumerate() {
            let request = RefundRequest {
                refund_key: Some(key.to_owned()),
                amount: Some(5_000),
                reason: None,
            };
            txn.refund(request, n as u64 + 1, wib::now()).unwrap();
        }
        let record = StatusRecord::for_status_query(ctx(), &txn);
        assert_eq!(record.refund_amount.as_deref(), Some("10000.00"));
        assert_eq!(record.refunds, None, "not confirmed by the bank yet");
        txn.confirm_refunds(wib::now());
        let record = StatusRecord::for_status_query(ctx(), &txn);
        assert_eq!(record.refunds.as_ref().map(Vec::len), Some(2));
        assert_eq!(record.transaction_status, TransactionStatus::PartialRefund);
    }

    #[test]
    fn bank_transfer_gets_a_stable_va_number() {
        let txn = Transaction::new("bank_transfer", 1_000, wib::now(), None);
        let first = StatusRecord::for_status_query(ctx(), &txn);
        let again = StatusRecord::for_status_query(ctx(), &txn);
        let va = first.va_numbers.clone().unwrap();
        assert_eq!(va[0].va_number.len(), 11);
        assert_eq!(first.va_numbers, again.va_numbers);
        assert_eq!(first.status_code, "201");
    }
}
