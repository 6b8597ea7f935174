//! Time as Midtrans shows it: Western Indonesia Time (WIB, GMT+7).
//!
//! Midtrans writes every timestamp (`transaction_time`, `settlement_time`, `expiry_time`) as
//! `YYYY-MM-DD HH:MM:SS` in WIB without an offset, and reads Snap `expiry.start_time` as
//! `YYYY-MM-DD HH:MM:SS +0700`. Keeping all simulator times in one fixed offset means the strings
//! we emit are exactly what a client will parse against the real service.

use chrono::{DateTime, FixedOffset, Utc};

/// A moment in time, carried in WIB so formatting never needs a zone lookup.
pub type Timestamp = DateTime<FixedOffset>;

const WIB_OFFSET_SECONDS: i32 = 7 * 3600;

fn wib() -> FixedOffset {
    // 7 hours is always a valid offset; `expect` documents the invariant rather than handling input.
    FixedOffset::east_opt(WIB_OFFSET_SECONDS).expect("GMT+7 is a valid offset")
}

/// The current time in WIB.
pub fn now() -> Timestamp {
    Utc::now().with_timezone(&wib())
}

/// Formats like Midtrans' status bodies: `2024-05-01 10:02:11` (WIB, no offset).
pub fn format(ts: &Timestamp) -> String {
    ts.with_timezone(&wib())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parses Snap's `expiry.start_time` (`2024-05-01 10:00:00 +0700`); any explicit offset is accepted
/// and converted to WIB.
pub fn parse_start_time(value: &str) -> Option<Timestamp> {
    DateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S %z")
        .ok()
        .map(|ts| ts.with_timezone(&wib()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_wib_without_offset() {
        let utc = DateTime::parse_from_rfc3339("2024-05-01T03:02:11Z").unwrap();
        assert_eq!(format(&utc), "2024-05-01 10:02:11");
    }

    #[test]
    fn parses_start_time_with_offset() {
        let ts = parse_start_time("2024-05-01 10:00:00 +0700").unwrap();
        assert_eq!(format(&ts), "2024-05-01 10:00:00");
        let from_utc = parse_start_time("2024-05-01 03:00:00 +0000").unwrap();
        assert_eq!(format(&from_utc), "2024-05-01 10:00:00");
    }

    #[test]
    fn rejects_start_time_without_offset() {
        assert!(parse_start_time("2024-05-01 10:00:00").is_none());
        assert!(parse_start_time("yesterday").is_none());
    }
}
