//! The housekeeping tasks against the fake cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::*;
use schedule::housekeeping;
use serde_json::json;
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};

fn ago(d: Duration) -> String {
    (Utc::now() - d).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn workflow(
    name: &str,
    run: &str,
    phase: &str,
    created: Duration,
    finished: Option<Duration>,
) -> serde_json::Value {
    let mut status = json!({"phase": phase});
    if let Some(f) = finished {
        status["finishedAt"] = json!(ago(f));
    }
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
           "metadata": {"name": name, "namespace": "pipeline", "creationTimestamp": ago(created),
                        "labels": {"run-id": run, "pipeline-id": "1", "run-username": "alice"}},
           "spec": {}, "status": status})
}

async fn setup() -> (
    TestDb,
    FakeKube,
    std::sync::Arc<schedule::context::Ctx>,
    std::sync::Arc<Recorder>,
    String,
    tempfile::TempDir,
) {
    let db = TestDb::new();
    base_rows(&db);
    let kube = FakeKube::start(FakeKubeOptions::default().seed(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    // the schedule's own identity: its requests are checked against its RBAC
    kube.write_kubeconfig_for(&path, "schedule").unwrap();
    let (ctx, rec, prefix) = ctx(
        &db,
        &[
            ("KUBECONFIG", path.to_str().unwrap()),
            ("ADMIN_USER", "root"),
        ],
    )
    .await;
    (db, kube, ctx, rec, prefix, dir)
}

#[tokio::test]
async fn old_and_stopped_workflows_go_long_runners_are_reported() {
    let (db, kube, ctx, rec, prefix, _dir) = setup().await;
    let wf = |n, r, p, c, f| {
        kube.insert(
            "argoproj.io",
            "v1alpha1",
            "workflows",
            workflow(n, r, p, c, f),
        )
    };
    wf(
        "old-done",
        "r1",
        "Succeeded",
        Duration::hours(6),
        Some(Duration::hours(4)),
    );
    wf(
        "fresh-done",
        "r2",
        "Succeeded",
        Duration::hours(2),
        Some(Duration::hours(1)),
    );
    wf("long-runner", "r3", "Running", Duration::days(3), None);
    wf("stopped", "r4", "Running", Duration::hours(1), None);
    exec(
        &db,
        "INSERT INTO workflow (name, namespace, status, labels) VALUES ('stopped', 'pipeline', 'Deleted', '{\n    \"run-id\": \"r4\"\n}')",
    );
    exec(
        &db,
        "INSERT INTO workflow (name, namespace, status, labels) VALUES ('old-done', 'pipeline', 'Succeeded', '{\n    \"run-id\": \"r1\"\n}')",
    );
    kube.insert("kubeflow.org", "v1", "tfjobs", json!({"metadata": {"name": "old-tf", "namespace": "pipeline", "labels": {"run-id": "r5"}},
        "status": {"conditions": [{"type": "Succeeded"}], "completionTime": ago(Duration::hours(5))}}));
    kube.insert("apps", "v1", "deployments", json!({"metadata": {"name": "helper", "namespace": "pipeline", "labels": {"run-id": "r1"}}}));
    let out = housekeeping::delete_workflow(&ctx, ctx.now())
        .await
        .unwrap();
    let left: Vec<String> = kube
        .objects("argoproj.io", "v1alpha1", "workflows", None)
        .iter()
        .map(|w| w["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, vec!["fresh-done", "long-runner"], "{out}");
    assert!(
        kube.objects("kubeflow.org", "v1", "tfjobs", None)
            .is_empty()
    );
    assert!(
        kube.objects("apps", "v1", "deployments", None).is_empty(),
        "the finished run's deployment goes"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM workflow WHERE name='old-done' AND status='Deleted'"
        ),
        1
    );
    let sent = rec.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].message.contains("long-runner") && sent[0].receivers.contains(&"alice".to_string())
    );
    // a second pass reports nothing new
    housekeeping::delete_workflow(&ctx, ctx.now())
        .await
        .unwrap();
    assert_eq!(rec.0.lock().unwrap().len(), 1);
    assert!(testkit::rbac::assert_allowed(&kube, "schedule") > 0);
    cleanup(&prefix).await;
}

#[tokio::test]
async fn a_workflow_the_schedule_may_not_delete_is_skipped() {
    let (_db, kube, ctx, _rec, prefix, _dir) = setup().await;
    // the cluster refuses what install/kubernetes does not grant the schedule
    testkit::rbac::enforce(&kube);
    for ns in ["argo", "pipeline"] {
        let mut w = workflow(
            "old-done",
            &format!("r-{ns}"),
            "Succeeded",
            Duration::hours(6),
            Some(Duration::hours(4)),
        );
        w["metadata"]["namespace"] = json!(ns);
        kube.insert("argoproj.io", "v1alpha1", "workflows", w);
    }
    let out = housekeeping::delete_workflow(&ctx, ctx.now())
        .await
        .unwrap();
    assert_eq!(out, "deleted 1, alerted 0");
    let left: Vec<String> = kube
        .objects("argoproj.io", "v1alpha1", "workflows", None)
        .iter()
        .map(|w| w["metadata"]["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        left,
        vec!["argo"],
        "the one in pipeline goes, the other stays"
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn nightly_clean_up_notebooks_terminating_pods_gpus() {
    let (db, kube, ctx, rec, prefix, _dir) = setup().await;
    let pod = |ns: &str, name: &str, labels: serde_json::Value, extra: serde_json::Value| {
        let mut p = json!({"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}, "status": {"phase": "Running", "hostIP": "10.0.0.1"}});
        if let (serde_json::Value::Object(base), serde_json::Value::Object(e)) =
            (&mut p["metadata"], extra)
        {
            base.extend(e);
        }
        kube.insert("", "v1", "pods", p)
    };
    pod(
        "pipeline",
        "debug-p-t",
        json!({"run-id": "debug-x", "user": "bob"}),
        json!({}),
    );
    pod(
        "pipeline",
        "run-p-t",
        json!({"run-id": "run-1-2", "user": "bob"}),
        json!({}),
    );
    pod("pipeline", "keep-me", json!({"user": "bob"}), json!({}));
    pod(
        "jupyter",
        "build-1",
        json!({"pod-type": "docker"}),
        json!({}),
    );
    pod(
        "service",
        "stuck",
        json!({}),
        json!({"deletionTimestamp": ago(Duration::minutes(10))}),
    );
    exec(
        &db,
        "INSERT INTO inferenceservice (name, label, images, model_status, project_id) VALUES ('svc-a', 'a', 'img', 'test', 1), ('svc-b', 'b', 'img', 'online', 1)",
    );
    kube.insert(
        "apps",
        "v1",
        "deployments",
        json!({"metadata": {"name": "test-svc-a", "namespace": "service"}}),
    );
    housekeeping::delete_debug_docker(&ctx, ctx.now())
        .await
        .unwrap();
    let names: Vec<String> = kube
        .objects("", "v1", "pods", Some("pipeline"))
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["keep-me"]);
    assert!(kube.objects("", "v1", "pods", Some("jupyter")).is_empty());
    assert!(
        kube.objects("apps", "v1", "deployments", Some("service"))
            .is_empty()
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM inferenceservice WHERE model_status='offline'"
        ),
        1
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM inferenceservice WHERE name='svc-b' AND model_status='online'"
        ),
        1
    );

    // expired notebooks are stopped
    exec(
        &db,
        "INSERT INTO notebook (project_id, name, namespace, expand, changed_on, created_by_fk) VALUES (1, 'nb-old', 'jupyter', '{}', NOW() - INTERVAL 5 DAY, 1), (1, 'nb-new', 'jupyter', '{}', NOW(), 1)",
    );
    pod("jupyter", "nb-old", json!({"app": "nb-old"}), json!({}));
    pod("jupyter", "nb-new", json!({"app": "nb-new"}), json!({}));
    let r = housekeeping::delete_notebook(&ctx, chrono::Local::now().naive_local())
        .await
        .unwrap();
    assert!(r.starts_with("stopped 1"), "{r}");
    assert!(
        kube.get("", "v1", "pods", Some("jupyter"), "nb-old")
            .is_none()
    );
    assert!(
        kube.get("", "v1", "pods", Some("jupyter"), "nb-new")
            .is_some()
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM notebook WHERE name='nb-old' AND expand LIKE '%offline%'"
        ),
        1
    );

    // stuck terminating: reported once
    housekeeping::check_pod_terminating(&ctx, ctx.now())
        .await
        .unwrap();
    housekeeping::check_pod_terminating(&ctx, ctx.now())
        .await
        .unwrap();
    let about_stuck = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.message.contains("stuck"))
        .count();
    assert_eq!(about_stuck, 1);

    // GPUs in use
    let report = housekeeping::watch_gpu(&ctx, ctx.now()).await.unwrap();
    assert!(report.contains("jupyter,,nb-new,2"), "{report}");
    assert!(report.contains("共已使用"), "{report}");
    assert!(testkit::rbac::assert_allowed(&kube, "schedule") > 0);
    cleanup(&prefix).await;
}

#[tokio::test]
async fn resources_of_scheduled_tasks_follow_their_usage() {
    let (db, _kube, ctx, rec, prefix, _dir) = setup().await;
    let p = cron_pipeline(
        &db,
        "measured",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "alert_user = 'ops'",
    );
    let samples: Vec<serde_json::Value> = (0..10).map(|i| json!({"cpu": 1.0 + i as f64 * 0.2, "memory": 4.0 + i as f64, "pod_name": format!("p{i}"), "update_time": "2026-11-29 01:00:00"})).collect();
    let monitoring = json!({"task": samples}).to_string();
    exec(
        &db,
        &format!(
            "UPDATE task SET monitoring='{monitoring}', resource_cpu='2', resource_memory='2G' WHERE pipeline_id={p}"
        ),
    );
    let r = housekeeping::adjust_task_resources(&ctx, ctx.now())
        .await
        .unwrap();
    assert_eq!(r, "corrected 1 tasks");
    // max cpu 2.8 → ceil(3.92)+2 = 6; max memory 13 → ceil(18.2)+2 = 21
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM task WHERE pipeline_id={p} AND resource_cpu='6' AND resource_memory='21G'"
            )
        ),
        1
    );
    assert!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.receivers.contains(&"ops".to_string()))
    );
    // templates that opt out are left alone
    exec(
        &db,
        &format!("UPDATE task SET resource_cpu='2', resource_memory='2G' WHERE pipeline_id={p}"),
    );
    exec(
        &db,
        "UPDATE job_template SET env='NO_RESOURCE_CHECK=true' WHERE id=1",
    );
    assert_eq!(
        housekeeping::adjust_task_resources(&ctx, ctx.now())
            .await
            .unwrap(),
        "corrected 0 tasks"
    );
    cleanup(&prefix).await;
}
