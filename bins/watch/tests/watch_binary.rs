//! The real `watch` binary as a process: it mirrors a workflow run by the simulated Argo
//! controller, serves `/health` and `/metrics`, and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use app_models::schema::{run, workflow};
use common::*;
use diesel::prelude::*;
use serde_json::Value;
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_watch_binary_mirrors_workflows_and_reports_metrics() {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default().argo(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let config = config(&db.url, REDIS_URL, &kubeconfig, &[]);
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "nightly", &["a"], "");
    let (row, _, name) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let file: String = run::table
        .find(row)
        .select(run::pipeline_file)
        .first::<Option<String>>(&mut conn)
        .unwrap()
        .unwrap();
    let manifest: Value = serde_json::from_str(&file).unwrap();
    kube.insert("argoproj.io", "v1alpha1", "workflows", manifest);

    let addr = format!("127.0.0.1:{}", free_port());
    let clusters =
        serde_json::json!({"dev": {"NAME": "dev", "KUBECONFIG": kubeconfig}}).to_string();
    let prefix = prefix();
    let mut watch = Process::spawn(
        "watch",
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("REDIS_URL", REDIS_URL),
            ("SECRET_KEY", "test"),
            ("ENVIRONMENT", "dev"),
            ("CLUSTERS", clusters.as_str()),
            ("WATCH_KEY_PREFIX", prefix.as_str()),
            ("WATCH_ADDR", addr.as_str()),
            ("RUST_LOG", "info"),
        ],
    );
    let status = |conn: &mut diesel::mysql::MysqlConnection| -> Option<String> {
        workflow::table
            .filter(workflow::name.eq(&name))
            .select(workflow::status)
            .first::<Option<String>>(conn)
            .optional()
            .unwrap()
            .flatten()
    };
    wait_for(Duration::from_secs(60), || {
        (status(&mut conn).as_deref() == Some("Succeeded")).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("mirrored:\n{}", watch.logs()));
    let run_status: Option<String> = run::table
        .find(row)
        .select(run::status)
        .first(&mut conn)
        .unwrap();
    assert_eq!(run_status.as_deref(), Some("Succeeded"));
    assert_eq!(http_get(&addr, "/health").unwrap().0, 200);
    let (_, metrics) = http_get(&addr, "/metrics").unwrap();
    for m in [
        "watch_events_applied_total{cluster=\"dev\"}",
        "watch_lag_seconds{cluster=\"dev\"}",
        "watch_events_total{cluster=\"dev\",kind=\"workflows\",event=\"apply\"}",
    ] {
        assert!(metrics.contains(m), "{m} in\n{metrics}");
    }
    let exit = watch.terminate(Duration::from_secs(30));
    assert!(exit.is_some_and(|s| s.success()), "{}", watch.logs());
    assert!(watch.logs().contains("watch stopped"));
}
