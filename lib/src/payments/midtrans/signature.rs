//! Notification signatures: `lowercase_hex(SHA512(order_id + status_code + gross_amount +
//! server_key))`, over the strings exactly as received (`"150000.00"`, never re-formatted),
//! compared in constant time.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

pub fn signature(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
) -> String {
    let mut hasher = Sha512::new();
    hasher.update(order_id.as_bytes());
    hasher.update(status_code.as_bytes());
    hasher.update(gross_amount.as_bytes());
    hasher.update(server_key.as_bytes());
    hex::encode(hasher.finalize())
}

/// True when `received` is the signature of these fields.
pub fn verify(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
    received: &str,
) -> bool {
    let expected = signature(order_id, status_code, gross_amount, server_key);
    let received = received.trim().to_ascii_lowercase();
    expected.len() == received.len() && bool::from(expected.as_bytes().ct_eq(received.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector from shared/reference/midtrans.md §5.
    #[test]
    fn matches_the_reference_vector() {
        let expected = "4ba1be6b9fb678f95d4a5cfb8fbab562a4b5fa90f3222a05966393087fc3c2ad01a282d455c8bf40b9321660134c5fa3061c2a3d58c3cbefd9a6fc3a837dedec";
        assert_eq!(
            signature("ORDER-101", "200", "10000.00", "SB-Mid-server-abc123cde456"),
            expected
        );
        assert!(verify(
            "ORDER-101",
            "200",
            "10000.00",
            "SB-Mid-server-abc123cde456",
            expected
        ));
    }

    #[test]
    fn formatting_and_tampering_matter() {
        let good = signature("ORDER-101", "200", "10000.00", "key");
        assert!(
            !verify("ORDER-101", "200", "10000", "key", &good),
            "the amount is used as received"
        );
        assert!(!verify("ORDER-102", "200", "10000.00", "key", &good));
        assert!(!verify("ORDER-101", "200", "10000.00", "other-key", &good));
        assert!(!verify("ORDER-101", "200", "10000.00", "key", "short"));
    }
}
