//! The stock keeping unit: a variant's code in the shop's own systems.

use crate::validation::ValidationErrors;

crate::checked_string! {
    // Only `Sku::parse` makes one from input; rows and event payloads hold SKUs parsed when
    // written. The rule keeps SKUs safe in URLs, CSV files and Midtrans item ids.
    /// A SKU: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.
    pub struct Sku;
}

impl Sku {
    /// What a field holding a SKU must be, as said in a 422.
    pub const RULE: &'static str =
        "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit";

    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 64
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| Self(value.to_owned()))
    }

    /// Parses `value` of `field`, recording [`Sku::RULE`] in `errors` when it is not a SKU.
    pub fn parse_field(errors: &mut ValidationErrors, field: &str, value: &str) -> Option<Self> {
        let sku = Self::parse(value);
        errors.check(sku.is_some(), field, Self::RULE);
        sku
    }
}

impl PartialEq<str> for Sku {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_pattern() {
        assert!(Sku::parse("TSHIRT-BLK-M").is_some());
        assert!(Sku::parse("a.b_c-1").is_some());
        assert!(Sku::parse("").is_none());
        assert!(Sku::parse("-lead").is_none());
        assert!(Sku::parse("has space").is_none());
        assert!(Sku::parse(&"x".repeat(64)).is_some());
        assert!(Sku::parse(&"x".repeat(65)).is_none());
    }

    #[test]
    fn a_bad_sku_names_its_field() {
        let mut errors = ValidationErrors::new();
        assert!(Sku::parse_field(&mut errors, "variants[1].sku", "no spaces").is_none());
        assert_eq!(errors.0[0].field, "variants[1].sku");
        assert_eq!(errors.0[0].message, Sku::RULE);
    }
}
