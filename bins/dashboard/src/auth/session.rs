//! The signed `session` cookie: `base64url(json).signature`, HMAC-SHA256 with the
//! session key. It names the user and the user's id, so the session of a deleted user
//! does not open the account of a new user of the same name.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use app_core::token::{sign_value, verify_value};

/// Name of the session cookie (as Flask's).
pub const SESSION_COOKIE: &str = "session";
/// How long a login lasts (the original used `remember=True`: a year).
pub const SESSION_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Payload {
    u: String,
    uid: i64,
    exp: i64,
}

/// The user a valid session names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub username: String,
    pub user_id: i64,
}

/// A signed session value for a user, valid until `now + SESSION_SECONDS`.
pub fn encode_session(username: &str, user_id: i64, key: &str, now: i64) -> String {
    let payload = serde_json::to_string(&Payload {
        u: username.to_string(),
        uid: user_id,
        exp: now + SESSION_SECONDS,
    })
    .unwrap_or_default();
    let data = URL_SAFE_NO_PAD.encode(payload);
    let sig = sign_value(&data, key);
    format!("{data}.{sig}")
}

/// The user of a valid, unexpired session value.
pub fn decode_session(value: &str, key: &str, now: i64) -> Option<SessionUser> {
    let (data, sig) = value.rsplit_once('.')?;
    if !verify_value(data, sig, key) {
        return None;
    }
    let payload: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(data).ok()?).ok()?;
    (payload.exp > now).then_some(SessionUser {
        username: payload.u,
        user_id: payload.uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let v = encode_session("alice", 3, "k", 1000);
        let alice = SessionUser {
            username: "alice".into(),
            user_id: 3,
        };
        assert_eq!(decode_session(&v, "k", 1001), Some(alice));
        assert_eq!(decode_session(&v, "other", 1001), None);
        assert_eq!(decode_session(&v, "k", 1000 + SESSION_SECONDS + 1), None);
        let forged = v.replacen('e', "f", 1);
        assert_eq!(decode_session(&forged, "k", 1001), None);
        assert_eq!(decode_session("garbage", "k", 1), None);
    }
}
