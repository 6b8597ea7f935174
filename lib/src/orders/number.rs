//! The order number: the public name of an order (on receipts, in emails, at Midtrans).

use chrono::Utc;
use rand::Rng;

crate::checked_string! {
    /// `TK` + the date (`yymmdd`) + `-` + 8 characters from an alphabet without look-alikes,
    /// as in `TK261206-7QX2MHPA`; fits Midtrans' order_id rules (letters, digits, `-`).
    pub struct OrderNumber;
}

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const SUFFIX_LEN: usize = 8;

impl OrderNumber {
    /// A fresh number for today (unique in practice; the orders table's key has the last word).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let suffix: String = (0..SUFFIX_LEN)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("TK{}-{suffix}", Utc::now().format("%y%m%d")))
    }

    /// A number as a client or Midtrans gives it back; `None` when it cannot be one.
    pub fn parse(value: &str) -> Option<Self> {
        let (date, suffix) = value.strip_prefix("TK")?.split_once('-')?;
        let valid = date.len() == 6
            && date.bytes().all(|b| b.is_ascii_digit())
            && suffix.len() == SUFFIX_LEN
            && suffix.bytes().all(|b| ALPHABET.contains(&b));
        valid.then(|| Self(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_parse_back() {
        for _ in 0..100 {
            let number = OrderNumber::generate();
            assert_eq!(OrderNumber::parse(number.as_str()), Some(number));
        }
    }

    #[test]
    fn other_strings_are_not_numbers() {
        for bad in [
            "",
            "TK261206",
            "TK261206-",
            "TK26120-7QX2MHPA",
            "TK261206-7QX2MHP",
            "TK261206-7QX2MHPO", // O is a look-alike of 0, not in the alphabet
            "XX261206-7QX2MHPA",
            "tk261206-7QX2MHPA",
        ] {
            assert_eq!(OrderNumber::parse(bad), None, "{bad}");
        }
    }
}
