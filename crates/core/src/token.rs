//! The user token of cube-studio: an HS256 JWT `{"iss":"cube-studio","sub":<username>}`
//! signed with `JWT_PASSWORD` (the original's `MyUser.secret`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn sign(key: &str, data: &str) -> Vec<u8> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The token of `username` (byte-identical to the original's).
pub fn user_token(username: &str, key: &str) -> String {
    let payload = serde_json::json!({"iss": "cube-studio", "sub": username}).to_string();
    let data = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = URL_SAFE_NO_PAD.encode(sign(key, &data));
    format!("{data}.{sig}")
}

/// Verifies a token and returns its `sub` (the username).
pub fn verify_user_token(token: &str, key: &str) -> Option<String> {
    let mut parts = token.trim().split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(format!("{h}.{p}").as_bytes());
    mac.verify_slice(&sig).ok()?;
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    if payload.get("iss").and_then(|v| v.as_str()) != Some("cube-studio") {
        return None;
    }
    payload.get("sub")?.as_str().map(String::from)
}

/// Signs arbitrary data (session cookies) with `key`; URL-safe base64.
pub fn sign_value(data: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sign(key, data))
}

/// Checks a signature made by [`sign_value`] in constant time.
pub fn verify_value(data: &str, signature: &str, key: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(data.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_original_token() {
        // observed on cube-studio: the admin's secret with the default JWT_PASSWORD
        let t = user_token("admin", "cube-studio");
        assert_eq!(
            t,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjdWJlLXN0dWRpbyIsInN1YiI6ImFkbWluIn0.jrHZR_Ekt9FgrJh0BBYElLthXsRGnWJLReYrkaPlTCE"
        );
        assert_eq!(
            verify_user_token(&t, "cube-studio").as_deref(),
            Some("admin")
        );
        assert_eq!(verify_user_token(&t, "other-key"), None);
        assert_eq!(verify_user_token("admin", "cube-studio"), None);
        assert_eq!(verify_user_token("a.b.c", "cube-studio"), None);
    }

    #[test]
    fn signs_values() {
        let s = sign_value("data", "k");
        assert!(verify_value("data", &s, "k"));
        assert!(!verify_value("datb", &s, "k"));
        assert!(!verify_value("data", "!!", "k"));
    }
}
