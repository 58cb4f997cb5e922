//! Cron pipelines as pure functions over rows and a clock (orchestration.md §3.2):
//! when a pipeline fires, and which of its runs to launch, expire or stop.
//!
//! Fixes of the original: fire times are planned but launched only when due; the
//! `depends_on_past` chain follows the run's final status (the original stalled once
//! the watcher overwrote `created`); crontab day-of-week numbers mean what crontab
//! says (0 and 7 are Sunday), not the `cron` crate's Quartz numbering.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// A parsed crontab.
#[derive(Debug, Clone)]
pub struct Crontab {
    schedule: cron::Schedule,
    pub source: String,
}

/// Why a crontab cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad cron expression {expr:?}: {reason}")]
pub struct CronError {
    pub expr: String,
    pub reason: String,
}

fn shift_dow_token(tok: &str) -> Result<String, String> {
    // a single number or a range a-b, crontab 0-7 (0/7 Sunday) → Quartz 1-7 (1 Sunday)
    let one = |s: &str| -> Result<String, String> {
        match s.parse::<u32>() {
            Ok(n) if n <= 7 => Ok(((n % 7) + 1).to_string()),
            Ok(n) => Err(format!("day of week {n} is out of range 0-7")),
            Err(_) => Ok(s.to_string()),
        }
    };
    if let Some((a, b)) = tok.split_once('-') {
        let (a, b) = (one(a)?, one(b)?);
        // 5-0 (Fri-Sun) wraps after the shift: keep it a valid ascending range
        if let (Ok(x), Ok(y)) = (a.parse::<u32>(), b.parse::<u32>())
            && y < x
        {
            return Ok(format!("{x}-7,1-{y}"));
        }
        return Ok(format!("{a}-{b}"));
    }
    one(tok)
}

fn shift_dow(field: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        let base = if base == "*" || base == "?" {
            base.to_string()
        } else {
            shift_dow_token(base)?
        };
        parts.push(match step {
            Some(_) if base.contains(',') => {
                return Err(format!("cannot step over a wrapping range {item}"));
            }
            Some(s) => format!("{base}/{s}"),
            None => base,
        });
    }
    Ok(parts.join(","))
}

/// Parses a 5-field crontab (the original's format, `m h dom mon dow`) or a 6/7-field
/// expression with seconds.
pub fn parse_crontab(expr: &str) -> Result<Crontab, CronError> {
    let err = |reason: String| CronError {
        expr: expr.to_string(),
        reason,
    };
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let six = match fields.len() {
        5 => {
            let dow = shift_dow(fields[4]).map_err(err)?;
            format!(
                "0 {} {} {} {} {}",
                fields[0], fields[1], fields[2], fields[3], dow
            )
        }
        6 | 7 => fields.join(" "),
        n => {
            return Err(err(format!(
                "expected 5 fields (minute hour day month weekday), got {n}"
            )));
        }
    };
    let schedule: cron::Schedule = six
        .parse()
        .map_err(|e: cron::error::Error| err(e.to_string()))?;
    Ok(Crontab {
        schedule,
        source: expr.to_string(),
    })
}

impl Crontab {
    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: &chrono::DateTime<Tz>) -> Option<chrono::DateTime<Tz>> {
        self.schedule.after(t).next()
    }

    /// Fire times strictly after `t` (naive local time of `tz`), as naive local times.
    pub fn after(&self, t: NaiveDateTime, tz: Tz) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let start = tz
            .from_local_datetime(&t)
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&t));
        self.schedule.after(&start).map(|d| d.naive_local())
    }
}

/// What to plan for one pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PlanWindow {
    /// `pipeline.cronjob_start_time`: only fire times strictly after it count.
    pub start: NaiveDateTime,
    /// The latest planned run, if any (planning resumes after it).
    pub last: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
    /// Plan up to `now + look_ahead_secs` (exclusive).
    pub look_ahead_secs: i64,
    /// Minimum distance between two fire times.
    pub resolution_secs: i64,
    /// At most this many new fire times per call (a long backfill continues next tick).
    pub max_runs: usize,
}

/// The fire times to insert as `run` rows (orchestration.md §3.2 "Generation").
pub fn plan_fire_times(tab: &Crontab, tz: Tz, w: &PlanWindow) -> Vec<NaiveDateTime> {
    let stop = w.now + chrono::Duration::seconds(w.look_ahead_secs.max(0));
    let (from, mut prev) = match w.last {
        Some(l) if l > w.start => (l, Some(l)),
        _ => (w.start, None),
    };
    let mut out = Vec::new();
    for eta in tab.after(from, tz) {
        if eta >= stop || out.len() >= w.max_runs {
            break;
        }
        if eta <= w.start {
            continue;
        }
        if let Some(p) = prev
            && (eta - p).num_seconds() < w.resolution_secs
        {
            continue;
        }
        out.push(eta);
        prev = Some(eta);
    }
    out
}

/// The statuses of a run that still occupy a slot.
pub fn is_active(status: &str) -> bool {
    matches!(status, "created" | "Created" | "" | "Pending" | "Running")
}

/// A run row as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub id: i32,
    pub execution_date: NaiveDateTime,
    pub status: String,
    /// Status of the run's workflow row, when the watcher has one.
    pub workflow_status: Option<String>,
}

impl RunView {
    /// The run's status, or its workflow's when the run row lags behind a finished workflow.
    pub fn effective_status(&self) -> &str {
        match self.workflow_status.as_deref() {
            Some(w) if is_active(&self.status) && !w.is_empty() && !is_active(w) => w,
            _ => &self.status,
        }
    }

    fn succeeded_or_dropped(&self) -> bool {
        matches!(self.effective_status(), "Succeeded" | "Deleted")
    }

    fn active(&self) -> bool {
        is_active(self.effective_status())
    }
}

/// The dispatch settings of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchPolicy {
    pub depends_on_past: bool,
    pub expired_limit: i32,
    pub max_active_runs: i32,
}

/// What to do with a pipeline's runs this tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dispatch {
    /// `comed` runs to launch, oldest first.
    pub launch: Vec<i32>,
    /// `comed` runs dropped by `expired_limit` (marked `Deleted`, never launched).
    pub expire: Vec<i32>,
    /// Active runs dropped by `expired_limit` (their workflows stopped, marked `Deleted`).
    pub stop: Vec<i32>,
}

/// Decides a pipeline's launches (orchestration.md §3.2 "Selection"), given its runs in
/// the window that are due (`execution_date <= now`) and the number of its active manual
/// (non-cron) workflows.
pub fn decide_dispatch(
    policy: &DispatchPolicy,
    runs: &[RunView],
    active_manual: usize,
) -> Dispatch {
    let mut sorted: Vec<&RunView> = runs.iter().collect();
    sorted.sort_by_key(|r| (r.execution_date, r.id));
    let mut d = Dispatch::default();
    if policy.depends_on_past {
        if let Some(pos) = sorted.iter().position(|r| r.status == "comed") {
            let t = sorted[pos];
            let previous = sorted[..pos]
                .iter()
                .rev()
                .find(|r| r.execution_date < t.execution_date);
            let blocked_by_active = sorted
                .iter()
                .any(|r| r.id != t.id && r.active() && r.execution_date < t.execution_date);
            match previous {
                None if !blocked_by_active => d.launch.push(t.id),
                Some(p) if p.succeeded_or_dropped() && !blocked_by_active => d.launch.push(t.id),
                _ => {}
            }
        }
        return d;
    }
    if policy.expired_limit > 0 {
        let keep = policy.expired_limit as usize;
        let newest_first: Vec<&&RunView> = sorted.iter().rev().collect();
        for (i, r) in newest_first.iter().enumerate() {
            if i < keep {
                continue;
            }
            if r.status == "comed" {
                d.expire.push(r.id);
            } else if r.active() {
                d.stop.push(r.id);
            }
        }
        let mut kept: Vec<&&RunView> = newest_first
            .into_iter()
            .take(keep)
            .filter(|r| r.status == "comed")
            .collect();
        kept.reverse();
        d.launch = kept.into_iter().map(|r| r.id).collect();
        d.expire.sort_unstable();
        d.stop.sort_unstable();
        return d;
    }
    let active = sorted.iter().filter(|r| r.active()).count() + active_manual;
    let slots = (policy.max_active_runs.max(0) as usize).saturating_sub(active);
    d.launch = sorted
        .iter()
        .filter(|r| r.status == "comed")
        .take(slots)
        .map(|r| r.id)
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        crate::cron::tests::parse(s)
    }

    pub(super) fn parse(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn window(start: &str, last: Option<&str>, now: &str) -> PlanWindow {
        PlanWindow {
            start: t(start),
            last: last.map(t),
            now: t(now),
            look_ahead_secs: 300,
            resolution_secs: 600,
            max_runs: 10_000,
        }
    }

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn hour_lists_across_midnight() {
        // the order of a list does not matter: 22,23,0 fires at 22:00, 23:00, 00:00
        let tab = parse_crontab("0 22,23,0 * * *").unwrap();
        let w = PlanWindow {
            look_ahead_secs: 0,
            ..window("2026-11-30 21:00:01", None, "2026-12-01 00:30:00")
        };
        let got: Vec<String> = plan_fire_times(&tab, TZ, &w)
            .iter()
            .map(|d| d.format("%d %H:%M").to_string())
            .collect();
        assert_eq!(got, vec!["30 22:00", "30 23:00", "01 00:00"]);
    }

    #[test]
    fn the_original_example() {
        // */5 from 00:03 to 01:05 with a 10-minute resolution: 00:05, 00:15, ..., 00:55
        let tab = parse_crontab("*/5 * * * *").unwrap();
        let w = PlanWindow {
            look_ahead_secs: 0,
            ..window("2026-11-30 00:03:00", None, "2026-11-30 01:05:00")
        };
        let got: Vec<String> = plan_fire_times(&tab, TZ, &w)
            .iter()
            .map(|d| d.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            got,
            vec!["00:05", "00:15", "00:25", "00:35", "00:45", "00:55"]
        );
    }

    #[test]
    fn backfill_counts_and_resumes_after_the_last_run() {
        let tab = parse_crontab("0 * * * *").unwrap();
        let w = window("2026-11-29 00:00:00", None, "2026-11-30 00:00:00");
        let all = plan_fire_times(&tab, TZ, &w);
        // strictly after the start, up to now + 5 minutes: 01:00 .. 00:00 next day
        assert_eq!(all.len(), 24);
        assert_eq!(all[0], t("2026-11-29 01:00:00"));
        assert_eq!(*all.last().unwrap(), t("2026-11-30 00:00:00"));
        let rest = plan_fire_times(
            &tab,
            TZ,
            &PlanWindow {
                last: Some(all[9]),
                ..w
            },
        );
        assert_eq!(rest.len(), 14);
        assert_eq!(rest[0], all[10]);
        let capped = plan_fire_times(&tab, TZ, &PlanWindow { max_runs: 5, ..w });
        assert_eq!(capped.len(), 5);
    }

    #[test]
    fn crontab_weekdays_mean_crontab_weekdays() {
        // 2026-11-30 is a Monday
        let tab = parse_crontab("0 9 * * 1").unwrap();
        let next = tab.after(t("2026-11-29 12:00:00"), TZ).next().unwrap();
        assert_eq!(next, t("2026-11-30 09:00:00"));
        let sun = parse_crontab("0 9 * * 0")
            .unwrap()
            .after(t("2026-11-30 12:00:00"), TZ)
            .next()
            .unwrap();
        assert_eq!(sun, t("2026-12-06 09:00:00"));
        let seven = parse_crontab("0 9 * * 7")
            .unwrap()
            .after(t("2026-11-30 12:00:00"), TZ)
            .next()
            .unwrap();
        assert_eq!(seven, sun);
        let fri_sun = parse_crontab("0 9 * * 5-0").unwrap();
        let days: Vec<NaiveDateTime> = fri_sun
            .after(t("2026-11-30 12:00:00"), TZ)
            .take(3)
            .collect();
        assert_eq!(
            days,
            vec![
                t("2026-12-04 09:00:00"),
                t("2026-12-05 09:00:00"),
                t("2026-12-06 09:00:00")
            ]
        );
        assert!(parse_crontab("0 9 * * 1-5/2").is_ok());
        assert!(parse_crontab("MON").is_err());
        assert!(parse_crontab("* * * *").is_err());
        assert!(parse_crontab("61 * * * *").is_err());
        assert!(parse_crontab("0 9 * * 8").is_err());
        assert!(parse_crontab("").is_err());
    }

    fn run(id: i32, date: &str, status: &str) -> RunView {
        RunView {
            id,
            execution_date: t(date),
            status: status.into(),
            workflow_status: None,
        }
    }

    #[test]
    fn max_active_runs_limits_launches() {
        let p = DispatchPolicy {
            depends_on_past: false,
            expired_limit: 0,
            max_active_runs: 2,
        };
        let runs = vec![
            run(1, "2026-11-30 01:00:00", "Running"),
            run(2, "2026-11-30 02:00:00", "comed"),
            run(3, "2026-11-30 03:00:00", "comed"),
        ];
        assert_eq!(decide_dispatch(&p, &runs, 0).launch, vec![2]);
        assert_eq!(decide_dispatch(&p, &runs, 1).launch, Vec::<i32>::new());
        let idle = vec![
            run(2, "2026-11-30 02:00:00", "comed"),
            run(3, "2026-11-30 03:00:00", "comed"),
            run(4, "2026-11-30 04:00:00", "comed"),
        ];
        assert_eq!(decide_dispatch(&p, &idle, 0).launch, vec![2, 3]);
    }

    #[test]
    fn expired_limit_keeps_the_newest() {
        let p = DispatchPolicy {
            depends_on_past: false,
            expired_limit: 1,
            max_active_runs: 5,
        };
        let runs = vec![
            run(1, "2026-11-30 01:00:00", "Running"),
            run(2, "2026-11-30 02:00:00", "comed"),
            run(3, "2026-11-30 03:00:00", "Succeeded"),
            run(4, "2026-11-30 04:00:00", "comed"),
        ];
        let d = decide_dispatch(&p, &runs, 0);
        assert_eq!(
            d,
            Dispatch {
                launch: vec![4],
                expire: vec![2],
                stop: vec![1]
            }
        );
    }

    #[test]
    fn depends_on_past_chains_in_order() {
        let p = DispatchPolicy {
            depends_on_past: true,
            expired_limit: 0,
            max_active_runs: 5,
        };
        let first = vec![
            run(1, "2026-11-30 01:00:00", "comed"),
            run(2, "2026-11-30 02:00:00", "comed"),
        ];
        assert_eq!(decide_dispatch(&p, &first, 0).launch, vec![1]);
        for (status, launches) in [
            ("created", false),
            ("Pending", false),
            ("Running", false),
            ("Failed", false),
            ("Error", false),
            ("Succeeded", true),
            ("Deleted", true),
        ] {
            let runs = vec![
                run(1, "2026-11-30 01:00:00", status),
                run(2, "2026-11-30 02:00:00", "comed"),
            ];
            assert_eq!(
                decide_dispatch(&p, &runs, 0).launch.is_empty(),
                !launches,
                "previous {status}"
            );
        }
        // the watcher's view counts too: run still 'created' but its workflow succeeded
        let mut r1 = run(1, "2026-11-30 01:00:00", "created");
        r1.workflow_status = Some("Succeeded".into());
        assert_eq!(
            decide_dispatch(&p, &[r1, run(2, "2026-11-30 02:00:00", "comed")], 0).launch,
            vec![2]
        );
    }
}
