//! One planning + dispatch tick over 10,000 cron pipelines (a figure, not a test):
//! `cargo bench --workspace --bench tick`. Each pipeline has one task, `max_active_runs`
//! 1 and `BENCH_FIRE_TIMES` (default 1) missed hourly fire times, all due: the first
//! tick freezes pipelines × fire times workflows, inserts the runs, claims one per
//! pipeline and pushes 10,000 submit jobs; the next ticks (same clock, nothing new to
//! plan or launch) measure the steady state (`BENCH_STEADY_TICKS`, default 5).
//! `BENCH_PIPELINES` changes the count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use diesel::RunQueryDsl;

/// The allocator of the `schedule` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::var("BENCH_PIPELINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let fire_times: i64 = std::env::var("BENCH_FIRE_TIMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let db = testkit::TestDb::new();
        let mut c = db.conn();
        for sql in [
            "INSERT INTO ab_user (id, first_name, last_name, username, email, active) VALUES (1, 'admin', '', 'admin', 'a@x.org', 1)",
            "INSERT INTO project (id, name, `describe`, type, expand) VALUES (1, 'public', 'p', 'org', '{}')",
            "INSERT INTO images (id, name, `describe`) VALUES (1, 'busybox:1.36', 'b')",
            "INSERT INTO job_template (id, name, version, images_id, `describe`, args) VALUES (1, '自定义镜像', 'Release', 1, 'custom', '{}')",
        ] {
            diesel::sql_query(sql).execute(&mut c).unwrap();
        }
        // hourly at the minute ten minutes ago: exactly `fire_times` fire times are due
        // and the next one is 50 minutes away (beyond the 5-minute look-ahead)
        use chrono::Timelike;
        let wall = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
        let last_fire = wall - chrono::Duration::minutes(10);
        let cron = format!("{} * * * *", last_fire.minute());
        let start = last_fire - chrono::Duration::hours(fire_times - 1) - chrono::Duration::minutes(1);
        let start_s = start.format("%Y-%m-%d %H:%M:%S").to_string();
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|i| format!("('bench-{i}', 'd', 1, '{{}}', 'pipeline', 'crontab', '{cron}', '{start_s}', 'Always', 1, 1, 0, 0, '{{}}', '[]', 1, 1)"))
                .collect();
            diesel::sql_query(format!(
                "INSERT INTO pipeline (name, `describe`, project_id, dag_json, namespace, schedule_type, cron_time, cronjob_start_time, image_pull_policy, \
                 parallelism, max_active_runs, expired_limit, depends_on_past, parameter, expand, created_by_fk, changed_by_fk) VALUES {}",
                values.join(",")
            ))
            .execute(&mut c)
            .unwrap();
        }
        diesel::sql_query(
            "INSERT INTO task (name, label, job_template_id, pipeline_id, namespace, args, volume_mount, resource_memory, resource_cpu, resource_gpu, timeout, retry) \
             SELECT 'step', 'step', 1, id, 'pipeline', '{\"command\": \"echo hi\"}', '', '1G', '1', '0', 0, 0 FROM pipeline",
        )
        .execute(&mut c)
        .unwrap();
        let mut vars = std::collections::HashMap::new();
        vars.insert("DATABASE_URL".to_string(), db.url.clone());
        vars.insert("SECRET_KEY".to_string(), "bench".to_string());
        let config = app_core::Config::from_lookup(&move |k| vars.get(k).cloned()).unwrap();
        let redis = app_core::redis_conn::wait_for_redis("redis://127.0.0.1:6379/0", None).await.unwrap();
        let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
        let ctx = schedule::context::Ctx::new(Arc::new(config), db.pool(), redis.clone(), &prefix, app_core::metrics::Metrics::new());
        let now = ctx.now();
        let t0 = Instant::now();
        let first = schedule::timerun::tick(&ctx, now).await.unwrap();
        let busy = t0.elapsed();
        // the steady state: the median of a few ticks with nothing new
        let ticks: usize = std::env::var("BENCH_STEADY_TICKS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
            .max(1);
        let mut steady = Vec::new();
        for _ in 0..ticks {
            let t1 = Instant::now();
            let report = schedule::timerun::tick(&ctx, now).await.unwrap();
            steady.push((t1.elapsed(), report));
        }
        steady.sort_by_key(|(d, _)| *d);
        let (idle, second) = &steady[steady.len() / 2];
        let phases = |r: &schedule::timerun::TickReport| {
            r.phases
                .iter()
                .map(|(name, d)| format!("{name} {:.1}", d.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("schedule_tick_{n}_pipelines_x{fire_times}_new_runs: {:.0} ms (planned {}, launched {}; ms by phase: {})", busy.as_secs_f64() * 1000.0, first.planned, first.launched, phases(&first));
        println!("schedule_tick_{n}_pipelines_x{fire_times}_steady: {:.0} ms (planned {}, launched {}; median of {}, max {:.0} ms; ms by phase: {})", idle.as_secs_f64() * 1000.0, second.planned, second.launched, steady.len(), steady[steady.len() - 1].0.as_secs_f64() * 1000.0, phases(second));
        let mut r = redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut r).await.unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut r).await.unwrap();
        }
    });
}
