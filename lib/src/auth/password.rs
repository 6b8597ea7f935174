//! Password policy and argon2id hashing.
//!
//! Hashing is deliberately slow, so it runs on tokio's blocking pool and never stalls the
//! request threads.

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Algorithm, Argon2, Params, Version,
};

use crate::validation::ValidationErrors;

pub const MIN_LENGTH: usize = 10;
/// Bounded so a megabyte "password" cannot be used to burn CPU.
pub const MAX_LENGTH: usize = 128;

/// A short list of the most common passwords of at least ten characters (from public breach
/// corpora); the policy refuses them whatever their case.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "0987654321",
    "1111111111",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "abcdefghij",
    "abc1234567",
    "aaaaaaaaaa",
    "iloveyou123",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "p@ssw0rd123",
    "qwertyuiop",
    "qwerty12345",
    "qwerty123456",
    "1qazxsw23edc",
    "asdfghjkl1",
    "zxcvbnm123",
    "letmein1234",
    "welcome123",
    "welcome1234",
    "administrator",
    "admin12345",
    "changeme123",
    "sunshine123",
    "football123",
    "baseball123",
    "princess123",
    "dragon12345",
    "monkey12345",
    "superman123",
    "trustno1234",
    "starwars123",
    "whatever123",
    "michael1234",
    "jessica1234",
    "1234qwerasdf",
    "q1w2e3r4t5",
    "a1b2c3d4e5",
    "indonesia123",
    "bismillah123",
    "rahasia1234",
    "sayang12345",
    "jakarta1234",
];

/// Only the upper bound, for a password presented to be verified: longer ones were never
/// accepted, so they cannot be right, and are refused before any hashing.
pub fn check_length(errors: &mut ValidationErrors, field: &str, password: &str) {
    errors.check(
        password.chars().count() <= MAX_LENGTH,
        field,
        format!("must be at most {MAX_LENGTH} characters"),
    );
}

/// Checks the policy: length, not the email (nor its local part), not a common password.
pub fn check_policy(password: &str, email: &str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let len = password.chars().count();
    if len < MIN_LENGTH {
        errors.add(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        );
    } else if len > MAX_LENGTH {
        errors.add(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        );
    } else {
        let lowered = password.to_lowercase();
        let email = email.trim().to_lowercase();
        let local_part = email.split('@').next().unwrap_or_default();
        if lowered == email || (!local_part.is_empty() && lowered == local_part) {
            errors.add("password", "must not be your email address");
        } else if COMMON_PASSWORDS.contains(&lowered.as_str()) {
            errors.add("password", "is too common; choose another");
        }
    }
    errors.finish()
}

/// argon2id with the OWASP-recommended parameters: 19 MiB memory, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most one hash per core at a time: a burst of registrations queues here instead of
/// oversubscribing the CPU with dozens of 19 MiB argon2 runs that starve the request threads.
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Hashes a password into a PHC string, on the blocking pool.
pub async fn hash(password: String) -> Result<String, HashError> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| HashError(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

/// Verifies a password against a PHC string, on the blocking pool. A malformed stored hash
/// verifies as false (and is logged), never as an error the caller could leak.
pub async fn verify(password: String, phc: String) -> bool {
    let Ok(_permit) = permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is malformed");
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_email_and_common_passwords() {
        assert!(check_policy("short", "a@b.co").is_err());
        assert!(check_policy("budi@example.com", "Budi@Example.com").is_err());
        assert!(check_policy("budisantoso", "budisantoso@example.com").is_err());
        assert!(check_policy("Password123", "a@b.co").is_err());
        assert!(check_policy(&"x".repeat(200), "a@b.co").is_err());
        assert!(check_policy("correct horse battery", "a@b.co").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery".into(), phc.clone()).await);
        assert!(!verify("wrong horse battery".into(), phc).await);
        assert!(!verify("anything".into(), "not-a-hash".into()).await);
    }
}
