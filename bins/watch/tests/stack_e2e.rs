//! End to end with the real binaries as processes: `schedule` backfills the missed runs
//! of a cron pipeline and pushes them, `worker` submits them, the fake cluster's
//! simulated Argo controller runs them, `watch` mirrors them; the `run` and `workflow`
//! rows end `Succeeded` and one notification per alerted status reaches a local webhook.
//! (The binaries must be built: `cargo build --workspace`, as `install/local/test.sh` does.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use app_models::schema::{pipeline, run, workflow};
use common::*;
use diesel::prelude::*;
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missed_cron_runs_are_backfilled_submitted_run_and_mirrored() {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default().argo(true)).await;
    let dir = tempfile::tempdir().unwrap();
    // each binary its own identity, so its requests can be checked against its RBAC
    let clusters_of = |binary: &str| {
        let path = dir.path().join(format!("kubeconfig-{binary}"));
        kube.write_kubeconfig_for(&path, binary).unwrap();
        serde_json::json!({"dev": {"NAME": "dev", "KUBECONFIG": path.to_string_lossy()}})
            .to_string()
    };
    let hook = Webhook::start().await;
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "hourly", &["extract", "load"], "bob");
    // hourly, from just after the hour 3 h ago: three missed runs to backfill
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let start = format!(
        "{}:00:01",
        (now - chrono::Duration::hours(3)).format("%Y-%m-%d %H")
    );
    // only the three hours since the start fire (next: tomorrow), so no fourth run
    // appears if the test crosses a full hour
    let cron_time = {
        use chrono::Timelike;
        let hours: Vec<String> = (0..3)
            .rev()
            .map(|back| ((now.hour() + 24 - back) % 24).to_string())
            .collect();
        format!("0 {} * * *", hours.join(","))
    };
    diesel::update(pipeline::table.find(pid))
        .set((
            pipeline::cron_time.eq(&cron_time),
            pipeline::cronjob_start_time.eq(&start),
            pipeline::alert_status.eq("Running,Succeeded,Failed"),
        ))
        .execute(&mut conn)
        .unwrap();

    let prefix = prefix();
    let common_env: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", REDIS_URL),
        ("SECRET_KEY", "test"),
        ("ENVIRONMENT", "dev"),
        ("QUEUE_PREFIX", prefix.as_str()),
        ("NOTIFY_WEBHOOK_URL", hook.url.as_str()),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spawn = |name: &str, mut extra: Vec<(String, String)>| {
        extra.push(("CLUSTERS".into(), clusters_of(name)));
        let vars: Vec<(&str, &str)> = common_env
            .iter()
            .chain(extra.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Process::spawn(name, &vars)
    };
    let addr = |var: &str| (var.to_string(), format!("127.0.0.1:{}", free_port()));
    let mut schedule_env = vec![
        addr("SCHEDULE_ADDR"),
        (
            "SCHEDULE_MAKE_TIMERUN_CONFIG".into(),
            "*/2 * * * * *".into(),
        ),
        ("SCHEDULE_TICK_MS".into(), "200".into()),
        ("CRON_LOOK_AHEAD_SECS".into(), "0".into()),
    ];
    for task in [
        "DELETE_WORKFLOW",
        "DELETE_DEBUG_DOCKER",
        "DELETE_NOTEBOOK",
        "CHECK_POD_TERMINATING",
        "WATCH_GPU",
        "WATCH_POD_UTILIZATION",
        "CHECK_PIPELINE_RUN",
        "ADJUST_TASK_RESOURCES",
    ] {
        schedule_env.push((format!("SCHEDULE_{task}"), "off".into()));
    }
    let mut procs = vec![
        spawn("schedule", schedule_env),
        spawn(
            "worker",
            vec![addr("WORKER_ADDR"), ("WORKER_POLL_MS".into(), "100".into())],
        ),
        spawn("watch", vec![addr("WATCH_ADDR")]),
    ];
    let logs = |procs: &[Process]| {
        procs
            .iter()
            .map(|p| p.logs())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };

    let finals = |conn: &mut diesel::mysql::MysqlConnection| -> Vec<(String, String)> {
        run::table
            .filter(run::pipeline_id.eq(pid))
            .order(run::execution_date)
            .select((run::status, run::pipeline_argo_id))
            .load::<(Option<String>, Option<String>)>(conn)
            .unwrap()
            .into_iter()
            .map(|(s, a)| (s.unwrap_or_default(), a.unwrap_or_default()))
            .collect()
    };
    // (a fourth run appears if the test crosses the hour: it must end the same way)
    let done = wait_for(Duration::from_secs(120), || {
        let f = finals(&mut conn);
        (f.len() >= 3 && f.iter().all(|(s, _)| s == "Succeeded")).then_some(f)
    })
    .await
    .unwrap_or_else(|| panic!("runs: {:?}\n{}", finals(&mut conn), logs(&procs)));
    let names: Vec<String> = done.iter().map(|(_, a)| a.clone()).collect();
    for name in &names {
        let status: Option<String> = workflow::table
            .filter(workflow::name.eq(name))
            .select(workflow::status)
            .first(&mut conn)
            .unwrap();
        assert_eq!(status.as_deref(), Some("Succeeded"), "{name}");
    }
    assert_eq!(
        kube.objects("argoproj.io", "v1alpha1", "workflows", None)
            .len(),
        done.len(),
        "one workflow per run"
    );

    // notifications: each alerted status of each workflow once, and each "start run" once
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut starts = 0;
    for m in hook.messages() {
        let text = m["message"].as_str().unwrap_or("").to_string();
        match m["source"].as_str() {
            Some("workflow") => {
                let field = |k: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                };
                *seen
                    .entry((field("workflow:"), field("status:")))
                    .or_insert(0) += 1;
            }
            Some("worker") if text.ends_with("start run") => starts += 1,
            _ => {}
        }
    }
    for name in &names {
        for status in ["Running", "Succeeded"] {
            assert_eq!(
                seen.get(&(name.clone(), status.to_string())),
                Some(&1),
                "{name} {status}: {seen:?}"
            );
        }
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(starts, done.len(), "one start message per run");
    for p in procs.iter_mut() {
        assert!(
            p.terminate(Duration::from_secs(30)).is_some(),
            "{}",
            p.logs()
        );
    }
    // what each binary asked the cluster for is what install/kubernetes grants it
    for b in ["worker", "watch"] {
        assert!(
            testkit::rbac::assert_allowed(&kube, b) > 0,
            "{b}: no request"
        );
    }
    testkit::rbac::assert_allowed(&kube, "schedule");
}
