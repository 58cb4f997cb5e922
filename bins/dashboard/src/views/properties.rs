//! Computed list columns shared by several views.

use std::collections::BTreeMap;

use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::engine::view::{Property, Row};
use crate::error::ApiError;

/// `id → username` of the given user ids.
pub fn usernames(
    conn: &mut MysqlConnection,
    ids: &[i64],
) -> Result<BTreeMap<i64, String>, ApiError> {
    Ok(app_models::dashboard::usernames(conn, ids)?)
}

fn creator(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get("created_by_fk").and_then(Value::as_i64))
        .collect();
    let names = usernames(conn, &ids)?;
    for r in rows.iter_mut() {
        let n = r
            .get("created_by_fk")
            .and_then(Value::as_i64)
            .and_then(|i| names.get(&i).cloned())
            .unwrap_or_default();
        r.insert("creator".into(), json!(n));
    }
    Ok(())
}

/// "3 minutes ago", as `humanize.naturaltime` prints it.
pub fn humanize_since(then: &str, now: chrono::NaiveDateTime) -> String {
    let Some(t) = app_models::time::parse_time(then) else {
        return String::new();
    };
    let secs = (now - t).num_seconds();
    let (n, unit) = match secs {
        s if s < 0 => return "now".into(),
        0 => return "now".into(),
        1 => return "a second ago".into(),
        s if s < 60 => (s, "seconds"),
        s if s < 120 => return "a minute ago".into(),
        s if s < 3600 => (s / 60, "minutes"),
        s if s < 7200 => return "an hour ago".into(),
        s if s < 86_400 => (s / 3600, "hours"),
        s if s < 172_800 => return "a day ago".into(),
        s if s < 30 * 86_400 => (s / 86_400, "days"),
        s if s < 60 * 86_400 => return "a month ago".into(),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "months"),
        s if s < 2 * 365 * 86_400 => return "a year ago".into(),
        s => (s / (365 * 86_400), "years"),
    };
    format!("{n} {unit} ago")
}

fn modified(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let now = app_models::forms::now();
    for r in rows.iter_mut() {
        let m = r
            .get("changed_on")
            .and_then(Value::as_str)
            .map(|c| humanize_since(c, now))
            .unwrap_or_default();
        r.insert("modified".into(), json!(m));
    }
    Ok(())
}

/// `creator`: the username of `created_by_fk`.
pub const CREATOR: Property = Property {
    name: "creator",
    compute: creator,
};
/// `modified`: how long ago `changed_on` was.
pub const MODIFIED: Property = Property {
    name: "modified",
    compute: modified,
};

/// The members of each project as `user(role)`.
pub fn members_of(
    conn: &mut MysqlConnection,
    project_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>, ApiError> {
    Ok(app_models::dashboard::members_by_project(
        conn,
        project_ids,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizes() {
        let now = app_models::time::parse_time("2026-11-30 10:00:00").unwrap();
        assert_eq!(humanize_since("2026-11-30T09:59:15", now), "45 seconds ago");
        assert_eq!(humanize_since("2026-11-30 09:58:30", now), "a minute ago");
        assert_eq!(humanize_since("2026-11-30 07:00:00", now), "3 hours ago");
        assert_eq!(humanize_since("2026-11-20 10:00:00", now), "10 days ago");
        assert_eq!(humanize_since("bad", now), "");
    }
}
