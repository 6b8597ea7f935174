//! The Midtrans `signature_key` (midtrans.md §5).
//!
//! `lowercase_hex(SHA512(order_id + status_code + gross_amount + server_key))`, the four values
//! joined with no separator, using exactly the strings that appear in the JSON body (so
//! `"150000.00"`, not `150000`). The simulator signs every notification and every status body
//! this way, so a client that formats the amount differently fails verification here exactly as
//! it would against Midtrans.

use sha2::{Digest, Sha512};

/// Computes the signature Midtrans puts in `signature_key`.
pub fn signature_key(
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

/// Formats an IDR amount the way Midtrans does in status bodies: integer rupiah plus `.00`.
pub fn format_amount(rupiah: i64) -> String {
    format!("{rupiah}.00")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The project's own test vector from midtrans.md §5.
    #[test]
    fn matches_reference_vector() {
        assert_eq!(
            signature_key("ORDER-101", "200", "10000.00", "SB-Mid-server-abc123cde456"),
            "4ba1be6b9fb678f95d4a5cfb8fbab562a4b5fa90f3222a05966393087fc3c2ad01a282d455c8bf40b9321660134c5fa3061c2a3d58c3cbefd9a6fc3a837dedec"
        );
    }

    #[test]
    fn amount_formatting_changes_the_signature() {
        let without_decimals =
            signature_key("ORDER-101", "200", "10000", "SB-Mid-server-abc123cde456");
        assert!(without_decimals.starts_with("cc2a6a94"));
        assert!(without_decimals.ends_with("83f4a"));
    }

    #[test]
    fn formats_amounts_with_two_decimals() {
        assert_eq!(format_amount(150_000), "150000.00");
        assert_eq!(format_amount(0), "0.00");
    }
}
