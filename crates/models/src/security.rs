//! Our own authentication tables (migration `000003_security`): keys shared by every
//! replica, the version of each user's token, and failed-login counters. Times are the
//! database's `NOW()`, so replicas with skewed clocks agree.

use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};

use crate::schema::{ab_user, app_setting};

/// The value stored under `name`.
pub fn setting(conn: &mut MysqlConnection, name: &str) -> QueryResult<Option<String>> {
    app_setting::table
        .find(name)
        .select(app_setting::value)
        .first(conn)
        .optional()
}

/// Stores `value` under `name` unless something is stored there already, and returns what
/// is stored: the first writer wins, so replicas starting together agree on one value.
pub fn setting_or_insert(
    conn: &mut MysqlConnection,
    name: &str,
    value: &str,
) -> QueryResult<String> {
    diesel::insert_or_ignore_into(app_setting::table)
        .values((app_setting::name.eq(name), app_setting::value.eq(value)))
        .execute(conn)?;
    app_setting::table
        .find(name)
        .select(app_setting::value)
        .first(conn)
}

/// Replaces the value stored under `name` (key rotation).
pub fn replace_setting(conn: &mut MysqlConnection, name: &str, value: &str) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO app_setting (`name`, `value`) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE `value` = VALUES(`value`), changed_on = NOW()",
    )
    .bind::<Text, _>(name)
    .bind::<Text, _>(value)
    .execute(conn)?;
    Ok(())
}

/// The current version of a user's token: 0 and never rotated when no row exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenVersion {
    pub version: i32,
    /// When it was last rotated, seconds since the epoch.
    pub rotated_at: Option<i64>,
}

#[derive(QueryableByName)]
struct TokenRow {
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    rotated_at: Option<i64>,
}

/// The token version of `user_id`.
pub fn token_version(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<TokenVersion> {
    let rows: Vec<TokenRow> = diesel::sql_query(
        "SELECT version, CAST(UNIX_TIMESTAMP(rotated_on) AS SIGNED) AS rotated_at \
         FROM user_token WHERE user_id = ?",
    )
    .bind::<Integer, _>(user_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| TokenVersion {
            version: r.version,
            rotated_at: r.rotated_at,
        })
        .unwrap_or_default())
}

/// Gives a never-rotated token a start time (now), from which an expiry is counted.
pub fn anchor_token(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<TokenVersion> {
    diesel::sql_query(
        "INSERT INTO user_token (user_id, version, rotated_on) VALUES (?, 0, NOW()) \
         ON DUPLICATE KEY UPDATE rotated_on = COALESCE(rotated_on, NOW())",
    )
    .bind::<Integer, _>(user_id)
    .execute(conn)?;
    token_version(conn, user_id)
}

/// Rotates a user's token: the version goes up by one, so every token issued before
/// stops matching. Returns the new version.
pub fn rotate_token(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<TokenVersion> {
    diesel::sql_query(
        "INSERT INTO user_token (user_id, version, rotated_on) VALUES (?, 1, NOW()) \
         ON DUPLICATE KEY UPDATE version = version + 1, rotated_on = NOW()",
    )
    .bind::<Integer, _>(user_id)
    .execute(conn)?;
    token_version(conn, user_id)
}

/// What the throttle knows of one subject (a user name or a client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures counted in the current window.
    pub failures: i32,
    /// Seconds until the current window ends (0 once it has).
    pub remaining_secs: i64,
}

#[derive(QueryableByName)]
struct ThrottleRow {
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    remaining: Option<i64>,
}

/// The failures of `subject` in `scope` within the window of `window_secs`.
pub fn throttle(
    conn: &mut MysqlConnection,
    scope: &str,
    subject: &str,
    window_secs: i64,
) -> QueryResult<Option<Throttle>> {
    let rows: Vec<ThrottleRow> = diesel::sql_query(
        "SELECT failures, GREATEST(0, TIMESTAMPDIFF(SECOND, NOW(), window_start + INTERVAL ? SECOND)) AS remaining \
         FROM login_throttle WHERE scope = ? AND subject = ?",
    )
    .bind::<diesel::sql_types::BigInt, _>(window_secs)
    .bind::<Text, _>(scope)
    .bind::<Text, _>(subject)
    .load(conn)?;
    Ok(rows.into_iter().next().map(|r| Throttle {
        failures: r.failures,
        remaining_secs: r.remaining.unwrap_or(0),
    }))
}

/// Counts one failure of `subject`: a window starts at the first failure and lasts
/// `window_secs`; a failure after it starts a new window. Rows of windows older than a
/// day are removed on the way.
pub fn record_failure(
    conn: &mut MysqlConnection,
    scope: &str,
    subject: &str,
    window_secs: i64,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO login_throttle (scope, subject, failures, window_start) VALUES (?, ?, 1, NOW()) \
         ON DUPLICATE KEY UPDATE \
           failures = IF(window_start <= NOW() - INTERVAL ? SECOND, 1, failures + 1), \
           window_start = IF(window_start <= NOW() - INTERVAL ? SECOND, NOW(), window_start)",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(subject)
    .bind::<diesel::sql_types::BigInt, _>(window_secs)
    .bind::<diesel::sql_types::BigInt, _>(window_secs)
    .execute(conn)?;
    diesel::sql_query(
        "DELETE FROM login_throttle WHERE window_start < NOW() - INTERVAL 1 DAY LIMIT 100",
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets the failures of `subject` (after a successful login).
pub fn clear_throttle(conn: &mut MysqlConnection, scope: &str, subject: &str) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM login_throttle WHERE scope = ? AND subject = ?")
        .bind::<Text, _>(scope)
        .bind::<Text, _>(subject)
        .execute(conn)?;
    Ok(())
}

/// Flask-AppBuilder's login statistics after a successful login: one more login, no
/// failures, `last_login` now.
pub fn record_login_success(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<()> {
    diesel::update(ab_user::table.find(user_id))
        .set((
            ab_user::login_count.eq(diesel::dsl::sql::<Nullable<Integer>>(
                "COALESCE(login_count, 0) + 1",
            )),
            ab_user::fail_login_count.eq(Some(0)),
            ab_user::last_login.eq(diesel::dsl::sql::<Nullable<diesel::sql_types::Datetime>>(
                "NOW()",
            )),
        ))
        .execute(conn)?;
    Ok(())
}

/// Flask-AppBuilder's login statistics after a wrong password: one more failure.
pub fn record_login_failure(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<()> {
    diesel::update(ab_user::table.find(user_id))
        .set(
            ab_user::fail_login_count.eq(diesel::dsl::sql::<Nullable<Integer>>(
                "COALESCE(fail_login_count, 0) + 1",
            )),
        )
        .execute(conn)?;
    Ok(())
}
