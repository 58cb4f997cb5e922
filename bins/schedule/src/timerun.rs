//! Cron pipelines (orchestration.md §3.2): plan fire times into `run` rows with frozen
//! workflows, then launch, expire or stop runs — every step safe with two replicas.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app_core::argo::CompileConfig;
use app_core::cron::{Crontab, DispatchPolicy, PlanWindow, RunView, decide_dispatch, is_active};
use app_core::database::with_conn;
use app_core::jobs::{StopRun, SubmitRun};
use app_core::k8s::project::ProjectSettings;
use app_core::notify_text::receivers;
use app_models::DbError;
use app_models::forms::NewRun;
use app_models::schema::*;
use app_models::time::{format_time, parse_time};
use chrono::{NaiveDateTime, SubsecRound};
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use crate::context::Ctx;
use crate::plan_state::{LastRuns, keep_latest};

/// A crontab pipeline as the planner reads it. Its name and alert receivers are read
/// only when a message is due (`contacts`).
#[derive(Debug, Clone)]
pub struct CronPipeline {
    pub id: i32,
    pub cron_time: String,
    pub start: Option<NaiveDateTime>,
    pub policy: DispatchPolicy,
    pub namespace: String,
    pub cluster: Arc<str>,
    pub suspended: bool,
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickReport {
    pub pipelines: usize,
    pub planned: usize,
    pub launched: usize,
    pub expired: usize,
    pub stopped: usize,
    pub recovered: usize,
    pub bad_cron: usize,
    /// How long each phase took, in order.
    pub phases: Vec<(&'static str, Duration)>,
}

impl TickReport {
    /// Records the time since `lap` as `name` and starts the next lap.
    fn phase(&mut self, name: &'static str, lap: &mut Instant) {
        let now = Instant::now();
        self.phases.push((name, now - *lap));
        *lap = now;
    }
}

/// A claimed launch to push.
struct Launch {
    run: i32,
    pipeline: i32,
    token: String,
}

/// `parameter.status == "offline"` or `parameter.suspend` true: the pipeline's schedule is paused.
fn is_suspended(parameter: Option<&str>) -> bool {
    let p = app_core::json_text::object_or_empty(parameter);
    p.get("status").and_then(|v| v.as_str()) == Some("offline")
        || matches!(p.get("suspend"), Some(serde_json::Value::Bool(true)))
        || p.get("suspend").and_then(|v| v.as_str()) == Some("true")
}

/// The `parameter` of a pipeline unless it is the empty object, which cannot pause the
/// schedule and is nearly every pipeline's: those are not sent and parsed every tick.
const PARAMETER_IF_SET: &str = "IF(`parameter` = '{}', NULL, `parameter`)";

/// The crontab pipelines whose project exists, sorted by id. Two plain reads
/// (pipelines, then their projects) rather than a join: the join sorted through a
/// temporary table and took several times as long.
fn load_pipelines(
    conn: &mut MysqlConnection,
    clusters: &app_core::k8s::cluster::ClusterRegistry,
) -> QueryResult<Vec<CronPipeline>> {
    type Row = (
        i32,
        Option<String>,
        Option<String>,
        Option<bool>,
        i32,
        i32,
        Option<String>,
        Option<String>,
        i32,
    );
    let mut rows: Vec<Row> = pipeline::table
        .filter(pipeline::schedule_type.eq("crontab"))
        .select((
            pipeline::id,
            pipeline::cron_time,
            pipeline::cronjob_start_time,
            pipeline::depends_on_past,
            pipeline::max_active_runs,
            pipeline::expired_limit,
            pipeline::namespace,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                PARAMETER_IF_SET,
            ),
            pipeline::project_id,
        ))
        .load(conn)?;
    rows.sort_unstable_by_key(|r| r.0);
    let project_ids: std::collections::BTreeSet<i32> = rows.iter().map(|r| r.8).collect();
    let clusters_of: HashMap<i32, Arc<str>> = project::table
        .filter(project::id.eq_any(project_ids))
        .select((project::id, project::expand))
        .load::<(i32, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, expand)| {
            let settings = ProjectSettings::parse(expand.as_deref());
            (id, clusters.cluster_for(settings.cluster.as_deref()).into())
        })
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, cron, start, dop, max_active, expired, ns, parameter, project_id)| {
                let cluster = clusters_of.get(&project_id)?.clone();
                let mut cron_time = cron.unwrap_or_default();
                if cron_time.trim().len() != cron_time.len() {
                    cron_time = cron_time.trim().to_string();
                }
                Some(CronPipeline {
                    id,
                    cron_time,
                    start: start.as_deref().and_then(parse_time),
                    policy: DispatchPolicy {
                        depends_on_past: dop.unwrap_or(false),
                        expired_limit: expired,
                        max_active_runs: max_active,
                    },
                    namespace: ns.unwrap_or_else(|| "pipeline".into()),
                    cluster,
                    suspended: parameter.is_some() && is_suspended(parameter.as_deref()),
                })
            },
        )
        .collect())
}

/// The name and the message receivers (the creator, then `alert_user`) of `ids`.
fn contacts(
    conn: &mut MysqlConnection,
    ids: &[i32],
) -> QueryResult<HashMap<i32, (String, Vec<String>)>> {
    let rows: Vec<(i32, String, Option<String>, Option<i32>)> = pipeline::table
        .filter(pipeline::id.eq_any(ids))
        .select((
            pipeline::id,
            pipeline::name,
            pipeline::alert_user,
            pipeline::created_by_fk,
        ))
        .load(conn)?;
    let creator_ids: std::collections::BTreeSet<i32> = rows.iter().filter_map(|r| r.3).collect();
    let names: HashMap<i32, String> = ab_user::table
        .filter(ab_user::id.eq_any(creator_ids))
        .select((ab_user::id, ab_user::username))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, name, alert, creator)| {
            let creator = creator
                .and_then(|u| names.get(&u))
                .map_or("", |n| n.as_str());
            let to = receivers(&[creator, alert.as_deref().unwrap_or("")]);
            (id, (name, to))
        })
        .collect())
}

/// A frozen workflow as the `run` row stores it: compact JSON. The original writes
/// `indent=4`, more than twice the bytes; with thousands of runs planned at once (a
/// backlog of missed fire times) writing them is most of the tick. Every reader parses
/// it, and the run view shows it indented.
pub fn frozen_text(workflow: &app_core::argo::Workflow) -> String {
    serde_json::to_string(workflow).unwrap_or_default()
}

/// Rows per `INSERT`, and the size of their frozen workflows at which a statement is
/// sent early (well under the 4 MiB `max_allowed_packet` of a default MySQL 5.7).
const INSERT_ROWS: usize = 500;
const INSERT_BYTES: usize = 2 << 20;

/// The frozen workflows inserted per transaction (a 10,000-pipeline backlog of 7 fire
/// times is 230 MB; one commit per statement spent half a second waiting for the disk).
const COMMIT_BYTES: usize = 16 << 20;

/// Freezes the workflows of the new fire times and inserts the rows (`INSERT IGNORE`:
/// the unique `(pipeline_id, execution_date)` makes a second replica's insert a no-op).
/// A second thread compiles while this one inserts what it has compiled.
fn insert_runs(
    conn: &mut MysqlConnection,
    planned: &[(i32, Vec<NaiveDateTime>)],
    config: &CompileConfig,
    cluster_of: &(dyn Fn(Option<&str>) -> String + Sync),
    now: NaiveDateTime,
) -> QueryResult<Inserted> {
    let ids: Vec<i32> = planned.iter().map(|(p, _)| *p).collect();
    let inputs = app_core::pipeline::load_inputs_bulk(conn, &ids, config, now)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<NewRun>>(2);
    std::thread::scope(|scope| {
        scope.spawn(|| freeze_runs(planned, &inputs, cluster_of, tx));
        let mut inserted = 0;
        let mut newest: HashMap<i32, NaiveDateTime> = HashMap::new();
        // an error drops `rx`: the compiling thread stops at its next chunk
        let mut chunks = rx.into_iter().peekable();
        while chunks.peek().is_some() {
            // several statements per transaction: a commit waits for the log to
            // reach the disk. What is committed stays if a later group fails: the
            // next tick plans the rest (the unique key skips what exists).
            inserted += conn.transaction(|conn| {
                let (mut n, mut bytes) = (0, 0);
                while bytes < COMMIT_BYTES
                    && let Some(chunk) = chunks.next()
                {
                    bytes += chunk
                        .iter()
                        .map(|r| r.pipeline_file.as_ref().map_or(0, String::len))
                        .sum::<usize>();
                    n += diesel::insert_or_ignore_into(run::table)
                        .values(&chunk)
                        .execute(conn)?;
                    for r in &chunk {
                        if let (Some(p), Some(d)) = (r.pipeline_id, parse_time(&r.execution_date)) {
                            keep_latest(&mut newest, p, d);
                        }
                    }
                }
                QueryResult::Ok(n)
            })?;
        }
        let max_id: Option<i32> = run::table.select(diesel::dsl::max(run::id)).first(conn)?;
        Ok(Inserted {
            rows: inserted,
            newest: newest.into_iter().collect(),
            max_id: max_id.unwrap_or(0),
        })
    })
}

/// What [`insert_runs`] wrote: the rows, each pipeline's newest fire time and the
/// highest run id afterwards.
struct Inserted {
    rows: usize,
    newest: Vec<(i32, NaiveDateTime)>,
    max_id: i32,
}

/// Compiles the run rows of `planned` and sends them in statement-sized chunks.
fn freeze_runs(
    planned: &[(i32, Vec<NaiveDateTime>)],
    inputs: &HashMap<i32, app_core::argo::CompileInput>,
    cluster_of: &(dyn Fn(Option<&str>) -> String + Sync),
    tx: std::sync::mpsc::SyncSender<Vec<NewRun>>,
) {
    let mut rows = Vec::with_capacity(INSERT_ROWS);
    let mut bytes = 0;
    // fire time by fire time across the pipelines: the runs launched first (each
    // pipeline's oldest) are inserted together, so claiming them touches few pages
    // (a stable sort: within a round, the pipelines keep their order)
    let mut order: Vec<(usize, &i32, &NaiveDateTime)> = planned
        .iter()
        .flat_map(|(pid, times)| times.iter().enumerate().map(move |(k, t)| (k, pid, t)))
        .collect();
    order.sort_by_key(|(k, _, _)| *k);
    for (_, pid, t) in order {
        let Some(input) = inputs.get(pid) else {
            continue;
        };
        let execution_date = format_time(*t);
        let run_id = app_core::argo::fresh_run_id();
        let one = input.clone().for_cron_run(&execution_date, Some(&run_id));
        let (file, status, message) = match app_core::pipeline::compile(&one, cluster_of) {
            Ok(c) => (frozen_text(&c.workflow), "comed", String::new()),
            Err(e) => (
                String::new(),
                "Failed",
                format!("cannot compile the pipeline: {e}"),
            ),
        };
        bytes += file.len();
        rows.push(NewRun {
            pipeline_id: Some(*pid),
            pipeline_file: Some(file),
            pipeline_argo_id: Some(String::new()),
            version_id: Some(String::new()),
            experiment_id: None,
            run_id: Some(run_id),
            message: Some(message),
            created_on: app_models::forms::now(),
            execution_date,
            status: Some(status.into()),
        });
        if rows.len() >= INSERT_ROWS || bytes >= INSERT_BYTES {
            bytes = 0;
            let full = std::mem::replace(&mut rows, Vec::with_capacity(INSERT_ROWS));
            if tx.send(full).is_err() {
                return;
            }
        }
    }
    if !rows.is_empty() {
        let _ = tx.send(rows);
    }
}

/// A run row for dispatch (read from `ix_run_status_pipeline` alone).
type RunRow = (i32, Option<i32>, String, Option<String>);

/// The statuses of a run that still occupy a slot (`is_active`).
const ACTIVE: [&str; 5] = ["created", "Created", "", "Pending", "Running"];

/// The due runs of the crontab pipelines with one of `statuses`: of every pipeline
/// when `only` is `None` (one statement, filtered here), else of those pipelines.
fn due_runs(
    conn: &mut MysqlConnection,
    statuses: &[&str],
    only: Option<&[i32]>,
    now: &str,
) -> QueryResult<Vec<RunRow>> {
    let query = || {
        run::table
            .filter(run::execution_date.le(now))
            .filter(run::status.eq_any(statuses))
            .select((run::id, run::pipeline_id, run::execution_date, run::status))
    };
    let Some(ids) = only else {
        return query().load(conn);
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(5000) {
        out.extend(query().filter(run::pipeline_id.eq_any(chunk)).load(conn)?);
    }
    Ok(out)
}

/// The status of the latest run of `pipeline` before `before` (for `depends_on_past`).
fn previous_run(
    conn: &mut MysqlConnection,
    pipeline: i32,
    after: &str,
    before: &str,
) -> QueryResult<Option<RunView>> {
    let r: Option<(i32, String, Option<String>)> = run::table
        .filter(run::pipeline_id.eq(pipeline))
        .filter(run::execution_date.lt(before))
        .filter(run::execution_date.gt(after))
        .order((run::execution_date.desc(), run::id.desc()))
        .select((run::id, run::execution_date, run::status))
        .first(conn)
        .optional()?;
    Ok(r.and_then(|(id, d, s)| {
        parse_time(&d).map(|execution_date| RunView {
            id,
            execution_date,
            status: s.unwrap_or_default(),
            workflow_status: None,
        })
    }))
}

/// The active manual (non-cron) workflows of every pipeline, by pipeline id.
fn active_manual(conn: &mut MysqlConnection) -> QueryResult<HashMap<i32, usize>> {
    let rows: Vec<(Option<String>, i64)> = workflow::table
        .filter(workflow::status.eq_any(["", "Pending", "Running"]))
        .filter(workflow::labels.not_like("%\"schedule_type\": \"cron%"))
        .filter(workflow::labels.not_like("%\"schedule_type\": \"contab%"))
        .group_by(workflow::foreign_key)
        .select((workflow::foreign_key, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, n)| Some((k?.parse::<i32>().ok()?, n as usize)))
        .collect())
}

/// The decisions of one tick, before they are applied.
struct Decisions {
    /// (run, pipeline)
    launch: Vec<(i32, i32)>,
    expire: Vec<i32>,
    stop: Vec<(i32, String, String, String)>,
}

/// Due runs by pipeline.
type ByPipeline = HashMap<i32, Vec<RunView>>;

fn add_rows(by_pipeline: &mut ByPipeline, rows: Vec<RunRow>) {
    for (id, pid, date, status) in rows {
        if let (Some(pid), Some(d)) = (pid, parse_time(&date)) {
            by_pipeline.entry(pid).or_default().push(RunView {
                id,
                execution_date: d,
                status: status.unwrap_or_default(),
                workflow_status: None,
            });
        }
    }
}

/// After the pipeline's start, to the second (as the time columns hold them).
fn in_window(start: Option<NaiveDateTime>, execution_date: NaiveDateTime) -> bool {
    start.is_none_or(|s| execution_date.trunc_subsecs(0) > s.trunc_subsecs(0))
}

/// What occupies the slots: the due active runs and the active manual workflows.
struct Active {
    manual: HashMap<i32, usize>,
    runs: Vec<RunRow>,
}

/// Reads what occupies the slots at `now`.
fn read_active(conn: &mut MysqlConnection, now: NaiveDateTime) -> QueryResult<Active> {
    Ok(Active {
        manual: active_manual(conn)?,
        runs: due_runs(conn, &ACTIVE, None, &format_time(now))?,
    })
}

/// Decides from the active runs, reading the `comed` ones only for the pipelines that
/// can launch (a free slot under `max_active_runs`, or `depends_on_past` /
/// `expired_limit`), so a backlog waiting for slots is not re-read every tick.
fn decide(
    conn: &mut MysqlConnection,
    pipelines: &[CronPipeline],
    now: NaiveDateTime,
    active: Active,
) -> QueryResult<Decisions> {
    let now_s = format_time(now);
    let manual = active.manual;
    let mut by_pipeline = ByPipeline::new();
    add_rows(&mut by_pipeline, active.runs);
    // by pipeline: whether it may launch or drop a run this tick (a pipeline whose
    // slots are all taken decides nothing)
    let may_act: Vec<bool> = pipelines
        .iter()
        .map(|p| {
            let policy = &p.policy;
            if policy.depends_on_past || policy.expired_limit > 0 {
                return true;
            }
            let active = by_pipeline.get(&p.id).map_or(0, |runs| {
                runs.iter()
                    .filter(|r| in_window(p.start, r.execution_date))
                    .count()
            }) + manual.get(&p.id).copied().unwrap_or(0);
            (policy.max_active_runs.max(0) as usize) > active
        })
        .collect();
    let can_launch: Vec<i32> = pipelines
        .iter()
        .zip(&may_act)
        .filter(|(_, ok)| **ok)
        .map(|(p, _)| p.id)
        .collect();
    if !can_launch.is_empty() {
        // all of them: one statement without a list of ids
        let only = (can_launch.len() < pipelines.len()).then_some(can_launch.as_slice());
        add_rows(&mut by_pipeline, due_runs(conn, &["comed"], only, &now_s)?);
    }
    let mut d = Decisions {
        launch: vec![],
        expire: vec![],
        stop: vec![],
    };
    let mut stops: Vec<(i32, &CronPipeline)> = Vec::new();
    for (p, _) in pipelines.iter().zip(&may_act).filter(|(_, ok)| **ok) {
        let Some(entries) = by_pipeline.get_mut(&p.id) else {
            continue;
        };
        // the rows come grouped by status: the order of one query over both
        entries.sort_by_key(|r| r.id);
        let start = p.start.map(|s| s.trunc_subsecs(0));
        let mut views: Vec<RunView> = entries
            .iter()
            .filter(|r| in_window(start, r.execution_date))
            .cloned()
            .collect();
        if views.is_empty() {
            continue;
        }
        if p.policy.depends_on_past
            && let Some(oldest) = views
                .iter()
                .filter(|r| r.status == "comed")
                .min_by_key(|r| r.execution_date)
            && let Some(prev) = previous_run(
                conn,
                p.id,
                &start.map(format_time).unwrap_or_default(),
                &format_time(oldest.execution_date),
            )?
            && !views.iter().any(|v| v.id == prev.id)
        {
            views.push(prev);
        }
        let plan = decide_dispatch(&p.policy, &views, manual.get(&p.id).copied().unwrap_or(0));
        d.launch
            .extend(plan.launch.into_iter().map(|run| (run, p.id)));
        d.expire.extend(plan.expire);
        stops.extend(
            plan.stop
                .into_iter()
                .filter(|id| entries.iter().any(|r| r.id == *id))
                .map(|id| (id, p)),
        );
    }
    if !stops.is_empty() {
        let ids: Vec<i32> = stops.iter().map(|(id, _)| *id).collect();
        let run_ids: HashMap<i32, Option<String>> = run::table
            .filter(run::id.eq_any(&ids))
            .select((run::id, run::run_id))
            .load::<(i32, Option<String>)>(conn)?
            .into_iter()
            .collect();
        for (id, p) in stops {
            d.stop.push((
                id,
                p.cluster.to_string(),
                p.namespace.clone(),
                run_ids.get(&id).cloned().flatten().unwrap_or_default(),
            ));
        }
    }
    Ok(d)
}

/// Claims `comed` runs for launch with one conditional update; returns the runs this
/// call got (another replica, or an earlier tick, may have taken some). `ids` are
/// (run, pipeline).
fn claim_all(
    conn: &mut MysqlConnection,
    ids: &[(i32, i32)],
    now: NaiveDateTime,
) -> QueryResult<Vec<Launch>> {
    let batch = format!(
        "claim:{}:{}:",
        now.and_utc().timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let mut out = Vec::new();
    for chunk in ids.chunks(1000) {
        let runs: Vec<i32> = chunk.iter().map(|(run, _)| *run).collect();
        let n = diesel::update(
            run::table
                .filter(run::id.eq_any(&runs))
                .filter(run::status.eq("comed")),
        )
        .set((
            run::status.eq("created"),
            run::version_id.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
            >(&format!("CONCAT('{batch}', id)"))),
        ))
        .execute(conn)?;
        if n == 0 {
            continue;
        }
        if n == chunk.len() {
            // every row was this call's: the tokens are known
            out.extend(chunk.iter().map(|&(run, pipeline)| Launch {
                run,
                pipeline,
                token: format!("{batch}{run}"),
            }));
            continue;
        }
        let got: Vec<(i32, Option<i32>, Option<String>)> = run::table
            .filter(run::id.eq_any(&runs))
            .filter(run::version_id.like(format!("{batch}%")))
            .select((run::id, run::pipeline_id, run::version_id))
            .load(conn)?;
        out.extend(got.into_iter().map(|(run, p, token)| Launch {
            run,
            pipeline: p.unwrap_or(0),
            token: token.unwrap_or_default(),
        }));
    }
    Ok(out)
}

/// Runs claimed long ago whose submission never reached the cluster, and whose job is
/// not in the queue any more (a scheduler killed between the claim and the push, a job
/// that died in the queue): claimed again with a fresh token — a conditional update,
/// so only one replica re-pushes.
async fn reclaim_stale(
    ctx: &Ctx,
    now: NaiveDateTime,
    older_than_secs: i64,
) -> Result<Vec<Launch>, DbError> {
    let cutoff = now.and_utc().timestamp() - older_than_secs;
    // claimed at or before the cutoff: `claim:<stamp>:…` sorts below `claim:<cutoff + 1>`
    // (stamps of ten digits), a range of `ix_run_status_version`; checked exactly below
    let below = format!("claim:{}", cutoff + 1);
    let rows: Vec<(i32, Option<i32>, Option<String>)> = with_conn(&ctx.pool, |conn| {
        Ok(run::table
            .filter(run::status.eq("created"))
            .filter(
                run::pipeline_argo_id
                    .eq("")
                    .or(run::pipeline_argo_id.is_null()),
            )
            .filter(run::version_id.like("claim:%"))
            .filter(run::version_id.lt(below))
            .select((run::id, run::pipeline_id, run::version_id))
            .load(conn)?)
    })
    .await?;
    let config = ctx.queues.lock().await.submit.get_config().clone();
    let mut redis = ctx.redis.clone();
    let mut out = Vec::new();
    for (id, pipeline, token) in rows {
        let Some(token) = token else { continue };
        let stale = token
            .split(':')
            .nth(1)
            .and_then(|s| s.parse::<i64>().ok())
            .map(|stamp| stamp <= cutoff)
            .unwrap_or(false);
        if !stale {
            continue;
        }
        match app_core::jobs::job_alive(&mut redis, &config, &token).await {
            Ok(false) => {}
            Ok(true) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable: stale claims are checked next tick");
                break;
            }
        }
        let fresh = format!(
            "claim:{}:{}:{id}",
            now.and_utc().timestamp(),
            uuid::Uuid::new_v4().simple()
        );
        let (old, new) = (token.clone(), fresh.clone());
        let won = with_conn(&ctx.pool, move |conn| {
            Ok(diesel::update(
                run::table
                    .filter(run::id.eq(id))
                    .filter(run::version_id.eq(&old))
                    .filter(run::status.eq("created")),
            )
            .set(run::version_id.eq(&new))
            .execute(conn)?)
        })
        .await?;
        if won == 1 {
            tracing::info!(run = id, "a launch never reached the worker: pushed again");
            out.push(Launch {
                run: id,
                pipeline: pipeline.unwrap_or(0),
                token: fresh,
            });
        }
    }
    Ok(out)
}

/// One planning + dispatch tick at `now` (naive local time of the configured zone).
pub async fn tick(ctx: &Ctx, now: NaiveDateTime) -> Result<TickReport, DbError> {
    let mut lap = Instant::now();
    // three independent reads at once, each on its own connection: the crontab
    // pipelines, every pipeline's latest run and what occupies the slots
    let clusters = ctx.clusters.clone();
    let (prev, count_every) = {
        let mut state = ctx.plan.lock().unwrap_or_else(|e| e.into_inner());
        (state.lasts.take(), state.count_runs_every)
    };
    let (pipelines, lasts, active) = tokio::try_join!(
        with_conn(&ctx.pool, move |conn| Ok(load_pipelines(conn, &clusters)?)),
        with_conn(&ctx.pool, move |conn| Ok(LastRuns::refresh(
            conn,
            prev,
            count_every
        )?)),
        with_conn(&ctx.pool, move |conn| Ok(read_active(conn, now)?)),
    )?;
    let mut report = TickReport {
        pipelines: pipelines.len(),
        ..TickReport::default()
    };
    let sched = &ctx.config.schedule;
    let tz = sched.time_zone;
    report.phase("read", &mut lap);

    // 1. plan
    let mut valid: Vec<(CronPipeline, Arc<Crontab>)> = Vec::with_capacity(pipelines.len());
    let mut bad = Vec::new();
    {
        let mut state = ctx.plan.lock().unwrap_or_else(|e| e.into_inner());
        let ids: std::collections::HashSet<i32> = pipelines.iter().map(|p| p.id).collect();
        state.retain(&ids);
        for p in pipelines.into_iter().filter(|p| !p.suspended) {
            match state.crontab(&p.cron_time) {
                Ok(tab) => valid.push((p, tab)),
                Err(e) => {
                    report.bad_cron += 1;
                    if !state.reported(p.id, &p.cron_time) {
                        bad.push((p, e));
                    }
                }
            }
        }
    }
    if !bad.is_empty() {
        let ids: Vec<i32> = bad.iter().map(|(p, _)| p.id).collect();
        let mut contacts = with_conn(&ctx.pool, move |conn| Ok(contacts(conn, &ids)?)).await?;
        let reported: Vec<(i32, String)> = bad
            .iter()
            .map(|(p, _)| (p.id, p.cron_time.clone()))
            .collect();
        for (p, e) in bad {
            let dedup = format!("bad-cron:{}:{}", p.id, p.cron_time);
            tracing::warn!(pipeline = p.id, cron = %p.cron_time, error = %e, "bad cron_time: pipeline skipped");
            let (name, to) = contacts.remove(&p.id).unwrap_or_default();
            ctx.notify_once(
                &dedup,
                30 * 24 * 3600,
                to,
                format!("pipeline {name} is not scheduled: {e}"),
                "schedule",
            )
            .await;
        }
        // marked once sent: after a failed read of the contacts they are reported
        // next tick
        let mut state = ctx.plan.lock().unwrap_or_else(|e| e.into_inner());
        for (id, cron) in &reported {
            state.mark_reported(*id, cron);
        }
    }
    let mut planned: Vec<(i32, Vec<NaiveDateTime>)> = Vec::new();
    {
        let mut state = ctx.plan.lock().unwrap_or_else(|e| e.into_inner());
        for (p, tab) in &valid {
            let Some(start) = p.start else { continue };
            let w = PlanWindow {
                start,
                last: lasts.by_pipeline.get(&p.id).copied(),
                now,
                look_ahead_secs: sched.look_ahead_secs,
                resolution_secs: sched.cron_resolution_secs,
                max_runs: 1000,
            };
            let times = state.fire_times(p.id, tab, tz, &w);
            if !times.is_empty() {
                planned.push((p.id, times));
            }
        }
        state.lasts = Some(lasts);
    }
    if !planned.is_empty() {
        let compile_config = CompileConfig::from_config(&ctx.config);
        let clusters = ctx.clusters.clone();
        let inserted = with_conn(&ctx.pool, move |conn| {
            Ok(insert_runs(
                conn,
                &planned,
                &compile_config,
                &|k| clusters.cluster_for(k),
                now,
            )?)
        })
        .await?;
        report.planned = inserted.rows;
        // the next tick need not re-read what this one wrote
        if let Some(lasts) = ctx
            .plan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lasts
            .as_mut()
        {
            lasts.note_inserted(&inserted.newest, inserted.rows, inserted.max_id);
        }
    }

    report.phase("plan, insert", &mut lap);

    // 2. dispatch
    let dispatchable: Vec<CronPipeline> = valid.into_iter().map(|(p, _)| p).collect();
    // the runs just planned are `comed`, not active, but slots may have been taken or
    // freed while they were inserted: read again
    let active = if report.planned > 0 {
        with_conn(&ctx.pool, move |conn| Ok(read_active(conn, now)?)).await?
    } else {
        active
    };
    let decisions = with_conn(&ctx.pool, move |conn| {
        Ok(decide(conn, &dispatchable, now, active)?)
    })
    .await?;
    report.phase("decide", &mut lap);
    let expire = decisions.expire.clone();
    let stops = decisions.stop.clone();
    let (expired, stopped_rows) = with_conn(&ctx.pool, move |conn| {
        let mut n = 0;
        if !expire.is_empty() {
            n = diesel::update(
                run::table
                    .filter(run::id.eq_any(&expire))
                    .filter(run::status.eq("comed")),
            )
            .set((
                run::status.eq("Deleted"),
                run::message.eq("expired: only the newest runs are kept (expired_limit)"),
            ))
            .execute(conn)?;
        }
        let mut stopped = Vec::new();
        for (id, cluster, ns, run_id) in stops {
            let changed = diesel::update(
                run::table
                    .filter(run::id.eq(id))
                    .filter(run::status.ne("Deleted")),
            )
            .set((
                run::status.eq("Deleted"),
                run::message.eq("stopped: only the newest runs are kept (expired_limit)"),
            ))
            .execute(conn)?;
            if changed == 1 {
                stopped.push((id, cluster, ns, run_id));
            }
        }
        Ok((n, stopped))
    })
    .await?;
    report.expired = expired;
    for (id, cluster, namespace, run_id) in stopped_rows {
        let job = StopRun {
            cluster,
            namespace,
            run_id,
            run_row: Some(id),
            reason: "expired_limit".into(),
        };
        if let Err(e) = ctx.queues.lock().await.push_stop(job).await {
            tracing::warn!(run = id, error = %e, "cannot enqueue the stop of an expired run");
        } else {
            report.stopped += 1;
        }
    }
    let launch = decisions.launch;
    let claims = with_conn(&ctx.pool, move |conn| Ok(claim_all(conn, &launch, now)?)).await?;
    report.phase("expire, claim", &mut lap);
    if sched.test_pause_after_claim_ms > 0 && !claims.is_empty() {
        tracing::info!(
            claimed = claims.len(),
            pause_ms = sched.test_pause_after_claim_ms,
            "test pause after claiming"
        );
        tokio::time::sleep(std::time::Duration::from_millis(
            sched.test_pause_after_claim_ms,
        ))
        .await;
    }
    match push_submits(ctx, &claims).await {
        Ok(()) => report.launched += claims.len(),
        Err(e) => {
            // give the runs back so the next tick launches them
            tracing::warn!(runs = claims.len(), error = %e, "cannot enqueue launches: released for the next tick");
            let tokens: Vec<String> = claims.iter().map(|l| l.token.clone()).collect();
            let released = with_conn(&ctx.pool, move |conn| {
                Ok(diesel::update(
                    run::table
                        .filter(run::status.eq("created"))
                        .filter(run::version_id.eq_any(tokens)),
                )
                .set((run::status.eq("comed"), run::version_id.eq("")))
                .execute(conn)?)
            })
            .await;
            if let Err(e) = released {
                // still claimed: the stale-claim recovery below pushes them later
                tracing::warn!(error = %e, "cannot release the claims; recovery will push them");
                ctx.failed_write("release_claims");
            }
        }
    }

    report.phase("push", &mut lap);

    // 3. recovery of claims whose push was lost (a scheduler killed mid-tick)
    let reclaim_after = sched.reclaim_secs.max(1);
    let stale = reclaim_stale(ctx, now, reclaim_after).await?;
    if !stale.is_empty() && push_submits(ctx, &stale).await.is_ok() {
        report.recovered += stale.len();
    }
    report.phase("recover", &mut lap);
    ctx.metrics.inc_by(
        "schedule_runs_planned_total",
        "Cron runs planned",
        &[],
        report.planned as f64,
    );
    ctx.metrics.inc_by(
        "schedule_runs_launched_total",
        "Cron runs launched",
        &[],
        report.launched as f64,
    );
    Ok(report)
}

async fn push_submits(ctx: &Ctx, launches: &[Launch]) -> Result<(), String> {
    use apalis::prelude::{TaskBuilder, TaskSink};
    if launches.is_empty() {
        return Ok(());
    }
    let tasks: Vec<_> = launches
        .iter()
        .map(|l| {
            TaskBuilder::new(SubmitRun {
                run: l.run,
                pipeline: l.pipeline,
            })
            .idempotency_key(&l.token)
            .build()
        })
        .collect();
    let mut queues = ctx.queues.lock().await;
    for chunk in tasks.chunks(500) {
        let mut stream = futures::stream::iter(chunk.to_vec());
        queues
            .submit
            .push_all(&mut stream)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// True for a run status that still occupies a slot (re-exported for tests).
pub fn active(status: &str) -> bool {
    is_active(status)
}
