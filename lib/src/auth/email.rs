//! An account's email address, parsed once at the edge of every use case that takes one.

use std::fmt;

use crate::validation::ValidationErrors;

/// The longest email address (RFC 5321 path limit), well inside the index's row size.
pub const MAX_EMAIL_LENGTH: usize = 254;

/// A plausible email address, trimmed and lowercased, so the unique constraint makes `A@x.com`
/// and `a@x.com` one account: at most [`MAX_EMAIL_LENGTH`] bytes, one `@` between a local
/// part and a dotted domain, no spaces or control characters. Whether it receives mail is for
/// the verification link to show.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = normalise(raw);
        let plausible = email.len() <= MAX_EMAIL_LENGTH
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if plausible {
            Ok(Self(email))
        } else {
            Err("must be a valid email address".into())
        }
    }

    /// Parses `raw`, recording why it is not an address under `field` in `errors`, so a form's
    /// other fields are still checked in the same pass.
    pub fn parse_field(errors: &mut ValidationErrors, field: &str, raw: &str) -> Option<Self> {
        Self::parse(raw).map_err(|e| errors.add(field, e)).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an address is looked up by (login, reset requests): the same normalisation as
/// [`Email::parse`], without saying whether the address could exist.
pub fn normalise(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Only the length, for lookups: a login need not say more about why an address cannot exist.
pub fn check_lookup_length(errors: &mut ValidationErrors, email: &str) {
    errors.check(
        email.len() <= MAX_EMAIL_LENGTH,
        "email",
        format!("must be at most {MAX_EMAIL_LENGTH} bytes"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ana@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ana@example.com");
    }

    #[test]
    fn implausible_addresses_are_refused() {
        for raw in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "ana@.com",
            "ana@example.",
            "ana@b@example.com",
            "an a@example.com",
            "ana@exa\u{7}mple.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_LENGTH));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn a_bad_address_is_recorded_with_the_other_fields() {
        let mut errors = ValidationErrors::new();
        assert!(Email::parse_field(&mut errors, "email", "nope").is_none());
        errors.add("name", "must not be empty");
        assert_eq!(errors.0.len(), 2);
        assert_eq!(errors.0[0].field, "email");
    }
}
