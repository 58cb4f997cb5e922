//! The watchers in process against the fake cluster and its simulated Argo controller,
//! on MariaDB and the shared Redis (a unique key prefix per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use app_models::schema::{run, task, workflow};
use common::*;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};

const WAIT: Duration = Duration::from_secs(40);

struct Env {
    db: TestDb,
    kube: FakeKube,
    _dir: tempfile::TempDir,
    kubeconfig: String,
    prefix: String,
}

async fn env(opts: FakeKubeOptions) -> Env {
    let db = TestDb::new();
    let kube = FakeKube::start(opts).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    kube.write_kubeconfig(&kubeconfig).unwrap();
    Env {
        db,
        kube,
        _dir: dir,
        kubeconfig,
        prefix: prefix(),
    }
}

/// A cron run whose workflow is created in the fake cluster, as the worker does.
fn launch(
    env: &Env,
    conn: &mut MysqlConnection,
    config: &app_core::Config,
    pid: i32,
    date: &str,
) -> (i32, String) {
    let (row, _run_id, name) = frozen_run(conn, config, pid, date);
    let file: String = run::table
        .find(row)
        .select(run::pipeline_file)
        .first::<Option<String>>(conn)
        .unwrap()
        .unwrap();
    let manifest: Value = serde_json::from_str(&file).unwrap();
    env.kube
        .insert("argoproj.io", "v1alpha1", "workflows", manifest);
    (row, name)
}

fn wf_row(conn: &mut MysqlConnection, name: &str) -> Option<app_models::rows::Workflow> {
    workflow::table
        .filter(workflow::name.eq(name))
        .select(app_models::rows::Workflow::as_select())
        .first(conn)
        .optional()
        .unwrap()
}

fn wf_status(conn: &mut MysqlConnection, name: &str) -> Option<String> {
    wf_row(conn, name).map(|w| w.status.unwrap_or_default())
}

fn phase(kube: &FakeKube, name: &str) -> String {
    kube.get(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        Some("pipeline"),
        name,
    )
    .and_then(|w| {
        w.pointer("/status/phase")
            .and_then(Value::as_str)
            .map(String::from)
    })
    .unwrap_or_default()
}

/// `(workflow, status)` → count of the workflow-status notifications received.
fn status_notifications(hook: &Webhook) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for m in hook.messages().iter().filter(|m| m["source"] == "workflow") {
        let text = m["message"].as_str().unwrap_or("");
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        *out.entry((field("workflow:"), field("status:")))
            .or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workflows_end_in_their_final_state_with_one_notification_per_alerted_status() {
    let e = env(FakeKubeOptions::default().argo(true)).await;
    let hook = Webhook::start().await;
    let prom = FakePrometheus::start(2.5, 3.0 * 1024f64.powi(3)).await;
    let config = config(
        &e.db.url,
        REDIS_URL,
        &e.kubeconfig,
        &[
            ("NOTIFY_WEBHOOK_URL", hook.url.as_str()),
            ("PROMETHEUS_URL", prom.url.as_str()),
            ("HOST_URL", "http://cube.example"),
        ],
    );
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["prepare", "train"], "bob");
    diesel::update(app_models::schema::pipeline::table.find(pid))
        .set(app_models::schema::pipeline::alert_status.eq("Running,Succeeded,Failed"))
        .execute(&mut conn)
        .unwrap();
    // two replicas: the rows and the notifications must not be doubled
    let w1 = TestWatch::start(config.clone(), &e.prefix, &[]).await;
    let w2 = TestWatch::start(config.clone(), &e.prefix, &[]).await;
    let (ok_row, ok) = launch(&e, &mut conn, &config, pid, "2026-11-30 01:00:00");
    let (bad_row, bad) = launch(&e, &mut conn, &config, pid, "2026-11-30 02:00:00");
    e.kube.fail_task(&bad, "train");

    wait_for(WAIT, || {
        (wf_status(&mut conn, &ok).as_deref() == Some("Succeeded")
            && wf_status(&mut conn, &bad).as_deref() == Some("Failed"))
        .then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "final states: {:?} {:?}",
            wf_status(&mut conn, &ok),
            wf_status(&mut conn, &bad)
        )
    });
    let run_status = |conn: &mut MysqlConnection, id: i32| -> (String, String) {
        let (s, a): (Option<String>, Option<String>) = run::table
            .find(id)
            .select((run::status, run::pipeline_argo_id))
            .first(conn)
            .unwrap();
        (s.unwrap_or_default(), a.unwrap_or_default())
    };
    assert_eq!(
        run_status(&mut conn, ok_row),
        ("Succeeded".to_string(), ok.clone())
    );
    assert_eq!(
        run_status(&mut conn, bad_row),
        ("Failed".to_string(), bad.clone())
    );
    let count: i64 = workflow::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 2, "one row per workflow with two watchers");

    // the row's columns
    let row = wf_row(&mut conn, &ok).unwrap();
    assert_eq!(row.cluster.as_deref(), Some("dev"));
    assert_eq!(row.username.as_deref(), Some("alice"));
    assert_eq!(row.foreign_key, Some(pid.to_string()));
    let labels = row.labels.unwrap();
    assert!(labels.starts_with("{\n    \""), "4-space JSON: {labels}");
    let status_more: Value = serde_json::from_str(&row.status_more.unwrap()).unwrap();
    assert_eq!(status_more["phase"], "Succeeded");
    let started = status_more["startedAt"].as_str().unwrap();
    assert_eq!(started.len(), 19, "local %Y-%m-%d %H:%M:%S: {started}");
    let create_time = row.create_time.unwrap();
    let expected_day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d")
        .to_string();
    assert!(create_time.starts_with(&expected_day[..7]), "{create_time}");
    let info: Value = serde_json::from_str(&row.info_json.unwrap()).unwrap();
    assert_eq!(info["pipeline_name"], "daily");
    let tasks = info["task_time"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t["seconds"].is_i64()), "{tasks:?}");

    // notifications: each alerted status once, even with two watchers
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = status_notifications(&hook);
    for key in [
        (ok.clone(), "Succeeded"),
        (bad.clone(), "Failed"),
        (ok.clone(), "Running"),
    ] {
        assert_eq!(
            got.get(&(key.0.clone(), key.1.to_string())),
            Some(&1),
            "{key:?} in {got:?}"
        );
    }
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert!(
        got.keys()
            .all(|(_, s)| ["Running", "Succeeded", "Failed"].contains(&s.as_str())),
        "{got:?}"
    );
    let first = hook
        .messages()
        .into_iter()
        .find(|m| m["source"] == "workflow")
        .unwrap();
    assert_eq!(first["receivers"], json!(["alice", "bob"]));
    assert_eq!(
        first["links"][0][1],
        format!("http://cube.example/pipeline_modelview/api/web/pod/{pid}")
    );
    let task_time: Vec<Value> = hook
        .messages()
        .into_iter()
        .filter(|m| m["source"] == "workflow-task-time")
        .collect();
    assert_eq!(task_time.len(), 1, "task durations once: {task_time:?}");

    // usage samples of the succeeded tasks, once
    let monitoring: Option<String> = task::table
        .filter(task::pipeline_id.eq(pid))
        .filter(task::name.eq("train"))
        .select(task::monitoring)
        .first(&mut conn)
        .unwrap();
    let monitoring: Value = serde_json::from_str(&monitoring.unwrap()).unwrap();
    let samples = monitoring["task"].as_array().unwrap();
    assert_eq!(samples.len(), 1, "{monitoring}");
    assert_eq!(samples[0]["cpu"], 2.5);
    assert_eq!(samples[0]["memory"], 3.0);
    assert!(
        prom.queries
            .lock()
            .unwrap()
            .iter()
            .any(|q| q.contains("pod=~"))
    );

    let applied = w1.metric("watch_events_applied_total", &[("cluster", "dev")])
        + w2.metric("watch_events_applied_total", &[("cluster", "dev")]);
    assert!(applied >= 8.0, "{applied}");
    assert!(w1.metric("watch_lag_seconds_count", &[("cluster", "dev")]) > 0.0);
    w1.stop().await;
    w2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn final_states_reached_while_watch_was_down_or_after_a_410_land_in_mysql() {
    let e = env(FakeKubeOptions::default().argo(true)).await;
    let config = config(&e.db.url, REDIS_URL, &e.kubeconfig, &[]);
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "hourly", &["a", "b"], "");
    let w = TestWatch::start(config.clone(), &e.prefix, &[]).await;
    let (_, first) = launch(&e, &mut conn, &config, pid, "2026-11-30 01:00:00");
    wait_for(WAIT, || {
        wf_status(&mut conn, &first).is_some().then_some(())
    })
    .await
    .expect("the first workflow is seen");
    w.stop().await;

    // while watch is down: more workflows start and every one finishes
    let mut names = vec![first.clone()];
    for h in 2..6 {
        names.push(
            launch(
                &e,
                &mut conn,
                &config,
                pid,
                &format!("2026-11-30 0{h}:00:00"),
            )
            .1,
        );
    }
    e.kube.fail_task(&names[2], "a");
    e.kube
        .wait_for(WAIT, |k| {
            names
                .iter()
                .all(|n| ["Succeeded", "Failed"].contains(&phase(k, n).as_str()))
                .then_some(())
        })
        .await
        .expect("the controller finishes them");
    e.kube.compact_history();
    let before: Vec<Option<String>> = names.iter().map(|n| wf_status(&mut conn, n)).collect();
    assert!(
        before.iter().any(|s| s.as_deref() != Some("Succeeded")),
        "{before:?}"
    );

    let w = TestWatch::start(config.clone(), &e.prefix, &[]).await;
    wait_for(WAIT, || {
        names
            .iter()
            .all(|n| wf_status(&mut conn, n) == Some(phase(&e.kube, n)))
            .then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "every final state lands: {:?}",
            names
                .iter()
                .map(|n| wf_status(&mut conn, n))
                .collect::<Vec<_>>()
        )
    });
    assert_eq!(wf_status(&mut conn, &names[2]).as_deref(), Some("Failed"));
    let finals: Vec<String> = run::table
        .filter(run::pipeline_id.eq(pid))
        .order(run::id)
        .select(run::status)
        .load::<Option<String>>(&mut conn)
        .unwrap()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    assert_eq!(
        finals,
        ["Succeeded", "Succeeded", "Failed", "Succeeded", "Succeeded"]
    );

    // a 410 Gone on the open watch: it relists and keeps applying
    wait_for(WAIT, || {
        (w.metric(
            "watch_events_total",
            &[("cluster", "dev"), ("kind", "workflows"), ("event", "list")],
        ) >= 5.0)
            .then_some(())
    })
    .await
    .expect("listed");
    e.kube.set_argo(false);
    let (_, late) = launch(&e, &mut conn, &config, pid, "2026-11-30 07:00:00");
    e.kube.compact_history();
    e.kube.set_argo(true);
    wait_for(WAIT, || {
        (wf_status(&mut conn, &late).as_deref() == Some("Succeeded")).then_some(())
    })
    .await
    .expect("the workflow after the 410 completes in MySQL");
    let restarts = w.metric(
        "watch_restarts_total",
        &[("cluster", "dev"), ("kind", "workflows"), ("why", "relist")],
    ) + w.metric(
        "watch_restarts_total",
        &[("cluster", "dev"), ("kind", "workflows"), ("why", "error")],
    );
    assert!(restarts >= 1.0, "the 410 restarted the watch");
    w.stop().await;
}

fn workflow_object(
    name: &str,
    pipeline_id: &str,
    run_id: &str,
    phase: Option<&str>,
    node_phase: &str,
) -> Value {
    let mut wf = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "pipeline",
            "labels": {"pipeline-id": pipeline_id, "run-id": run_id, "pipeline-username": "alice"}},
        "spec": {"entrypoint": "x"}
    });
    if let Some(p) = phase {
        wf["status"] = json!({"phase": p, "startedAt": "2026-11-30T01:00:00Z",
            "nodes": {name: {"id": name, "type": "DAG", "phase": node_phase, "displayName": name}}});
    }
    wf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_never_go_backwards_and_foreign_workflows_are_ignored() {
    let e = env(FakeKubeOptions::default()).await;
    let config = config(&e.db.url, REDIS_URL, &e.kubeconfig, &[]);
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "p", &["a"], "");
    let runs: Vec<i32> = (1..=3)
        .map(|i| {
            insert_run(
                &mut conn,
                pid,
                &format!("2026-11-30 0{i}:00:00"),
                "created",
                "{}",
                &format!("r{i}"),
            )
        })
        .collect();
    let w = TestWatch::start(config.clone(), &e.prefix, &[("WATCH_SHARDS", "1")]).await;
    let applied = |w: &TestWatch| w.metric("watch_events_applied_total", &[("cluster", "dev")]);
    let ignored = |w: &TestWatch| w.metric("watch_events_ignored_total", &[("cluster", "dev")]);
    let put = |v: Value| e.kube.insert("argoproj.io", "v1alpha1", "workflows", v);
    let p = pid.to_string();
    let run_row = |conn: &mut MysqlConnection, id: i32| -> (String, String) {
        let (s, a): (Option<String>, Option<String>) = run::table
            .find(id)
            .select((run::status, run::pipeline_argo_id))
            .first(conn)
            .unwrap();
        (s.unwrap_or_default(), a.unwrap_or_default())
    };

    // no nodes yet: the row says '', the run stays `created` but learns the workflow name
    put(workflow_object("w1", &p, "r1", None, ""));
    wait_for(WAIT, || (applied(&w) >= 1.0).then_some(()))
        .await
        .unwrap();
    assert_eq!(wf_status(&mut conn, "w1").as_deref(), Some(""));
    assert_eq!(
        run_row(&mut conn, runs[0]),
        ("created".to_string(), "w1".to_string())
    );

    // Succeeded, then a stale Running: the row and the run stay Succeeded
    put(workflow_object(
        "w1",
        &p,
        "r1",
        Some("Succeeded"),
        "Succeeded",
    ));
    wait_for(WAIT, || (applied(&w) >= 2.0).then_some(()))
        .await
        .unwrap();
    put(workflow_object("w1", &p, "r1", Some("Running"), "Running"));
    wait_for(WAIT, || (applied(&w) >= 3.0).then_some(()))
        .await
        .unwrap();
    assert_eq!(wf_status(&mut conn, "w1").as_deref(), Some("Succeeded"));
    assert_eq!(run_row(&mut conn, runs[0]).0, "Succeeded");
    let more: Value =
        serde_json::from_str(&wf_row(&mut conn, "w1").unwrap().status_more.unwrap()).unwrap();
    assert_eq!(
        more["phase"], "Succeeded",
        "the stale event left the row alone"
    );

    // Deleted by the application: the watcher keeps it Deleted
    put(workflow_object("w2", &p, "r2", Some("Running"), "Running"));
    wait_for(WAIT, || (applied(&w) >= 4.0).then_some(()))
        .await
        .unwrap();
    diesel::update(workflow::table.filter(workflow::name.eq("w2")))
        .set(workflow::status.eq("Deleted"))
        .execute(&mut conn)
        .unwrap();
    diesel::update(run::table.find(runs[1]))
        .set(run::status.eq("Deleted"))
        .execute(&mut conn)
        .unwrap();
    put(workflow_object("w2", &p, "r2", Some("Failed"), "Failed"));
    wait_for(WAIT, || (applied(&w) >= 5.0).then_some(()))
        .await
        .unwrap();
    assert_eq!(wf_status(&mut conn, "w2").as_deref(), Some("Deleted"));
    assert_eq!(run_row(&mut conn, runs[1]).0, "Deleted");

    // the last node Pending makes the status Pending (§5.1)
    let mut wf = workflow_object("w3", &p, "r3", Some("Running"), "Running");
    wf["status"]["nodes"]["w3-1"] =
        json!({"id": "w3-1", "type": "Pod", "phase": "Pending", "displayName": "a"});
    put(wf);
    wait_for(WAIT, || (applied(&w) >= 6.0).then_some(()))
        .await
        .unwrap();
    assert_eq!(wf_status(&mut conn, "w3").as_deref(), Some("Pending"));
    assert_eq!(run_row(&mut conn, runs[2]).0, "Pending");

    // not ours: no pipeline-id, or a pipeline that does not exist
    let mut foreign = workflow_object("x1", "", "r9", Some("Running"), "Running");
    foreign["metadata"]["labels"] = json!({"app": "other"});
    put(foreign);
    put(workflow_object(
        "x2",
        "999999",
        "r9",
        Some("Running"),
        "Running",
    ));
    wait_for(WAIT, || (ignored(&w) >= 2.0).then_some(()))
        .await
        .unwrap();
    assert!(wf_row(&mut conn, "x1").is_none() && wf_row(&mut conn, "x2").is_none());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inference_crashes_and_training_jobs_are_notified_once() {
    let e = env(FakeKubeOptions::default()).await;
    let hook = Webhook::start().await;
    let config = config(
        &e.db.url,
        REDIS_URL,
        &e.kubeconfig,
        &[("NOTIFY_WEBHOOK_URL", hook.url.as_str())],
    );
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    diesel::sql_query(format!(
        "INSERT INTO inferenceservice (name, label, images, created_by_fk, project_id) VALUES ('bert', 'bert', 'bert:1', {}, {})",
        s.user_id, s.project_id
    ))
    .execute(&mut conn)
    .unwrap();
    let w = TestWatch::start(config.clone(), &e.prefix, &[]).await;
    let crashed = |restarts: i64| {
        json!({"metadata": {"name": "bert-7d9-x", "namespace": "service", "labels": {"app": "bert"}},
            "spec": {"containers": [{"name": "main", "image": "bert:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "main", "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
    };
    e.kube.insert("", "v1", "pods", crashed(1));
    // a crashing pod of something else: nobody to tell
    let mut other = crashed(1);
    other["metadata"] =
        json!({"name": "job-1", "namespace": "pipeline", "labels": {"app": "nothing"}});
    e.kube.insert("", "v1", "pods", other);
    e.kube.insert(
        "kubeflow.org",
        "v1",
        "tfjobs",
        json!({"metadata": {"name": "tf-1", "namespace": "pipeline", "labels": {"run-username": "carol"}},
            "status": {"conditions": [{"type": "Created"}, {"type": "Running"}]}}),
    );
    let sources = |hook: &Webhook| -> Vec<String> {
        hook.messages()
            .iter()
            .map(|m| m["source"].as_str().unwrap_or("").to_string())
            .collect()
    };
    wait_for(WAIT, || {
        sources(&hook)
            .contains(&"inference-pod".to_string())
            .then_some(())
    })
    .await
    .expect("crash reported");
    // crashes again within the hour, and the training job finishes
    e.kube.insert("", "v1", "pods", crashed(2));
    e.kube.insert(
        "kubeflow.org",
        "v1",
        "tfjobs",
        json!({"metadata": {"name": "tf-1", "namespace": "pipeline", "labels": {"run-username": "carol"}},
            "status": {"conditions": [{"type": "Running"}, {"type": "Succeeded"}]}}),
    );
    wait_for(WAIT, || {
        sources(&hook)
            .contains(&"training-job".to_string())
            .then_some(())
    })
    .await
    .expect("training job reported");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let msgs = hook.messages();
    let crash: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["source"] == "inference-pod")
        .collect();
    assert_eq!(crash.len(), 1, "{msgs:?}");
    assert_eq!(crash[0]["receivers"], json!(["alice"]));
    assert!(
        crash[0]["message"]
            .as_str()
            .unwrap()
            .contains("pod: bert-7d9-x")
    );
    let training: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["source"] == "training-job")
        .collect();
    assert_eq!(training.len(), 1, "only the final status: {msgs:?}");
    assert_eq!(training[0]["receivers"], json!(["carol"]));
    assert!(
        training[0]["message"]
            .as_str()
            .unwrap()
            .contains("status: Succeeded")
    );
    w.stop().await;
}
