//! User tokens and signed values.
//!
//! A user token is an HS256 JWT (the `jsonwebtoken` crate). The original signs
//! `{"iss":"cube-studio","sub":<username>}` with `JWT_PASSWORD` and can never revoke it;
//! ours add the user's id (`uid`) and token version (`ver`), and optionally an expiry
//! (`exp`), which the dashboard compares with the user row on every request. Tokens of
//! the original's form (no `uid`, no `ver`) verify as version 0, so an adopted
//! database with its old `JWT_PASSWORD` keeps its users' tokens until they rotate them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The issuer of every cube-studio user token.
pub const ISSUER: &str = "cube-studio";

/// The claims of a user token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    pub iss: String,
    /// The user name.
    pub sub: String,
    /// The user's id (absent in the original's tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    /// The user's token version when it was issued (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expiry, seconds since the epoch (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

impl UserClaims {
    /// The token version the claims carry (the original's tokens: 0).
    pub fn version(&self) -> i64 {
        self.ver.unwrap_or(0)
    }
}

/// Signs user claims with `key`.
pub fn issue_user_token(
    claims: &UserClaims,
    key: &str,
) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes())?,
    )
}

/// The claims of a token signed with `key` by cube-studio (HS256 only, issuer
/// `cube-studio`, not expired when it has an expiry); `None` for anything else.
pub fn verify_user_token(token: &str, key: &str) -> Option<UserClaims> {
    // built once: every authenticated request verifies a token
    static VALIDATION: std::sync::LazyLock<Validation> = std::sync::LazyLock::new(|| {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["iss", "sub"]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation
    });
    let key = DecodingKey::from_secret(key.as_bytes()).ok()?;
    jsonwebtoken::decode::<UserClaims>(token.trim(), &key, &VALIDATION)
        .ok()
        .map(|data| data.claims)
}

fn hmac_sha256(key: &str, data: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(data.as_bytes());
    Some(mac)
}

/// Signs arbitrary data (session cookies) with `key`; URL-safe base64 of HMAC-SHA256.
pub fn sign_value(data: &str, key: &str) -> String {
    hmac_sha256(key, data)
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Checks a signature made by [`sign_value`] in constant time.
pub fn verify_value(data: &str, signature: &str, key: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    hmac_sha256(key, data).is_some_and(|m| m.verify_slice(&sig).is_ok())
}

/// A new random key of 256 bits, as 64 hex digits.
pub fn generate_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The admin's token as the original issues it with its public default key.
    const ORIGINAL_ADMIN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjdWJlLXN0dWRpbyIsInN1YiI6ImFkbWluIn0.jrHZR_Ekt9FgrJh0BBYElLthXsRGnWJLReYrkaPlTCE";

    #[test]
    fn the_original_tokens_verify_only_with_their_key() {
        let c = verify_user_token(ORIGINAL_ADMIN, "cube-studio").unwrap();
        assert_eq!(c.sub, "admin");
        assert_eq!((c.uid, c.version(), c.exp), (None, 0, None));
        assert_eq!(verify_user_token(ORIGINAL_ADMIN, "other-key"), None);
        assert_eq!(verify_user_token("admin", "cube-studio"), None);
        assert_eq!(verify_user_token("a.b.c", "cube-studio"), None);
    }

    #[test]
    fn round_trip_expiry_and_issuer() {
        let now = chrono::Utc::now().timestamp();
        let claims = UserClaims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            uid: Some(7),
            ver: Some(3),
            iat: Some(now),
            exp: Some(now + 60),
        };
        let t = issue_user_token(&claims, "k").unwrap();
        assert_eq!(verify_user_token(&t, "k"), Some(claims.clone()));
        assert_eq!(verify_user_token(&t, "k2"), None);
        let expired = UserClaims {
            exp: Some(now - 1),
            ..claims.clone()
        };
        let t = issue_user_token(&expired, "k").unwrap();
        assert_eq!(verify_user_token(&t, "k"), None);
        let other_issuer = UserClaims {
            iss: "someone".into(),
            ..claims
        };
        let t = issue_user_token(&other_issuer, "k").unwrap();
        assert_eq!(verify_user_token(&t, "k"), None);
    }

    #[test]
    fn refuses_unsigned_tokens() {
        // alg none with the admin's claims
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"iss":"cube-studio","sub":"admin"}"#)
        );
        assert_eq!(verify_user_token(&none, "cube-studio"), None);
    }

    #[test]
    fn signs_values_and_generates_keys() {
        let s = sign_value("data", "k");
        assert!(verify_value("data", &s, "k"));
        assert!(!verify_value("datb", &s, "k"));
        assert!(!verify_value("data", "!!", "k"));
        let (a, b) = (generate_key(), generate_key());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
