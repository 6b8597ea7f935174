//! What `APP_ENV=production` refuses: settings that work, but are unsafe with real money and
//! real customers (see docs/SECURITY.md). Development accepts them all.

use std::collections::HashSet;

use super::{ConfigError, MidtransConfig, MidtransEnv, Reader};

/// The least estimated entropy of `JWT_SECRET` in production: HS256 with a guessable key lets
/// anyone forge an admin's token offline.
pub const MIN_SECRET_BITS: f64 = 128.0;

/// A conservative estimate of the entropy of a secret, in bits: every character that does not
/// repeat an earlier run of three or more counts `log2(distinct characters)` bits, a repeated
/// run counts as one such character. Random strings score about their real entropy
/// (`openssl rand -base64 48`: ~380), words and their repetitions very little
/// (`passwordpasswordpasswordpassword1`: ~30).
pub fn estimated_entropy_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let alphabet = chars.iter().collect::<HashSet<_>>().len();
    if alphabet < 2 {
        return 0.0;
    }
    let mut symbols = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let repeat = longest_earlier_match(&chars, i);
        i += if repeat >= 3 { repeat } else { 1 };
        symbols += 1;
    }
    symbols as f64 * (alphabet as f64).log2()
}

/// The length of the longest run starting at `at` that also starts before it (overlap
/// allowed, as in LZ77).
fn longest_earlier_match(chars: &[char], at: usize) -> usize {
    (0..at)
        .map(|start| {
            chars[at..]
                .iter()
                .zip(&chars[start..])
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap_or(0)
}

pub fn check_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    let lowered = secret.to_ascii_lowercase();
    let sample = SAMPLE_WORDS.iter().any(|w| lowered.contains(w));
    if sample || estimated_entropy_bits(secret) < MIN_SECRET_BITS {
        return Err(ConfigError::Invalid {
            name: "JWT_SECRET",
            reason: "too weak for production: use at least 32 random bytes, e.g. \
                     `openssl rand -base64 48`"
                .into(),
        });
    }
    Ok(())
}

/// Words of the sample and placeholder values in this repository's examples and docs, and of
/// the ones people type by hand.
const SAMPLE_WORDS: &[&str] = &[
    "secret",
    "change-me",
    "changeme",
    "placeholder",
    "example",
    "your-key",
    "your_key",
    "yourkey",
    "dummy",
    "sample",
    "toko-dev",
    "toko-tests",
    "dev-only",
    "abc123",
];

/// Midtrans keys are `SB-Mid-server-…` in sandbox and `Mid-server-…` in production, with a
/// random tail.
const MIN_KEY_TAIL: usize = 16;

fn key_looks_real(key: &str, prefix: &str) -> bool {
    let lowered = key.to_ascii_lowercase();
    key.strip_prefix(prefix).is_some_and(|tail| {
        tail.len() >= MIN_KEY_TAIL
            && tail
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) && !SAMPLE_WORDS.iter().any(|w| lowered.contains(w))
}

pub fn check_midtrans(config: &MidtransConfig, r: &Reader) -> Result<(), ConfigError> {
    let invalid = |name: &'static str, reason: &str| ConfigError::Invalid {
        name,
        reason: format!("{reason} (APP_ENV=production)"),
    };
    if config.env == MidtransEnv::Sandbox && !r.bool("MIDTRANS_ALLOW_SANDBOX", false)? {
        return Err(invalid(
            "MIDTRANS_ENV",
            "sandbox takes no real payments; set MIDTRANS_ENV=production, or \
             MIDTRANS_ALLOW_SANDBOX=true for a production-like staging shop",
        ));
    }
    let (server_prefix, client_prefix) = match config.env {
        MidtransEnv::Sandbox => ("SB-Mid-server-", "SB-Mid-client-"),
        MidtransEnv::Production => ("Mid-server-", "Mid-client-"),
    };
    if !key_looks_real(config.server_key.expose(), server_prefix) {
        return Err(invalid(
            "MIDTRANS_SERVER_KEY",
            &format!("not a {server_prefix}… key of the dashboard, or a sample/placeholder value"),
        ));
    }
    if let Some(client_key) = &config.client_key {
        if !key_looks_real(client_key, client_prefix) {
            return Err(invalid(
                "MIDTRANS_CLIENT_KEY",
                &format!("not a {client_prefix}… key, or a sample/placeholder value"),
            ));
        }
    }
    for (name, url) in [
        ("MIDTRANS_SNAP_URL", Some(config.snap_url.as_str())),
        ("MIDTRANS_API_URL", Some(config.api_url.as_str())),
        ("MIDTRANS_FINISH_URL", config.finish_url.as_deref()),
    ] {
        if url.is_some_and(|u| !u.starts_with("https://")) {
            return Err(invalid(name, "must be an https:// URL"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimate_tells_random_from_repeated() {
        assert!(estimated_entropy_bits("passwordpasswordpasswordpassword1") < 64.0);
        assert!(estimated_entropy_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 1.0);
        // `openssl rand -base64 48`
        let random = "q3J8x0Vt9mZ2LkP7wR4sY6uB1nC5eH8jD0fG3aK6iM9oQ2rT5vX8zA1bE4gW7yU0";
        assert!(estimated_entropy_bits(random) > 256.0);
        // `openssl rand -hex 32`
        let hex = "9f3c1a7e5b2d8046c1e9a3f75d0b62c84e1f9a07b3d5c6e82f4a1b09d7c3e5f6";
        assert!(estimated_entropy_bits(hex) > MIN_SECRET_BITS);
    }

    #[test]
    fn sample_secrets_are_refused_whatever_their_length() {
        for secret in [
            "passwordpasswordpasswordpassword1",
            "change-me-to-32-or-more-random-bytes-please",
            "dev-only-jwt-secret-change-me-0123456789abcdef",
        ] {
            assert!(check_jwt_secret(secret).is_err(), "{secret}");
        }
        assert!(
            check_jwt_secret("q3J8x0Vt9mZ2LkP7wR4sY6uB1nC5eH8jD0fG3aK6iM9oQ2rT5vX8zA1b").is_ok()
        );
    }
}
