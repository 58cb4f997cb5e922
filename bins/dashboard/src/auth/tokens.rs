//! User tokens as the dashboard issues and accepts them: the claims carry the user's id
//! and token version, so rotating the version (or deleting the user) revokes every token
//! issued before, at once. With `TOKEN_TTL_DAYS` tokens also expire that many days after
//! the last rotation.

use app_core::token::{ISSUER, UserClaims, issue_user_token};
use app_models::security::TokenVersion;

use super::Ctx;

const DAY: i64 = 24 * 3600;

/// The claims of the token of a user at a version: the same claims (so the same
/// token) until the version changes.
pub fn claims_for(
    user_id: i32,
    username: &str,
    tv: TokenVersion,
    ttl_days: Option<i64>,
) -> UserClaims {
    let exp = ttl_days.and_then(|d| tv.rotated_at.map(|at| at + d * DAY));
    UserClaims {
        iss: ISSUER.into(),
        sub: username.into(),
        uid: Some(user_id as i64),
        ver: Some(tv.version as i64),
        iat: tv.rotated_at,
        exp,
    }
}

/// The token of a user, signed with `key`.
pub fn token_for(
    key: &str,
    user_id: i32,
    username: &str,
    tv: TokenVersion,
    ttl_days: Option<i64>,
) -> Result<String, jsonwebtoken::errors::Error> {
    issue_user_token(&claims_for(user_id, username, tv, ttl_days), key)
}

/// Why verified claims are not accepted for the user they name.
pub fn refusal(claims: &UserClaims, ctx: &Ctx, ttl_days: Option<i64>) -> Option<&'static str> {
    if claims.sub != ctx.username {
        return Some("the token does not belong to this user");
    }
    if claims.uid.is_some_and(|uid| uid != ctx.user_id as i64) {
        // a deleted user's token, presented for a new user of the same name
        return Some("the token was revoked");
    }
    if claims.version() != ctx.token.version as i64 {
        return Some("the token was revoked");
    }
    if ttl_days.is_some() && claims.exp.is_none() {
        return Some("the token has no expiry: rotate it in the user centre");
    }
    None
}

/// Tokens whose signature was checked, with their claims: a request with a token seen
/// before skips the HMAC and JSON decoding (3 % of a list request). Only valid tokens
/// are kept, keyed by the whole token, so a changed byte is a miss; expiry is checked on
/// every hit; revocation is the version check of [`refusal`], as for a fresh token.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<String, UserClaims>>,
}

/// At most this many tokens are remembered (the map is emptied when full).
const MAX_VERIFIED: usize = 4096;

impl VerifiedTokens {
    /// [`app_core::token::verify_user_token`], remembered.
    pub fn verify(&self, token: &str, key: &str, now: i64) -> Option<UserClaims> {
        let token = token.trim();
        if let Ok(map) = self.entries.lock()
            && let Some(c) = map.get(token)
        {
            // as the verification's `exp` check (leeway 0): expired once `exp < now`
            return c.exp.is_none_or(|exp| exp >= now).then(|| c.clone());
        }
        let claims = app_core::token::verify_user_token(token, key)?;
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_VERIFIED {
                map.clear();
            }
            map.insert(token.to_string(), claims.clone());
        }
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(version: i32) -> Ctx {
        Ctx {
            user_id: 7,
            username: "alice".into(),
            is_admin: false,
            roles: vec![],
            org_projects: vec![],
            creator_projects: vec![],
            token: TokenVersion {
                version,
                rotated_at: Some(1_000),
            },
        }
    }

    #[test]
    fn accepts_only_the_current_version_of_the_same_user() {
        let c = ctx(2);
        let claims = claims_for(7, "alice", c.token, None);
        assert_eq!(refusal(&claims, &c, None), None);
        assert!(refusal(&claims, &ctx(3), None).is_some());
        let other_id = claims_for(8, "alice", c.token, None);
        assert!(refusal(&other_id, &c, None).is_some());
        let other_name = claims_for(7, "bob", c.token, None);
        assert!(refusal(&other_name, &c, None).is_some());
    }

    #[test]
    fn the_originals_tokens_count_as_version_0() {
        let legacy = UserClaims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            uid: None,
            ver: None,
            iat: None,
            exp: None,
        };
        assert_eq!(refusal(&legacy, &ctx(0), None), None);
        assert!(refusal(&legacy, &ctx(1), None).is_some());
        // with an expiry configured, a token without one is refused
        assert!(refusal(&legacy, &ctx(0), Some(30)).is_some());
    }

    #[test]
    fn expiry_counts_from_the_last_rotation() {
        let claims = claims_for(7, "alice", ctx(1).token, Some(2));
        assert_eq!(claims.exp, Some(1_000 + 2 * DAY));
        assert_eq!(claims_for(7, "alice", ctx(1).token, None).exp, None);
    }

    #[test]
    fn verified_tokens_are_remembered_until_they_expire() {
        let cache = VerifiedTokens::default();
        let mut claims = claims_for(
            7,
            "alice",
            TokenVersion {
                version: 1,
                rotated_at: Some(1_000),
            },
            None,
        );
        let now = chrono::Utc::now().timestamp();
        claims.exp = Some(now + 60);
        let token = issue_user_token(&claims, "k1").unwrap();
        assert_eq!(cache.verify(&token, "k1", now), Some(claims.clone()));
        // remembered: the same answer, and refused once expired
        assert_eq!(cache.verify(&token, "k1", now), Some(claims.clone()));
        assert_eq!(cache.verify(&token, "k1", now + 61), None);
        // another key, or a changed byte, is checked again and refused
        let other = VerifiedTokens::default();
        assert_eq!(other.verify(&token, "k2", now), None);
        let mut bad = token.clone();
        bad.pop();
        bad.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(cache.verify(&bad, "k1", now), None);
    }
}
