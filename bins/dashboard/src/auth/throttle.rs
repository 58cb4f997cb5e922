//! Login throttling: failed logins are counted per user name and per client address in
//! the database (shared by every replica); past `LOGIN_MAX_FAILURES_PER_USER` /
//! `_PER_ADDR` failures within `LOGIN_WINDOW_SECS`, logins of that user or from that
//! address answer 429 with `Retry-After` until the window ends, whatever the password.

use app_core::config::LoginThrottle;
use app_models::security::{clear_throttle, record_failure, throttle};
use diesel::mysql::MysqlConnection;
use diesel::result::QueryResult;

const USER: &str = "user";
const ADDR: &str = "addr";

/// The throttle key of a user name (case and surrounding spaces do not matter).
fn user_key(name: &str) -> String {
    name.trim().to_lowercase().chars().take(255).collect()
}

/// Seconds to wait when the user or the address is throttled now.
pub fn blocked(
    conn: &mut MysqlConnection,
    cfg: &LoginThrottle,
    username: &str,
    addr: &str,
) -> QueryResult<Option<i64>> {
    let mut wait = 0;
    for (scope, subject, max) in [
        (USER, user_key(username), cfg.max_failures_per_user),
        (ADDR, addr.to_string(), cfg.max_failures_per_addr),
    ] {
        if max <= 0 {
            continue;
        }
        if let Some(t) = throttle(conn, scope, &subject, cfg.window_secs)?
            && t.failures >= max
            && t.remaining_secs > 0
        {
            wait = wait.max(t.remaining_secs);
        }
    }
    Ok((wait > 0).then_some(wait))
}

/// Counts a failed login of `username` from `addr`.
pub fn failed(
    conn: &mut MysqlConnection,
    cfg: &LoginThrottle,
    username: &str,
    addr: &str,
) -> QueryResult<()> {
    record_failure(conn, USER, &user_key(username), cfg.window_secs)?;
    record_failure(conn, ADDR, addr, cfg.window_secs)
}

/// Forgets the failures of a user after a successful login (the address keeps its count:
/// one valid account must not reset the count of an address that guesses others).
pub fn succeeded(conn: &mut MysqlConnection, username: &str) -> QueryResult<()> {
    clear_throttle(conn, USER, &user_key(username))
}
