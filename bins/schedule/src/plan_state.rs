//! What the planner keeps between ticks so that a tick with nothing new reads little:
//! parsed crontabs, each pipeline's latest run (kept current from the rows added since,
//! re-read whole when rows went away) and each pipeline's first fire time still to plan.
//!
//! Every entry is checked against the rows of this tick or keyed by everything it
//! depends on, so a stale entry costs a recomputation, never a wrong plan.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app_core::cron::{CronError, Crontab, PlanWindow, parse_crontab, plan_fire_times};
use app_models::schema::run;
use app_models::time::parse_time;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

/// The latest planned run is re-read whole at least this often, whatever the counts say.
const FULL_REFRESH: Duration = Duration::from_secs(600);

/// Beyond this many new ids the latest runs are re-read whole: reading the new rows
/// themselves walks the clustered index, whose pages hold the frozen workflows, while
/// the whole re-read walks the small `(pipeline_id, execution_date)` key.
const MAX_INCREMENT: i32 = 2_000;

/// The planner's memory (one per scheduler process).
pub struct PlanState {
    tabs: HashMap<String, Result<Arc<Crontab>, CronError>>,
    next: HashMap<i32, NextFire>,
    /// `None` until the first tick, and while a tick holds it.
    pub lasts: Option<LastRuns>,
    /// The bad crontabs already reported by this process, by pipeline.
    reported: HashMap<i32, String>,
    /// How often the runs are counted ([`COUNT_EVERY`]; tests count every tick).
    pub count_runs_every: Duration,
}

impl Default for PlanState {
    fn default() -> Self {
        PlanState {
            tabs: HashMap::new(),
            next: HashMap::new(),
            lasts: None,
            reported: HashMap::new(),
            count_runs_every: COUNT_EVERY,
        }
    }
}

/// How far ahead the first fire time still to plan is looked for.
const HORIZON: chrono::Duration = chrono::Duration::days(400);

/// The first fire time a pipeline would plan (`None`: none before `until`), and what it
/// was computed from.
struct NextFire {
    cron: String,
    start: NaiveDateTime,
    last: Option<NaiveDateTime>,
    first: Option<NaiveDateTime>,
    until: NaiveDateTime,
}

impl PlanState {
    /// The parsed crontab of `expr` (parsed once per process, shared: a parsed
    /// schedule is a set of trees, too dear to copy for every pipeline every tick).
    pub fn crontab(&mut self, expr: &str) -> Result<Arc<Crontab>, CronError> {
        if let Some(t) = self.tabs.get(expr) {
            return t.clone();
        }
        let t = parse_crontab(expr).map(Arc::new);
        self.tabs.insert(expr.to_string(), t.clone());
        t
    }

    /// [`plan_fire_times`] for one pipeline, skipping the cron walk when the first fire
    /// time still to plan (remembered for the same cron, start and latest run) is not due.
    pub fn fire_times(
        &mut self,
        pipeline: i32,
        tab: &Crontab,
        tz: Tz,
        w: &PlanWindow,
    ) -> Vec<NaiveDateTime> {
        let stop = w.now + chrono::Duration::seconds(w.look_ahead_secs.max(0));
        if let Some(n) = self.next.get(&pipeline)
            && n.cron == tab.source
            && n.start == w.start
            && n.last == w.last
            && n.first.map_or(stop <= n.until, |f| f >= stop)
        {
            return Vec::new();
        }
        let times = plan_fire_times(tab, tz, w);
        // the first fire time does not depend on `now`: remember it for the next ticks
        let until = stop + HORIZON;
        let first = match times.first() {
            Some(t) => Some(*t),
            None => plan_fire_times(
                tab,
                tz,
                &PlanWindow {
                    now: until,
                    look_ahead_secs: 0,
                    max_runs: 1,
                    ..*w
                },
            )
            .first()
            .copied(),
        };
        self.next.insert(
            pipeline,
            NextFire {
                cron: tab.source.clone(),
                start: w.start,
                last: w.last,
                first,
                until,
            },
        );
        times
    }

    /// Whether the bad crontab `expr` of `pipeline` was reported by this process (the
    /// warning and the message are not repeated every tick; the message is also
    /// deduplicated across processes by `notify_once`).
    pub fn reported(&self, pipeline: i32, expr: &str) -> bool {
        self.reported.get(&pipeline).is_some_and(|e| e == expr)
    }

    /// Records that the bad crontab `expr` of `pipeline` has been reported.
    pub fn mark_reported(&mut self, pipeline: i32, expr: &str) {
        self.reported.insert(pipeline, expr.to_string());
    }

    /// Forgets the pipelines that are not crontab pipelines any more.
    pub fn retain(&mut self, pipelines: &std::collections::HashSet<i32>) {
        self.next.retain(|id, _| pipelines.contains(id));
        self.reported.retain(|id, _| pipelines.contains(id));
    }
}

/// The latest `execution_date` of every pipeline's runs, with the row count and the
/// highest id it was read at.
pub struct LastRuns {
    pub by_pipeline: HashMap<i32, NaiveDateTime>,
    count: i64,
    max_id: i32,
    read_at: Instant,
    counted_at: Instant,
}

/// How often the rows are counted. Counting walks a key of every run ever kept (14 ms
/// for 70,000 runs here), too dear for a tick every second; between counts only the
/// highest id is read. What a count catches late is harmless for this long: a deleted
/// latest run is planned again up to this much later (the original plans every 5
/// minutes), and an insert that committed below the highest id read (a second
/// replica's) leaves a latest run too old, whose fire times are planned again and
/// dropped by the unique key.
pub const COUNT_EVERY: Duration = Duration::from_secs(30);

impl LastRuns {
    /// Brings `prev` up to date in one consistent read: the rows added since its highest
    /// id, checked against the count when one is due (every `count_every`); else every
    /// pipeline's maximum again (rows deleted, an insert that committed late, or
    /// `FULL_REFRESH` elapsed).
    pub fn refresh(
        conn: &mut MysqlConnection,
        prev: Option<LastRuns>,
        count_every: Duration,
    ) -> QueryResult<LastRuns> {
        conn.transaction(|conn| {
            // the maximum reads one end of the primary key
            let max_id: Option<i32> = run::table.select(diesel::dsl::max(run::id)).first(conn)?;
            let max_id = max_id.unwrap_or(0);
            let count_due = prev
                .as_ref()
                .is_none_or(|p| p.counted_at.elapsed() >= count_every);
            let count = if count_due {
                Some(count_runs(conn)?)
            } else {
                None
            };
            if let Some(mut p) = prev
                && p.read_at.elapsed() < FULL_REFRESH
                && max_id >= p.max_id
                && max_id - p.max_id <= MAX_INCREMENT
            {
                let added: Vec<(Option<i32>, String)> = if max_id > p.max_id {
                    run::table
                        .filter(run::id.gt(p.max_id))
                        .select((run::pipeline_id, run::execution_date))
                        .load(conn)?
                } else {
                    Vec::new()
                };
                let expected = p.count + added.len() as i64;
                if count.is_none_or(|n| n == expected) {
                    for (pid, date) in added {
                        if let (Some(pid), Some(d)) = (pid, parse_time(&date)) {
                            keep_latest(&mut p.by_pipeline, pid, d);
                        }
                    }
                    p.count = expected;
                    p.max_id = max_id;
                    if count.is_some() {
                        p.counted_at = Instant::now();
                    }
                    return Ok(p);
                }
            }
            let count = match count {
                Some(n) => n,
                None => count_runs(conn)?,
            };
            let rows: Vec<(Option<i32>, Option<String>)> = run::table
                .group_by(run::pipeline_id)
                .select((run::pipeline_id, diesel::dsl::max(run::execution_date)))
                .load(conn)?;
            let by_pipeline = rows
                .into_iter()
                .filter_map(|(p, d)| Some((p?, parse_time(d.as_deref()?)?)))
                .collect();
            let now = Instant::now();
            Ok(LastRuns {
                by_pipeline,
                count,
                max_id,
                read_at: now,
                counted_at: now,
            })
        })
    }

    /// Takes in the runs this process has just inserted: each pipeline's `newest` fire
    /// time, the `rows` inserted and the highest id read after them, so the next tick
    /// does not re-read them (a backlog of 70,000 runs would send it to the whole
    /// re-read). Rows another replica inserted meanwhile below `max_id` are missed
    /// until the next count, which re-reads everything; until then they only make
    /// the planner try fire times that the unique key drops.
    pub fn note_inserted(&mut self, newest: &[(i32, NaiveDateTime)], rows: usize, max_id: i32) {
        if max_id < self.max_id {
            return;
        }
        for &(pid, d) in newest {
            keep_latest(&mut self.by_pipeline, pid, d);
        }
        self.count += rows as i64;
        self.max_id = max_id;
    }
}

/// Keeps `d` as the latest time of `pipeline` unless a later one is there.
pub fn keep_latest(latest: &mut HashMap<i32, NaiveDateTime>, pipeline: i32, d: NaiveDateTime) {
    let e = latest.entry(pipeline).or_insert(d);
    if d > *e {
        *e = d;
    }
}

/// The number of runs. The count walks the small unique key (the optimizer would walk
/// the clustered index, which holds the frozen workflows). The key is the migrations'
/// (`protective_keys`).
fn count_runs(conn: &mut MysqlConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    Ok(diesel::sql_query(
        "SELECT COUNT(*) AS n FROM `run` FORCE INDEX (uq_run_pipeline_execution_date)",
    )
    .get_result::<Count>(conn)?
    .n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn remembered_fire_times_equal_the_planned_ones() {
        let tz = chrono_tz::Asia::Shanghai;
        let mut state = PlanState::default();
        for cron in ["0 * * * *", "*/5 * * * *", "0 0 29 2 *", "30 2 * * 1"] {
            let tab = state.crontab(cron).unwrap();
            let mut last = None;
            let mut now = t("2026-11-29 00:00:00");
            for step in 0..200 {
                let w = PlanWindow {
                    start: t("2026-11-28 23:00:00"),
                    last,
                    now,
                    look_ahead_secs: 300,
                    resolution_secs: 600,
                    max_runs: 1000,
                };
                let got = state.fire_times(1, &tab, tz, &w);
                assert_eq!(got, plan_fire_times(&tab, tz, &w), "{cron} at {now}");
                // the planned runs are inserted, except at every third step
                if step % 3 != 0 {
                    last = got.last().copied().or(last);
                }
                now += chrono::Duration::minutes(17);
            }
        }
        assert!(state.crontab("61 * * * *").is_err());
        assert!(state.crontab("61 * * * *").is_err(), "remembered");
    }
}
