//! Time helpers for the string-typed time columns of the cube-studio schema.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// The format of `run.execution_date`, `pipeline.cronjob_start_time`, `workflow.create_time`...
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Formats a naive time the way cube-studio stores time strings. The scheduler formats
/// one per planned run and per pipeline every tick, so the usual shape is written
/// directly instead of interpreting [`TIME_FORMAT`] each time (the same text).
pub fn format_time(t: NaiveDateTime) -> String {
    if !(0..=9999).contains(&t.year()) || t.nanosecond() >= 1_000_000_000 {
        return t.format(TIME_FORMAT).to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a cube-studio time string (`YYYY-mm-dd HH:MM:SS`, also with `T` or fractional seconds).
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Some(t) = parse_plain(s.as_bytes()) {
        return Some(t);
    }
    NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// `YYYY-mm-dd HH:MM:SS` (or with `T`) read digit by digit: the shape of nearly every
/// stored time, read without interpreting a format (the scheduler reads one per run
/// and per pipeline every tick). `None` for anything else, which the formats then read.
fn parse_plain(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b' ' && b[10] != b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_formats(s: &str) -> Option<NaiveDateTime> {
        let s = s.trim();
        NaiveDateTime::parse_from_str(s, TIME_FORMAT)
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
            .ok()
    }

    #[test]
    fn the_direct_reading_equals_the_formats() {
        for s in [
            "2026-11-29 01:00:00",
            "2026-11-29T01:00:00",
            " 2026-11-29 01:00:00 ",
            "2026-11-29 01:00:00.250",
            "2024-02-29 23:59:59",
            "2023-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-11-31 00:00:00",
            "2026-11-29 24:00:00",
            "2026-11-29 23:60:00",
            "2026-11-29 23:59:60",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2026-1-29 01:00:000",
            "2026-11-29 01:00:0x",
            "+026-11-29 01:00:00",
            "2026-11-29_01:00:00",
            "2026-11-29",
            "",
            "abc",
        ] {
            assert_eq!(parse_time(s), by_formats(s), "{s:?}");
        }
    }

    #[test]
    fn the_direct_writing_equals_the_format() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        for t in [
            d(2026, 11, 29).and_hms_opt(1, 2, 3).unwrap(),
            d(2026, 1, 9).and_hms_milli_opt(23, 59, 59, 999).unwrap(),
            d(2024, 2, 29).and_hms_milli_opt(23, 59, 59, 1500).unwrap(),
            d(0, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
            d(9999, 12, 31).and_hms_opt(23, 59, 59).unwrap(),
            d(10000, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
            d(-5, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
        ] {
            assert_eq!(format_time(t), t.format(TIME_FORMAT).to_string(), "{t:?}");
        }
    }
}
