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
}
