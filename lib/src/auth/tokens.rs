//! Access tokens (JWT, HS256) and opaque refresh tokens.
//!
//! Access tokens are short-lived and verified without a database read. Refresh tokens are
//! random strings handed out once; only their SHA-256 hash is stored (see `store.rs`).

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Principal, Role};
use crate::config::AuthConfig;

/// The only algorithm accepted: a token claiming another one (including `none`) is refused.
const ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: Uuid,
    /// The session (refresh-token family) the token belongs to: void once it is revoked.
    #[serde(default)]
    sid: Option<Uuid>,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    issuer: String,
    audience: String,
}

/// A freshly issued access token.
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl AccessTokens {
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: config.access_token_ttl,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user_id: Uuid, role: Role, session_id: Uuid) -> IssuedAccessToken {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let claims = Claims {
            sub: user_id,
            role,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            sid: Some(session_id),
        };
        let token = encode(&Header::new(ALGORITHM), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail");
        IssuedAccessToken { token, expires_at }
    }

    /// The principal of a valid token and its session; `None` for anything else (bad
    /// signature, expired, wrong issuer/audience/algorithm, garbage).
    pub fn verify(&self, token: &str) -> Option<(Principal, Option<Uuid>)> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let principal = Principal {
            user_id: data.claims.sub,
            role: data.claims.role,
            session_id: data.claims.sid,
        };
        Some((principal, data.claims.sid))
    }
}

/// A new refresh token: the value handed to the client and the hash we keep.
pub struct NewRefreshToken {
    pub value: String,
    pub hash: Vec<u8>,
}

/// 256 random bits, URL-safe.
pub fn new_refresh_token() -> NewRefreshToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&value);
    NewRefreshToken { value, hash }
}

/// Refresh tokens carry 256 bits of entropy, so a fast hash is enough (no salt, no argon2).
pub fn hash_refresh_token(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(secret: &str) -> AuthConfig {
        AuthConfig {
            jwt_secret: Secret::new(secret),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(86_400),
            issuer: "toko".into(),
            audience: "toko-api".into(),
            max_failed_logins: 5,
            max_failed_logins_per_ip: 20,
            max_failed_logins_per_account: 100,
            login_window: Duration::from_secs(900),
            password_reset_ttl: Duration::from_secs(3600),
            password_resets_per_hour: 3,
            staff_invite_ttl: Duration::from_secs(7 * 86_400),
            order_manager_refund_limit: 1_000_000,
        }
    }

    #[test]
    fn round_trips_and_rejects_foreign_keys() {
        let tokens = AccessTokens::new(&config("a-very-long-test-secret-value-0001"));
        let user = Uuid::new_v4();
        let session = Uuid::new_v4();
        let issued = tokens.issue(user, Role::Administrator, session);
        let (principal, sid) = tokens.verify(&issued.token).unwrap();
        assert_eq!(sid, Some(session));
        assert_eq!(principal.user_id, user);
        assert_eq!(principal.role, Role::Administrator);

        let other = AccessTokens::new(&config("another-long-test-secret-value-02"));
        assert!(other.verify(&issued.token).is_none());
    }

    #[test]
    fn rejects_alg_none() {
        let tokens = AccessTokens::new(&config("a-very-long-test-secret-value-0001"));
        let issued = tokens.issue(Uuid::new_v4(), Role::Administrator, Uuid::new_v4());
        let payload = issued.token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(tokens.verify(&format!("{header}.{payload}.")).is_none());
    }

    #[test]
    fn refresh_tokens_are_unique_and_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a.value, b.value);
        assert_eq!(a.hash, hash_refresh_token(&a.value));
        assert_eq!(a.hash.len(), 32);
    }
}
