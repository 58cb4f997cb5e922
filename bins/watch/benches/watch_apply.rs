//! `cargo bench --workspace --bench watch_apply`: how many Argo workflow status events
//! the watcher applies to MySQL per second, and the lag (now − the status change) at that
//! rate. Needs MariaDB and Redis as the tests do (`TEST_MYSQL_URL`, Redis on
//! 127.0.0.1:6379) and runs the fake cluster in process.
//!
//! 1. Burst: `WATCH_BENCH_WORKFLOWS` workflows (default 300) each go through 8 status
//!    steps (no status → Pending → Running → task nodes → Succeeded), written to the
//!    fake API server as fast as possible; events/s = events applied / time until the
//!    last one is in MySQL.
//! 2. Paced: new workflows at 80 % of that rate for `WATCH_BENCH_SECS` (default 5); the
//!    lag of every applied event (its `startedAt` is the write time, in milliseconds).
//!
//! Prints one line per figure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app_core::Config;
use app_core::metrics::Metrics;
use app_core::shutdown::shutdown_channel;
use app_models::forms::{Audit, NewPipeline, NewProject, NewUser};
use app_models::queries::last_insert_id;
use app_models::schema::{ab_user, pipeline, project, workflow};
use diesel::prelude::*;
use serde_json::{Value, json};
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use watch::{WatchSettings, WatchState};

const STEPS: usize = 8;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Step `step` of workflow `name` as the Argo controller would write it.
fn workflow(name: &str, pipeline_id: i32, step: usize) -> Value {
    let mut wf = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "pipeline", "labels": {
            "pipeline-id": pipeline_id.to_string(), "run-id": format!("run-{name}"),
            "pipeline-username": "alice", "schedule_type": "crontab"}},
        "spec": {"entrypoint": "bench", "templates": [{"name": "bench", "dag": {"tasks": [
            {"name": "a", "template": "a"}, {"name": "b", "template": "b", "dependencies": ["a"]}]}}]}
    });
    if step == 0 {
        return wf;
    }
    let t = now_ms();
    let node = |id: &str, display: &str, kind: &str, phase: &str| {
        json!({"id": id, "name": id, "displayName": display, "type": kind, "phase": phase,
            "templateName": display, "startedAt": t})
    };
    let (phase, root, a, b) = match step {
        1 => ("Pending", "Pending", None, None),
        2 => ("Running", "Running", None, None),
        3 => ("Running", "Running", Some("Pending"), None),
        4 => ("Running", "Running", Some("Running"), None),
        5 => ("Running", "Running", Some("Succeeded"), Some("Pending")),
        6 => ("Running", "Running", Some("Succeeded"), Some("Running")),
        _ => (
            "Succeeded",
            "Succeeded",
            Some("Succeeded"),
            Some("Succeeded"),
        ),
    };
    let mut nodes = serde_json::Map::new();
    nodes.insert(name.into(), node(name, name, "DAG", root));
    if let Some(p) = a {
        nodes.insert(
            format!("{name}-1"),
            node(&format!("{name}-1"), "a", "Pod", p),
        );
    }
    if let Some(p) = b {
        nodes.insert(
            format!("{name}-2"),
            node(&format!("{name}-2"), "b", "Pod", p),
        );
    }
    wf["status"] = json!({"phase": phase, "startedAt": t, "nodes": nodes});
    wf
}

fn config(db: &TestDb, kubeconfig: &str) -> Config {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("SECRET_KEY", "bench"),
        ("ENVIRONMENT", "dev"),
        ("DB_POOL_SIZE", "16"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "CLUSTERS".to_string(),
        json!({"dev": {"NAME": "dev", "KUBECONFIG": kubeconfig}}).to_string(),
    )])
    .collect();
    Config::from_lookup(&move |k| vars.get(k).cloned()).unwrap()
}

fn seed(db: &TestDb) -> i32 {
    let mut conn = db.conn();
    diesel::insert_into(ab_user::table)
        .values(NewUser::new(
            "alice",
            "a@example.com",
            "x".into(),
            Audit::new(None),
        ))
        .execute(&mut conn)
        .unwrap();
    let uid = last_insert_id(&mut conn).unwrap();
    let audit = Audit::new(Some(uid));
    diesel::insert_into(project::table)
        .values(NewProject::new("public", "p", "org", "{}", audit))
        .execute(&mut conn)
        .unwrap();
    let project_id = last_insert_id(&mut conn).unwrap();
    diesel::insert_into(pipeline::table)
        .values(NewPipeline::new("bench", "bench", project_id, audit))
        .execute(&mut conn)
        .unwrap();
    last_insert_id(&mut conn).unwrap()
}

struct Watch {
    state: Arc<WatchState>,
    trigger: app_core::shutdown::ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

async fn start_watch(config: &Config, prefix: &str) -> Watch {
    // WATCH_BATCH of the bench's environment (1: one transaction per event)
    let batch = std::env::var("WATCH_BATCH").ok();
    let vars: HashMap<&str, &str> = [
        ("WATCH_KEY_PREFIX", prefix),
        ("WATCH_PODS", "off"),
        ("WATCH_TRAINING", "off"),
    ]
    .into_iter()
    .chain(batch.as_deref().map(|b| ("WATCH_BATCH", b)))
    .collect();
    let settings =
        WatchSettings::from_lookup(config, &|k| vars.get(k).map(|v| v.to_string())).unwrap();
    let redis = app_core::redis_conn::wait_for_redis(&config.redis_url, None)
        .await
        .unwrap();
    let pool = app_models::db::build_pool(&config.database_url, config.db_pool_size);
    let (trigger, shutdown) = shutdown_channel();
    let state = Arc::new(WatchState::new(
        config.clone(),
        settings,
        pool,
        redis,
        Metrics::new(),
        shutdown,
    ));
    let handle = tokio::spawn(watch::run(state.clone()));
    Watch {
        state,
        trigger,
        handle,
    }
}

impl Watch {
    fn applied(&self) -> f64 {
        self.state
            .metrics
            .get("watch_events_applied_total", &[("cluster", "dev")])
    }
    async fn stop(self) {
        self.trigger.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

async fn wait_applied(w: &Watch, target: f64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if w.applied() >= target {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

fn put(kube: &FakeKube, v: Value) {
    kube.insert("argoproj.io", "v1alpha1", "workflows", v);
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let workflows = env_num("WATCH_BENCH_WORKFLOWS", 300) as usize;
    let paced_secs = env_num("WATCH_BENCH_SECS", 5);
    let db = TestDb::new();
    let pid = seed(&db);
    let kube = FakeKube::start(FakeKubeOptions::default().seed(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let config = config(&db, &kubeconfig.to_string_lossy());
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());

    // 1. burst
    let w = start_watch(&config, &prefix).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let total = (workflows * STEPS) as f64;
    let started = Instant::now();
    for step in 0..STEPS {
        for i in 0..workflows {
            put(&kube, workflow(&format!("burst-{i}"), pid, step));
        }
    }
    let produced = started.elapsed();
    if !wait_applied(&w, total, Duration::from_secs(600)).await {
        eprintln!(
            "watch_apply: only {} of {total} events applied in 600 s",
            w.applied()
        );
        std::process::exit(1);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = total / elapsed;
    let mut conn = db.conn();
    let done: i64 = workflow::table
        .filter(workflow::status.eq("Succeeded"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(done as usize, workflows, "every workflow ends Succeeded");
    let shards = w.state.settings.shards;
    println!(
        "watch_apply: {rate:.0} workflow status events/s ({total} events of {workflows} workflows applied in {elapsed:.2} s, written in {:.2} s; {shards} shards)",
        produced.as_secs_f64()
    );
    w.stop().await;
    for i in 0..workflows {
        kube.remove(
            "argoproj.io",
            "v1alpha1",
            "workflows",
            Some("pipeline"),
            &format!("burst-{i}"),
        );
    }

    // 2. paced at 80 % of the burst rate
    let w = start_watch(&config, &prefix).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let target_rate = (rate * 0.8).max(1.0);
    let interval = Duration::from_secs_f64(1.0 / target_rate);
    let started = Instant::now();
    let mut sent = 0usize;
    let mut next = Instant::now();
    while started.elapsed() < Duration::from_secs(paced_secs) {
        let (i, step) = (sent / STEPS, sent % STEPS);
        put(&kube, workflow(&format!("paced-{i}"), pid, step));
        sent += 1;
        next += interval;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(d).await;
        }
    }
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    if !wait_applied(&w, sent as f64, Duration::from_secs(120)).await {
        eprintln!(
            "watch_lag: only {} of {sent} paced events applied",
            w.applied()
        );
        std::process::exit(1);
    }
    let m = &w.state.metrics;
    let sum = m.get("watch_lag_seconds_sum", &[("cluster", "dev")]);
    let count = m
        .get("watch_lag_seconds_count", &[("cluster", "dev")])
        .max(1.0);
    let max = m.get("watch_lag_seconds_max", &[]);
    // the p99: the upper bound of the first bucket holding 99 % of the events
    let p99 = watch::workflows::LAG_BUCKETS
        .iter()
        .find(|(le, _)| {
            m.get(
                "watch_lag_seconds_bucket",
                &[("cluster", "dev"), ("le", le)],
            ) >= 0.99 * count
        })
        .map(|(_, bound)| *bound)
        .unwrap_or(f64::INFINITY);
    println!(
        "watch_lag: mean {:.1} ms, p99 <= {:.0} ms, max {:.1} ms at {achieved:.0} events/s ({sent} events, paced at 80 % of the burst rate)",
        sum / count * 1000.0,
        p99 * 1000.0,
        max * 1000.0
    );
    w.stop().await;
}
