//! Time helpers for the string-typed time columns of the cube-studio schema.

use chrono::NaiveDateTime;

/// The format of `run.execution_date`, `pipeline.cronjob_start_time`, `workflow.create_time`...
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Formats a naive time the way cube-studio stores time strings.
pub fn format_time(t: NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Parses a cube-studio time string (`YYYY-mm-dd HH:MM:SS`, also with `T` or fractional seconds).
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}
