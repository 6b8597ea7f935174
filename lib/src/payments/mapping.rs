//! From Midtrans' `transaction_status` + `fraud_status` to our payment state and the order
//! status it implies, exactly as shared/reference/midtrans.md §6 recommends.

use crate::orders::OrderStatus;

/// What a Midtrans transaction means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// Waiting for the customer (`pending`, `authorize`).
    Pending,
    /// Funds received or card captured and accepted.
    Paid,
    /// A captured card payment held for fraud review: not paid; do not ship.
    Challenge,
    /// A failed attempt (`deny`, `failure`); the customer may try again.
    Failed,
    Cancelled,
    Expired,
    Refunded,
    PartiallyRefunded,
    /// A settlement the bank reversed (`settlement` → `deny`); never produced by
    /// [`PaymentState::from_midtrans`], which cannot know the earlier state.
    Reversed,
}

impl PaymentState {
    pub fn from_midtrans(transaction_status: &str, fraud_status: Option<&str>) -> Option<Self> {
        let fraud = fraud_status.unwrap_or("accept");
        Some(match transaction_status {
            "settlement" => Self::Paid,
            "capture" if fraud == "challenge" => Self::Challenge,
            "capture" if fraud == "deny" => Self::Failed,
            "capture" => Self::Paid,
            "pending" | "authorize" => Self::Pending,
            "deny" | "failure" => Self::Failed,
            "cancel" => Self::Cancelled,
            "expire" => Self::Expired,
            "refund" | "chargeback" => Self::Refunded,
            "partial_refund" | "partial_chargeback" => Self::PartiallyRefunded,
            _ => return None,
        })
    }

    /// The `payments.status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Challenge => "challenge",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Reversed => "reversed",
        }
    }

    /// The order status this state moves an order to, if any. Failed attempts and challenges
    /// leave the order waiting for payment.
    pub fn order_status(self) -> Option<OrderStatus> {
        match self {
            Self::Paid => Some(OrderStatus::Paid),
            Self::Cancelled => Some(OrderStatus::Cancelled),
            Self::Expired => Some(OrderStatus::Expired),
            Self::Refunded => Some(OrderStatus::Refunded),
            Self::PartiallyRefunded => Some(OrderStatus::PartiallyRefunded),
            Self::Reversed => Some(OrderStatus::PaymentReversed),
            Self::Pending | Self::Challenge | Self::Failed => None,
        }
    }
}

/// Parses Midtrans' decimal amount strings (`"150000.00"`) into integer rupiah; anything with
/// a non-zero fraction is refused (IDR has no minor unit).
pub fn parse_idr(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    if !fraction.chars().all(|c| c == '0')
        || whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_reference_table() {
        let cases = [
            ("settlement", Some("accept"), PaymentState::Paid),
            ("settlement", None, PaymentState::Paid),
            ("capture", Some("accept"), PaymentState::Paid),
            ("capture", None, PaymentState::Paid),
            ("capture", Some("challenge"), PaymentState::Challenge),
            ("pending", None, PaymentState::Pending),
            ("authorize", Some("accept"), PaymentState::Pending),
            ("deny", Some("deny"), PaymentState::Failed),
            ("cancel", None, PaymentState::Cancelled),
            ("expire", None, PaymentState::Expired),
            ("failure", None, PaymentState::Failed),
            ("refund", None, PaymentState::Refunded),
            ("chargeback", None, PaymentState::Refunded),
            ("partial_refund", None, PaymentState::PartiallyRefunded),
        ];
        for (status, fraud, expected) in cases {
            assert_eq!(
                PaymentState::from_midtrans(status, fraud),
                Some(expected),
                "{status} {fraud:?}"
            );
        }
        assert_eq!(
            PaymentState::Challenge.order_status(),
            None,
            "a challenge is on hold, not paid"
        );
        assert_eq!(PaymentState::from_midtrans("mystery", None), None);
    }

    #[test]
    fn parses_idr_amounts() {
        assert_eq!(parse_idr("150000.00"), Some(150_000));
        assert_eq!(parse_idr("150000"), Some(150_000));
        assert_eq!(parse_idr("150000.50"), None);
        assert_eq!(parse_idr("-5.00"), None);
        assert_eq!(parse_idr(""), None);
    }
}
