//! The loop of named periodic tasks: each has a cron expression (from config, in the
//! configured time zone), runs are logged with their duration and counted in
//! `/metrics`, a task never overlaps itself, and each occurrence runs on one replica.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app_core::cron::{Crontab, parse_crontab};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::context::Ctx;

/// A task's body.
pub type TaskFn = fn(
    Arc<Ctx>,
    chrono::NaiveDateTime,
) -> futures::future::BoxFuture<'static, Result<String, String>>;

/// One periodic task.
pub struct Periodic {
    pub name: String,
    schedule: Crontab,
    next: DateTime<Tz>,
    running: Arc<AtomicBool>,
    run: TaskFn,
}

/// Every task the scheduler knows, by name.
pub fn registry() -> BTreeMap<&'static str, TaskFn> {
    let mut m: BTreeMap<&'static str, TaskFn> = BTreeMap::new();
    m.insert("make_timerun_config", |ctx, now| {
        Box::pin(async move {
            crate::timerun::tick(&ctx, now)
                .await
                .map(|r| format!("{r:?}"))
                .map_err(|e| e.to_string())
        })
    });
    m.insert("delete_workflow", |ctx, now| {
        Box::pin(async move { crate::housekeeping::delete_workflow(&ctx, now).await })
    });
    m.insert("delete_debug_docker", |ctx, now| {
        Box::pin(async move { crate::housekeeping::delete_debug_docker(&ctx, now).await })
    });
    m.insert("delete_notebook", |ctx, now| {
        Box::pin(async move { crate::housekeeping::delete_notebook(&ctx, now).await })
    });
    m.insert("check_pod_terminating", |ctx, now| {
        Box::pin(async move { crate::housekeeping::check_pod_terminating(&ctx, now).await })
    });
    m.insert("watch_gpu", |ctx, now| {
        Box::pin(async move { crate::housekeeping::watch_gpu(&ctx, now).await })
    });
    m.insert("watch_pod_utilization", |ctx, now| {
        Box::pin(async move { crate::housekeeping::watch_pod_utilization(&ctx, now).await })
    });
    m.insert("check_pipeline_run", |ctx, now| {
        Box::pin(async move { crate::housekeeping::check_pipeline_run(&ctx, now).await })
    });
    m.insert("adjust_task_resources", |ctx, now| {
        Box::pin(async move { crate::housekeeping::adjust_task_resources(&ctx, now).await })
    });
    m
}

/// The configured tasks (config names tasks and crons; unknown names are an error).
pub fn configured(ctx: &Ctx) -> Result<Vec<Periodic>, String> {
    let reg = registry();
    let tz = ctx.config.schedule.time_zone;
    let now = Utc::now().with_timezone(&tz);
    let mut out = Vec::new();
    for (name, expr) in &ctx.config.schedule.tasks {
        let run = *reg
            .get(name.as_str())
            .ok_or_else(|| format!("unknown periodic task {name}"))?;
        let schedule = parse_crontab(expr).map_err(|e| format!("{name}: {e}"))?;
        let next = schedule
            .next_after(&now)
            .ok_or_else(|| format!("{name}: the cron never fires"))?;
        // every task shows in /metrics from the start
        ctx.metrics.inc_by(
            "schedule_task_runs_total",
            "Runs of periodic tasks",
            &[("task", name)],
            0.0,
        );
        ctx.metrics.inc_by(
            "schedule_task_failures_total",
            "Failed runs of periodic tasks",
            &[("task", name)],
            0.0,
        );
        out.push(Periodic {
            name: name.clone(),
            schedule,
            next,
            running: Arc::new(AtomicBool::new(false)),
            run,
        });
    }
    Ok(out)
}

/// Starts every task that is due at `now` (each in its own tokio task).
pub async fn run_due(ctx: &Arc<Ctx>, tasks: &mut [Periodic], now: DateTime<Tz>) {
    for t in tasks.iter_mut() {
        if now < t.next {
            continue;
        }
        let fire = t.next;
        t.next = t
            .schedule
            .next_after(&now)
            .unwrap_or(now + chrono::Duration::days(3650));
        if t.running.swap(true, Ordering::SeqCst) {
            tracing::info!(task = %t.name, "previous run still going: this occurrence is skipped");
            ctx.metrics.inc(
                "schedule_task_skipped_total",
                "Occurrences skipped because the task was still running",
                &[("task", &t.name)],
            );
            continue;
        }
        // one replica per occurrence
        let key = ctx.key(&format!("occurrence:{}:{}", t.name, fire.timestamp()));
        let mut redis = ctx.redis.clone();
        match app_core::notify::first_time(&mut redis, &key, 24 * 3600).await {
            Ok(true) => {}
            Ok(false) => {
                t.running.store(false, Ordering::SeqCst);
                continue;
            }
            Err(e) => {
                // without Redis, run anyway: every task is idempotent
                tracing::warn!(task = %t.name, error = %e, "redis unavailable: running without the replica guard");
            }
        }
        let (ctx2, running, name, run) = (ctx.clone(), t.running.clone(), t.name.clone(), t.run);
        let local_now = now.naive_local();
        tokio::spawn(async move {
            let started = Instant::now();
            let labels = [("task", name.as_str())];
            ctx2.metrics.inc(
                "schedule_task_runs_total",
                "Runs of periodic tasks",
                &labels,
            );
            match run(ctx2.clone(), local_now).await {
                Ok(summary) => {
                    let secs = started.elapsed().as_secs_f64();
                    tracing::info!(task = %name, duration_ms = (secs * 1000.0) as u64, %summary, "periodic task done");
                    ctx2.metrics.set(
                        "schedule_task_last_success_timestamp_seconds",
                        "Last success of a periodic task",
                        &labels,
                        Utc::now().timestamp() as f64,
                    );
                    ctx2.metrics.set(
                        "schedule_task_last_duration_seconds",
                        "Duration of the last run",
                        &labels,
                        secs,
                    );
                }
                Err(e) => {
                    tracing::warn!(task = %name, duration_ms = started.elapsed().as_millis() as u64, error = %e, "periodic task failed");
                    ctx2.metrics.inc(
                        "schedule_task_failures_total",
                        "Failed runs of periodic tasks",
                        &labels,
                    );
                }
            }
            running.store(false, Ordering::SeqCst);
        });
    }
}

/// The main loop: wakes up every `tick_ms` until shutdown.
pub async fn run_loop(
    ctx: Arc<Ctx>,
    mut tasks: Vec<Periodic>,
    mut shutdown: app_core::shutdown::Shutdown,
) {
    let tick = Duration::from_millis(ctx.config.schedule.tick_ms.max(50));
    loop {
        let now = Utc::now().with_timezone(&ctx.config.schedule.time_zone);
        run_due(&ctx, &mut tasks, now).await;
        if shutdown.sleep(tick).await {
            break;
        }
    }
    // let running tasks finish their step (they are short and idempotent)
    for _ in 0..100 {
        if tasks.iter().all(|t| !t.running.load(Ordering::SeqCst)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
