//! Field-level validation shared by the domain modules.
//!
//! Services collect every problem of an input before refusing it, so a client fixes a form in
//! one round trip; the HTTP edge turns [`ValidationErrors`] into a 422 problem listing the fields.

use std::fmt;

/// One bad field: a dotted path (`variants[0].sku`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// All bad fields of one input. Empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single-field error, for checks that stand alone.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records `message` for `field` when `ok` is false.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    /// Checks a string's length in characters (after the caller's trimming).
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            if min == 1 {
                self.add(field, "must not be empty");
            } else {
                self.add(field, format!("must be at least {min} characters"));
            }
        } else if len > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    /// Merges another input's errors under a prefix, e.g. `variants[2]`.
    pub fn nest(&mut self, prefix: &str, other: ValidationErrors) {
        for e in other.0 {
            self.add(format!("{prefix}.{}", e.field), e.message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else the collected errors.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "invalid input ({})", fields.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// A URL-friendly slug: lowercase ASCII letters, digits and single dashes.
pub fn is_slug(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 120
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--")
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Turns a name into a slug: `"Kaos Polos Hitam!"` → `"kaos-polos-hitam"`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug.truncate(100);
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_words_and_drops_punctuation() {
        assert_eq!(slugify("Kaos Polos  Hitam!"), "kaos-polos-hitam");
        assert_eq!(slugify("  --iPhone 15 Pro--"), "iphone-15-pro");
        assert!(is_slug(&slugify("Sepatu Lari Ultra-Boost 2.0")));
        assert!(!is_slug("Bad Slug"));
        assert!(!is_slug("a--b"));
    }

    #[test]
    fn collects_every_error() {
        let mut v = ValidationErrors::new();
        v.length("name", "", 1, 10);
        v.check(false, "price", "must be at least 0");
        let err = v.finish().unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert_eq!(err.0[0].field, "name");
    }
}
